"""Password reset by e-mail (real SMTP) and password change: the link's host, the user's language, tokens bound to
the customer's schema, no hint whether an address exists, suspended customers, and sessions ending after a reset."""

from __future__ import annotations

import email
import re
from email import policy

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.test import Client
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tenants.utils import schema_context

from mdr.accounts.models import Role, User
from mdr.accounts.tokens import password_reset_token
from mdr.audit.models import AuditEvent
from mdr.audit.services import Actor
from tenants.models import Customer
from tenants.services import customer_suspend
from tests.conftest import login
from tests.factories import PASSWORD, UserFactory

NEW_PASSWORD = "a much longer new passphrase 42"


def _mail(mail_server) -> tuple[list[str], email.message.EmailMessage]:
    ((rcpt, raw),) = mail_server.messages
    return rcpt, email.message_from_bytes(raw, policy=policy.default)


def _link(message) -> str:
    body = message.get_body(("plain",)).get_content()
    return re.search(r"(https?://\S+/password/reset/\S+/)", body).group(1)


def _follow(client: Client, link: str):
    """Open the mailed link like a browser: Django swaps the token for a session marker and redirects."""
    path = link.split("://", 1)[1].split("/", 1)[1]
    response = client.get("/" + path)
    assert response.status_code == 302, response.status_code
    return response["Location"]


