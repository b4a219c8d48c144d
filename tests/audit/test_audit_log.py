import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django_tenants.utils import schema_context

from mdr.audit.models import AuditEvent
from mdr.audit.selectors import audit_chain_verify
from mdr.audit.services import Actor, audit_record
from tests.conftest import login


def test_chain_links_each_event_to_the_previous(acme):
    with schema_context("acme"):
        # given
        first = audit_record(actor=Actor.system("t"), action="test.one")
        second = audit_record(actor=Actor.system("t"), action="test.two", data={"k": "v"})
        # then
        assert second.prev_hash == first.hash
        assert audit_chain_verify() == (True, None)


@pytest.mark.parametrize("statement", ["UPDATE {t} SET action = 'x'", "DELETE FROM {t}", "TRUNCATE {t}"])
def test_audit_rows_cannot_be_changed_in_a_cloned_customer_schema(acme, statement):
    with schema_context("acme"):
        audit_record(actor=Actor.system("t"), action="test.one")
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as c,
        ):
            c.execute(statement.format(t="audit_auditevent"))


def test_tampering_is_detected(acme):
    with schema_context("acme"):
        # given
        audit_record(actor=Actor.system("t"), action="test.one")
        victim = audit_record(actor=Actor.system("t"), action="test.two")
        audit_record(actor=Actor.system("t"), action="test.three")
        # when: someone with DDL rights bypasses the trigger
        with connection.cursor() as c:
            c.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_no_update_delete")
            c.execute("UPDATE audit_auditevent SET actor = 'someone-else' WHERE id = %s", [victim.pk])
            c.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_auditevent_no_update_delete")
        # then
        assert audit_chain_verify() == (False, victim.pk)


def test_logins_are_audited_in_the_customer_schema(acme):
    # when
    client = acme.client()
    client.post("/login/", {"username": acme.admin_username, "password": "wrong password!"})
    login(client, acme.admin_username, acme.admin_password)
    # then
    with schema_context("acme"):
        actions = list(AuditEvent.objects.filter(action__startswith="auth.").values_list("action", flat=True))
    assert actions == ["auth.login", "auth.login_failed"]
    connection.set_schema_to_public()
    assert not AuditEvent.objects.filter(action__startswith="auth.").exists()  # nothing in public


def test_access_log_page_is_for_customer_admins(acme):
    client = acme.client()
    login(client, acme.admin_username, acme.admin_password)
    page = client.get("/access-log/")
    assert page.status_code == 200
    assert "customer.onboard" in page.content.decode()
