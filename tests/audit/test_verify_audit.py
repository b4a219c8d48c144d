"""``verify_audit``: a modified row, deleted rows in the middle and a deleted tail are each found and named, in the
schema where they happened; the anchor itself only moves forward. Rows are changed the way a database superuser
could: by disabling the append-only trigger inside the test's transaction."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django_tenants.utils import schema_context

from mdr.audit.services import Actor, audit_record


def _tamper(sql: str, params: list) -> None:
    with connection.cursor() as c:
        c.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_no_update_delete")
        c.execute(sql, params)
        c.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_auditevent_no_update_delete")


def _verify(*schemas: str) -> str:
    out = StringIO()
    call_command("verify_audit", *[f"--schema={s}" for s in schemas], stdout=out)
    return out.getvalue()


def _verify_fails(*schemas: str) -> str:
    out = StringIO()
    with pytest.raises(CommandError, match="audit chain broken"):
        call_command("verify_audit", *[f"--schema={s}" for s in schemas], stdout=out)
    return out.getvalue()


def _three_rows():
    return [audit_record(actor=Actor.system("t"), action=f"test.{n}") for n in ("one", "two", "three")]


def test_intact_chains_pass_in_every_schema(acme, globex):
    # given
    with schema_context("acme"):
        _three_rows()
    audit_record(actor=Actor.system("t"), action="test.public")
    # when
    out = StringIO()
    call_command("verify_audit", stdout=out)
    # then: public and every customer schema were checked
    text = out.getvalue()
    assert "public:" in text and "acme:" in text and "globex:" in text
    assert "audit chains intact" in text


def test_a_modified_row_is_named(acme, globex):
    with schema_context("acme"):
        # given
        _first, victim, _last = _three_rows()
        # when
        _tamper("UPDATE audit_auditevent SET data = '{\"k\": 1}' WHERE id = %s", [victim.pk])
    # then
    out = _verify_fails("acme")
    assert f"acme: row {victim.pk} was modified" in out
    assert "intact" in _verify("globex")  # the other customer's chain is not affected


def test_a_modified_row_with_a_recomputed_hash_breaks_the_next_link(acme):
    import hashlib

    from mdr.audit.models import AuditEvent
    from mdr.audit.selectors import canonical_content

    with schema_context("acme"):
        # given
        _first, victim, last = _three_rows()
        # when: the forger also recomputes the row's own hash
        event = AuditEvent.objects.get(pk=victim.pk)
        event.actor = "someone-else"
        forged = hashlib.sha256((event.prev_hash + canonical_content(event)).encode()).hexdigest()
        _tamper("UPDATE audit_auditevent SET actor = 'someone-else', hash = %s WHERE id = %s", [forged, victim.pk])
    # then
    out = _verify_fails("acme")
    assert f"row {last.pk} does not follow row {victim.pk}" in out


def test_a_deleted_row_in_the_middle_is_found(acme):
    with schema_context("acme"):
        first, victim, last = _three_rows()
        _tamper("DELETE FROM audit_auditevent WHERE id = %s", [victim.pk])
    out = _verify_fails("acme")
    assert f"row {last.pk} does not follow row {first.pk}: rows were deleted after row {first.pk}" in out


@pytest.mark.parametrize("deleted", [1, 2])
def test_deleted_last_rows_are_found_by_the_anchor(acme, deleted):
    with schema_context("acme"):
        # given
        rows = _three_rows()
        # when: the tail goes; what is left is a perfectly linked, shorter chain
        _tamper("DELETE FROM audit_auditevent WHERE id >= %s", [rows[-deleted].pk])
    # then
    out = _verify_fails("acme")
    assert f"the last rows were deleted: the chain should end at row {rows[-1].pk}" in out
    assert f"ends at row {rows[-deleted - 1].pk}" in out


def test_every_row_deleted_is_found(acme):
    with schema_context("acme"):
        last = _three_rows()[-1]
        _tamper("DELETE FROM audit_auditevent", [])
    out = _verify_fails("acme")
    assert f"should end at row {last.pk}" in out and "ends at nothing" in out


def test_a_row_inserted_around_the_service_is_found(acme):
    with schema_context("acme"):
        rows = _three_rows()
        with connection.cursor() as c:  # a copy of the last row, appended without moving the anchor
            c.execute(
                "INSERT INTO audit_auditevent (created_at, actor_type, actor, action, target_type, target_id, data,"
                " prev_hash, hash) SELECT created_at, actor_type, actor, action, target_type, target_id, data,"
                " hash, md5(hash) || md5(hash) FROM audit_auditevent WHERE id = %s",
                [rows[-1].pk],
            )
    out = _verify_fails("acme")
    assert "does not end where its anchor says" in out


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM public.audit_chain_head",
        "TRUNCATE public.audit_chain_head",
        "UPDATE public.audit_chain_head SET row_count = row_count - 1, last_id = last_id - 1",
    ],
)
def test_the_anchor_only_moves_forward(acme, statement):
    with schema_context("acme"):
        _three_rows()
        with pytest.raises(DatabaseError, match="only moves forward"), transaction.atomic(), connection.cursor() as c:
            c.execute(statement)
