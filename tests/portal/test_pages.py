"""Portal pages: who may see which page, anonymous users sent to log in, the dashboard's figures."""

import re

import pytest
from django_tenants.utils import schema_context

from mdr.accounts.models import Role
from mdr.jobs.models import TimerIndex
from tests.portal.helpers import ROLES, escalate, make_alert, make_contact, make_incident, portal_client

PAGES = ["/", "/alerts/", "/incidents/", "/escalation/", "/reports/", "/contract/", "/users/"]


@pytest.mark.parametrize("role", ROLES)
def test_every_page_is_shown_to_every_customer_role(acme, role):
    # given
    alert = make_alert("acme", 1)
    incident = make_incident("acme", "page check")
    client = portal_client(acme, role)
    # when / then
    for url in [*PAGES, f"/alerts/{alert.pk}", f"/incidents/{incident.pk}"]:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        # scripts only as vendored files (htmx): no inline script, no inline style
        assert re.findall(r"<script(?![^>]*\bsrc=)", html) == [] and 'style="' not in html, url


def test_access_log_is_for_customer_admins_only(acme):
    assert portal_client(acme, Role.CUSTOMER_ADMIN).get("/access-log/").status_code == 200
    assert portal_client(acme, Role.VIEWER).get("/access-log/").status_code == 403


@pytest.mark.parametrize("url", [*PAGES, "/access-log/", "/alerts/00000000-0000-0000-0000-000000000001"])
def test_anonymous_users_are_sent_to_the_login_page(acme, url):
    response = acme.client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_anonymous_posts_are_sent_to_the_login_page(acme):
    incident = make_incident("acme", "anon")
    for url in (
        f"/incidents/{incident.pk}/acknowledge",
        f"/incidents/{incident.pk}/comment",
        "/escalation/propose/add",
    ):
        response = acme.client().post(url, {})
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url


def test_dashboard_shows_open_incidents_timers_alert_counts_and_pending_acknowledgements(acme):
    # given
    make_incident("acme", "first", priority="P1")
    make_incident("acme", "second", priority="P1")
    waiting = make_incident("acme", "waiting for you", priority="P3")
    escalate("acme", waiting, make_contact("acme", "Duty desk"))
    make_alert("acme", 1)
    make_alert("acme", 2)
    with schema_context("acme"):
        from django.utils import timezone

        TimerIndex.objects.create(
            schema_name="acme",
            timer_id=999001,
            subject_type="incident",
            subject_id=str(waiting.pk),
            metric="respond",
            priority="P3",
            deadline=timezone.now(),
        )
    client = portal_client(acme, Role.VIEWER)
    # when
    html = client.get("/").content.decode()
    # then
    assert 'data-testid="open-P1">2<' in html
    assert 'data-testid="open-P3">1<' in html
    assert 'data-testid="alerts-this-month">2<' in html
    assert "waiting for you" in html
    assert "respond" in html and "<svg" in html
    assert 'data-testid="contract-version"' in html
