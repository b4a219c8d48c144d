"""Web and workers are stateless: two gunicorn servers, two dramatiq workers and two schedulers against one test
database and one Redis behave as one service.

- a portal session signed in on web A is valid on web B (sessions live in the customer schema, not in a process);
- alerts ingested through both servers are all processed, into one incident, escalated once: one delivery row
  and one notice at a receiver that deduplicates on ``webhook-id`` (tests/reliability/receivers.py), with no
  repeated ``webhook-id`` on the wire;
- the per-key rate limit is one Redis bucket: a burst of N spread over both servers admits N requests in all,
  not N per server;
- of the two schedulers, one leads (the Redis lease in mdr/scheduler.py) and the other stays idle.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import sys
import time
from http.cookies import SimpleCookie

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from mdr.alerts.models import Alert
from mdr.audit.services import Actor
from mdr.escalations.models import Delivery
from mdr.incidents.models import Incident
from mdr.jobs.models import FailedJob, Outbox
from tests.alerts.test_ingest_api import native
from tests.live import process_env, spawn, start_web, start_worker
from tests.reliability.receivers import DedupReceiver
from tests.reliability.test_redis_outage import _escalating_customer


def _http(port: int, method: str, path: str, *, host: str, body: bytes | None = None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(method, path, body=body, headers={"Host": host, **(headers or {})})
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    cookies = SimpleCookie()
    for name, value in response.getheaders():
        if name.lower() == "set-cookie":
            cookies.load(value)
    return response.status, dict((k.lower(), v) for k, v in response.getheaders()), raw, cookies


@pytest.fixture
def second_customer(django_db_setup, django_db_blocker):
    """A committed customer whose keys have a tiny bucket: 4 requests, refilled once in about 17 minutes."""
    from tenants.models import ApiKey, Customer, Domain
    from tenants.services import customer_onboard

    slug = "scale-bucket"
    with django_db_blocker.unblock():
        result = customer_onboard(actor=Actor.system("tests"), name=slug, slug=slug, language="en")
        Customer.objects.filter(slug=slug).update(ingest_rate_per_second=0.001, ingest_burst=4)
    yield result
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{result.customer.schema_name}" CASCADE')
        Outbox.objects.filter(schema_name=result.customer.schema_name).delete()
        ApiKey.objects.filter(customer__slug=slug).delete()
        Domain.objects.filter(tenant__slug=slug).delete()
        Customer.objects.filter(slug=slug).delete()


@pytest.fixture
def receiver():
    r = DedupReceiver()
    yield r
    r.down()


@pytest.fixture
def two_of_everything(committed_customer, tmp_path):
    env = process_env(MDR_WEBHOOK_ALLOW_PRIVATE="1", MDR_SCHEDULER_INTERVAL_SECONDS="0.5")
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    a_dir.mkdir()
    b_dir.mkdir()
    procs = {}
    try:
        # workers and schedulers first: they start while the web servers are awaited
        procs["worker_a"] = start_worker(env, a_dir)
        procs["worker_b"] = start_worker(env, b_dir)
        cmd = [sys.executable, "manage.py", "run_scheduler"]
        procs["scheduler_a"] = spawn("scheduler", cmd, env, a_dir)
        procs["scheduler_b"] = spawn("scheduler", cmd, env, b_dir)
        procs["web_a"], port_a = start_web(env, a_dir, workers=1, threads=4)
        procs["web_b"], port_b = start_web(env, b_dir, workers=1, threads=4)
        yield {"ports": (port_a, port_b), "procs": procs}
    finally:
        for proc in procs.values():  # all asked to stop first: their shutdowns overlap instead of adding up
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.popen.pid, signal.SIGTERM)
        for proc in procs.values():
            proc.stop()


def _logs(procs) -> str:
    return "\n".join(f"--- {name}\n{proc.output()[-1500:]}" for name, proc in procs.items())


def test_two_web_servers_and_two_workers_act_as_one_service(
    two_of_everything, committed_customer, second_customer, receiver, django_db_blocker
):
    tenant = committed_customer
    port_a, port_b = two_of_everything["ports"]
    procs = two_of_everything["procs"]
    with django_db_blocker.unblock():
        _escalating_customer(tenant, receiver)

    # a portal session made on A is valid on B
    status, _, raw, cookies = _http(port_a, "GET", "/login/", host=tenant.domain)
    assert status == 200
    csrf = cookies["csrftoken"].value
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', raw).group(1).decode()
    form = f"username={tenant.admin_username}&password={tenant.admin_password}&csrfmiddlewaretoken={token}"
    status, headers, _, cookies = _http(
        port_a,
        "POST",
        "/login/",
        host=tenant.domain,
        body=form.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={csrf}"},
    )
    assert status == 302, headers
    session = cookies["sessionid"].value
    assert _http(port_b, "GET", "/", host=tenant.domain)[0] == 302  # B without the cookie: to the sign-in page
    status, _, raw, _ = _http(port_b, "GET", "/", host=tenant.domain, headers={"Cookie": f"sessionid={session}"})
    assert status == 200 and tenant.admin_username.encode() in raw

    # ingest through both servers: every alert processed, one incident, escalated once
    for k in range(6):
        body = json.dumps([native(i) for i in range(20 * k, 20 * k + 20)]).encode()
        status, _, raw, _ = _http(
            (port_a, port_b)[k % 2],
            "POST",
            "/api/v1/alerts",
            host=tenant.domain,
            body=body,
            headers={"Authorization": f"Bearer {tenant.api_key}", "Content-Type": "application/json"},
        )
        assert status == 202 and json.loads(raw)["accepted"] == 20
    deadline = time.monotonic() + 40
    processed = -1
    while time.monotonic() < deadline:
        with django_db_blocker.unblock(), schema_context(tenant.schema):
            processed = Alert.objects.filter(processed_at__isnull=False).count()
        if processed == 120:
            break
        time.sleep(0.25)
    assert processed == 120, _logs(procs)
    with django_db_blocker.unblock():
        with schema_context(tenant.schema):
            assert Alert.objects.count() == 120
            assert Incident.objects.count() == 1
            deliveries = list(Delivery.objects.all())
        assert not FailedJob.objects.filter(schema_name=tenant.schema).exists()
        assert not Outbox.objects.filter(schema_name=tenant.schema, processed_at__isnull=True).exists()
    assert len(deliveries) == 1
    deadline = time.monotonic() + 20
    while not receiver.notices and time.monotonic() < deadline:
        time.sleep(0.2)
    assert list(receiver.notices) == [deliveries[0].message_id]
    assert receiver.repeats == 0 and receiver.rejected == 0

    # one rate-limit bucket for the key, whichever server takes the request
    key = f"Bearer {second_customer.api_key}"
    statuses = [
        _http(
            (port_a, port_b)[k % 2],
            "POST",
            "/api/v1/alerts",
            host=second_customer.domain,
            body=json.dumps(native(1000 + k)).encode(),
            headers={"Authorization": key, "Content-Type": "application/json"},
        )[0]
        for k in range(8)
    ]
    assert statuses.count(202) == 4 and statuses.count(429) == 4, statuses

    # of the two schedulers, exactly one leads
    from mdr.core.redis import redis_client
    from mdr.scheduler import LOCK_KEY

    leader = redis_client().get(LOCK_KEY)
    assert leader is not None
    pids = {procs["scheduler_a"].popen.pid, procs["scheduler_b"].popen.pid}
    assert int(leader.decode().split(":")[1]) in pids
