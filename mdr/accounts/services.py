"""Writes to users and API keys."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from mdr.accounts import keys
from mdr.accounts.models import CUSTOMER_ROLES, PROVIDER_ROLES, Role, User
from mdr.audit.services import Actor, audit_record
from tenants.models import ApiKey, ApiKeyScope, Customer


class AccountError(ValueError):
    """A refused account change; ``field`` names the input at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


LANGUAGES = ("ja", "en")
# Subjects of the set-password mails, per language like the mail bodies (templates/emails/password_reset_<lang>.txt).
PASSWORD_MAIL_SUBJECTS = {
    "en": {"reset": "Reset your password", "invite": "Set your password"},
    "ja": {"reset": "パスワード再設定のご案内", "invite": "パスワード設定のご案内"},
}


def generate_password() -> str:
    return secrets.token_urlsafe(18)


def user_create(
    *,
    actor: Actor,
    username: str,
    email: str,
    role: str,
    password: str | None = None,
    language: str = "ja",
    first_name: str = "",
    last_name: str = "",
    set_password_by_link: bool = False,
) -> tuple[User, str]:
    """Create a user in the current schema; provider roles only in public, customer roles only in a customer.

    With ``set_password_by_link`` the user gets no password at all (returned as ""): they choose one through a
    set-password link (``password_link_send``), so no password is ever shown or mailed.
    """
    allowed = PROVIDER_ROLES if connection.schema_name == "public" else CUSTOMER_ROLES
    if role not in allowed:
        raise AccountError("role", f"role {role!r} is not allowed here; expected one of {list(allowed)}")
    if not username or len(username) > 150:
        raise AccountError("username", "username must be 1-150 characters")
    if User.objects.filter(username=username).exists():
        raise AccountError("username", f"username {username!r} is taken")
    if language not in LANGUAGES:
        raise AccountError("language", f"language must be one of {list(LANGUAGES)}")
    if set_password_by_link and not email:
        raise AccountError("email", "an e-mail address is needed to send the set-password link")
    password = "" if set_password_by_link else (password or generate_password())
    with transaction.atomic():
        user = User(
            username=username, email=email, role=role, language=language, first_name=first_name, last_name=last_name
        )
        if set_password_by_link:
            user.set_unusable_password()
        else:
            user.set_password(password)
        user.save()
        audit_record(
            actor=actor,
            action="user.create",
            target_type="user",
            target_id=user.pk,
            data={"username": username, "role": role, "password_by_link": set_password_by_link},
        )
    return user, password


def user_language_set(*, actor: Actor, user: User, language: str) -> User:
    """The language of the user's pages and mails."""
    if language not in LANGUAGES:
        raise AccountError("language", f"language must be one of {list(LANGUAGES)}")
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(language=language)
        audit_record(
            actor=actor, action="user.language", target_type="user", target_id=user.pk, data={"language": language}
        )
    user.language = language
    return user


def password_link(*, user: User, base_url: str) -> str:
    """A one-time set-password link on ``base_url`` (the domain the request came to), valid in this schema only."""
    from django.urls import reverse
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    from mdr.accounts.tokens import password_reset_token

    path = reverse(
        "password_reset_confirm",
        kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)), "token": password_reset_token.make_token(user)},
    )
    return base_url.rstrip("/") + path


def password_link_send(*, actor: Actor, user: User, base_url: str, invite: bool = False) -> bool:
    """Mail ``user`` a set-password link in their language (plain text). Nothing is sent for an inactive user or a
    customer that is not active. Returns whether a mail went out; callers never tell the requester."""
    from django.core.mail import send_mail
    from django.template.loader import render_to_string
    from django.utils import translation

    tenant = getattr(connection, "tenant", None)
    if getattr(tenant, "status", "active") != "active" or not user.is_active or not user.email:
        return False
    link = password_link(user=user, base_url=base_url)
    language = user.language if user.language in LANGUAGES else "ja"
    subject = PASSWORD_MAIL_SUBJECTS[language]["invite" if invite else "reset"]
    with translation.override(language):
        body = render_to_string(
            f"emails/password_reset_{language}.txt",
            {
                "user": user,
                "link": link,
                "invite": invite,
                "hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
                "site_name": getattr(tenant, "name", "") if connection.schema_name != "public" else "MDR",
            },
        )
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
    audit_record(
        actor=actor,
        action="auth.password_link_sent",
        target_type="user",
        target_id=user.pk,
        data={"invite": invite},
    )
    return True


