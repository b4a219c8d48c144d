"""The process-wide Redis client for things that are not cache entries (rate limits, locks, heartbeats).

Keys written through it must start with the tenant's schema name (``tenant_key``) unless they are provider-wide.
"""

from functools import lru_cache

import redis
from django.conf import settings
from django.db import connection


@lru_cache(maxsize=1)
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)


def tenant_key(*parts: str) -> str:
    """A Redis key in the current tenant's namespace: ``mdr:<schema>:<parts...>``."""
    return ":".join(["mdr", connection.schema_name, *parts])
