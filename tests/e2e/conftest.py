"""Browser tests: Playwright drives the system's Chromium against a real gunicorn serving the test database.

Two customers (A and B) are onboarded once per module outside any test transaction, with users of every role and a
distinctive incident each; provider staff of every role log in on the provider domain. Chromium resolves every host
to 127.0.0.1 (``--host-resolver-rules``), so customer subdomains work as in production. Screenshots of each page go
to ``artifacts/e2e/`` (not committed). Each test checks the page's main action and that the other customer's
data never appears.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from tests.live import ROOT, process_env, start_web

CHROMIUM = os.environ.get("MDR_E2E_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts" / "e2e"
PASSWORD = "correct horse battery staple"
ROLES = ("customer_admin", "csirt", "viewer")
STAFF = ("provider_admin", "analyst", "account_manager")


@dataclass
class E2eCustomer:
    slug: str
    schema: str
    host: str
    marker: str  # a string only this customer's data contains
    incident_id: str


@dataclass
class Site:
    port: int
    a: E2eCustomer
    b: E2eCustomer

    def url(self, host: str, path: str) -> str:
        return f"http://{host}:{self.port}{path}"

    @property
    def provider_host(self) -> str:
        return settings.MDR_BASE_DOMAIN


def _customer(slug: str, marker: str) -> E2eCustomer:
    from django_tenants.utils import schema_context

    from mdr.accounts.models import Role
    from mdr.audit.services import Actor
    from mdr.incidents.models import Incident, IncidentEvent
    from tenants.services import customer_onboard
    from tests.factories import UserFactory

    result = customer_onboard(actor=Actor.system("e2e"), name=f"E2E {marker}", slug=slug, language="en")
    schema = result.customer.schema_name
    with schema_context(schema):
        for role in ROLES:
            UserFactory(username=f"{slug}-{role}", role=getattr(Role, role.upper()))
        incident = Incident.objects.create(title=f"Incident {marker}", severity_id=5, priority="P1")
        IncidentEvent.objects.create(
            incident=incident,
            kind="update",
            at=incident.created_at,
            actor="soc",
            visibility="customer",
            text=f"Update for {marker}",
        )
    return E2eCustomer(slug=slug, schema=schema, host=result.domain, marker=marker, incident_id=str(incident.pk))


@pytest.fixture(scope="module")
def site(django_db_setup, django_db_blocker, tmp_path_factory):
    """Two committed customers, provider staff, and a live gunicorn as in production (DEBUG off: the real error
    pages and headers), static files served from the source folders, cookies over plain http."""
    from django.db import connection

    from mdr.accounts.models import Role, User
    from tests.factories import UserFactory

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run tools/system-packages.sh (Debian package chromium)")
    with django_db_blocker.unblock():
        a = _customer("e2e-a", "ALPHA-7731")
        b = _customer("e2e-b", "BRAVO-4420")
        for role in STAFF:
            UserFactory(username=f"staff-{role}", role=getattr(Role, role.upper()))
    logs = tmp_path_factory.mktemp("e2e-web")
    env = process_env(DJANGO_DEBUG="0", MDR_STATIC_FROM_FINDERS="1", DJANGO_SECURE_COOKIES="0")
    web, port = start_web(env, logs, workers=2, threads=4)
    yield Site(port=port, a=a, b=b)
    web.stop()
    with django_db_blocker.unblock():
        from mdr.jobs.models import DueWork, TimerIndex
        from tenants.models import ApiKey, Customer, Domain

        connection.set_schema_to_public()
        for customer in (a, b):
            with connection.cursor() as cursor:
                cursor.execute(f'DROP SCHEMA IF EXISTS "{customer.schema}" CASCADE')
            DueWork.objects.filter(schema_name=customer.schema).delete()
            TimerIndex.objects.filter(schema_name=customer.schema).delete()
            ApiKey.objects.filter(customer__slug=customer.slug).delete()
            Domain.objects.filter(tenant__slug=customer.slug).delete()
            Customer.objects.filter(slug=customer.slug).delete()
        User.objects.filter(username__startswith="staff-").delete()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--host-resolver-rules=MAP * 127.0.0.1",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    yield page
    context.close()


# (server port, host, username) -> {"key": TOTP key, "last_t": last time step used}: the authenticator app of the
# browser tests. Provider staff enrol at their first login through the page (the key is read from it); later logins
# use a code of a step the server has not seen yet (django-otp refuses a step used before).
TOTP_APPS: dict[tuple[int, str, str], dict] = {}


def totp_enrol_from_page(page, site: Site, host: str, username: str) -> None:
    """Read the key the enrolment page shows, as a person types it into their app."""
    import base64

    secret = page.get_by_test_id("totp-secret").inner_text().strip()
    TOTP_APPS[(site.port, host, username)] = {"key": base64.b32decode(secret + "=" * (-len(secret) % 8)), "last_t": -1}


def totp_submit(page, site: Site, host: str, username: str) -> None:
    """Type the current code of ``username``'s app into the code form and submit it (waits for a fresh time step
    when the next one was used already)."""
    import time

    from tests.totp import totp_at

    app = TOTP_APPS.get((site.port, host, username))
    assert app is not None, f"no authenticator app for {username}: enrol first"
    now = int(time.time()) // 30
    t = max(now, app["last_t"] + 1)
    if t > now + 1:  # beyond the server's tolerance: wait until the step before t has begun
        time.sleep((t - 1) * 30 - time.time() + 0.5)
    page.fill("input[name=token]", totp_at(app["key"], t))
    page.get_by_test_id("totp-submit").click()
    page.wait_for_load_state("networkidle")
    app["last_t"] = t


def login(page, site: Site, host: str, username: str, password: str = PASSWORD) -> None:
    """Sign in through the real pages: the password, then the second factor when asked (enrolling first if the
    page asks for that, as provider staff do at their first login)."""
    page.goto(site.url(host, "/login/"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    if "/login/enrol/" in page.url:
        totp_enrol_from_page(page, site, host, username)
        totp_submit(page, site, host, username)
    elif "/login/verify/" in page.url:
        totp_submit(page, site, host, username)
    assert "/login/" not in page.url, f"login failed for {username}: {page.content()[:500]}"


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="session", autouse=True)
def _fresh_artifacts():
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(ARTIFACTS)


def in_db_thread(django_db_blocker, work):
    """Database work beside Playwright's sync API (whose event loop makes Django refuse ORM calls in this thread);
    returns what ``work`` returns."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    def run():
        try:
            with django_db_blocker.unblock():
                return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()
