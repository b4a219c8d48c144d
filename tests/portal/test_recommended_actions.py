"""Recommended actions on the portal's incident page: the status form per action (CSIRT and admins; viewers read),
the htmx fragment vs the full page for the same URL, errors next to the field, another customer's action 404; and
"need help" reaching the SOC: the console workspace and the analyst queue."""

from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from mdr.accounts.models import Role
from mdr.audit.services import Actor
from mdr.incidents.models import RecommendedAction
from mdr.incidents.services import recommended_actions_sync
from mdr.jobs.models import OpenRequestIndex
from tests.conftest import login
from tests.factories import PASSWORD, UserFactory
from tests.portal.helpers import make_incident, portal_client

SOC = Actor(type="provider_staff", name="analyst#7")
HTMX = {"HTTP_HX_REQUEST": "true"}


def _actions(schema: str, incident, texts: list[str]) -> list[RecommendedAction]:
    with schema_context(schema):
        return recommended_actions_sync(incident=incident, texts=texts, actor=SOC)


def test_csirt_sees_a_form_per_action_and_viewers_only_the_status(acme):
    # given
    incident = make_incident("acme", "ransomware")
    first, _second = _actions("acme", incident, ["Isolate WS-01", "Reset j.doe's password"])
    # when
    csirt_html = portal_client(acme, Role.CSIRT).get(f"/incidents/{incident.pk}").content.decode()
    viewer = portal_client(acme, Role.VIEWER)
    viewer_html = viewer.get(f"/incidents/{incident.pk}").content.decode()
    # then
    assert csirt_html.count('data-testid="action-form"') == 2
    assert f'hx-post="/incidents/{incident.pk}/actions/{first.pk}"' in csirt_html
    assert "Isolate WS-01" in viewer_html and "Reset j.doe&#x27;s password" in viewer_html
    assert 'data-testid="action-form"' not in viewer_html
    response = viewer.post(f"/incidents/{incident.pk}/actions/{first.pk}", {f"action-{first.pk}-status": "done"})
    assert response.status_code == 403
    with schema_context("acme"):
        assert RecommendedAction.objects.get(pk=first.pk).status == "open"


def test_without_javascript_the_form_redirects_back_to_the_page(acme):
    # given
    incident = make_incident("acme", "phishing")
    (action,) = _actions("acme", incident, ["Purge the mail"])
    client = portal_client(acme, Role.CUSTOMER_ADMIN)
    # when
    response = client.post(
        f"/incidents/{incident.pk}/actions/{action.pk}",
        {f"action-{action.pk}-status": "not_applicable", f"action-{action.pk}-note": "no Exchange here"},
    )
    # then
    assert response.status_code == 302
    assert response["Location"] == f"/incidents/{incident.pk}#action-{action.pk}"
    page = client.get(response["Location"]).content.decode()
    assert 'data-status="not_applicable"' in page and "no Exchange here" in page
    assert "<html" in page


def test_with_htmx_the_same_url_returns_the_row_and_the_timeline_out_of_band(acme):
    # given
    incident = make_incident("acme", "phishing")
    (action,) = _actions("acme", incident, ["Purge the mail"])
    client = portal_client(acme, Role.CSIRT)
    # when
    response = client.post(
        f"/incidents/{incident.pk}/actions/{action.pk}",
        {f"action-{action.pk}-status": "need_help", f"action-{action.pk}-note": "who can do this?"},
        **HTMX,
    )
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and "<nav" not in html
    assert html.lstrip().startswith(f'<li class="action action-need_help" id="action-{action.pk}"')
    assert 'id="incident-timeline"' in html and 'hx-swap-oob="true"' in html
    assert 'data-kind="action_status"' in html and "who can do this?" in html
    with schema_context("acme"):
        assert RecommendedAction.objects.get(pk=action.pk).status == "need_help"


def test_a_bad_status_is_refused_next_to_the_field_with_and_without_htmx(acme):
    # given
    incident = make_incident("acme", "phishing")
    (action,) = _actions("acme", incident, ["Purge the mail"])
    client = portal_client(acme, Role.CSIRT)
    url = f"/incidents/{incident.pk}/actions/{action.pk}"
    # when
    full = client.post(url, {f"action-{action.pk}-status": "maybe"})
    fragment = client.post(url, {f"action-{action.pk}-status": "maybe"}, **HTMX)
    too_long = client.post(url, {f"action-{action.pk}-status": "done", f"action-{action.pk}-note": "x" * 2001}, **HTMX)
    # then
    assert full.status_code == 400 and "<html" in full.content.decode()
    assert f'data-testid="error-action-{action.pk}-status"' in full.content.decode()
    assert fragment.status_code == 400 and "<html" not in fragment.content.decode()
    assert f'data-testid="error-action-{action.pk}-status"' in fragment.content.decode()
    assert too_long.status_code == 400 and f'data-testid="error-action-{action.pk}-note"' in too_long.content.decode()
    with schema_context("acme"):
        assert RecommendedAction.objects.get(pk=action.pk).status == "open"


