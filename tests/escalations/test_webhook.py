"""Signed webhooks against a real HTTP receiver on loopback: signature, retries deduplicated by webhook-id,
secret rotation, the SSRF guard, and the connection pinned to the address the guard checked (http and https)."""

import json
import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mdr.escalations import webhook

SECRET = webhook.secret_generate()


class Receiver:
    """A customer's endpoint: verifies signatures, deduplicates on webhook-id, can be told to fail."""

    def __init__(self, secret: str, fail_first: int = 0):
        self.secret, self.fail_first = secret, fail_first
        self.attempts, self.accepted, self.rejected = 0, {}, 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.attempts += 1
                if not webhook.verify(headers=headers, body=body, secret=receiver.secret):
                    receiver.rejected += 1
                    self.send_response(401)
                elif receiver.attempts <= receiver.fail_first:
                    self.send_response(503)
                else:
                    receiver.accepted.setdefault(headers["webhook-id"], json.loads(body))
                    self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/mdr"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver(SECRET, fail_first=2)
    yield r
    r.close()


def test_retries_until_the_receiver_recovers_and_it_sees_one_notice(receiver):
    body = json.dumps({"incident": "i-1", "sequence": 1}).encode()
    results = [
        webhook.deliver(url=receiver.url, body=body, message_id="msg_i-1_1", secrets_=[SECRET], allow_private=True)
        for _ in range(4)
    ]
    assert [r.status for r in results] == [503, 503, 200, 200]
    assert [r.ok for r in results] == [False, False, True, True]
    assert receiver.attempts == 4 and receiver.rejected == 0
    assert list(receiver.accepted) == ["msg_i-1_1"]  # the retry after success is deduplicated by webhook-id


def test_wrong_secret_and_tampering_are_refused_and_rotation_works(receiver):
    receiver.fail_first = 0
    other = webhook.secret_generate()
    assert (
        webhook.deliver(url=receiver.url, body=b"{}", message_id="m1", secrets_=[other], allow_private=True).status
        == 401
    )
    # during a rotation both secrets sign: the receiver that knows either accepts
    assert webhook.deliver(
        url=receiver.url, body=b"{}", message_id="m2", secrets_=[other, SECRET], allow_private=True
    ).ok
    ts = 1_700_000_000
    headers = {
        "webhook-id": "m3",
        "webhook-timestamp": str(ts),
        "webhook-signature": webhook.sign(message_id="m3", timestamp=ts, body=b'{"a":1}', secrets_=[SECRET]),
    }
    assert webhook.verify(headers=headers, body=b'{"a":1}', secret=SECRET, now=ts)
    assert not webhook.verify(headers=headers, body=b'{"a":2}', secret=SECRET, now=ts)
    assert not webhook.verify(headers=headers, body=b'{"a":1}', secret=SECRET, now=ts + 301)  # replayed late


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "https://127.0.0.1/x",
        "https://10.1.2.3/x",
        "https://169.254.169.254/latest/meta-data",
        "https://100.100.100.200/latest/meta-data",  # shared address space (a cloud metadata service lives here)
        "https://[::1]/x",
        "https://localhost/x",
        "ftp://example.com/x",
        "file:///etc/passwd",
        "https:///nohost",
    ],
)
def test_ssrf_guard_refuses_non_public_targets(url):
    with pytest.raises(webhook.WebhookTargetRefused):
        webhook.deliver(url=url, body=b"{}", message_id="m", secrets_=[SECRET])


def test_unreachable_target_is_a_failed_delivery_not_an_exception():
    result = webhook.deliver(
        url="http://127.0.0.1:9/x", body=b"{}", message_id="m", secrets_=[SECRET], allow_private=True, timeout=2
    )
    assert not result.ok and result.status is None and result.error


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


