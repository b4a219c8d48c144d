"""Signed webhook delivery (the channel the escalation ladder uses for customers' systems).

Signing follows Standard Webhooks (the scheme Stripe-style receivers verify):
- ``webhook-id``: stable across retries of the same notice, so receivers deduplicate;
- ``webhook-timestamp``: Unix seconds of this attempt;
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256(secret, f"{id}.{timestamp}.{body}")>``, one per active secret,
  space-separated, so a customer can rotate its secret without a gap.
Secrets are ``whsec_<base64>``.

Outbound requests (``post_json``, shared with the Slack and Teams channels in ``chat.py``) refuse private,
loopback, link-local, shared (100.64.0.0/10), multicast and reserved addresses (SSRF guard) unless
``allow_private`` is set (tests use loopback explicitly), use short timeouts, never follow redirects, and keep
at most 2 KB of the response for the delivery record. The name is resolved once, by the guard, and the
connection is pinned to the addresses it checked: the socket connects to those IPs (no second lookup, so no
DNS-rebinding window), the request carries ``Host: <hostname>``, and for https the TLS handshake sends the
hostname as SNI and verifies the certificate against the hostname, not the IP.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import secrets
import socket
import ssl
import sys
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

SIGNATURE_VERSION = "v1"
SECRET_PREFIX = "whsec_"  # noqa: S105 -- the public prefix of secrets, not a secret
TOLERANCE_SECONDS = 300


class WebhookTargetRefused(ValueError):
    """The URL may not be called (scheme, or an address the SSRF guard refuses)."""


@dataclass(frozen=True)
class HttpResult:
    """One POST: ``ok`` for a 2xx answer; ``response`` is at most 2 KB of the body; ``status`` None if no answer."""

    ok: bool
    status: int | None
    response: str
    error: str
    duration_ms: float


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    status: int | None
    response: str
    error: str
    duration_ms: float
    message_id: str


def secret_generate() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("webhook secrets start with whsec_")
    return base64.b64decode(secret[len(SECRET_PREFIX) :])


def sign(*, message_id: str, timestamp: int, body: bytes, secrets_: list[str]) -> str:
    """The ``webhook-signature`` header value: one ``v1,<sig>`` per secret."""
    payload = f"{message_id}.{timestamp}.".encode() + body
    return " ".join(
        f"{SIGNATURE_VERSION},{base64.b64encode(hmac.new(_key(s), payload, hashlib.sha256).digest()).decode()}"
        for s in secrets_
    )


def verify(*, headers: dict[str, str], body: bytes, secret: str, now: int | None = None) -> bool:
    """What a receiver does (and what our tests' receiver does): timestamp fresh, one signature matches."""
    try:
        message_id, timestamp = headers["webhook-id"], int(headers["webhook-timestamp"])
    except (KeyError, ValueError):
        return False
    if abs((now or int(time.time())) - timestamp) > TOLERANCE_SECONDS:
        return False
    expected = sign(message_id=message_id, timestamp=timestamp, body=body, secrets_=[secret]).split(",", 1)[1]
    return any(
        hmac.compare_digest(candidate.split(",", 1)[1], expected)
        for candidate in headers.get("webhook-signature", "").split()
        if candidate.startswith(f"{SIGNATURE_VERSION},")
    )


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[tuple[int, tuple], ...]  # (family, sockaddr) as the guard resolved and checked them


def _check_target(url: str, *, allow_private: bool) -> _Target:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise WebhookTargetRefused(f"scheme {parts.scheme!r} is not allowed; use https")
    if parts.scheme == "http" and not allow_private:
        raise WebhookTargetRefused("plain http is only allowed for private test targets; use https")
    if not parts.hostname:
        raise WebhookTargetRefused("the URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:  # a port out of range or not a number
        raise WebhookTargetRefused(str(exc)) from None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise WebhookTargetRefused(f"cannot resolve {parts.hostname}: {exc}") from None
    addresses: list[tuple[int, tuple]] = []
    for family, _type, _proto, _canonname, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0])
        non_public = address.is_private or address.is_loopback or address.is_link_local or address.is_multicast
        # not is_global also catches shared address space (100.64.0.0/10, e.g. a cloud metadata service there)
        if (non_public or address.is_reserved or address.is_unspecified or not address.is_global) and not allow_private:
            raise WebhookTargetRefused(f"{parts.hostname} resolves to a non-public address ({address})")
        if (family, sockaddr) not in addresses:
            addresses.append((family, sockaddr))
    if not addresses:
        raise WebhookTargetRefused(f"{parts.hostname} has no address")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return _Target(parts.scheme, parts.hostname, port, path, tuple(addresses))


