"""A worker killed (SIGKILL) in the middle of an escalation delivery: after a new worker starts, the delivery
completes through the due-work lease, and the customer's receiver sees exactly one notice (it deduplicates on
``webhook-id``, which stays the same across the two attempts).

Real processes: a dramatiq worker and the scheduler (its due-work sweep hands the lost delivery over again),
against the test database; the receiver is a real HTTP server in the test process that verifies signatures.
"""

import json
import signal
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from mdr.audit.services import Actor
from mdr.escalations import services, webhook
from mdr.escalations.models import Contact, Delivery
from mdr.incidents.models import Incident
from tests.live import process_env, start_scheduler, start_worker


class HangingReceiver:
    """Verifies the signature, records each webhook-id once, and holds the first request open until released."""

    def __init__(self, secret: str):
        self.secret = secret
        self.first_arrived, self.release = threading.Event(), threading.Event()
        self.attempts, self.notices, self.rejected = 0, {}, 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.attempts += 1
                if not webhook.verify(headers=headers, body=body, secret=receiver.secret):
                    receiver.rejected += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                receiver.notices.setdefault(headers["webhook-id"], json.loads(body))
                if receiver.attempts == 1:
                    receiver.first_arrived.set()
                    receiver.release.wait(30)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/mdr"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = HangingReceiver(webhook.secret_generate())
    yield r
    r.close()


def test_a_delivery_interrupted_by_a_killed_worker_completes_once(
    committed_customer, receiver, tmp_path, django_db_blocker
):
    env = process_env(
        MDR_WEBHOOK_ALLOW_PRIVATE="1", MDR_DELIVERY_LEASE_SECONDS="2", MDR_SCHEDULER_INTERVAL_SECONDS="0.5"
    )
    procs = {"worker": start_worker(env, tmp_path), "scheduler": start_scheduler(env, tmp_path)}
    try:
        with django_db_blocker.unblock(), schema_context(committed_customer.schema):
            duty = Contact.objects.create(name="duty", webhook_url=receiver.url, webhook_secret=receiver.secret)
            services.matrix_publish(
                actor=Actor.system("tests"),
                rules=[
                    {
                        "min_priority": "P2",
                        "levels": [{"contacts": [duty.pk], "channels": ["webhook"], "wait_minutes": 30}],
                    }
                ],
            )
            incident = Incident.objects.create(title="Exfiltration over DNS", severity_id=5, priority="P1")
            with transaction.atomic():  # committed: the worker is another process
                services.escalation_start(incident=incident, actor=Actor.system("tests"))
        # when: the worker is killed while the receiver holds its request
        assert receiver.first_arrived.wait(30), procs["worker"].output()
        killed_at = timezone.now()
        procs["worker"].stop(sig=signal.SIGKILL)
        receiver.release.set()
        procs["worker"] = start_worker(env, tmp_path)
        # then: the lease runs out, the sweep hands the delivery over again, the new worker sends it
        deadline = time.monotonic() + 60
        delivery = None
        while time.monotonic() < deadline:
            with django_db_blocker.unblock(), schema_context(committed_customer.schema):
                delivery = Delivery.objects.get()
                if delivery.state == "sent":
                    break
            time.sleep(0.3)
        logs = "\n".join(f"--- {n}\n{p.output()[-1500:]}" for n, p in procs.items())
        assert delivery is not None and delivery.state == "sent", logs
        assert receiver.attempts == 2 and receiver.rejected == 0
        assert list(receiver.notices) == [delivery.message_id]  # one notice from the receiver's view
        with django_db_blocker.unblock(), schema_context(committed_customer.schema):
            # the killed attempt's transaction died with its process: the record holds the attempt that completed
            assert [a.ok for a in delivery.attempt_log.all()] == [True]
            assert delivery.delivered_at >= killed_at - timedelta(seconds=1)
            assert Incident.objects.get(pk=incident.pk).notified_at == delivery.delivered_at
    finally:
        for proc in procs.values():
            proc.stop()
