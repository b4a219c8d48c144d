"""Provider staff pages (``/staff/``): provider admins only; create with a mailed set-password link, change role,
deactivate/reactivate, reset a second factor; nobody demotes or deactivates themselves; an active admin remains."""

from __future__ import annotations

import email
import re
from email import policy

import pytest
from django.conf import settings
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from mdr.accounts.models import Role, User
from mdr.accounts.services import AccountError, staff_role_change, staff_set_active
from mdr.audit.models import AuditEvent
from mdr.audit.services import Actor
from tests.conftest import login
from tests.factories import PASSWORD, UserFactory
from tests.totp import ensure_device

NEW_PASSWORD = "a much longer new passphrase 42"


def _client(username: str, role: str) -> tuple[User, Client]:
    user = UserFactory(username=username, role=role)
    client = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    login(client, username, PASSWORD)
    return user, client


@pytest.fixture
def admin(acme) -> tuple[User, Client]:
    return _client("staff-boss", Role.PROVIDER_ADMIN)


def test_the_list_shows_every_staff_member_with_role_state_and_second_factor(admin):
    # given
    UserFactory(username="staff-listed", role=Role.ANALYST, first_name="Aiko", email="aiko@provider.example")
    _user, client = admin
    # when
    html = client.get("/staff/").content.decode()
    # then
    assert 'data-testid="staff"' in html
    assert "staff-listed" in html and "Aiko" in html and "aiko@provider.example" in html
    assert "not set up" in html  # staff-listed has no device yet; staff-boss has one
    assert "SOC analyst" in html


@pytest.mark.parametrize("role", [Role.ANALYST, Role.ACCOUNT_MANAGER])
def test_other_staff_roles_are_refused(acme, role):
    # given
    target = UserFactory(username="staff-target", role=Role.ANALYST)
    _user, client = _client(f"staff-{role}", role)
    # when / then
    assert client.get("/staff/").status_code == 403
    assert client.get("/staff/new").status_code == 403
    assert client.post("/staff/new", {"username": "x", "email": "x@example.com", "role": "analyst"}).status_code == 403
    assert client.post(f"/staff/{target.pk}/role", {"role": Role.PROVIDER_ADMIN}).status_code == 403
    assert client.post(f"/staff/{target.pk}/reset-totp").status_code == 403
    assert User.objects.get(pk=target.pk).role == Role.ANALYST


def test_there_is_no_staff_page_on_a_customer_domain(acme):
    assert acme.client().get("/staff/").status_code == 404


def test_a_new_staff_member_sets_a_password_from_the_mail_then_enrols(admin, mail_server):
    # given
    _boss, client = admin
    # when
    response = client.post(
        "/staff/new",
        {
            "username": "staff-newbie",
            "first_name": "Ken",
            "last_name": "Sato",
            "email": "ken@provider.example",
            "role": Role.ANALYST,
            "language": "ja",
        },
    )
    # then: created without a usable password; a Japanese set-password mail with a provider-domain link
    newbie = User.objects.get(username="staff-newbie")
    assert response.status_code == 302 and response["Location"] == f"/staff/{newbie.pk}"
    assert not newbie.has_usable_password() and newbie.role == Role.ANALYST
    ((rcpt, raw),) = mail_server.messages
    message = email.message_from_bytes(raw, policy=policy.default)
    assert rcpt == ["ken@provider.example"] and "パスワード設定" in str(message["Subject"])
    link = re.search(r"(http://\S+/password/reset/\S+/)", message.get_body(("plain",)).get_content()).group(1)
    assert link.startswith(f"http://{settings.MDR_BASE_DOMAIN}/password/reset/")
    # when: the link is used
    browser = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    set_url = browser.get("/" + link.split("/", 3)[3])["Location"]
    assert browser.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}).status_code == 302
    # then: the first sign-in asks for the authenticator app
    first = browser.post("/login/", {"username": "staff-newbie", "password": NEW_PASSWORD})
    assert first["Location"] == "/login/enrol/"
    assert AuditEvent.objects.filter(action="user.create", target_id=str(newbie.pk)).exists()