def test_a_portal_user_resets_the_password_through_the_mailed_link(acme, mail_server):
    # given: a Japanese-speaking CSIRT member, signed in elsewhere with the old password
    with schema_context(acme.schema):
        user = UserFactory(username="reset-csirt", role=Role.CSIRT, email="kenji@acme.example", language="ja")
    elsewhere = acme.client()
    login(elsewhere, user.username, PASSWORD)
    assert elsewhere.get("/").status_code == 200
    client = acme.client()
    # when
    response = client.post("/password/reset/", {"email": "KENJI@acme.example"})
    # then: one plain-text Japanese mail with a link on the customer's own domain
    assert response.status_code == 302 and response["Location"] == "/password/reset/done/"
    rcpt, message = _mail(mail_server)
    assert rcpt == ["kenji@acme.example"]
    assert message.get_content_type() == "text/plain"
    body = message.get_body(("plain",)).get_content()
    assert "パスワード" in body and "パスワード" in str(message["Subject"])
    link = _link(message)
    assert link.startswith(f"http://{acme.domain}/password/reset/")
    # when: the link is opened and a new password chosen
    set_password_url = _follow(client, link)
    done = client.post(set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    # then
    assert done.status_code == 302 and done["Location"] == "/password/reset/complete/"
    fresh = acme.client()
    login(fresh, user.username, NEW_PASSWORD)
    # the session opened with the old password has ended
    assert elsewhere.get("/").status_code == 302
    # the link works once only
    assert "password-reset-invalid" in client.get("/" + link.split("/", 3)[3], follow=True).content.decode()
    with schema_context(acme.schema):
        actions = set(AuditEvent.objects.filter(target_id=str(user.pk)).values_list("action", flat=True))
    assert {"auth.password_link_sent", "auth.password_reset"} <= actions


def test_an_unknown_address_gets_the_same_answer_and_no_mail(acme, mail_server):
    response = acme.client().post("/password/reset/", {"email": "nobody@acme.example"})
    assert response.status_code == 302 and response["Location"] == "/password/reset/done/"
    assert mail_server.messages == []


def test_an_address_of_another_customer_gets_no_mail_here(acme, globex, mail_server):
    # given: the address exists at globex only
    with schema_context(globex.schema):
        UserFactory(username="only-at-globex", role=Role.VIEWER, email="only@globex.example")
    # when
    acme.client().post("/password/reset/", {"email": "only@globex.example"})
    # then
    assert mail_server.messages == []


def test_a_token_of_customer_a_is_refused_on_customer_b_for_the_same_user_pk(acme, globex):
    # given: user #N at globex and a twin at acme with the same pk, password hash, e-mail and last login, so that
    # Django's own token would be the same for both
    now = timezone.now()
    with schema_context(globex.schema):
        victim = UserFactory(username="twin", role=Role.CUSTOMER_ADMIN, email="twin@example.com")
        User.objects.filter(pk=victim.pk).update(last_login=now)
        victim.refresh_from_db()
    with schema_context(acme.schema):
        User.objects.filter(pk=victim.pk).delete()
        twin = User.objects.create(
            pk=victim.pk,
            username="twin",
            email="twin@example.com",
            role=Role.CUSTOMER_ADMIN,
            password=victim.password,
            last_login=now,
        )
        token = password_reset_token.make_token(twin)
        plain_django = PasswordResetTokenGenerator().make_token(twin)
    assert PasswordResetTokenGenerator().check_token(victim, plain_django)  # the attack works without our generator
    uid = urlsafe_base64_encode(force_bytes(victim.pk))
    # when: acme's token is used on globex's domain
    client = globex.client()
    response = client.get(f"/password/reset/{uid}/{token}/", follow=True)
    # then
    assert 'data-testid="password-reset-invalid"' in response.content.decode()
    posted = client.post(
        f"/password/reset/{uid}/set-password/", {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert posted.status_code == 200 and 'data-testid="password-reset-invalid"' in posted.content.decode()
    with schema_context(globex.schema):
        assert User.objects.get(pk=victim.pk).password == victim.password
    # and on acme the same token works (it is a valid token, just not for globex)
    assert _follow(acme.client(), f"http://{acme.domain}/password/reset/{uid}/{token}/").endswith("/set-password/")


def test_a_suspended_customer_gets_no_reset_mail(acme, mail_server):
    # given
    with schema_context(acme.schema):
        UserFactory(username="reset-suspended", role=Role.VIEWER, email="s@acme.example")
    customer_suspend(actor=Actor.system("tests"), customer=Customer.objects.get(slug="acme"), reason="unpaid")
    # when
    response = acme.client().post("/password/reset/", {"email": "s@acme.example"})
    # then
    assert response.status_code == 403
    assert mail_server.messages == []


def test_provider_staff_reset_link_uses_the_provider_domain_in_english(acme, mail_server):
    # given
    UserFactory(username="reset-analyst", role=Role.ANALYST, email="ana@provider.example", language="en")
    # when
    Client(HTTP_HOST=settings.MDR_BASE_DOMAIN).post("/password/reset/", {"email": "ana@provider.example"})
    # then
    _rcpt, message = _mail(mail_server)
    assert str(message["Subject"]) == "Reset your password"
    assert _link(message).startswith(f"http://{settings.MDR_BASE_DOMAIN}/password/reset/")
    assert "reset-analyst" in message.get_body(("plain",)).get_content()


def test_password_change_checks_the_validators_and_keeps_this_session(acme):
    # given
    with schema_context(acme.schema):
        user = UserFactory(username="change-viewer", role=Role.VIEWER)
    client = acme.client()
    login(client, user.username, PASSWORD)
    other = acme.client()
    login(other, user.username, PASSWORD)
    # when: too short
    short = client.post(
        "/password/change/", {"old_password": PASSWORD, "new_password1": "short1", "new_password2": "short1"}
    )
    # then
    assert short.status_code == 200 and 'data-testid="error-new_password2"' in short.content.decode()
    # when: a good one
    done = client.post(
        "/password/change/", {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    # then
    assert done.status_code == 302 and done["Location"] == "/password/change/done/"
    assert client.get("/account/").status_code == 200
    assert other.get("/account/").status_code == 302
    with schema_context(acme.schema):
        assert AuditEvent.objects.filter(action="auth.password_changed", target_id=str(user.pk)).exists()


def test_password_pages_need_a_session(acme):
    response = acme.client().get("/password/change/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_mail_server_outage_gives_the_same_answer_not_an_error(acme, mail_server):
    # given: the address exists, the mail server is down
    with schema_context(acme.schema):
        UserFactory(username="reset-outage", role=Role.VIEWER, email="outage@acme.example")
    mail_server.stop()
    # when
    response = acme.client().post("/password/reset/", {"email": "outage@acme.example"})
    # then
    assert response.status_code == 302 and response["Location"] == "/password/reset/done/"


def test_reset_requests_are_limited_per_address_and_per_network(acme, mail_server, settings):
    # given: two mails per address per hour, four requests per network per hour
    settings.MDR_PASSWORD_RESET_PER_HOUR_ADDRESS = 2
    settings.MDR_PASSWORD_RESET_PER_HOUR_IP = 4
    with schema_context(acme.schema):
        UserFactory(username="flood-csirt", role=Role.CSIRT, email="flood@acme.example")
    client = acme.client()
    # when: three requests for the same address
    answers = [client.post("/password/reset/", {"email": "flood@acme.example"}) for _ in range(3)]
    # then: the same answer each time, but only two mails
    assert [a.status_code for a in answers] == [302, 302, 302]
    assert len(mail_server.messages) == 2
    # when: the network's fourth request, then a fifth
    assert client.post("/password/reset/", {"email": "someone@acme.example"}).status_code == 302
    refused = client.post("/password/reset/", {"email": "other@acme.example"})
    # then: 429 with a clear message, and the throttling is audited
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "Too many requests" in refused.content.decode()
    with schema_context(acme.schema):
        throttled = list(
            AuditEvent.objects.filter(action="auth.password_reset_throttled").values_list("data", flat=True)
        )
    assert sorted(d["by"] for d in throttled) == ["address", "ip"]
