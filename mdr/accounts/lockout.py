"""Sign-in lockout: failed passwords and codes counted per username and per client IP, in the schema's Redis
namespace (mdr/core/ratelimit.py token buckets, so many web processes count together exactly).

Each failure (wrong password, wrong TOTP code) takes a token from both buckets; a bucket holds
``MDR_LOGIN_MAX_FAILURES_USERNAME`` / ``MDR_LOGIN_MAX_FAILURES_IP`` tokens and refills fully over
``MDR_LOGIN_LOCKOUT_SECONDS``. While either is empty, attempts are refused with 429 before the password or the code
is even checked (so a locked-out guesser learns nothing), and audited (``auth.locked_out``). A successful sign-in
empties the username's count. The IP's count is not reset by a success: otherwise a guesser with one account of
their own could sign in to it between guesses at others. Keys are per schema: ``alice`` of one customer and
``alice`` of another (or of the provider) never share a count. Redis unreachable: sign-in is not blocked (the
outage is logged by the rate limiter; django-otp still throttles codes).
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass

from django.conf import settings
from redis.exceptions import RedisError

from mdr.core.ratelimit import rate_limit_take
from mdr.core.redis import redis_client, tenant_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lockout:
    by: str  # "username" or "ip"
    retry_after_seconds: int


def _buckets(*, username: str, ip: str | None) -> list[tuple[str, str, int]]:
    user = hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]
    return [
        ("username", f"login-failures:user:{user}", settings.MDR_LOGIN_MAX_FAILURES_USERNAME),
        ("ip", f"login-failures:ip:{ip or 'unknown'}", settings.MDR_LOGIN_MAX_FAILURES_IP),
    ]


def _rate(burst: int) -> float:
    return burst / max(1, settings.MDR_LOGIN_LOCKOUT_SECONDS)


def login_lockout_get(*, username: str, ip: str | None) -> Lockout | None:
    """The lockout in force for this username or IP, if any (looks without counting)."""
    for by, name, burst in _buckets(username=username, ip=ip):
        rate = _rate(burst)
        decision = rate_limit_take(name=name, rate=rate, burst=burst, cost=0)
        if decision is None:
            return None
        # cost 0 always "passes"; the bucket is empty when less than one failure is left.
        tokens = burst - decision.reset_seconds * rate  # reset_seconds = ceil((burst - tokens) / rate)
        if decision.remaining < 1:
            wait = max(1, math.ceil((1 - max(0.0, tokens)) / rate))
            return Lockout(by=by, retry_after_seconds=wait)
    return None


def login_failure_record(*, username: str, ip: str | None) -> None:
    """Count one failed password or code against the username and the IP."""
    for _by, name, burst in _buckets(username=username, ip=ip):
        rate_limit_take(name=name, rate=_rate(burst), burst=burst, cost=1)


def login_success_record(*, username: str, ip: str | None) -> None:
    """A completed sign-in: the username's failures are forgotten (not the IP's, see the module docstring)."""
    _by, name, _burst = _buckets(username=username, ip=ip)[0]
    try:
        redis_client().delete(tenant_key("ratelimit", name))
    except RedisError as exc:
        log.warning("accounts.lockout.reset_failed", extra={"error": str(exc)[:200]})