def _connect_pinned(addresses: tuple[tuple[int, tuple], ...], timeout: float) -> socket.socket:
    """A TCP socket to the first checked address that answers; never resolves a name."""
    last_error: OSError = OSError("no address to connect to")
    for family, sockaddr in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.settimeout(timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            last_error = exc
            continue
        return sock
    raise last_error


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Speaks HTTP to ``host`` (the Host header) over a socket to the guard's checked addresses."""

    def __init__(self, target: _Target, *, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._pinned = target.addresses

    def connect(self):
        sys.audit("http.client.connect", self, self.host, self.port)
        self.sock = _connect_pinned(self._pinned, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """As ``_PinnedHTTPConnection``, then TLS with SNI and certificate verification for the hostname."""

    def __init__(self, target: _Target, *, timeout: float, context: ssl.SSLContext | None):
        if context is None:
            context = ssl.create_default_context()  # system trust store, CERT_REQUIRED, check_hostname
            context.set_alpn_protocols(["http/1.1"])
        super().__init__(target.host, target.port, timeout=timeout, context=context)
        self._pinned = target.addresses
        self._tls = context

    def connect(self):
        sys.audit("http.client.connect", self, self.host, self.port)
        sock = _connect_pinned(self._pinned, self.timeout)
        try:
            self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def post_json(
    *,
    url: str,
    body: bytes,
    headers: dict[str, str],
    allow_private: bool,
    timeout: float = 5.0,
    ssl_context: ssl.SSLContext | None = None,
) -> HttpResult:
    """POST ``body`` (JSON) once to ``url`` through the SSRF guard, pinned to the checked addresses.

    Raises ``WebhookTargetRefused`` before any connection for a URL the guard refuses; network and HTTP failures
    are an ``HttpResult`` with ``ok=False``. ``ssl_context`` is for tests (a private CA); by default the system
    trust store verifies the certificate against the URL's hostname.
    """
    started = time.perf_counter()
    target = _check_target(url, allow_private=allow_private)
    if target.scheme == "https":
        conn: http.client.HTTPConnection = _PinnedHTTPSConnection(target, timeout=timeout, context=ssl_context)
    else:
        conn = _PinnedHTTPConnection(target, timeout=timeout)
    try:
        conn.request(
            "POST",
            target.path,
            body=body,
            headers={"Content-Type": "application/json", "User-Agent": "mdr-escalation/1"} | headers,
        )
        response = conn.getresponse()
        text = response.read(2048).decode("utf-8", "replace")
        ok = 200 <= response.status < 300
        error = ""
        if 300 <= response.status < 400:
            error = f"HTTP {response.status} (redirects are not followed)"
        elif not ok:
            error = f"HTTP {response.status}"
        return HttpResult(
            ok=ok,
            status=response.status,
            response=text,
            error=error,
            duration_ms=(time.perf_counter() - started) * 1000,
        )
    except (OSError, http.client.HTTPException) as exc:
        return HttpResult(
            ok=False,
            status=None,
            response="",
            error=f"{type(exc).__name__}: {exc}"[:500],
            duration_ms=(time.perf_counter() - started) * 1000,
        )
    finally:
        conn.close()


def deliver(
    *, url: str, body: bytes, message_id: str, secrets_: list[str], allow_private: bool = False, timeout: float = 5.0
) -> DeliveryResult:
    """POST ``body`` (JSON) once, signed; the caller records the result and decides on retries."""
    timestamp = int(time.time())
    headers = {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(message_id=message_id, timestamp=timestamp, body=body, secrets_=secrets_),
    }
    result = post_json(url=url, body=body, headers=headers, allow_private=allow_private, timeout=timeout)
    return DeliveryResult(
        ok=result.ok,
        status=result.status,
        response=result.response,
        error=result.error,
        duration_ms=result.duration_ms,
        message_id=message_id,
    )
