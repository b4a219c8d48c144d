"""Offboarding from the console: provider admins only, confirmed by typing the slug, run by a real worker (the
export written and verified, the schema dropped) with the outcome recorded on the page."""

import json
import time
from pathlib import Path

import dramatiq
import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_exists

from mdr.accounts.models import Role
from mdr.jobs.models import OffboardingRun, OffboardingState
from tenants.constants import CustomerStatus
from tenants.models import Customer
from tenants.offboarding import MANIFEST, export_verify
from tests.conftest import login
from tests.factories import PASSWORD, UserFactory


def test_only_provider_admins_reach_the_page(acme, analyst, account_manager, provider_admin_client):
    # when / then
    assert analyst.get("/customers/acme/offboard").status_code == 403
    assert analyst.post("/customers/acme/offboard", {"confirm": "acme"}).status_code == 403
    assert account_manager.get("/customers/acme/offboard").status_code == 403
    page = provider_admin_client.get("/customers/acme/offboard")
    assert page.status_code == 200 and 'data-testid="submit-offboard"' in page.content.decode()
    assert provider_admin_client.get("/customers/nobody/offboard").status_code == 404
    assert acme.client().get("/customers/acme/offboard").status_code == 404  # not on a customer's domain
    status = provider_admin_client.get("/customers/acme/status").content.decode()
    assert 'href="/customers/acme/offboard"' in status
    assert not OffboardingRun.objects.exists()


def test_a_wrong_confirmation_is_refused_and_nothing_happens(acme, provider_admin_client):
    # when
    response = provider_admin_client.post("/customers/acme/offboard", {"confirm": "globex"})
    empty = provider_admin_client.post("/customers/acme/offboard", {"confirm": ""})
    # then
    assert response.status_code == 400 and empty.status_code == 400
    assert "This is not the customer&#x27;s slug" in response.content.decode()
    assert 'id="id_confirm"' in response.content.decode()
    assert not OffboardingRun.objects.exists()
    assert Customer.objects.get(slug="acme").status == CustomerStatus.ACTIVE


def test_the_service_refuses_a_wrong_slug_and_a_second_run(acme):
    from mdr.audit.services import Actor
    from tenants.offboarding import OffboardingError, customer_offboard_request

    customer = Customer.objects.get(slug="acme")
    actor = Actor(type="provider_staff", name="padmin#1")
    with pytest.raises(OffboardingError) as wrong:
        customer_offboard_request(actor=actor, customer=customer, confirm="acm")
    assert wrong.value.field == "confirm"
    OffboardingRun.objects.create(
        customer=customer, requested_by="x", requested_at=customer.created_at, export_dir="/nowhere"
    )
    with pytest.raises(OffboardingError) as twice:
        customer_offboard_request(actor=actor, customer=customer, confirm="acme")
    assert twice.value.field == "customer" and "under way" in twice.value.message


@pytest.fixture
def default_worker():
    broker = dramatiq.get_broker()
    broker.flush("default")
    worker = dramatiq.Worker(broker, queues={"default"}, worker_threads=1, worker_timeout=100)
    worker.start()
    yield
    worker.stop()


def test_a_committed_customer_is_exported_verified_and_dropped_by_a_worker(
    committed_customer, django_db_blocker, default_worker, tmp_path, settings
):
    settings.MDR_EXPORT_DIR = tmp_path / "exports"
    slug = committed_customer.slug
    try:
        with django_db_blocker.unblock():
            UserFactory(username="padmin-offboard", role=Role.PROVIDER_ADMIN)
            client = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
            login(client, "padmin-offboard", PASSWORD)
            # when
            response = client.post(f"/customers/{slug}/offboard", {"confirm": slug})
            assert response.status_code == 302
            running = client.get(f"/customers/{slug}/offboard", HTTP_HX_REQUEST="true").content.decode()
            deadline = time.monotonic() + 60
            run = OffboardingRun.objects.get(customer__slug=slug)
            while run.state in (OffboardingState.QUEUED, OffboardingState.RUNNING) and time.monotonic() < deadline:
                time.sleep(0.2)
                run.refresh_from_db()
            page = client.get(f"/customers/{slug}/offboard").content.decode()
            # then
            assert run.state == OffboardingState.DONE, run.error
            assert 'hx-trigger="every 2s"' in running and "<html" not in running
            connection.set_schema_to_public()
            assert not schema_exists(committed_customer.schema)
            customer = Customer.objects.get(slug=slug)
            assert customer.status == CustomerStatus.OFFBOARDED
            export = Path(run.export_dir)
            assert export.parent == tmp_path / "exports" and export.name.startswith(f"{slug}-")
            assert export_verify(directory=export) == []
            manifest = json.loads((export / MANIFEST).read_text())
            assert manifest["customer"]["slug"] == slug
            assert run.row_counts["accounts_user"] >= 1 and (export / "accounts_user.jsonl").exists()
            assert run.manifest_sha256 and run.manifest_sha256 in page
            assert 'data-testid="offboarded"' in page and 'data-testid="submit-offboard"' not in page
            assert 'hx-trigger="every 2s"' not in page
    finally:
        with django_db_blocker.unblock():
            from mdr.accounts.models import User

            User.objects.filter(username="padmin-offboard").delete()
