"""The console's configuration pages in Chromium: a provider admin creates and publishes a contract version with a
changed field and sees the diff, stores a new escalation matrix version (and sees a refused one named), an analyst
reads but cannot edit, the other customer's data never appears, and every page renders in English and Japanese
under the CSP (screenshots ``console-config-<page>-<lang>.png``)."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import in_db_thread, login, screenshot
from tests.e2e.test_pages import _watch

LOGOUT = {"en": "Log out", "ja": "ログアウト"}
EDIT_CONTROLS = ", ".join(
    f"[data-testid={testid}]"
    for testid in (
        "contract-new",
        "contract-edit",
        "publish-form",
        "sla-new",
        "sla-new-from",
        "retarget-form",
        "matrix-new",
        "calendar-new",
        "calendar-new-from",
    )
)


@pytest.fixture(scope="module")
def config_data(site, django_db_blocker):
    """In customer A: two contacts, an SLA policy and a stored calendar (two versions each where a diff shows), a
    matrix version; in customer B a policy whose name must never show on A's pages."""

    def create() -> dict:
        from django_tenants.utils import schema_context

        from mdr.accounts.models import Role
        from mdr.audit.services import Actor
        from mdr.escalations.services import matrix_publish
        from mdr.sla.services import calendar_store, policy_create
        from tests.factories import UserFactory
        from tests.portal.helpers import make_contact

        actor = Actor.system("e2e")
        for language in ("en", "ja"):
            UserFactory(username=f"staff-config-{language}", role=Role.PROVIDER_ADMIN, language=language)
        with schema_context(site.b.schema):
            policy_create(
                actor=actor,
                name=f"policy {site.b.marker}",
                targets=[{"priority": "P1", "metric": "acknowledge", "goal_minutes": 5}],
            )
        contacts = [make_contact(site.a.schema, f"Desk {n} {site.a.marker}") for n in (1, 2)]
        with schema_context(site.a.schema):
            targets = [
                {"priority": "P1", "metric": "acknowledge", "goal_minutes": 15},
                {"priority": "P2", "metric": "resolve", "goal_minutes": 480, "calendar": "coverage"},
            ]
            policy_create(actor=actor, name="gold", targets=targets)
            targets[0]["goal_minutes"] = 10
            policy = policy_create(actor=actor, name="gold", targets=targets)
            spec = {
                "timezone": "Asia/Tokyo",
                "weekly_hours": {str(d): [["09:00", "18:00"]] for d in range(5)},
                "holidays": ["JP"],
                "extra_holidays": [],
            }
            calendar_store(actor=actor, name="office", spec=spec)
            spec["extra_holidays"] = ["2026-12-29", "2026-12-30", "2026-12-31"]
            calendar = calendar_store(actor=actor, name="office", spec=spec)
            matrix_publish(
                actor=actor,
                rules=[
                    {
                        "min_priority": "P2",
                        "levels": [{"contacts": [contacts[0].pk], "channels": ["email"], "wait_minutes": 15}],
                    }
                ],
            )
        return {"policy": policy.pk, "calendar": calendar.pk, "contacts": [c.pk for c in contacts]}

    return in_db_thread(django_db_blocker, create)


def _pages(slug: str, data: dict) -> list[tuple[str, str]]:
    base = f"/customers/{slug}"
    return [
        ("contract", f"{base}/contract/"),
        ("contract-version", f"{base}/contract/1/"),
        ("contract-new", f"{base}/contract/new"),
        ("sla", f"{base}/sla/"),
        ("sla-policy", f"{base}/sla/{data['policy']}/"),
        ("sla-new", f"{base}/sla/new?from={data['policy']}"),
        ("escalation", f"{base}/escalation/"),
        ("matrix", f"{base}/escalation/1/"),
        ("matrix-new", f"{base}/escalation/new"),
        ("calendars", f"{base}/calendars/"),
        ("calendar", f"{base}/calendars/{data['calendar']}/"),
        ("calendar-new", f"{base}/calendars/new?from={data['calendar']}"),
    ]


def _no_other_customer(page, site, path: str) -> None:
    html = page.content()
    assert site.b.marker not in html and site.b.slug not in html, path


