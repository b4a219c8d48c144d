"""Sign-in security in a real browser: provider staff enrol a TOTP app and sign in with codes, the staff page (create
with a mailed link, change role, refused to other roles), a portal password reset through the mailed link, and the
account page (second factor, language). Mail goes to a real SMTP server in this process, which the module's server
is pointed at (``EMAIL_URL``). Screenshots in English and Japanese."""

from __future__ import annotations

import os
import re
import time

import pytest

from tests.e2e.conftest import PASSWORD, in_db_thread, login, screenshot, totp_enrol_from_page, totp_submit
from tests.mail import MailServer

NEW_PASSWORD = "a much longer new passphrase 42"


@pytest.fixture(scope="module")
def inbox():
    """Started before the module's server, which reads EMAIL_URL from the environment when it starts."""
    server = MailServer()
    server.start()
    previous = os.environ.get("EMAIL_URL")
    os.environ["EMAIL_URL"] = f"smtp://127.0.0.1:{server.port}"
    yield server
    if previous is None:
        os.environ.pop("EMAIL_URL", None)
    else:
        os.environ["EMAIL_URL"] = previous
    server.stop()


@pytest.fixture(scope="module")
def auth_site(inbox, site):
    return site


def _mail_to(inbox, address: str, timeout: float = 15.0):
    import email
    from email import policy

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for rcpt, raw in inbox.messages:
            if address in rcpt:
                return email.message_from_bytes(raw, policy=policy.default)
        time.sleep(0.2)
    raise AssertionError(f"no mail to {address}")


def _link(message) -> str:
    return re.search(r"(https?://\S+/password/reset/\S+/)", message.get_body(("plain",)).get_content()).group(1)


def _make_user(django_db_blocker, schema: str | None, **fields) -> None:
    def work():
        from django_tenants.utils import schema_context

        from tests.factories import UserFactory

        with schema_context(schema or "public"):
            UserFactory(**fields)

    in_db_thread(django_db_blocker, work)


def _delete_users(django_db_blocker, schema: str | None, prefix: str) -> None:
    def work():
        from django_tenants.utils import schema_context

        from mdr.accounts.models import User

        with schema_context(schema or "public"):
            User.objects.filter(username__startswith=prefix).delete()

    in_db_thread(django_db_blocker, work)


def _no_customer_data(site, html: str) -> None:
    assert site.a.marker not in html and site.b.marker not in html


def test_staff_enrol_an_authenticator_then_sign_in_with_codes(auth_site, page, django_db_blocker):
    site = auth_site
    host = site.provider_host
    _make_user(django_db_blocker, None, username="authe2e-analyst", role="analyst", language="en")
    try:
        # when: the password of a staff member without a device
        page.goto(site.url(host, "/login/"))
        page.fill("input[name=username]", "authe2e-analyst")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        # then: the enrolment page with a QR code and the key, not the console
        assert page.url.endswith("/login/enrol/")
        assert page.get_by_test_id("totp-qr").is_visible()
        assert page.get_by_test_id("totp-qr").evaluate("img => img.naturalWidth") > 0  # the data: URI rendered
        screenshot(page, "login-enrol-en")
        assert page.goto(site.url(host, "/queue/")).url.split("?")[0].endswith("/login/")
        page.goto(site.url(host, "/login/enrol/"))
        totp_enrol_from_page(page, site, host, "authe2e-analyst")
        totp_submit(page, site, host, "authe2e-analyst")
        assert page.url == site.url(host, "/")
        # when: signing out and in again, the code is asked
        with page.expect_navigation():
            page.get_by_role("button", name="Log out").click()
        page.fill("input[name=username]", "authe2e-analyst")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        assert page.url.endswith("/login/verify/")
        screenshot(page, "login-verify-en")
        totp_submit(page, site, host, "authe2e-analyst")
        assert page.url == site.url(host, "/")
    finally:
        _delete_users(django_db_blocker, None, "authe2e-")


def test_staff_page_create_change_role_and_refused_to_analysts(auth_site, page, browser, inbox, django_db_blocker):
    site = auth_site
    host = site.provider_host
    try:
        # given
        login(page, site, host, "staff-provider_admin")
        # when
        with page.expect_navigation():
            page.get_by_test_id("nav-staff").click()
        # then
        assert page.get_by_test_id("staff").is_visible()
        assert "staff-analyst" in page.content()
        _no_customer_data(site, page.content())
        screenshot(page, "staff-en")
        # when: a new staff member
        with page.expect_navigation():
            page.get_by_test_id("staff-new-link").click()
        page.fill("input[name=username]", "authe2e-new")
        page.fill("input[name=email]", "new-staff@provider.example")
        page.select_option("select[name=role]", "analyst")
        page.select_option("select[name=language]", "en")
        screenshot(page, "staff-new-en")
        with page.expect_navigation():
            page.get_by_test_id("staff-new-submit").click()
        # then: the detail page, and a set-password link by mail on the provider domain
        assert page.get_by_test_id("staff-detail").inner_text() == "authe2e-new"
        message = _mail_to(inbox, "new-staff@provider.example")
        assert _link(message).startswith(site.url(host, "/password/reset/"))
        # when: a role change
        page.select_option("select[name=role]", "account_manager")
        with page.expect_navigation():
            page.get_by_test_id("staff-role-submit").click()
        # then
        assert page.get_by_test_id("staff-role").inner_text() == "Account manager"
        screenshot(page, "staff-detail-en")
        # when: in Japanese
        with page.expect_navigation():
            page.get_by_test_id("nav-account").click()
        page.select_option("select[name=language]", "ja")
        with page.expect_navigation():
            page.get_by_test_id("language-submit").click()
        page.goto(site.url(host, "/staff/"))
        assert page.locator("html").get_attribute("lang") == "ja"
        screenshot(page, "staff-ja")
        # role denial: an analyst gets 403
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
        try:
            other = context.new_page()
            login(other, site, host, "staff-analyst")
            assert other.goto(site.url(host, "/staff/")).status == 403
            assert other.get_by_test_id("nav-staff").count() == 0
        finally:
            context.close()
    finally:
        page.goto(site.url(host, "/account/"))
        if page.locator("select[name=language]").count():
            page.select_option("select[name=language]", "en")
            with page.expect_navigation():
                page.get_by_test_id("language-submit").click()
        _delete_users(django_db_blocker, None, "authe2e-")


