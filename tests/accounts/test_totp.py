"""The TOTP second factor through the real pages: pending sign-in, wrong and throttled codes, forced enrolment of
provider staff, the middleware that ends unverified staff sessions, and customer users' own enrolment/removal."""

from __future__ import annotations

import base64
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import schema_context

from mdr.accounts.models import Role, User
from mdr.audit.models import AuditEvent
from tests.factories import PASSWORD, UserFactory
from tests.totp import current_step, ensure_device, next_code, totp_at


def _staff(username: str = "otp-analyst", role: str = Role.ANALYST, *, device: bool = True):
    user = UserFactory(username=username, role=role)
    return user, (ensure_device(user) if device else None)


def _provider() -> Client:
    return Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)


def _actions(schema: str, user_pk: int) -> list[str]:
    with schema_context(schema):
        return list(AuditEvent.objects.filter(target_id=str(user_pk)).order_by("id").values_list("action", flat=True))


def _unthrottle(device) -> None:
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=timezone.now() - timedelta(hours=1))


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_a_right_password_with_a_device_only_starts_a_pending_sign_in(acme):
    # given
    user, _device = _staff()
    client = _provider()
    # when
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    # then: asked for the code, not logged in
    assert response.status_code == 302 and response["Location"] == "/login/verify/"
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302
    assert "login-verify" in client.get("/login/verify/").content.decode()
    assert _actions("public", user.pk) == ["auth.password_ok"]


def test_a_wrong_code_is_refused_and_audited_then_the_right_code_signs_in(acme):
    # given
    user, device = _staff()
    client = _provider()
    client.post("/login/", {"username": user.username, "password": PASSWORD})
    code = next_code(device)
    # when: a wrong code
    refused = client.post("/login/verify/", {"token": _wrong(code)})
    # then
    assert refused.status_code == 400
    assert "This code is not valid" in refused.content.decode()
    assert client.get("/").status_code == 302
    assert "auth.otp_failed" in _actions("public", user.pk)
    # when: the right code (after the throttle delay)
    _unthrottle(device)
    response = client.post("/login/verify/", {"token": code})
    # then
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    assert _actions("public", user.pk)[-1] == "auth.login"
    # and the same code cannot be used again (replay)
    other = _provider()
    other.post("/login/", {"username": user.username, "password": PASSWORD})
    assert other.post("/login/verify/", {"token": code}).status_code == 400


def test_codes_after_a_failure_are_throttled_with_a_clear_message(acme):
    # given
    user, device = _staff()
    client = _provider()
    client.post("/login/", {"username": user.username, "password": PASSWORD})
    code = next_code(device)
    client.post("/login/verify/", {"token": _wrong(code)})
    # when: even the right code, at once
    response = client.post("/login/verify/", {"token": code})
    # then
    assert response.status_code == 429
    assert "Too many wrong codes" in response.content.decode()
    assert client.get("/").status_code == 302


def test_a_pending_sign_in_expires_after_five_minutes(acme):
    # given
    user, device = _staff()
    client = _provider()
    client.post("/login/", {"username": user.username, "password": PASSWORD})
    session = client.session
    session["mdr_pending_login"]["at"] -= 301
    session.save()
    # when
    response = client.post("/login/verify/", {"token": next_code(device)})
    # then
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert client.get("/").status_code == 302


def test_staff_without_a_device_must_enrol_before_they_are_signed_in(acme):
    # given
    user, _ = _staff("otp-new-admin", Role.PROVIDER_ADMIN, device=False)
    client = _provider()
    # when
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    # then: the enrolment page with a QR code and the key; not logged in
    assert response["Location"] == "/login/enrol/"
    page = client.get("/login/enrol/")
    html = page.content.decode()
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    assert 'src="data:image/svg+xml;base64,' in html
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', html).group(1)
    assert client.get("/").status_code == 302
    assert not TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    # when: a code from the key shown
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    response = client.post("/login/enrol/", {"token": totp_at(key, current_step())})
    # then
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    assert TOTPDevice.objects.filter(user=user, confirmed=True).count() == 1
    assert _actions("public", user.pk)[-2:] == ["auth.otp_enrolled", "auth.login"]


def test_someone_with_only_the_password_cannot_replace_an_existing_device(acme):
    # given: a staff member with a device; the attacker knows the password
    user, device = _staff()
    client = _provider()
    client.post("/login/", {"username": user.username, "password": PASSWORD})
    # when
    response = client.get("/login/enrol/")
    # then
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert list(TOTPDevice.objects.filter(user=user)) == [device]


