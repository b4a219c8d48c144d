"""Every portal and console page in both languages: a customer admin and a provider admin whose language is English,
then Japanese, open each page in Chromium. The page answers 200 under the CSP, says which language it is in
(``<html lang>``), its navigation is in that language, the other customer's data never appears, axe-core finds no
serious or critical WCAG 2 A/AA violation (labels, contrast, names of buttons and links, landmarks), and a screenshot
``<portal|console>-<page>-<lang>.png`` goes to ``artifacts/e2e/``."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from tests.e2e.conftest import in_db_thread, login, screenshot
from tests.e2e.test_pages import _watch

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")
AXE_RUN = "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}, resultTypes: ['violations']})"

# What the navigation says in each language, and what it must not say.
LOGOUT = {"en": "Log out", "ja": "ログアウト"}
CONSOLE_TITLE = {"en": "Provider console", "ja": "プロバイダーコンソール"}


def _portal_pages(data: dict) -> list[tuple[str, str]]:
    return [
        ("home", "/"),
        ("alerts", "/alerts/"),
        ("alert-detail", f"/alerts/{data['alert_id']}"),
        ("incidents", "/incidents/"),
        ("incident-detail", f"/incidents/{data['incident_id']}"),
        ("escalation", "/escalation/"),
        ("escalation-contact-change", f"/escalation/propose/change/{data['contact_id']}"),
        ("contract", "/contract/"),
        ("reports", "/reports/"),
        ("users", "/users/"),
        ("access-log", "/access-log/"),
        ("api-keys", "/api-keys/"),
        ("account", "/account/"),
        ("password-change", "/password/change/"),
    ]


def _console_pages(slug: str, data: dict) -> list[tuple[str, str]]:
    return [
        ("home", "/"),
        ("queue", "/queue/"),
        ("customer-new", "/customers/new"),
        ("customer-status", f"/customers/{slug}/status"),
        ("incidents", f"/customers/{slug}/incidents/"),
        ("incident-detail", f"/customers/{slug}/incidents/{data['incident_id']}"),
        ("reports", f"/customers/{slug}/reports/"),
        ("report-detail", f"/customers/{slug}/reports/{data['report_id']}"),
        ("proposals", f"/customers/{slug}/proposals/"),
        ("sla-report", f"/reports/sla?period={data['last_month']}"),
        ("proposals-all", "/proposals/"),
        ("staff", "/staff/"),
        ("staff-new", "/staff/new"),
        ("account", "/account/"),
        ("offboard", f"/customers/{slug}/offboard"),
        ("contract", f"/customers/{slug}/contract/"),
        ("contract-version", f"/customers/{slug}/contract/1/"),
        ("contract-new", f"/customers/{slug}/contract/new"),
        ("sla-policies", f"/customers/{slug}/sla/"),
        ("sla-policy-new", f"/customers/{slug}/sla/new"),
        ("escalation-matrix", f"/customers/{slug}/escalation/"),
        ("escalation-matrix-new", f"/customers/{slug}/escalation/new"),
        ("calendars", f"/customers/{slug}/calendars/"),
        ("calendar-new", f"/customers/{slug}/calendars/new"),
    ]


@pytest.fixture(scope="module")
def page_data(site, django_db_blocker):
    """An alert, a contact and a draft report in customer A, so the detail pages have something to show."""

    def create() -> dict:
        from django.utils import timezone
        from django_tenants.utils import schema_context

        from mdr.audit.services import Actor
        from reports.services import report_generate_monthly
        from tests.portal.helpers import make_alert, make_contact

        alert = make_alert(site.a.schema, 1, title=f"Alert {site.a.marker}")
        contact = make_contact(site.a.schema, f"Contact {site.a.marker}")
        today = timezone.now().date()
        last_month = (today.replace(day=1) - date.resolution).replace(day=1)
        with schema_context(site.a.schema):
            report, _ = report_generate_monthly(month=last_month, actor=Actor.system("e2e"), language="en")
        return {
            "alert_id": str(alert.pk),
            "contact_id": contact.pk,
            "incident_id": site.a.incident_id,
            "report_id": str(report.pk),
            "last_month": f"{last_month:%Y-%m}",
        }

    return in_db_thread(django_db_blocker, create)


@pytest.fixture
def people(site, django_db_blocker, request):
    """A customer admin of A and a provider admin, both speaking ``request.param``."""
    language = request.param
    names = {"portal": f"e2e-lang-{language}-admin", "console": f"staff-lang-{language}"}

    def create() -> None:
        from django_tenants.utils import schema_context

        from mdr.accounts.models import Role
        from tests.factories import UserFactory

        with schema_context(site.a.schema):
            UserFactory(username=names["portal"], role=Role.CUSTOMER_ADMIN, language=language)
        UserFactory(username=names["console"], role=Role.PROVIDER_ADMIN, language=language)

    def delete() -> None:
        from django_tenants.utils import schema_context

        from mdr.accounts.models import User

        with schema_context(site.a.schema):
            User.objects.filter(username=names["portal"]).delete()
        User.objects.filter(username=names["console"]).delete()

    in_db_thread(django_db_blocker, create)
    yield language, names
    in_db_thread(django_db_blocker, delete)


def _accessibility_problems(page) -> list[str]:
    """axe-core's serious and critical WCAG 2 A/AA violations of the page, one line each (rule, impact, elements).
    The script is evaluated through the DevTools protocol, which the page's CSP does not govern."""
    result = page.evaluate(f"async () => {{ {AXE}; return JSON.stringify(await {AXE_RUN}); }}")
    problems = []
    for violation in json.loads(result)["violations"]:
        if violation["impact"] in ("serious", "critical"):
            targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:3]]
            problems.append(f"{violation['id']} ({violation['impact']}): {targets}")
    return problems


