"""Console configuration pages: contract versions, SLA policies, escalation matrices and calendars are changed by
new versions through the domain services, with a diff against the version before; errors next to the field and
nothing created; reads audited in the customer's schema; another customer's versions are unknown here (404)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from mdr.audit.models import AuditEvent
from mdr.audit.services import Actor
from mdr.console.forms_config import CalendarSpecForm, ContractVersionForm
from mdr.escalations.contacts import contact_create
from mdr.escalations.models import EscalationMatrix
from mdr.escalations.services import matrix_publish
from mdr.scope import services as scope_services
from mdr.scope.models import ContractVersion
from mdr.sla import services as sla_services
from mdr.sla.calendar import BusinessCalendar
from mdr.sla.models import SlaPolicy, SlaTimer, StoredCalendar

ACTOR = Actor(type="provider_staff", name="tests")
ROLES = ("analyst", "provider_admin_client", "account_manager")
READ_PAGES = ("/contract/", "/contract/1/", "/sla/", "/escalation/", "/calendars/")
EDIT_PAGES = ("/contract/new", "/sla/new", "/escalation/new", "/calendars/new")


def _rows(html: str) -> list[tuple[str, str, str, str]]:
    """The diff table as (path, kind, old, new)."""
    rows = re.findall(
        r'data-testid="diff-row" data-path="([^"]*)" data-kind="(\w+)">.*?data-testid="diff-old">(.*?)</td>'
        r'.*?data-testid="diff-new">(.*?)</td>',
        html,
        flags=re.S,
    )
    return [tuple(unescape(cell) for cell in row) for row in rows]


def _contract_post(version: ContractVersion, **changes) -> dict:
    """What the browser posts when the form is sent as prefilled from ``version``, with ``changes``."""
    with schema_context("acme"):
        data = {**ContractVersionForm.initial_from_version(version), "change_note": "tests", **changes}
    coverage = CalendarSpecForm.initial_from_spec(version.coverage, timezone_name=version.timezone)
    post = {k: "" if v is None else str(v) for k, v in data.items()}
    for key, value in coverage.items():
        if isinstance(value, bool):
            if value:
                post[f"coverage-{key}"] = "on"
        else:
            post[f"coverage-{key}"] = value
    return post


def _v1(schema: str = "acme") -> ContractVersion:
    with schema_context(schema):
        return ContractVersion.objects.select_related("contract").get(number=1)


# ---- who may do what ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role_fixture", ROLES)
def test_every_staff_role_reads_and_only_provider_admins_edit(request, acme, role_fixture):
    # given
    client = request.getfixturevalue(role_fixture)
    # when
    reads = {path: client.get(f"/customers/acme{path}").status_code for path in READ_PAGES}
    edits = {path: client.get(f"/customers/acme{path}").status_code for path in EDIT_PAGES}
    publish = client.post("/customers/acme/contract/1/publish", {"effective_date": "2030-01-01"}).status_code
    # then
    assert reads == dict.fromkeys(READ_PAGES, 200)
    allowed = role_fixture == "provider_admin_client"
    assert edits == dict.fromkeys(EDIT_PAGES, 200 if allowed else 403)
    assert publish == (400 if allowed else 403)  # v1 is published already: refused by the service, named
    page = client.get("/customers/acme/contract/").content.decode()
    assert ('data-testid="contract-new"' in page) == allowed
    assert 'data-testid="nav-contract"' in page and 'data-testid="nav-calendars"' in page


def test_anonymous_users_go_to_the_login_page(acme, provider_client):
    response = provider_client.get("/customers/acme/contract/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_reads_are_audited_in_the_customers_schema(acme, analyst):
    for path in READ_PAGES:
        analyst.get(f"/customers/acme{path}")
    with schema_context("acme"):
        actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "provider.console.contract.view",
        "provider.console.contract.version.view",
        "provider.console.sla.view",
        "provider.console.escalation.view",
        "provider.console.calendars.view",
    } <= actions


# ---- contract versions ----------------------------------------------------------------------------------------


def test_a_new_version_through_the_form_shows_exactly_the_changed_fields_then_publishes(acme, provider_admin_client):
    # given: the onboarding placeholder v1 (standard, notify only, no scope items)
    v1 = _v1()
    form_page = provider_admin_client.get("/customers/acme/contract/new").content.decode()
    assert 'name="service_tier"' in form_page and 'value="standard"' in form_page
    # when: the admin changes the tier and the response mode
    response = provider_admin_client.post(
        "/customers/acme/contract/new", _contract_post(v1, service_tier="gold", response_mode="collaborate")
    )
    # then: a real draft version 2, through the service (audited)
    assert response.status_code == 302 and response["Location"] == "/customers/acme/contract/2/"
    with schema_context("acme"):
        v2 = ContractVersion.objects.get(number=2)
        assert (v2.status, v2.service_tier, v2.response_mode) == ("draft", "gold", "collaborate")
        assert v2.created_by.startswith("console-padmin")
        assert AuditEvent.objects.filter(action="contract.version.draft", target_id=str(v2.pk)).exists()
    # and the draft's page compares it with the version in force: exactly the two changed fields
    page = provider_admin_client.get(response["Location"]).content.decode()
    assert "Differences from version 1" in page
    assert _rows(page) == [
        ("terms.service_tier", "changed", "standard", "gold"),
        ("terms.response_mode", "changed", "notify_only", "collaborate"),
    ]
    # when: published from today (in the version's time zone)
    today = timezone.now().astimezone(ZoneInfo(v2.timezone)).date()
    published = provider_admin_client.post("/customers/acme/contract/2/publish", {"effective_date": today.isoformat()})
    # then
    assert published.status_code == 302 and published["Location"] == "/customers/acme/contract/"
    with schema_context("acme"):
        v2.refresh_from_db()
        v1.refresh_from_db()
        assert v2.status == "published" and v1.valid_to == v2.valid_from
    listing = provider_admin_client.get("/customers/acme/contract/").content.decode()
    assert re.search(r'data-number="2" data-status="published" class="in-force"', listing)


def test_scope_items_and_entitlements_are_written_by_their_services_and_diffed(acme, provider_admin_client):
    v1 = _v1()
    csv_text = "kind,value,criticality,included\nnetwork,10.1.0.0/16,high,yes\nhost,WEB-01,critical,yes\n"
    response = provider_admin_client.post(
        "/customers/acme/contract/new",
        _contract_post(
            v1,
            scope_items=csv_text,
            ent_endpoints_limit="500",
            ent_endpoints_tolerance_pct="10",
            ent_endpoints_measurement="unique_in_month",
            ent_endpoints_over_limit_policy="process_and_report",
        ),
    )
    assert response.status_code == 302
    with schema_context("acme"):
        v2 = ContractVersion.objects.get(number=2)
        assert sorted(v2.scope_items.values_list("kind", "value")) == [("host", "web-01"), ("network", "10.1.0.0/16")]
        assert [(e.metric, int(e.limit)) for e in v2.entitlements.all()] == [("endpoints", 500)]
    rows = _rows(provider_admin_client.get("/customers/acme/contract/2/").content.decode())
    assert [(path, kind) for path, kind, _o, _n in rows] == [
        ('scope_items["host:web-01"]', "added"),
        ('scope_items["network:10.1.0.0/16"]', "added"),
        ("entitlements.endpoints", "added"),
    ]
    # the form of the draft shows its items back as CSV, and an edit replaces them
    edit = provider_admin_client.get("/customers/acme/contract/2/edit").content.decode()
    assert "network,10.1.0.0/16,,,high,yes,no,," in edit
    with schema_context("acme"):
        post = _contract_post(v2, scope_items="kind,value\nhost,web-02\n")
    assert provider_admin_client.post("/customers/acme/contract/2/edit", post).status_code == 302
    with schema_context("acme"):
        assert list(v2.scope_items.values_list("value", flat=True)) == ["web-02"]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
        ({"scope_items": "kind,value\nnetwork,10.0.0.5/24\nhost,ok-host\n"}, "scope_items", "row 1: value"),
        ({"scope_items": "[{not json"}, "scope_items", "not valid JSON"),
        ({"priority_matrix": '{"critical": {"high": "P9"}}'}, "priority_matrix", "severity band"),
        ({"ent_servers_limit": "5"}, "ent_servers_measurement", "Required when a limit is given."),
        ({"report_recipients": "not-an-address"}, "report_recipients", "is not an e-mail address"),
    ],
)
def test_invalid_input_is_shown_next_to_its_field_and_creates_nothing(
    acme, provider_admin_client, changes, field, message
):
    # when
    response = provider_admin_client.post("/customers/acme/contract/new", _contract_post(_v1(), **changes))
    # then: the message in the field's group, no version 2, no audit row of a draft
    html = response.content.decode()
    assert response.status_code == 400
    group = html[html.index(f'name="{field}"') - 2500 : html.index(f'name="{field}"') + 600]
    assert message in group, html[:0]
    with schema_context("acme"):
        assert not ContractVersion.objects.filter(number=2).exists()
        assert not AuditEvent.objects.filter(action="contract.version.draft").exists()


def test_coverage_hours_are_structured_and_a_past_effective_date_is_refused(acme, provider_admin_client):
    v1 = _v1()
    post = _contract_post(v1)
    post.pop("coverage-always")
    post.update({"coverage-mon": "09:00-18:00", "coverage-tue": "09:00-12:00, 11:00-13:00"})
    bad = provider_admin_client.post("/customers/acme/contract/new", post)
    assert bad.status_code == 400 and "overlap" in bad.content.decode()
    post.update({"coverage-tue": "09:00-18:00", "coverage-japanese_holidays": "on"})
    assert provider_admin_client.post("/customers/acme/contract/new", post).status_code == 302
    with schema_context("acme"):
        v2 = ContractVersion.objects.get(number=2)
        assert BusinessCalendar.from_dict(v2.coverage).to_dict()["holidays"] == ["JP"]
    rows = _rows(provider_admin_client.get("/customers/acme/contract/2/").content.decode())
    assert ("coverage.type", "changed", "24x7", "weekly") in rows
    # when: publishing yesterday
    yesterday = (timezone.now().astimezone(ZoneInfo(v2.timezone)) - timedelta(days=1)).date()
    response = provider_admin_client.post(
        "/customers/acme/contract/2/publish", {"effective_date": yesterday.isoformat()}
    )
    # then
    html = response.content.decode()
    assert response.status_code == 400 and "is in the past" in html
    with schema_context("acme"):
        assert ContractVersion.objects.get(number=2).status == "draft"


def test_another_customers_versions_are_unknown_here(acme, globex, provider_admin_client):
    # given: globex has a draft v2, a policy, a matrix and a calendar; acme has none of them
    with schema_context(globex.schema):
        contract = ContractVersion.objects.get(number=1).contract
        scope_services.version_draft_create(actor=ACTOR, contract=contract, terms={"service_tier": "GLOBEX-ONLY"})
        policy = sla_services.policy_create(
            actor=ACTOR, name="globex-gold", targets=[{"priority": "P1", "metric": "acknowledge", "goal_minutes": 15}]
        )
        contact, _ = contact_create(actor=ACTOR, data={"name": "Globex desk", "email": "soc@globex.example"})
        matrix_publish(
            actor=ACTOR,
            rules=[
                {"min_priority": "P1", "levels": [{"contacts": [contact.pk], "channels": ["email"], "wait_minutes": 5}]}
            ],
        )
        stored = sla_services.calendar_store(
            actor=ACTOR, name="globex-office", spec={"type": "24x7", "timezone": "Asia/Tokyo"}
        )
    with schema_context(acme.schema):
        assert not SlaPolicy.objects.filter(pk=policy.pk).exists()
        assert not StoredCalendar.objects.filter(pk=stored.pk).exists()
    # when / then
    for path in (
        "/contract/2/",
        "/contract/2/edit",
        f"/sla/{policy.pk}/",
        "/escalation/1/",
        f"/calendars/{stored.pk}/",
    ):
        assert provider_admin_client.get(f"/customers/acme{path}").status_code == 404, path
        assert provider_admin_client.get(f"/customers/globex{path}").status_code == 200, path
    assert (
        provider_admin_client.post("/customers/acme/contract/2/publish", {"effective_date": "2030-01-01"}).status_code
        == 404
    )
    for path in READ_PAGES:
        html = provider_admin_client.get(f"/customers/acme{path}").content.decode()
        assert "GLOBEX" not in html.upper().replace("GLOBEX CORPORATION", ""), path
    assert provider_admin_client.get("/customers/nobody/contract/").status_code == 404


# ---- SLA policies ---------------------------------------------------------------------------------------------


def _policy_post(policy: SlaPolicy, **changes) -> dict:
    from mdr.console.forms_config import SlaPolicyForm

    initial = SlaPolicyForm.initial_from_policy(policy)
    post = {k: str(v) for k, v in initial.items() if not isinstance(v, bool)}
    post["create_contract_draft"] = "on"
    post.update(changes)
    return {k: v for k, v in post.items() if v is not None}


@pytest.fixture
def gold(acme) -> SlaPolicy:
    with schema_context("acme"):
        return sla_services.policy_create(
            actor=ACTOR,
            name="gold",
            targets=[
                {"priority": "P1", "metric": "acknowledge", "goal_minutes": 15},
                {"priority": "P1", "metric": "resolve", "goal_minutes": 240, "calendar": "coverage"},
                {"priority": "P2", "metric": "acknowledge", "goal_minutes": 60},
            ],
        )


def test_a_new_policy_version_creates_the_contract_draft_that_names_it(gold, provider_admin_client):
    # given: the form prefilled from gold v1
    form = provider_admin_client.get(f"/customers/acme/sla/new?from={gold.pk}").content.decode()
    assert 'name="goal_P1_acknowledge"' in form and 'value="15"' in form
    # when: P1 acknowledge 15 -> 10 minutes, P2 acknowledge removed
    with schema_context("acme"):
        post = _policy_post(gold, goal_P1_acknowledge="10", goal_P2_acknowledge="")
    response = provider_admin_client.post("/customers/acme/sla/new", post)
    # then: gold v2 through the service, and a contract draft naming it, whose diff shows the policy change
    with schema_context("acme"):
        v2 = SlaPolicy.objects.get(name="gold", version=2)
        draft = ContractVersion.objects.get(number=2)
        assert draft.sla_policy_id == v2.pk and draft.status == "draft"
        assert {(t.priority, t.metric, t.goal_seconds) for t in v2.targets.all()} == {
            ("P1", "acknowledge", 600),
            ("P1", "resolve", 14400),
        }
    assert response.status_code == 302 and response["Location"] == "/customers/acme/contract/2/"
    assert _rows(provider_admin_client.get(response["Location"]).content.decode()) == [
        ("sla_policy", "changed", "–", f"gold v2 (#{v2.pk})")  # noqa: RUF001
    ]
    policy_page = provider_admin_client.get(f"/customers/acme/sla/{v2.pk}/").content.decode()
    assert _rows(policy_page) == [
        ("targets.P1.acknowledge.goal_minutes", "changed", "15", "10"),
        ("targets.P2", "removed", '{"acknowledge": {"calendar": "24x7", "goal_minutes": 60}}', ""),
    ]


def test_open_timers_move_to_a_new_policy_version_only_when_asked(gold, provider_admin_client):
    # given: a running timer on gold v1, then gold v2 without moving timers
    with schema_context("acme"):
        timer = sla_services.timer_start(
            subject_type="alert",
            subject_id="a1",
            metric="acknowledge",
            priority="P1",
            goal_seconds=900,
            calendar=BusinessCalendar.always(timezone="Asia/Tokyo"),
            at=timezone.now(),
            policy=gold,
        )
        post = _policy_post(gold, goal_P1_acknowledge="5", create_contract_draft=None)
    response = provider_admin_client.post("/customers/acme/sla/new", post)
    with schema_context("acme"):
        v2 = SlaPolicy.objects.get(name="gold", version=2)
        assert SlaTimer.objects.get(pk=timer.pk).goal_seconds == 900
        assert not ContractVersion.objects.filter(number=2).exists()
    assert response["Location"] == f"/customers/acme/sla/{v2.pk}/"
    page = provider_admin_client.get(response["Location"]).content.decode()
    assert "1 open timer runs on an older version" in page
    # when: without the confirmation, then with it
    refused = provider_admin_client.post(f"/customers/acme/sla/{v2.pk}/retarget", {})
    assert refused.status_code == 400
    moved = provider_admin_client.post(f"/customers/acme/sla/{v2.pk}/retarget", {"confirm": "on"})
    # then
    assert moved.status_code == 302
    with schema_context("acme"):
        timer.refresh_from_db()
        assert (timer.goal_seconds, timer.policy_id) == (300, v2.pk)
        assert AuditEvent.objects.filter(action="sla.timers.retarget").exists()


def test_policy_errors_are_named_and_nothing_is_created(gold, provider_admin_client):
    with schema_context("acme"):
        post = _policy_post(gold, warning_thresholds="50, 150")
    response = provider_admin_client.post("/customers/acme/sla/new", post)
    html = response.content.decode()
    assert response.status_code == 400 and "each threshold is a percentage between 1 and 99" in html
    with schema_context("acme"):
        assert SlaPolicy.objects.filter(name="gold").count() == 1
        assert not ContractVersion.objects.filter(number=2).exists()
    with schema_context("acme"):
        empty = {k: ("" if k.startswith("goal_") else v) for k, v in _policy_post(gold).items()}
    assert "Give at least one goal." in provider_admin_client.post("/customers/acme/sla/new", empty).content.decode()


# ---- escalation matrices --------------------------------------------------------------------------------------


@pytest.fixture
def contacts(acme) -> tuple[int, int]:
    with schema_context("acme"):
        first, _ = contact_create(actor=ACTOR, data={"name": "Day desk", "email": "day@acme.example"})
        second, _ = contact_create(actor=ACTOR, data={"name": "CISO", "email": "ciso@acme.example"})
    return first.pk, second.pk


def _rules(contact_ids, wait=15) -> str:
    return json.dumps(
        [
            {
                "min_priority": "P2",
                "levels": [
                    {"contacts": [contact_ids[0]], "channels": ["email"], "wait_minutes": wait},
                    {"contacts": [contact_ids[1]], "channels": ["email"], "wait_minutes": 30},
                ],
                "repeat": 1,
            }
        ]
    )


def test_matrix_versions_are_stored_through_the_service_with_a_diff(contacts, provider_admin_client):
    # when: the first version, then a second with level 0 waiting 30 minutes
    first = provider_admin_client.post("/customers/acme/escalation/new", {"rules": _rules(contacts), "publish": "1"})
    assert first.status_code == 302 and first["Location"] == "/customers/acme/escalation/1/"
    preview = provider_admin_client.post(
        "/customers/acme/escalation/new", {"rules": _rules(contacts, wait=30), "preview": "1"}
    )
    second = provider_admin_client.post(
        "/customers/acme/escalation/new", {"rules": _rules(contacts, wait=30), "publish": "1"}
    )
    # then: the preview showed the diff and stored nothing; the second is version 2
    assert preview.status_code == 200 and 'data-testid="matrix-preview"' in preview.content.decode()
    assert _rules(contacts) and _rows(preview.content.decode()) == [
        ("rules[0].levels[0].wait_minutes", "changed", "15", "30")
    ]
    assert second["Location"] == "/customers/acme/escalation/2/"
    with schema_context("acme"):
        assert list(EscalationMatrix.objects.order_by("version").values_list("version", flat=True)) == [1, 2]
        assert AuditEvent.objects.filter(action="escalation.matrix.publish").count() == 2
    page = provider_admin_client.get("/customers/acme/escalation/2/").content.decode()
    assert _rows(page) == [("rules[0].levels[0].wait_minutes", "changed", "15", "30")]
    assert f"Day desk (#{contacts[0]})" in page
    overview = provider_admin_client.get("/customers/acme/escalation/").content.decode()
    assert 'data-testid="contact"' in overview and "ciso@acme.example" in overview


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("[{not json", "Not valid JSON"),
        ('{"min_priority": "P1"}', "A JSON list of rules."),
        (
            '[{"min_priority": "P1", "levels": [{"contacts": [99999], "channels": ["email"], "wait_minutes": 5}]}]',
            "rules[0].levels[0].contacts: ids of existing, not archived contacts",
        ),
        (
            '[{"min_priority": "P1", "levels": [{"contacts": [], "channels": ["fax"], "wait_minutes": 5}]}, {}]',
            "rules[0].levels[0].contacts",
        ),
        ('[{"min_priority": "P7", "levels": []}]', "rules[0].min_priority: P1-P4"),
    ],
)
def test_an_invalid_matrix_names_the_rule_and_field_and_stores_nothing(contacts, provider_admin_client, rules, message):
    response = provider_admin_client.post("/customers/acme/escalation/new", {"rules": rules, "publish": "1"})
    assert response.status_code == 400 and message in response.content.decode()
    with schema_context("acme"):
        assert not EscalationMatrix.objects.exists()


# ---- calendars ------------------------------------------------------------------------------------------------


def _calendar_post(**changes) -> dict:
    post = {
        "name": "office",
        "timezone": "Asia/Tokyo",
        **dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), "09:00-18:00"),
        "japanese_holidays": "on",
        "extra_holidays": "2026-12-29..2027-01-04",
    }
    post.update(changes)
    return {k: v for k, v in post.items() if v is not None}


def test_calendar_versions_with_japanese_holidays_and_a_diff(acme, provider_admin_client):
    # when
    first = provider_admin_client.post("/customers/acme/calendars/new", _calendar_post(store="1"))
    # then
    with schema_context("acme"):
        v1 = StoredCalendar.objects.get(name="office", version=1)
    assert first.status_code == 302 and first["Location"] == f"/customers/acme/calendars/{v1.pk}/"
    assert v1.spec["holidays"] == ["JP"] and len(v1.spec["extra_holidays"]) == 7
    assert BusinessCalendar.from_dict(v1.spec).to_dict()["weekly_hours"]["4"] == [["09:00", "18:00"]]
    # the next version, prefilled (the year-end closure back as one range), Friday shorter
    form = provider_admin_client.get(f"/customers/acme/calendars/new?from={v1.pk}").content.decode()
    assert "2026-12-29..2027-01-04" in form
    provider_admin_client.post("/customers/acme/calendars/new", _calendar_post(fri="09:00-17:00", store="1"))
    with schema_context("acme"):
        v2 = StoredCalendar.objects.get(name="office", version=2)
    page = provider_admin_client.get(f"/customers/acme/calendars/{v2.pk}/").content.decode()
    assert _rows(page) == [("weekly_hours.Fri", "changed", "09:00-18:00", "09:00-17:00")]
    listing = provider_admin_client.get("/customers/acme/calendars/").content.decode()
    assert listing.count('data-testid="calendar-row"') == 2


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mon": "9-18"}, "Write hours as HH:MM-HH:MM"),
        ({"tue": "09:00-12:00, 11:00-13:00"}, "overlap"),
        ({"timezone": "Asia/Atlantis"}, "Unknown time zone"),
        ({"holiday_countries": "XX"}, "unknown holiday country code"),
        ({"extra_holidays": "2026-13-01"}, "is not a date"),
        (dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), ""), "Give working hours for at least one day"),
    ],
)
def test_calendar_errors_are_named_and_nothing_is_stored(acme, provider_admin_client, changes, message):
    response = provider_admin_client.post("/customers/acme/calendars/new", _calendar_post(store="1", **changes))
    assert response.status_code == 400 and message in response.content.decode()
    with schema_context("acme"):
        assert not StoredCalendar.objects.exists()


def test_a_calendar_preview_shows_the_diff_and_stores_nothing(acme, provider_admin_client):
    response = provider_admin_client.post("/customers/acme/calendars/new", _calendar_post(preview="1"))
    assert response.status_code == 200 and 'data-testid="calendar-preview"' in response.content.decode()
    assert 'data-testid="diff-first"' in response.content.decode()
    with schema_context("acme"):
        assert not StoredCalendar.objects.exists()
