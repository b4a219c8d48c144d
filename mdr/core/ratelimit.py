"""Per-key rate limits enforced atomically in Redis (a token bucket in one Lua script).

The bucket lives at ``mdr:<schema>:ratelimit:<name>``: refills at ``rate`` tokens per second up to ``burst``;
each request takes ``cost`` tokens or is refused with the time until enough have refilled. Redis's own clock
is used, so many web processes share one bucket exactly. DRF's cache throttle is not used: it is not atomic.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from redis.exceptions import RedisError

from mdr.core.redis import redis_client, tenant_key

log = logging.getLogger(__name__)

TOKEN_BUCKET = """
local key = KEYS[1]
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local data = redis.call('HMGET', key, 'tokens', 'ts')
local tokens = tonumber(data[1])
local ts = tonumber(data[2])
if tokens == nil then tokens = burst; ts = now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
end
redis.call('HSET', key, 'tokens', tokens, 'ts', now)
redis.call('EXPIRE', key, math.ceil(burst / rate) + 1)
return {allowed, tostring(tokens)}
"""  # noqa: S105 -- a Lua script, not a secret


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int  # until the bucket is full again
    retry_after_seconds: int  # 0 when allowed

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_seconds)
        return headers


_script = None


def rate_limit_take(*, name: str, rate: float, burst: int, cost: int = 1) -> RateDecision | None:
    """Take ``cost`` tokens from the current tenant's bucket ``name``. None if Redis is unreachable: ingest
    fails open (losing alerts is worse than a burst), and the outage is logged."""
    global _script
    client = redis_client()
    if _script is None:
        _script = client.register_script(TOKEN_BUCKET)
    try:
        allowed, tokens = _script(keys=[tenant_key("ratelimit", name)], args=[rate, burst, cost])
    except RedisError as exc:
        log.warning("ratelimit.redis_unavailable", extra={"error": str(exc)[:200]})
        return None
    tokens = float(tokens)
    allowed = bool(int(allowed))
    retry = 0 if allowed else max(1, math.ceil((cost - tokens) / rate))
    return RateDecision(
        allowed=allowed,
        limit=burst,
        remaining=max(0, math.floor(tokens)),
        reset_seconds=math.ceil((burst - tokens) / rate),
        retry_after_seconds=retry,
    )
