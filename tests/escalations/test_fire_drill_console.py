"""The console's fire-drill button: provider staff start a drill that a real worker runs through the
notifications queue; the customer's CSIRT gets the marked test notice and the SOC the report on the incident."""

import email
import time
from email import policy

import dramatiq
import pytest
from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from mdr.audit.services import Actor
from mdr.escalations import services
from mdr.escalations.models import Contact
from mdr.incidents.models import IncidentEvent
from tests.conftest import login
from tests.factories import UserFactory


def test_only_triage_staff_can_start_a_drill(acme):
    from mdr.accounts.models import Role

    UserFactory(username="am1", role=Role.ACCOUNT_MANAGER)
    client = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    login(client, "am1", "correct horse battery staple")
    assert client.post("/customers/acme/fire-drill").status_code == 403
    assert Client(HTTP_HOST=settings.MDR_BASE_DOMAIN).post("/customers/acme/fire-drill").status_code == 302  # login
    assert acme.client().post("/customers/acme/fire-drill").status_code == 404  # not on a customer's domain


@pytest.fixture
def notifications_worker():
    broker = dramatiq.get_broker()
    for queue in ("default", "notifications"):
        broker.flush(queue)
    worker = dramatiq.Worker(broker, queues={"default", "notifications"}, worker_threads=2, worker_timeout=100)
    worker.start()
    yield
    worker.stop()


def test_the_button_runs_the_drill_in_a_worker_to_the_customer_and_back(
    committed_customer, django_db_blocker, notifications_worker, mail_server
):
    from mdr.accounts.models import Role

    inbox = mail_server
    try:
        with django_db_blocker.unblock():
            with schema_context(committed_customer.schema):
                lead = Contact.objects.create(name="lead", email="lead@live.example", language="ja")
                services.matrix_publish(
                    actor=Actor.system("tests"),
                    rules=[
                        {
                            "min_priority": "P4",
                            "levels": [{"contacts": [lead.pk], "channels": ["email"], "wait_minutes": 30}],
                        }
                    ],
                )
            UserFactory(username="an-drill", role=Role.ANALYST)
            client = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
            login(client, "an-drill", "correct horse battery staple")
            response = client.post(f"/customers/{committed_customer.slug}/fire-drill")
            assert response.status_code == 302
            deadline = time.monotonic() + 30
            report = None
            while report is None and time.monotonic() < deadline:
                with schema_context(committed_customer.schema):
                    report = IncidentEvent.objects.filter(kind="fire_drill_report").first()
                time.sleep(0.2)
            assert report is not None, "no drill report within 30 s"
            assert report.data["ok"] is True, report.text
            assert [step for step, _, _ in report.data["steps"]][:5] == [
                "ingest",
                "processing",
                "incident",
                "escalation",
                "delivery",
            ]
        ((rcpt, raw),) = inbox.messages
        assert rcpt == ["lead@live.example"]
        assert "FIRE DRILL" in str(email.message_from_bytes(raw, policy=policy.default)["Subject"])
    finally:
        with django_db_blocker.unblock():
            from mdr.accounts.models import User

            User.objects.filter(username="an-drill").delete()