class Endpoint:
    """Any HTTP(S) endpoint on loopback: records requests (and TLS SNI), answers what it is told."""

    def __init__(self, tls: ssl.SSLContext | None = None):
        self.requests: list[Request] = []
        self.server_names: list[str | None] = []
        self.status, self.body, self.extra_headers = 200, b"ok", {}
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                endpoint.requests.append(Request(self.path, headers, body))
                self.send_response(endpoint.status)
                for name, value in endpoint.extra_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(endpoint.body)))
                self.end_headers()
                self.wfile.write(endpoint.body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        if tls is not None:
            tls.sni_callback = lambda _sslobj, name, _ctx: self.server_names.append(name)
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.status, self.body, self.extra_headers = status, body, headers

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint():
    e = Endpoint()
    yield e
    e.close()


@pytest.fixture
def rebinding_dns(monkeypatch):
    """Names under ``.test`` resolve to 127.0.0.1 the first time and to 127.0.0.2 (nobody listens) afterwards,
    like a DNS-rebinding attacker's server; records every lookup of such a name."""
    real_getaddrinfo = socket.getaddrinfo
    lookups: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".test"):
            lookups.append(host)
            host = "127.0.0.1" if len(lookups) == 1 else "127.0.0.2"
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lookups


def test_the_connection_goes_to_the_address_the_guard_checked(endpoint, rebinding_dns):
    # given: a name whose second lookup would point elsewhere
    url = f"http://rebind.test:{endpoint.port}/hook"
    # when
    result = webhook.post_json(url=url, body=b"{}", headers={"X-Test": "1"}, allow_private=True, timeout=2)
    # then: resolved once (by the guard), connected to that address, Host names the host
    assert result.ok, result.error
    assert rebinding_dns == ["rebind.test"]
    (request,) = endpoint.requests
    assert request.headers["host"] == f"rebind.test:{endpoint.port}"
    assert request.headers["x-test"] == "1" and request.headers["content-type"] == "application/json"


def test_signed_delivery_is_pinned_too(endpoint, rebinding_dns):
    result = webhook.deliver(
        url=f"http://rebind.test:{endpoint.port}/hook",
        body=b"{}",
        message_id="m",
        secrets_=[SECRET],
        allow_private=True,
    )
    assert result.ok and result.message_id == "m"
    assert rebinding_dns == ["rebind.test"]
    assert webhook.verify(headers=endpoint.requests[0].headers, body=b"{}", secret=SECRET)


def test_redirects_are_not_followed_and_the_response_is_cut_to_2_kb(endpoint):
    endpoint.answer(302, b"x" * 10_000, Location=endpoint.url + "/elsewhere")
    result = webhook.post_json(url=endpoint.url, body=b"{}", headers={}, allow_private=True)
    assert not result.ok and result.status == 302 and "redirects are not followed" in result.error
    assert len(endpoint.requests) == 1
    assert len(result.response) == 2048


@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate for ``pinned.test`` only (not for 127.0.0.1): (cert path, key path)."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = str(directory / "cert.pem"), str(directory / "key.pem")
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
            *("-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=pinned.test"),
            *("-addext", "subjectAltName=DNS:pinned.test"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_endpoint(certificate):
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(*certificate)
    e = Endpoint(tls=server_context)
    yield e
    e.close()


def test_https_is_pinned_and_verifies_the_certificate_against_the_hostname(tls_endpoint, certificate, rebinding_dns):
    # given: a client trusting only our test certificate, which names pinned.test and not 127.0.0.1
    trust = ssl.create_default_context(cafile=certificate[0])
    # when
    result = webhook.post_json(
        url=f"https://pinned.test:{tls_endpoint.port}/hook",
        body=b"{}",
        headers={},
        allow_private=True,
        timeout=2,
        ssl_context=trust,
    )
    # then: one lookup, TLS to the checked IP with SNI and verification for the hostname
    assert result.ok, result.error
    assert rebinding_dns == ["pinned.test"]
    assert tls_endpoint.server_names == ["pinned.test"]
    assert tls_endpoint.requests[0].headers["host"] == f"pinned.test:{tls_endpoint.port}"


def test_https_refuses_a_certificate_that_does_not_name_the_host(tls_endpoint, certificate):
    trust = ssl.create_default_context(cafile=certificate[0])
    result = webhook.post_json(
        url=tls_endpoint.url, body=b"{}", headers={}, allow_private=True, timeout=2, ssl_context=trust
    )
    assert not result.ok and result.status is None
    assert "CERTIFICATE_VERIFY_FAILED" in result.error
    assert tls_endpoint.requests == []