def test_another_customers_action_is_not_found(acme, globex):
    # given
    theirs = make_incident("globex", "globex incident")
    (their_action,) = _actions("globex", theirs, ["Globex-only step"])
    mine = make_incident("acme", "acme incident")
    client = portal_client(acme, Role.CSIRT)
    # when / then
    assert client.get(f"/incidents/{theirs.pk}").status_code == 404
    data = {f"action-{their_action.pk}-status": "done"}
    assert client.post(f"/incidents/{mine.pk}/actions/{their_action.pk}", data).status_code == 404
    assert client.post(f"/incidents/{theirs.pk}/actions/{their_action.pk}", data, **HTMX).status_code == 404
    with schema_context("globex"):
        assert RecommendedAction.objects.get(pk=their_action.pk).status == "open"


def test_htmx_acknowledge_and_comment_return_their_fragments(acme):
    from tests.portal.helpers import escalate, make_contact

    # given
    incident = make_incident("acme", "please acknowledge")
    escalate("acme", incident, make_contact("acme", "Duty desk"))
    client = portal_client(acme, Role.CSIRT)
    # when
    ack = client.post(f"/incidents/{incident.pk}/acknowledge", **HTMX)
    comment = client.post(f"/incidents/{incident.pk}/comment", {"text": "On it."}, **HTMX)
    empty = client.post(f"/incidents/{incident.pk}/comment", {"text": ""}, **HTMX)
    # then
    assert ack.status_code == 200 and ack.content.decode().lstrip().startswith(
        '<section class="card" id="incident-summary"'
    )
    assert 'data-testid="notice"' in ack.content.decode() and 'data-testid="acknowledge"' not in ack.content.decode()
    assert comment.status_code == 200 and "On it." in comment.content.decode()
    assert comment.content.decode().lstrip().startswith('<section class="card" id="incident-timeline"')
    assert empty.status_code == 400 and 'data-testid="error-text"' in empty.content.decode()
    # without JavaScript: still the redirect
    assert client.post(f"/incidents/{incident.pk}/comment", {"text": "Again."}).status_code == 302


def test_need_help_shows_in_the_console_workspace_and_the_analyst_queue(acme, globex):
    from mdr.incidents.services import recommended_action_set_status

    # given
    incident = make_incident("acme", "ransomware")
    ok, stuck = _actions("acme", incident, ["Isolate WS-01", "Restore from backup"])
    other = make_incident("globex", "globex incident")
    (globex_action,) = _actions("globex", other, ["Globex step"])
    carol = Actor(type="customer_user", name="carol#3")
    with schema_context("acme"):
        recommended_action_set_status(actor=carol, action=ok, status="done")
        recommended_action_set_status(actor=carol, action=stuck, status="need_help", note="no backup admin")
    with schema_context("globex"):
        recommended_action_set_status(actor=carol, action=globex_action, status="need_help")
    UserFactory(username="an-actions", role=Role.ANALYST)
    analyst = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    login(analyst, "an-actions", PASSWORD)
    # when
    workspace = analyst.get(f"/customers/acme/incidents/{incident.pk}").content.decode()
    queue = analyst.get("/queue/").content.decode()
    acme_only = analyst.get("/queue/?customer=acme").content.decode()
    # then
    assert 'data-testid="recommended-action" data-status="need_help"' in workspace
    assert "Restore from backup" in workspace and "no backup admin" in workspace
    assert 'data-testid="recommended-action" data-status="done"' in workspace
    assert queue.count('data-testid="help-request"') == 2
    assert f"/customers/acme/incidents/{incident.pk}#action-{stuck.pk}" in queue
    assert f"/customers/globex/incidents/{other.pk}#action-{globex_action.pk}" in queue
    assert acme_only.count('data-testid="help-request"') == 1
    assert OpenRequestIndex.objects.filter(kind="action_help").count() == 2