# ---- provider staff (public schema) --------------------------------------------------------------------------------


def _require_public() -> None:
    if connection.schema_name != "public":
        raise AccountError("user", "provider staff are managed on the provider domain only")


def _other_active_admins(user: User) -> int:
    # Lock the active admins so two concurrent demotions cannot both see "one other admin left".
    admins = list(
        User.objects.select_for_update()
        .filter(role=Role.PROVIDER_ADMIN, is_active=True)
        .exclude(pk=user.pk)
        .values_list("pk", flat=True)
    )
    return len(admins)


def staff_role_change(*, actor: Actor, actor_user: User, user: User, role: str) -> User:
    """Change a staff member's role. Nobody changes their own role, and the last active admin stays an admin."""
    _require_public()
    if role not in PROVIDER_ROLES:
        raise AccountError("role", f"role must be one of {[str(r) for r in PROVIDER_ROLES]}")
    if user.pk == actor_user.pk:
        raise AccountError("role", "you cannot change your own role")
    with transaction.atomic():
        if (
            user.role == Role.PROVIDER_ADMIN
            and role != Role.PROVIDER_ADMIN
            and user.is_active
            and _other_active_admins(user) == 0
        ):
            raise AccountError("role", "at least one active provider admin must remain")
        old = user.role
        User.objects.filter(pk=user.pk).update(role=role)
        audit_record(
            actor=actor,
            action="staff.role_change",
            target_type="user",
            target_id=user.pk,
            data={"username": user.username, "from": old, "to": role},
        )
    user.refresh_from_db()
    return user


def staff_set_active(*, actor: Actor, actor_user: User, user: User, active: bool) -> User:
    """Deactivate (sessions end at their next request, logins are refused) or reactivate a staff member."""
    _require_public()
    if user.pk == actor_user.pk and not active:
        raise AccountError("is_active", "you cannot deactivate yourself")
    with transaction.atomic():
        if not active and user.role == Role.PROVIDER_ADMIN and user.is_active and _other_active_admins(user) == 0:
            raise AccountError("is_active", "at least one active provider admin must remain")
        User.objects.filter(pk=user.pk).update(is_active=active)
        audit_record(
            actor=actor,
            action="staff.activate" if active else "staff.deactivate",
            target_type="user",
            target_id=user.pk,
            data={"username": user.username},
        )
    user.refresh_from_db()
    return user


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    plaintext: str  # shown once, never stored


def apikey_create(*, actor: Actor, customer: Customer, name: str, scopes: list[str]) -> IssuedKey:
    """Issue a key for ``customer``. The plaintext is returned once; only its digest is kept (public schema)."""
    valid = {s.value for s in ApiKeyScope}
    if not scopes or not set(scopes) <= valid:
        raise AccountError("scopes", f"scopes must be a non-empty subset of {sorted(valid)}")
    if not name.strip():
        raise AccountError("name", "name must not be empty")
    generated = keys.generate()
    with transaction.atomic():
        key = ApiKey.objects.create(
            customer=customer,
            name=name.strip()[:100],
            public_id=generated.public_id,
            digest=generated.digest,
            scopes=sorted(set(scopes)),
            created_by=actor.name,
        )
        audit_record(
            actor=actor,
            action="apikey.create",
            target_type="apikey",
            target_id=key.public_id,
            data={"customer": customer.slug, "name": key.name, "scopes": key.scopes},
        )
    return IssuedKey(key=key, plaintext=generated.plaintext)


def apikey_revoke(*, actor: Actor, key: ApiKey) -> ApiKey:
    """Revoke at once: the next request with this key is refused."""
    with transaction.atomic():
        updated = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=actor.name[:200]
        )
        if updated:
            audit_record(
                actor=actor,
                action="apikey.revoke",
                target_type="apikey",
                target_id=key.public_id,
                data={"customer_id": key.customer_id},
            )
    key.refresh_from_db()
    return key
