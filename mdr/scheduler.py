"""The scheduler process: exactly one runs, and it only enqueues (work happens in workers).

Jobs register here with an interval; each tick enqueues those that are due. A Redis lock (``SET NX`` with a
TTL, renewed every tick) keeps a second scheduler from double-firing. Later work (the SLA sweep, the outbox
relay, monthly reports) registers its jobs in this table.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from mdr.core.redis import redis_client

log = logging.getLogger(__name__)

LOCK_KEY = "mdr:public:scheduler:leader"


@dataclass
class Job:
    name: str
    interval_seconds: float
    enqueue: Callable[[], None]
    next_run: float = field(default=0.0)


def default_jobs() -> list[Job]:
    from mdr.core.tasks import worker_heartbeat
    from mdr.jobs.services import due_work_sweep, outbox_prune, outbox_relay

    return [
        Job("outbox.relay", 5.0, outbox_relay),  # runs here: it must work right after a Redis outage
        Job("duework.sweep", 5.0, due_work_sweep),
        Job("outbox.prune", 3600.0, outbox_prune),
        Job("worker.heartbeat", 30.0, worker_heartbeat.send),
    ]


class Scheduler:
    def __init__(self, jobs: list[Job], *, interval: float, lock_ttl: int = 30):
        self.jobs = jobs
        self.interval = interval
        self.lock_ttl = lock_ttl
        self.identity = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stopping = False

    def _hold_lock(self) -> bool:
        client = redis_client()
        if client.set(LOCK_KEY, self.identity, nx=True, ex=self.lock_ttl):
            return True
        if client.get(LOCK_KEY) == self.identity.encode():
            client.expire(LOCK_KEY, self.lock_ttl)
            return True
        return False

    def tick(self, now: float | None = None) -> list[str]:
        """Enqueue every due job; returns the names fired (empty when another scheduler leads)."""
        now = time.monotonic() if now is None else now
        if not self._hold_lock():
            return []
        from django.db import close_old_connections

        close_old_connections()  # a long-running process must not keep a broken or expired connection
        fired = []
        for job in self.jobs:
            if now >= job.next_run:
                try:
                    job.enqueue()
                    fired.append(job.name)
                    job.next_run = now + job.interval_seconds
                except Exception:  # Redis or DB down: retry on the next tick, never crash the loop
                    log.exception("scheduler.job.enqueue_failed", extra={"job": job.name})
        return fired

    def run_forever(self) -> None:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        log.info("scheduler.start", extra={"identity": self.identity})
        while not self.stopping:
            try:
                self.tick()
            except Exception:
                log.exception("scheduler.tick_failed")
            time.sleep(self.interval)
        try:
            if redis_client().get(LOCK_KEY) == self.identity.encode():
                redis_client().delete(LOCK_KEY)
        except Exception:
            log.warning("scheduler.unlock_failed")
        log.info("scheduler.stop")

    def _stop(self, *_):
        self.stopping = True