def test_provider_admin_publishes_a_new_contract_version_and_sees_the_diff(site, page, config_data):
    problems = _watch(page)
    login(page, site, site.provider_host, "staff-config-en")
    # given: the contract page with the onboarding version in force
    page.goto(site.url(site.provider_host, f"/customers/{site.a.slug}/contract/"))
    assert page.get_by_test_id("in-force").count() == 1
    # when: a new version with another service tier
    with page.expect_navigation():
        page.get_by_test_id("contract-new").click()
    page.fill("input[name=service_tier]", "gold-e2e")
    page.fill("textarea[name=change_note]", "Upgrade to gold")
    with page.expect_navigation():
        page.get_by_test_id("contract-save").click()
    # then: the draft's page shows exactly that field changed, against the version in force
    assert page.url.endswith(f"/customers/{site.a.slug}/contract/2/")
    rows = page.get_by_test_id("diff-row")
    assert rows.count() == 1
    assert rows.first.get_attribute("data-path") == "terms.service_tier"
    assert rows.first.get_by_test_id("diff-old").inner_text() == "standard"
    assert rows.first.get_by_test_id("diff-new").inner_text() == "gold-e2e"
    assert page.get_by_test_id("version-status").inner_text() == "Draft"
    screenshot(page, "console-config-contract-draft-diff-en")
    # when: published from today (the form's default)
    with page.expect_navigation():
        page.get_by_test_id("publish-submit").click()
    # then: version 2 is in force
    assert page.url.endswith(f"/customers/{site.a.slug}/contract/")
    in_force = page.locator('[data-testid="contract-version-row"].in-force')
    assert in_force.get_attribute("data-number") == "2" and in_force.get_attribute("data-status") == "published"
    assert "gold-e2e" in in_force.inner_text()
    _no_other_customer(page, site, "contract")
    screenshot(page, "console-config-contract-published-en")
    assert problems == [], problems


def test_provider_admin_stores_a_matrix_version_and_a_bad_one_is_named(site, page, config_data):
    problems = _watch(page)
    login(page, site, site.provider_host, "staff-config-en")
    page.goto(site.url(site.provider_host, f"/customers/{site.a.slug}/escalation/new"))
    first, second = config_data["contacts"]
    rules = [
        {
            "min_priority": "P2",
            "levels": [
                {"contacts": [first], "channels": ["email"], "wait_minutes": 15},
                {"contacts": [second], "channels": ["email"], "wait_minutes": 30},
            ],
        }
    ]
    # when: a refused version (unknown contact), then the good one previewed and stored
    bad = json.loads(json.dumps(rules))
    bad[0]["levels"][1]["contacts"] = [987654]
    page.fill("textarea[name=rules]", json.dumps(bad))
    with page.expect_navigation():
        page.get_by_test_id("matrix-save").click()
    assert "rules[0].levels[1].contacts" in page.get_by_test_id("matrix-form").inner_text()
    assert any(p.startswith("400 ") for p in problems)  # the refusal is a 400 with the form again
    problems.clear()
    page.fill("textarea[name=rules]", json.dumps(rules, indent=2))
    with page.expect_navigation():
        page.get_by_test_id("matrix-preview-submit").click()
    assert page.get_by_test_id("diff-row").first.get_attribute("data-path") == "rules[0].levels[1]"
    with page.expect_navigation():
        page.get_by_test_id("matrix-save").click()
    # then: version 2 with the added level as its diff
    assert page.url.endswith(f"/customers/{site.a.slug}/escalation/2/")
    rows = page.get_by_test_id("diff-row")
    assert rows.count() == 1 and rows.first.get_attribute("data-kind") == "added"
    assert f"Desk 2 {site.a.marker} (#{second})" in rows.first.inner_text()
    _no_other_customer(page, site, "matrix")
    screenshot(page, "console-config-matrix-stored-en")
    assert problems == [], problems


def test_an_analyst_reads_but_cannot_edit(site, page, config_data):
    problems = _watch(page)
    login(page, site, site.provider_host, "staff-analyst")
    for name, path in _pages(site.a.slug, config_data):
        response = page.goto(site.url(site.provider_host, path))
        if name.endswith("-new"):
            assert response.status == 403, path
        else:
            assert response.status == 200, path
            assert page.locator(EDIT_CONTROLS).count() == 0, path
            _no_other_customer(page, site, path)
    screenshot(page, "console-config-sla-analyst-en")
    # the refused pages themselves (and the browser's favicon request on the bare error page), nothing else
    assert [p for p in problems if "403" not in p and "404" not in p] == [], problems


@pytest.mark.parametrize("language", ["en", "ja"])
def test_every_config_page_in_english_and_japanese(site, page, config_data, language):
    from tests.e2e.test_languages import _accessibility_problems

    problems = _watch(page)
    other = "ja" if language == "en" else "en"
    login(page, site, site.provider_host, f"staff-config-{language}")
    accessibility = {}
    for name, path in _pages(site.a.slug, config_data):
        response = page.goto(site.url(site.provider_host, path))
        assert response.status == 200, path
        assert page.locator("html").get_attribute("lang") == language, path
        html = page.content()
        assert LOGOUT[language] in html and LOGOUT[other] not in html, path
        _no_other_customer(page, site, path)
        screenshot(page, f"console-config-{name}-{language}")
        accessibility[path] = _accessibility_problems(page)
    assert problems == [], problems
    assert {path: found for path, found in accessibility.items() if found} == {}