def test_a_taken_username_is_a_form_error_naming_the_field(admin):
    _boss, client = admin
    data = {"username": "staff-boss", "email": "b@example.com", "role": "analyst", "language": "en"}
    response = client.post("/staff/new", data)
    assert response.status_code == 400
    assert 'data-testid="error-username"' in response.content.decode()


def test_role_change_and_deactivation_are_audited_and_end_sessions(admin):
    # given: an analyst signed in
    target, target_client = _client("staff-changed", Role.ANALYST)
    _boss, client = admin
    # when
    assert client.post(f"/staff/{target.pk}/role", {"role": Role.ACCOUNT_MANAGER}).status_code == 302
    assert client.post(f"/staff/{target.pk}/deactivate").status_code == 302
    # then
    target.refresh_from_db()
    assert target.role == Role.ACCOUNT_MANAGER and not target.is_active
    assert target_client.get("/").status_code == 302  # the deactivated member's session is over
    actions = set(AuditEvent.objects.filter(target_id=str(target.pk)).values_list("action", flat=True))
    assert {"staff.role_change", "staff.deactivate"} <= actions
    # when: reactivated
    assert client.post(f"/staff/{target.pk}/activate").status_code == 302
    assert User.objects.get(pk=target.pk).is_active


def test_nobody_demotes_or_deactivates_themselves(admin):
    # given
    boss, client = admin
    # when
    demote = client.post(f"/staff/{boss.pk}/role", {"role": Role.ANALYST})
    deactivate = client.post(f"/staff/{boss.pk}/deactivate")
    # then
    assert demote.status_code == 400 and 'data-testid="error-role"' in demote.content.decode()
    assert "you cannot change your own role" in demote.content.decode()
    assert deactivate.status_code == 400 and "is_active: you cannot deactivate yourself" in deactivate.content.decode()
    boss.refresh_from_db()
    assert boss.role == Role.PROVIDER_ADMIN and boss.is_active


def test_the_last_active_provider_admin_stays(acme):
    # given: exactly one active provider admin
    User.objects.filter(role=Role.PROVIDER_ADMIN).update(is_active=False)
    last = UserFactory(username="staff-last", role=Role.PROVIDER_ADMIN)
    someone = UserFactory(username="staff-someone", role=Role.ANALYST)
    actor = Actor.system("tests")
    # when / then: demoting or deactivating them is refused, naming the field
    with pytest.raises(AccountError) as demoted:
        staff_role_change(actor=actor, actor_user=someone, user=last, role=Role.ANALYST)
    assert demoted.value.field == "role"
    with pytest.raises(AccountError) as deactivated:
        staff_set_active(actor=actor, actor_user=someone, user=last, active=False)
    assert deactivated.value.field == "is_active"
    # but with a second active admin it is allowed
    UserFactory(username="staff-second", role=Role.PROVIDER_ADMIN)
    staff_role_change(actor=actor, actor_user=someone, user=last, role=Role.ANALYST)
    assert User.objects.get(pk=last.pk).role == Role.ANALYST


def test_resetting_a_second_factor_forces_a_new_enrolment(admin):
    # given
    target = UserFactory(username="staff-lostphone", role=Role.ANALYST)
    ensure_device(target)
    _boss, client = admin
    # when
    assert client.post(f"/staff/{target.pk}/reset-totp").status_code == 302
    # then
    assert not TOTPDevice.objects.filter(user=target).exists()
    assert AuditEvent.objects.filter(action="auth.otp_reset", target_id=str(target.pk)).exists()
    browser = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    assert browser.post("/login/", {"username": target.username, "password": PASSWORD})["Location"] == "/login/enrol/"


def test_bad_input_is_a_form_error_or_404_never_a_500(admin):
    _boss, client = admin
    target = UserFactory(username="staff-bad", role=Role.ANALYST)
    bad_role = client.post(f"/staff/{target.pk}/role", {"role": Role.CUSTOMER_ADMIN})
    assert bad_role.status_code == 400 and 'data-testid="error-role"' in bad_role.content.decode()
    assert client.get("/staff/999999").status_code == 404
    assert client.post(f"/staff/{target.pk}/explode").status_code == 404