def _check(page, language: str, other_language: str, site, path: str, *, customer_a_only: bool) -> None:
    html = page.content()
    assert page.locator("html").get_attribute("lang") == language, path
    assert LOGOUT[language] in html and LOGOUT[other_language] not in html, path
    if customer_a_only:  # the console's cross-customer pages rightly list B too
        assert site.b.marker not in html and site.b.slug not in html, path


@pytest.mark.parametrize("people", ["en", "ja"], indirect=True)
def test_every_page_in_both_languages(site, page, page_data, people):
    language, names = people
    other_language = "ja" if language == "en" else "en"
    problems = _watch(page)
    accessibility: dict[str, list[str]] = {}
    # the portal, as a customer admin of A
    login(page, site, site.a.host, names["portal"])
    for name, path in _portal_pages(page_data):
        response = page.goto(site.url(site.a.host, path))
        assert response.status == 200, path
        _check(page, language, other_language, site, path, customer_a_only=True)
        screenshot(page, f"portal-{name}-{language}")
        accessibility[f"portal {path}"] = _accessibility_problems(page)
    # the console, as a provider admin
    login(page, site, site.provider_host, names["console"])
    for name, path in _console_pages(site.a.slug, page_data):
        response = page.goto(site.url(site.provider_host, path))
        assert response.status == 200, path
        _check(page, language, other_language, site, path, customer_a_only=path.startswith("/customers/e2e-a/"))
        assert CONSOLE_TITLE[language] in page.content(), path
        screenshot(page, f"console-{name}-{language}")
        accessibility[f"console {path}"] = _accessibility_problems(page)
    assert problems == [], problems
    assert {where: found for where, found in accessibility.items() if found} == {}


def test_the_accessibility_check_finds_what_it_looks_for(page):
    """The check above can fail: an unlabelled input, a nameless button and an image without text are found."""
    page.set_content('<html><body><main><img src="x.png"><input type="text"><button></button></main></body></html>')
    found = {line.split(" ")[0] for line in _accessibility_problems(page)}
    assert {"image-alt", "label", "button-name"} <= found


def test_portal_pages_fit_a_phone_screen(site, browser, page_data):
    """Responsive: on a 390 px wide phone every portal page scrolls vertically only (wide tables scroll inside
    themselves); screenshots ``portal-<page>-phone``."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="ja-JP", is_mobile=True)
    page = context.new_page()
    try:
        login(page, site, site.a.host, f"{site.a.slug}-customer_admin")
        too_wide = {}
        for name, path in _portal_pages(page_data):
            assert page.goto(site.url(site.a.host, path)).status == 200, path
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > 390:
                too_wide[path] = width
            screenshot(page, f"portal-{name}-phone")
        assert too_wide == {}
    finally:
        context.close()


@pytest.mark.parametrize("language", ["en", "ja"])
def test_sign_in_pages_follow_the_browser_language(site, browser, language):
    """Before signing in there is no profile: the browser's Accept-Language decides. The sign-in and password reset
    pages of both domains are in that language, accessible, and screenshotted (``<side>-login-<lang>``)."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale={"en": "en-US", "ja": "ja-JP"}[language]
    )
    page = context.new_page()
    problems = _watch(page)
    accessibility = {}
    try:
        for side, host in (("portal", site.a.host), ("console", site.provider_host)):
            for name, path in (("login", "/login/"), ("password-reset", "/password/reset/")):
                assert page.goto(site.url(host, path)).status == 200, path
                assert page.locator("html").get_attribute("lang") == language, path
                screenshot(page, f"{side}-{name}-{language}")
                accessibility[f"{side} {path}"] = _accessibility_problems(page)
        assert problems == [], problems
        assert {where: found for where, found in accessibility.items() if found} == {}
    finally:
        context.close()
