"""Writes to users and API keys."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from mdr.accounts import keys
from mdr.accounts.models import CUSTOMER_ROLES, PROVIDER_ROLES, User
from mdr.audit.services import Actor, audit_record
from tenants.models import ApiKey, ApiKeyScope, Customer


class AccountError(ValueError):
    """A refused account change; ``field`` names the input at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def generate_password() -> str:
    return secrets.token_urlsafe(18)


def user_create(
    *, actor: Actor, username: str, email: str, role: str, password: str | None = None, language: str = "ja"
) -> tuple[User, str]:
    """Create a user in the current schema; provider roles only in public, customer roles only in a customer."""
    allowed = PROVIDER_ROLES if connection.schema_name == "public" else CUSTOMER_ROLES
    if role not in allowed:
        raise AccountError("role", f"role {role!r} is not allowed here; expected one of {list(allowed)}")
    if User.objects.filter(username=username).exists():
        raise AccountError("username", f"username {username!r} is taken")
    password = password or generate_password()
    with transaction.atomic():
        user = User(username=username, email=email, role=role, language=language)
        user.set_password(password)
        user.save()
        audit_record(
            actor=actor,
            action="user.create",
            target_type="user",
            target_id=user.pk,
            data={"username": username, "role": role},
        )
    return user, password


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
