"""Every customer's pending change proposals on one console page, read from the public index of open requests that
the proposal services keep in the same transaction (propose adds, approve/reject/withdraw remove); the page's
queries do not grow with the number of customers."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from mdr.audit.services import Actor
from mdr.escalations import proposals
from mdr.escalations.models import Contact
from mdr.jobs.models import OpenRequestIndex, OpenRequestKind
from tenants.models import Customer

CUSTOMER = Actor(type="customer_user", name="admin#1")
PROVIDER = Actor(type="provider_staff", name="padmin#1")


def _propose(schema: str, name: str):
    with schema_context(schema):
        return proposals.proposal_create(
            actor=CUSTOMER, kind="contact_create", payload={"name": name, "email": f"{name.lower()}@example.com"}
        )


def _indexed(schema: str) -> set[str]:
    return set(
        OpenRequestIndex.objects.filter(schema_name=schema, kind=OpenRequestKind.PROPOSAL).values_list("ref", flat=True)
    )


def test_the_index_follows_propose_approve_reject_and_withdraw(acme):
    # given
    approved, rejected, withdrawn, pending = (_propose("acme", n) for n in ("Ann", "Bob", "Cy", "Di"))
    assert _indexed("acme") == {str(p.pk) for p in (approved, rejected, withdrawn, pending)}
    row = OpenRequestIndex.objects.get(ref=str(pending.pk))
    assert (row.subject, row.created_at) == ("contact_create", pending.proposed_at)
    # when
    with schema_context("acme"):
        proposals.proposal_approve(actor=PROVIDER, proposal=approved)
        proposals.proposal_reject(actor=PROVIDER, proposal=rejected, reason="duplicate")
        proposals.proposal_withdraw(actor=CUSTOMER, proposal=withdrawn)
    # then
    assert _indexed("acme") == {str(pending.pk)}
    with schema_context("acme"):
        assert Contact.objects.filter(name="Ann").exists()


def test_a_refused_decision_keeps_the_proposal_in_the_index(acme):
    import pytest

    from mdr.escalations.services import EscalationError

    # given
    first = _propose("acme", "Eve")
    # when: a reject without a reason is refused
    with schema_context("acme"), pytest.raises(EscalationError):
        proposals.proposal_reject(actor=PROVIDER, proposal=first, reason="  ")
    # then
    assert _indexed("acme") == {str(first.pk)}


def test_staff_see_every_customers_pending_proposals_and_the_count_on_home(
    acme, globex, provider_admin_client, analyst
):
    # given
    mine = _propose("acme", "Frank")
    theirs = _propose("globex", "Grace")
    done = _propose("globex", "Heidi")
    with schema_context("globex"):
        proposals.proposal_withdraw(actor=CUSTOMER, proposal=done)
    # when
    page = provider_admin_client.get("/proposals/")
    home = provider_admin_client.get("/").content.decode()
    # then
    html = page.content.decode()
    assert page.status_code == 200
    assert html.count('data-testid="proposal-row"') == 2
    assert f'data-customer="acme" data-proposal="{mine.pk}"' in html
    assert f'data-customer="globex" data-proposal="{theirs.pk}"' in html
    assert str(done.pk) not in html
    assert 'href="/customers/acme/proposals/"' in html and 'href="/customers/globex/proposals/"' in html
    assert "Frank" not in html  # the index holds ids and kinds, never the proposed content
    assert 'data-testid="pending-proposals"' in home and "2 pending proposals" in home
    assert analyst.get("/proposals/").status_code == 403
    assert 'data-testid="pending-proposals"' not in analyst.get("/").content.decode()
    assert acme.client().get("/proposals/").status_code == 404  # not on a customer's domain


def test_the_page_does_not_query_per_customer(acme, globex, provider_admin_client):
    # given: two customers with proposals
    _propose("acme", "Ivan")
    _propose("globex", "Judy")

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert provider_admin_client.get("/proposals/").status_code == 200
        return len(ctx.captured_queries)

    with_two = queries()
    # when: five more customers (rows only: the page must not enter their schemas) with a proposal each
    for n in range(5):
        customer = Customer.objects.create(name=f"Ghost {n}", slug=f"ghost-{n}", schema_name=f"ghost_{n}")
        OpenRequestIndex.objects.create(
            schema_name=customer.schema_name,
            kind=OpenRequestKind.PROPOSAL,
            ref=f"00000000-0000-0000-0000-00000000000{n}",
            subject="matrix",
            created_at=timezone.now(),
        )
    with_seven = queries()
    # then
    assert with_seven == with_two
    assert provider_admin_client.get("/proposals/").content.decode().count('data-testid="proposal-row"') == 7


def test_the_migration_backfills_proposals_pending_before_the_index(acme, globex):
    import importlib

    from django.apps import apps
    from django.db import connection as conn

    # given: pending proposals whose index rows are missing (made before the index existed)
    older = _propose("acme", "Kim")
    decided = _propose("globex", "Lee")
    with schema_context("globex"):
        proposals.proposal_withdraw(actor=CUSTOMER, proposal=decided)
    OpenRequestIndex.objects.all().delete()
    migration = importlib.import_module("mdr.jobs.migrations.0006_backfill_open_requests")
    # when
    with conn.schema_editor() as editor:
        migration.backfill(apps, editor)
    # then
    assert {(r.schema_name, r.ref, r.subject) for r in OpenRequestIndex.objects.all()} == {
        ("acme", str(older.pk), "contact_create")
    }
