"""Contacts' webhook signing secrets and chat webhook URLs are encrypted at rest (mdr/core/crypto.py): the raw
columns hold Fernet tokens, never the plaintext; the code reads plaintext; existing rows are encrypted by the
migration; keys rotate; a wrong key fails without echoing the value; nothing secret reaches the logs or the audit."""

from __future__ import annotations

import importlib
import logging

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django_tenants.utils import schema_context

from mdr.audit.models import AuditEvent
from mdr.audit.services import Actor
from mdr.core import crypto
from mdr.escalations import contacts
from mdr.escalations.models import Contact

SLACK = "https://hooks.slack.com/services/T000/B000/s3cr3tSlackToken"
TEAMS = "https://example.webhook.office.com/webhookb2/s3cr3tTeamsToken"
COLUMNS = ("webhook_secret", "webhook_secret_previous", "slack_webhook_url", "teams_webhook_url")


def _raw(pk: int) -> dict[str, str]:
    with connection.cursor() as c:
        c.execute(f"SELECT {', '.join(COLUMNS)} FROM escalations_contact WHERE id = %s", [pk])  # noqa: S608
        return dict(zip(COLUMNS, c.fetchone(), strict=True))


def _contact():
    contact, secret = contacts.contact_create(
        actor=Actor.system("t"),
        data={
            "name": "Duty desk",
            "email": "desk@example.com",
            "webhook_url": "https://receiver.example.com/hook",
            "slack_webhook_url": SLACK,
            "teams_webhook_url": TEAMS,
        },
    )
    return contact, secret


@pytest.fixture
def clean_keys(settings):
    yield
    crypto.keys_changed()


def test_the_columns_hold_tokens_and_the_code_reads_plaintext(acme, caplog):
    caplog.set_level(logging.DEBUG)
    with schema_context("acme"):
        # given
        contact, secret = _contact()
        rotated = contacts.contact_webhook_secret_rotate(actor=Actor.system("t"), contact=contact)
        # then: nothing readable in the table
        raw = _raw(contact.pk)
        for column, value in raw.items():
            assert value.startswith(crypto.TOKEN_PREFIX), column
        raw_text = " ".join(raw.values())
        for plaintext in (secret, rotated, SLACK, TEAMS, "s3cr3t"):
            assert plaintext not in raw_text
        # and the model gives the plaintext back
        fresh = Contact.objects.get(pk=contact.pk)
        assert (fresh.webhook_secret, fresh.webhook_secret_previous) == (rotated, secret)
        assert (fresh.slack_webhook_url, fresh.teams_webhook_url) == (SLACK, TEAMS)
        # "is one set?" still filters; blank stays blank
        assert Contact.objects.exclude(webhook_secret="").filter(pk=contact.pk).exists()
        audit = " ".join(str(d) for d in AuditEvent.objects.values_list("data", flat=True))
    # never in the logs or the audit data
    logged = " ".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    for plaintext in (secret, rotated, "s3cr3t"):
        assert plaintext not in logged
        assert plaintext not in audit


def test_the_migration_encrypts_rows_stored_in_plaintext_once(acme):
    migration = importlib.import_module("mdr.escalations.migrations.0007_secrets_encrypted")
    with schema_context("acme"):
        # given: a row as it was before the migration
        contact, _secret = _contact()
        with connection.cursor() as c:
            c.execute(
                "UPDATE escalations_contact SET webhook_secret = 'whsec_plain', slack_webhook_url = %s WHERE id = %s",
                [SLACK, contact.pk],
            )

        class Editor:
            connection = connection

        # when: run twice (idempotent)
        migration.encrypt_stored(None, Editor)
        once = _raw(contact.pk)
        migration.encrypt_stored(None, Editor)
        # then
        assert _raw(contact.pk) == once
        assert "whsec_plain" not in str(once) and "s3cr3t" not in str(once)
        fresh = Contact.objects.get(pk=contact.pk)
        assert (fresh.webhook_secret, fresh.slack_webhook_url) == ("whsec_plain", SLACK)


def test_keys_rotate_and_a_missing_key_fails_without_the_value(acme, settings, clean_keys):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.MDR_ENCRYPTION_KEYS = [old]
    crypto.keys_changed()
    token = crypto.encrypt("whsec_rotate_me")
    # a new key first: old tokens still read, new writes use the new key, rotate re-encrypts
    settings.MDR_ENCRYPTION_KEYS = [new, old]
    crypto.keys_changed()
    assert crypto.decrypt(token) == "whsec_rotate_me"
    rotated = crypto.rotate(token)
    settings.MDR_ENCRYPTION_KEYS = [new]
    crypto.keys_changed()
    assert crypto.decrypt(rotated) == "whsec_rotate_me"
    # the old key removed: its tokens fail, and the error says nothing of the value
    with pytest.raises(crypto.DecryptionError) as failure:
        crypto.decrypt(token)
    assert "whsec" not in str(failure.value) and token not in str(failure.value)


def test_encryption_rotate_re_encrypts_every_schema_with_the_first_key(acme, globex, settings, clean_keys):
    from io import StringIO

    from django.core.management import call_command

    # given: contacts in two customers, encrypted with the old key
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.MDR_ENCRYPTION_KEYS = [old]
    crypto.keys_changed()
    made = {}
    for schema in ("acme", "globex"):
        with schema_context(schema):
            made[schema] = _contact()[0].pk
    # when: the new key goes first and the command runs
    settings.MDR_ENCRYPTION_KEYS = [new, old]
    crypto.keys_changed()
    out = StringIO()
    call_command("encryption_rotate", stdout=out)
    assert "re-encrypted 2 row(s)" in out.getvalue()
    # then: the old key can go
    settings.MDR_ENCRYPTION_KEYS = [new]
    crypto.keys_changed()
    for schema, pk in made.items():
        with schema_context(schema):
            assert Contact.objects.get(pk=pk).slack_webhook_url == SLACK
