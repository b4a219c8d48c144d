"""Signed webhooks against a real HTTP receiver on loopback: signature, retries deduplicated by webhook-id,
secret rotation, and the SSRF guard."""

import json
import threading
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