def test_the_middleware_ends_an_unverified_staff_session(acme):
    # given: a staff session that skipped the second factor (force_login bypasses the login view)
    user, _ = _staff()
    client = _provider()
    client.force_login(user)
    # when / then: pages go to the login page and the session is gone
    response = client.get("/queue/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert "_auth_user_id" not in client.session
    assert "auth.session_unverified" in _actions("public", user.pk)
    # and the API answers 403
    client.force_login(user)
    api = client.get("/api/provider/queue")
    assert api.status_code == 403 and api.json()["code"] == "otp_required"


def test_api_keys_are_not_sessions_and_are_unaffected(acme):
    response = _provider().get("/api/v1/whoami", HTTP_AUTHORIZATION=f"Bearer {acme.api_key}")
    assert response.status_code == 200


def test_without_the_setting_a_staff_session_needs_no_second_factor(acme, settings):
    # given
    settings.MDR_PROVIDER_TOTP_REQUIRED = False
    user, _ = _staff(device=False)
    client = _provider()
    # when
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    # then
    assert response["Location"] == "/"
    assert client.get("/queue/").status_code == 200


def test_a_customer_user_enrols_signs_in_with_a_code_and_removes_it(acme):
    # given: a CSIRT member, signed in with the password only
    with schema_context(acme.schema):
        user = UserFactory(username="otp-csirt", role=Role.CSIRT)
    client = acme.client()
    assert client.post("/login/", {"username": user.username, "password": PASSWORD})["Location"] == "/"
    assert 'data-testid="totp-off"' in client.get("/account/").content.decode()
    # when: enrolling from the account page
    html = client.get("/account/totp/enrol").content.decode()
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', html).group(1)
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    response = client.post("/account/totp/enrol", {"token": totp_at(key, current_step())})
    # then
    assert response.status_code == 302 and response["Location"] == "/account/"
    assert 'data-testid="totp-on"' in client.get("/account/").content.decode()
    # when: signing in again, the code is asked
    fresh = acme.client()
    assert fresh.post("/login/", {"username": user.username, "password": PASSWORD})["Location"] == "/login/verify/"
    with schema_context(acme.schema):
        device = TOTPDevice.objects.get(user__username=user.username)
        code = next_code(device)
    assert fresh.post("/login/verify/", {"token": code})["Location"] == "/"
    # when: removing with a wrong password, then the right one
    refused = fresh.post("/account/totp/remove", {"password": "not my password"})
    assert refused.status_code == 400 and "The password is not correct" in refused.content.decode()
    assert fresh.post("/account/totp/remove", {"password": PASSWORD})["Location"] == "/account/"
    # then: gone, and every step is in the customer's own audit trail (not the provider's)
    with schema_context(acme.schema):
        assert not TOTPDevice.objects.filter(user__username=user.username).exists()
    actions = _actions(acme.schema, user.pk)
    expected = ("auth.otp_enrolled", "auth.password_ok", "auth.login", "auth.otp_remove_refused", "auth.otp_removed")
    assert set(expected) <= set(actions)
    assert not AuditEvent.objects.filter(action="auth.otp_enrolled", actor__startswith="otp-csirt").exists()


def test_a_customer_code_mistake_is_audited_in_the_customers_schema(acme):
    # given
    with schema_context(acme.schema):
        user = UserFactory(username="otp-viewer", role=Role.VIEWER)
        device = ensure_device(user)
        code = next_code(device)
    client = acme.client()
    client.post("/login/", {"username": user.username, "password": PASSWORD})
    # when
    assert client.post("/login/verify/", {"token": _wrong(code)}).status_code == 400
    # then
    assert "auth.otp_failed" in _actions(acme.schema, user.pk)


def test_provider_staff_cannot_remove_their_only_device_while_required(acme):
    # given
    from tests.conftest import login

    user, device = _staff("otp-am", Role.ACCOUNT_MANAGER)
    client = _provider()
    login(client, user.username, PASSWORD)
    # when
    page = client.get("/account/").content.decode()
    response = client.post("/account/totp/remove", {"password": PASSWORD})
    # then
    assert 'data-testid="totp-required"' in page and "totp-remove-form" not in page
    assert response.status_code == 400
    assert TOTPDevice.objects.filter(pk=device.pk).exists()


def test_the_login_helper_signs_the_same_staff_member_in_three_times_in_a_row(acme):
    # given
    from tests.conftest import login

    user, _ = _staff("otp-thrice")
    # when / then: replay protection never trips the helper
    for _ in range(3):
        client = _provider()
        login(client, user.username, PASSWORD)
        assert client.get("/queue/").status_code == 200
    assert User.objects.get(pk=user.pk).last_login is not None


@pytest.mark.parametrize("code", ["", "12345", "abcdef", "1234567"])
def test_malformed_codes_are_form_errors(acme, code):
    user, _ = _staff()
    client = _provider()
    client.post("/login/", {"username": user.username, "password": PASSWORD})
    response = client.post("/login/verify/", {"token": code})
    assert response.status_code == 400 and 'data-testid="error-token"' in response.content.decode()
