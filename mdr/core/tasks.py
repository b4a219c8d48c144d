"""Provider-wide actors (a heartbeat proving a worker is alive and consuming)."""

import dramatiq
from django.utils import timezone

from mdr.core.redis import redis_client


@dramatiq.actor(tenant_scope="public", max_retries=0, time_limit=10_000, queue_name="default")
def worker_heartbeat() -> None:
    redis_client().set("mdr:public:worker:heartbeat", timezone.now().isoformat(), ex=300)
