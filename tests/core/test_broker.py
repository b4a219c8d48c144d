"""The dramatiq tenant middleware, with the real Redis broker and a real worker thread."""

import time
import uuid

import dramatiq
import pytest
from django.db import connection
from django_tenants.utils import schema_context

from mdr.broker import OPTION, TenantContextError
from mdr.core.redis import redis_client

RESULT = "mdr-test:ran:{}"


@dramatiq.actor(queue_name="test-tenancy", max_retries=0, time_limit=10_000)
def record_schema(token: str) -> None:
    redis_client().set(RESULT.format(token), connection.schema_name, ex=60)


@dramatiq.actor(queue_name="test-tenancy", max_retries=0, time_limit=10_000, tenant_scope="public")
def record_schema_public(token: str) -> None:
    redis_client().set(RESULT.format(token), connection.schema_name, ex=60)


@pytest.fixture
def worker(tenants_ab, db):
    broker = dramatiq.get_broker()
    broker.flush("test-tenancy")
    w = dramatiq.Worker(broker, queues={"test-tenancy"}, worker_threads=1, worker_timeout=100)
    w.start()
    yield broker
    w.stop()


def _wait(token: str, timeout: float = 10.0) -> str | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = redis_client().get(RESULT.format(token))
        if value is not None:
            return value.decode()
        time.sleep(0.05)
    return None


def _raw_enqueue(broker, message) -> None:
    """Put a message on the queue the way RedisBroker.enqueue does, but without the enqueue middleware."""
    rid = str(uuid.uuid4())
    broker.do_enqueue("test-tenancy", rid, message.copy(options={"redis_message_id": rid}).encode())


def _dead_letters(broker) -> int:
    return redis_client().zcard(f"{broker.namespace}:test-tenancy.XQ")


def test_actor_runs_in_the_schema_it_was_sent_from(worker):
    # given
    a, g = uuid.uuid4().hex, uuid.uuid4().hex
    # when
    with schema_context("acme"):
        record_schema.send(a)
    with schema_context("globex"):
        record_schema.send(g)
    # then
    assert _wait(a) == "acme"
    assert _wait(g) == "globex"


def test_sending_a_tenant_actor_from_public_raises(worker):
    assert connection.schema_name == "public"
    with pytest.raises(TenantContextError):
        record_schema.send(uuid.uuid4().hex)


def test_public_actor_runs_in_public(worker):
    token = uuid.uuid4().hex
    with schema_context("acme"):
        record_schema_public.send(token)
    assert _wait(token) == "public"


def test_message_without_tenant_is_refused_and_dead_lettered(worker):
    # given: a message that reached Redis without passing the enqueue middleware (old producer, tampering)
    token = uuid.uuid4().hex
    message = record_schema.message(token)
    before = _dead_letters(worker)
    # when
    _raw_enqueue(worker, message)
    # then: it never runs, and lands in the dead-letter set
    assert _wait(token, timeout=3) is None
    deadline = time.monotonic() + 5
    while _dead_letters(worker) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _dead_letters(worker) == before + 1


def test_message_for_a_missing_schema_is_refused(worker):
    token = uuid.uuid4().hex
    message = record_schema.message(token).copy(options={OPTION: "no_such_customer"})
    _raw_enqueue(worker, message)
    assert _wait(token, timeout=3) is None


def test_worker_goes_back_to_public_after_each_message(worker):
    # given: a tenant message, then a public one on the same single worker thread
    a, p = uuid.uuid4().hex, uuid.uuid4().hex
    with schema_context("acme"):
        record_schema.send(a)
        record_schema_public.send(p)
    # then: the public actor did not inherit acme's schema
    assert _wait(a) == "acme"
    assert _wait(p) == "public"
