"""Signed webhook delivery (the channel the escalation ladder uses for customers' systems).

Signing follows Standard Webhooks (the scheme Stripe-style receivers verify):
- ``webhook-id``: stable across retries of the same notice, so receivers deduplicate;
- ``webhook-timestamp``: Unix seconds of this attempt;
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256(secret, f"{id}.{timestamp}.{body}")>``, one per active secret,
  space-separated, so a customer can rotate its secret without a gap.
Secrets are ``whsec_<base64>``.

Outbound requests refuse private, loopback, link-local, multicast and reserved addresses (SSRF guard) unless
``allow_private`` is set (tests use loopback explicitly), use short timeouts, never follow redirects, and keep
at most 2 KB of the response for the delivery record. Known gap: the name is resolved for the check and again
by the connection (a DNS-rebinding window); pinning the checked address for the TLS connection is to do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import secrets
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

SIGNATURE_VERSION = "v1"
SECRET_PREFIX = "whsec_"  # noqa: S105 -- the public prefix of secrets, not a secret
TOLERANCE_SECONDS = 300


class WebhookTargetRefused(ValueError):
    """The URL may not be called (scheme, or an address the SSRF guard refuses)."""


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


def _check_target(url: str, *, allow_private: bool) -> tuple[str, str, int, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise WebhookTargetRefused(f"scheme {parts.scheme!r} is not allowed; use https")
    if parts.scheme == "http" and not allow_private:
        raise WebhookTargetRefused("plain http is only allowed for private test targets; use https")
    if not parts.hostname:
        raise WebhookTargetRefused("the URL has no host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise WebhookTargetRefused(f"cannot resolve {parts.hostname}: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        non_public = address.is_private or address.is_loopback or address.is_link_local or address.is_multicast
        if (non_public or address.is_reserved or address.is_unspecified) and not allow_private:
            raise WebhookTargetRefused(f"{parts.hostname} resolves to a non-public address ({address})")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port, path


def deliver(
    *, url: str, body: bytes, message_id: str, secrets_: list[str], allow_private: bool = False, timeout: float = 5.0
) -> DeliveryResult:
    """POST ``body`` (JSON) once; the caller records the result and decides on retries."""
    started = time.perf_counter()
    scheme, host, port, path = _check_target(url, allow_private=allow_private)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "mdr-escalation/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(message_id=message_id, timestamp=timestamp, body=body, secrets_=secrets_),
    }
    connection_class = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    conn = connection_class(host, port, timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read(2048).decode("utf-8", "replace")
        ok = 200 <= response.status < 300
        return DeliveryResult(
            ok=ok,
            status=response.status,
            response=text,
            error="" if ok else f"HTTP {response.status}",
            duration_ms=(time.perf_counter() - started) * 1000,
            message_id=message_id,
        )
    except (OSError, http.client.HTTPException) as exc:
        return DeliveryResult(
            ok=False,
            status=None,
            response="",
            error=f"{type(exc).__name__}: {exc}"[:500],
            duration_ms=(time.perf_counter() - started) * 1000,
            message_id=message_id,
        )
    finally:
        conn.close()
