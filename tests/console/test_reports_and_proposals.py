"""Report review and change proposals in the console: each action through its service, errors next to the field,
reads audited in the customer's schema."""

from datetime import date

import pytest
from django_tenants.utils import schema_context

from mdr.audit.models import AuditEvent
from mdr.audit.services import Actor
from mdr.escalations import proposals
from mdr.escalations.models import ChangeProposal, Contact
from reports import services as reports
from reports.models import MonthlyReport

ACTOR = Actor(type="provider_staff", name="tests")
CUSTOMER = Actor(type="customer_user", name="acme-admin")


@pytest.fixture
def draft(acme) -> MonthlyReport:
    with schema_context("acme"):
        report, _ = reports.report_generate_monthly(month=date(2025, 1, 1), actor=ACTOR, language="en")
    return report


def test_generate_a_month_then_edit_and_publish(acme, account_manager):
    # when: generate
    response = account_manager.post(
        "/customers/acme/reports/generate", {"month": "2025-02", "language": "en", "reason": ""}
    )
    # then
    assert response.status_code == 302
    with schema_context("acme"):
        report = MonthlyReport.objects.get(month=date(2025, 2, 1), language="en")
    assert response["Location"] == f"/customers/acme/reports/{report.pk}"
    page = account_manager.get(response["Location"]).content.decode()
    assert 'data-testid="report-figures"' in page and f"/api/provider/customers/acme/reports/{report.pk}/pdf" in page
    # when: edit, one item per line
    edit = account_manager.post(
        f"/customers/acme/reports/{report.pk}/edit",
        {"recommendations": "Patch VPN\n\nEnable MFA\n", "customer_actions": "Confirm the asset list"},
    )
    assert edit.status_code == 302
    # when: publish
    assert account_manager.post(f"/customers/acme/reports/{report.pk}/publish").status_code == 302
    with schema_context("acme"):
        report.refresh_from_db()
        assert report.recommendations == ["Patch VPN", "Enable MFA"]
        assert report.customer_actions == ["Confirm the asset list"]
        assert report.state == "publishing"
        assert AuditEvent.objects.filter(action="provider.console.report.view", target_id=str(report.pk)).exists()
    # a report no longer a draft cannot change: the error is shown
    again = account_manager.post(f"/customers/acme/reports/{report.pk}/refresh")
    assert again.status_code == 400 and "only a draft can change" in again.content.decode()


def test_report_errors_are_shown_next_to_the_field(acme, analyst):
    bad = analyst.post("/customers/acme/reports/generate", {"month": "2025-13", "language": "en"})
    assert bad.status_code == 400 and "a month as YYYY-MM" in bad.content.decode()
    future = analyst.post("/customers/acme/reports/generate", {"month": "2999-01", "language": "en"})
    assert future.status_code == 400 and "2999-01 has not started yet" in future.content.decode()
    with schema_context("acme"):
        assert not MonthlyReport.objects.filter(month=date(2999, 1, 1)).exists()


def test_the_report_list_shows_every_version_and_audits_the_read(draft, analyst):
    page = analyst.get("/customers/acme/reports/").content.decode()
    assert 'data-testid="report-row"' in page and "2025-01" in page and "v1" in page
    with schema_context("acme"):
        assert AuditEvent.objects.filter(action="provider.console.reports.list").exists()


@pytest.fixture
def proposal(acme) -> ChangeProposal:
    with schema_context("acme"):
        return proposals.proposal_create(
            actor=CUSTOMER,
            kind="contact_create",
            payload={"name": "Night desk", "email": "night@acme.example", "language": "en"},
            comment="our new 24/7 desk",
        )


def test_proposals_are_listed_pending_first_readably_and_the_read_audited(proposal, provider_admin_client):
    with schema_context("acme"):
        older = proposals.proposal_create(
            actor=CUSTOMER, kind="contact_create", payload={"name": "Old desk", "email": "old@acme.example"}
        )
        proposals.proposal_reject(actor=ACTOR, proposal=older, reason="duplicate")
    page = provider_admin_client.get("/customers/acme/proposals/").content.decode()
    assert page.index("Night desk") < page.index("Old desk")  # pending first
    assert "night@acme.example" in page and "our new 24/7 desk" in page and "duplicate" in page
    with schema_context("acme"):
        assert AuditEvent.objects.filter(action="provider.console.proposals.view").exists()


def test_approve_applies_the_proposal(proposal, provider_admin_client):
    response = provider_admin_client.post(
        f"/customers/acme/proposals/{proposal.pk}/approve", {f"approve-{proposal.pk}-reason": ""}
    )
    assert response.status_code == 302 and response["Location"] == "/customers/acme/proposals/"
    with schema_context("acme"):
        assert ChangeProposal.objects.get(pk=proposal.pk).state == "approved"
        assert Contact.objects.filter(email="night@acme.example").exists()
    assert "approved and applied" in provider_admin_client.get("/customers/acme/proposals/").content.decode()


def test_reject_without_a_reason_shows_the_error_and_keeps_it_pending(proposal, provider_admin_client):
    response = provider_admin_client.post(
        f"/customers/acme/proposals/{proposal.pk}/reject", {f"reject-{proposal.pk}-reason": "  "}
    )
    assert response.status_code == 400 and "This field is required." in response.content.decode()
    with schema_context("acme"):
        assert ChangeProposal.objects.get(pk=proposal.pk).state == "pending"
    ok = provider_admin_client.post(
        f"/customers/acme/proposals/{proposal.pk}/reject", {f"reject-{proposal.pk}-reason": "use the CSIRT list"}
    )
    assert ok.status_code == 302
    with schema_context("acme"):
        rejected = ChangeProposal.objects.get(pk=proposal.pk)
        assert (rejected.state, rejected.decision_reason) == ("rejected", "use the CSIRT list")


def test_chat_webhook_urls_are_never_shown(acme, provider_admin_client):
    with schema_context("acme"):
        contact = Contact.objects.create(name="Lead", email="lead@acme.example")
        proposals.proposal_create(
            actor=CUSTOMER,
            kind="contact_update",
            contact=contact,
            payload={"slack_webhook_url": "https://hooks.slack.com/services/T0/B0/secretsecret"},
        )
    page = provider_admin_client.get("/customers/acme/proposals/").content.decode()
    assert "secretsecret" not in page and "(set)" in page
