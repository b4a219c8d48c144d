"""Every page in a real browser, as each role that may see it: the page renders (no server error, no CSP
violation), its main element is there, and the other customer's data never appears."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import login, screenshot

PORTAL_PAGES = [
    # (path, role, testid of the main element)
    ("/", "viewer", "who"),
    ("/contract/", "viewer", "who"),
    ("/reports/", "viewer", "reports"),
    ("/users/", "csirt", "users"),
    ("/access-log/", "customer_admin", "who"),
    ("/alerts/", "viewer", "alert-list"),
    ("/incidents/", "viewer", "incident-list"),
    ("/escalation/", "customer_admin", "contacts"),
]
CONSOLE_PAGES = [
    ("/", "analyst", "customers"),
    ("/reports/sla?period=2026-10", "account_manager", "sla-report"),
]


# Chromium ignores COOP on plain http origins other than localhost (the test domains): a notice, not a fault.
IGNORED = ("Cross-Origin-Opener-Policy header has been ignored",)


def _watch(page) -> list[str]:
    """Console errors (CSP violations are reported there) and failed responses of the page's own resources."""
    problems: list[str] = []

    def console(msg) -> None:
        if msg.type == "error" and not any(text in msg.text for text in IGNORED):
            problems.append(msg.text)

    page.on("console", console)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return problems


@pytest.mark.parametrize(("path", "role", "testid"), PORTAL_PAGES)
def test_portal_page_in_the_browser(site, page, path, role, testid):
    problems = _watch(page)
    login(page, site, site.a.host, f"{site.a.slug}-{role}")
    response = page.goto(site.url(site.a.host, path))
    assert response.status == 200, path
    assert page.get_by_test_id(testid).count() >= 1
    html = page.content()
    assert site.b.marker not in html and site.b.slug not in html  # never the other customer's data
    screenshot(page, f"portal-{path.strip('/').replace('/', '-') or 'home'}-{role}")
    assert problems == [], problems


@pytest.mark.parametrize(("path", "role", "testid"), CONSOLE_PAGES)
def test_console_page_in_the_browser(site, page, path, role, testid):
    problems = _watch(page)
    login(page, site, site.provider_host, f"staff-{role}")
    response = page.goto(site.url(site.provider_host, path))
    assert response.status == 200, path
    assert page.get_by_test_id(testid).count() >= 1
    screenshot(page, f"console-{path.split('?')[0].strip('/').replace('/', '-') or 'home'}-{role}")
    assert problems == [], problems


def test_a_customer_login_does_not_open_the_other_customers_portal(site, page):
    login(page, site, site.a.host, f"{site.a.slug}-customer_admin")
    page.goto(site.url(site.b.host, "/"))
    assert "/login/" in page.url  # sessions are per domain: B's portal asks for a login
    page.fill("input[name=username]", f"{site.a.slug}-customer_admin")
    page.fill("input[name=password]", "correct horse battery staple")
    page.click("button[type=submit]")
    assert "/login/" in page.url  # A's user does not exist in B
    assert f"Incident {site.b.marker}" not in page.content() and f"Incident {site.a.marker}" not in page.content()


def test_api_docs_render_offline_under_the_csp(site, page):
    problems = _watch(page)
    page.goto(site.url(site.provider_host, "/api/docs/"))
    page.wait_for_selector(".swagger-ui .info", timeout=15_000)
    screenshot(page, "console-api-docs")
    assert problems == [], problems


def test_csirt_comments_on_an_incident_and_sees_it_on_the_timeline(site, page):
    problems = _watch(page)
    login(page, site, site.a.host, f"{site.a.slug}-csirt")
    page.goto(site.url(site.a.host, f"/incidents/{site.a.incident_id}"))
    assert page.get_by_test_id("incident-title").inner_text().endswith(site.a.marker)
    page.get_by_test_id("comment-form").locator("textarea").fill("Host isolated on our side; <b>not</b> markup")
    page.get_by_test_id("comment-submit").click()
    page.wait_for_load_state("networkidle")
    timeline = page.get_by_test_id("timeline").inner_text()
    assert "Host isolated on our side; <b>not</b> markup" in timeline  # shown as text, escaped
    assert site.b.marker not in page.content()
    screenshot(page, "portal-incident-detail-csirt")
    # the other customer's incident id is unknown here
    problems.clear()
    assert page.goto(site.url(site.a.host, f"/incidents/{site.b.incident_id}")).status == 404
    assert site.b.marker not in page.content()
    assert [p for p in problems if "404" not in p] == [], problems  # the 404 itself, nothing else (no CSP error)


def test_customer_admin_proposes_a_contact_in_the_browser(site, page):
    problems = _watch(page)
    login(page, site, site.a.host, f"{site.a.slug}-customer_admin")
    page.goto(site.url(site.a.host, "/escalation/"))
    form = page.get_by_test_id("propose-add-form")
    form.get_by_label("Name").fill("Night duty")
    form.get_by_label("E-mail").fill("night@alpha.example")
    page.get_by_test_id("propose-add-submit").click()
    page.wait_for_load_state("networkidle")
    assert "Night duty" in page.get_by_test_id("proposals").inner_text()
    screenshot(page, "portal-escalation-proposal-customer_admin")
    assert problems == [], problems
