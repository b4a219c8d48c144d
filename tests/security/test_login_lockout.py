"""Sign-in lockout (mdr/accounts/lockout.py) through the real pages on both domains: failed passwords and codes per
username and per IP, a 429 with a clear message and Retry-After (even for the right password), audited, reset by a
successful sign-in, and counted per schema."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import schema_context

from mdr.accounts.models import Role
from mdr.audit.models import AuditEvent
from tests.factories import PASSWORD, UserFactory
from tests.totp import ensure_device, next_code

LOCKED_TEXT = "Too many failed sign-in attempts"


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.MDR_LOGIN_MAX_FAILURES_USERNAME = 5
    settings.MDR_LOGIN_MAX_FAILURES_IP = 50
    settings.MDR_LOGIN_LOCKOUT_SECONDS = 900


def _post(client: Client, username: str, password: str, ip: str = "198.51.100.7"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def _locked_events(schema: str) -> list[dict]:
    with schema_context(schema):
        return list(AuditEvent.objects.filter(action="auth.locked_out").order_by("id").values_list("data", flat=True))


def test_a_customer_username_is_locked_after_five_wrong_passwords_even_for_the_right_one(acme):
    client = acme.client()
    # given
    for _ in range(5):
        assert _post(client, acme.admin_username, "wrong password!").status_code == 200
    # when: the right password now
    response = _post(client, acme.admin_username, acme.admin_password)
    # then: refused before the password is checked, with a clear message and a time to wait
    assert response.status_code == 429
    assert LOCKED_TEXT in response.content.decode()
    assert 1 <= int(response["Retry-After"]) <= 900 / 5
    assert "_auth_user_id" not in client.session
    assert _locked_events(acme.schema) == [
        {
            "username": acme.admin_username,
            "by": "username",
            "step": "password",
            "retry_after": int(response["Retry-After"]),
        }
    ]
    # another username from the same address still signs in (the IP limit is higher)
    other = acme.client()
    with schema_context(acme.schema):
        UserFactory(username="acme-viewer-2", role=Role.VIEWER)
    assert _post(other, "acme-viewer-2", PASSWORD).status_code == 302


def test_a_successful_sign_in_resets_the_username_count(acme):
    client = acme.client()
    for _ in range(4):
        _post(client, acme.admin_username, "wrong password!")
    # when
    assert _post(client, acme.admin_username, acme.admin_password).status_code == 302
    client.post("/logout/")
    # then: five more failures are allowed before the lock
    for _ in range(5):
        assert _post(client, acme.admin_username, "wrong password!").status_code == 200
    assert _post(client, acme.admin_username, acme.admin_password).status_code == 429


def test_one_address_guessing_many_usernames_is_locked(acme, settings):
    settings.MDR_LOGIN_MAX_FAILURES_IP = 3
    client = acme.client()
    for n in range(3):
        assert _post(client, f"nobody-{n}", "wrong password!").status_code == 200
    # when: a fourth username, from the same address
    response = _post(client, acme.admin_username, acme.admin_password)
    # then
    assert response.status_code == 429
    assert _locked_events(acme.schema)[-1]["by"] == "ip"
    # another address is not affected
    assert _post(acme.client(), acme.admin_username, acme.admin_password, ip="203.0.113.9").status_code == 302


def test_counts_are_per_schema(acme, globex):
    # given: acme's admin is locked out
    for _ in range(5):
        _post(acme.client(), acme.admin_username, "wrong password!")
    assert _post(acme.client(), acme.admin_username, acme.admin_password).status_code == 429
    # then: the same username and address on another customer's domain are not
    with schema_context(globex.schema):
        UserFactory(username=acme.admin_username, role=Role.CUSTOMER_ADMIN)
    assert _post(globex.client(), acme.admin_username, PASSWORD).status_code == 302


def _unthrottle(device) -> None:
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=timezone.now() - timedelta(hours=1))


def test_provider_staff_are_locked_on_the_code_step(acme):
    # given: staff with a device, password right, then five wrong codes
    user = UserFactory(username="lock-analyst", role=Role.ANALYST)
    device = ensure_device(user)
    client = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    assert _post(client, user.username, PASSWORD).status_code == 302
    for _ in range(5):
        _unthrottle(device)  # django-otp's own growing delay is not what is tested here
        response = client.post("/login/verify/", {"token": "000000"}, REMOTE_ADDR="198.51.100.7")
        assert response.status_code == 400
    # when: the right code
    _unthrottle(device)
    response = client.post("/login/verify/", {"token": next_code(device)}, REMOTE_ADDR="198.51.100.7")
    # then
    assert response.status_code == 429
    assert LOCKED_TEXT in response.content.decode()
    assert "Retry-After" in response
    assert "_auth_user_id" not in client.session
    assert _locked_events("public")[-1]["step"] == "totp"
    # and the password step is locked for this username too
    assert _post(Client(HTTP_HOST=settings.MDR_BASE_DOMAIN), user.username, PASSWORD).status_code == 429


def test_provider_enrolment_codes_count_and_success_resets(acme):
    user = UserFactory(username="lock-enrol", role=Role.ANALYST)
    client = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    assert _post(client, user.username, PASSWORD)["Location"] == "/login/enrol/"
    client.get("/login/enrol/")
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    for _ in range(3):
        _unthrottle(device)
        assert client.post("/login/enrol/", {"token": "000000"}, REMOTE_ADDR="198.51.100.7").status_code == 400
    # when: the right code signs in (and clears the count)
    _unthrottle(device)
    assert client.post("/login/enrol/", {"token": next_code(device)}, REMOTE_ADDR="198.51.100.7").status_code == 302
    client.post("/logout/")
    # then: a full five failures again before a lock
    for _ in range(4):
        assert _post(client, user.username, "wrong password!").status_code == 200
    assert _post(client, user.username, PASSWORD).status_code == 302