def test_portal_password_reset_through_the_mailed_link(auth_site, page, browser, inbox, django_db_blocker):
    site = auth_site
    host = site.a.host
    _make_user(
        django_db_blocker,
        site.a.schema,
        username="authe2e-reset",
        role="csirt",
        email="reset@alpha.example",
        language="en",
    )
    try:
        # when: "Forgot password?" on the login page
        page.goto(site.url(host, "/login/"))
        with page.expect_navigation():
            page.get_by_test_id("forgot-password").click()
        page.fill("input[name=email]", "reset@alpha.example")
        screenshot(page, "password-reset-en")
        with page.expect_navigation():
            page.get_by_test_id("password-reset-submit").click()
        # then: the same answer whatever the address; the mail has a link on the customer's own domain
        assert page.get_by_test_id("password-reset-done").is_visible()
        link = _link(_mail_to(inbox, "reset@alpha.example"))
        assert link.startswith(site.url(host, "/password/reset/"))
        # when: the link is opened and a new password chosen
        page.goto(link)
        page.fill("input[name=new_password1]", NEW_PASSWORD)
        page.fill("input[name=new_password2]", NEW_PASSWORD)
        screenshot(page, "password-reset-confirm-en")
        with page.expect_navigation():
            page.get_by_test_id("password-reset-confirm-submit").click()
        assert page.get_by_test_id("password-reset-complete").is_visible()
        # then: the new password signs in, to this customer's portal only
        login(page, site, host, "authe2e-reset", password=NEW_PASSWORD)
        assert site.a.marker in page.goto(site.url(host, "/incidents/")).text()
        assert site.b.marker not in page.content()
        # and the same link a second time is refused
        page.goto(link)
        assert page.get_by_test_id("password-reset-invalid").is_visible()
        # in Japanese (an anonymous visitor's language comes from the browser)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
        try:
            ja = context.new_page()
            ja.goto(site.url(host, "/password/reset/"))
            assert ja.locator("html").get_attribute("lang") == "ja"
            screenshot(ja, "password-reset-ja")
        finally:
            context.close()
    finally:
        _delete_users(django_db_blocker, site.a.schema, "authe2e-")


def test_account_page_second_factor_and_language(auth_site, page, browser, django_db_blocker):
    site = auth_site
    host = site.a.host
    _make_user(django_db_blocker, site.a.schema, username="authe2e-acct", role="customer_admin", language="en")
    try:
        # given
        login(page, site, host, "authe2e-acct")
        # when
        with page.expect_navigation():
            page.get_by_test_id("nav-account").click()
        # then
        assert page.get_by_test_id("account").is_visible() and page.get_by_test_id("totp-off").is_visible()
        assert site.b.marker not in page.content() and site.b.slug not in page.content()
        screenshot(page, "account-en")
        # when: an authenticator app is set up
        with page.expect_navigation():
            page.get_by_test_id("totp-enrol-link").click()
        screenshot(page, "account-totp-enrol-en")
        totp_enrol_from_page(page, site, host, "authe2e-acct")
        totp_submit(page, site, host, "authe2e-acct")
        # then
        assert page.get_by_test_id("totp-on").is_visible()
        # when: Japanese
        page.select_option("select[name=language]", "ja")
        with page.expect_navigation():
            page.get_by_test_id("language-submit").click()
        # then
        assert page.locator("html").get_attribute("lang") == "ja"
        assert "ログアウト" in page.content()
        screenshot(page, "account-ja")
        # and the next sign-in asks for the code (the helper types it)
        with page.expect_navigation():
            page.locator("form[action='/logout/'] button").click()
        login(page, site, host, "authe2e-acct")
        assert site.b.marker not in page.content()
        # anonymous: to the login page; the other customer's domain does not know this user
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
        try:
            anonymous = context.new_page()
            anonymous.goto(site.url(host, "/account/"))
            assert "/login/" in anonymous.url
            anonymous.goto(site.url(site.b.host, "/login/"))
            anonymous.fill("input[name=username]", "authe2e-acct")
            anonymous.fill("input[name=password]", PASSWORD)
            anonymous.click("button[type=submit]")
            assert anonymous.url.endswith("/login/")
        finally:
            context.close()
    finally:
        _delete_users(django_db_blocker, site.a.schema, "authe2e-")
