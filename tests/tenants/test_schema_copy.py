"""A customer's schema made by replaying the template's SQL is the template: the same tables and columns (with their
defaults), indexes, constraints, triggers, functions, sequences and rows."""

from __future__ import annotations

import re

from django.conf import settings
from django.db import connection

from tenants.schema_copy import schema_copy_from_template, template_script

SHAPE = {
    "columns": """SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, '')
                  FROM information_schema.columns WHERE table_schema = %(s)s""",
    "indexes": """SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = %(s)s""",
    "constraints": """SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid)
                      FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = %(s)s""",
    "triggers": """SELECT event_object_table, trigger_name, event_manipulation, action_timing, action_statement
                   FROM information_schema.triggers WHERE trigger_schema = %(s)s""",
    "functions": """SELECT p.proname, md5(p.prosrc) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                    WHERE n.nspname = %(s)s""",
    "sequences": """SELECT sequence_name, data_type FROM information_schema.sequences WHERE sequence_schema = %(s)s""",
}


def _same_meaning(text: str, schema: str) -> str:
    """A definition with the schema's own name written as ``S``, and without casts and parentheses: PostgreSQL prints
    a re-parsed predicate differently (``ANY ((ARRAY['a'::varchar])::text[])`` comes back from its own dump as
    ``ANY (ARRAY[('a'::varchar)::text])``), which means the same."""
    text = text.replace(f"{schema}.", "S.")
    return re.sub(r"\s+", " ", re.sub(r"::[a-z ]+(\[\])?|[()]", "", text)).strip()


def _shape(schema: str) -> dict[str, list]:
    """Everything above, comparable between two schemas (``_same_meaning``)."""
    shape = {}
    with connection.cursor() as cursor:
        for name, sql in SHAPE.items():
            cursor.execute(sql, {"s": schema})
            rows = [tuple(_same_meaning(str(v), schema) for v in row) for row in cursor.fetchall()]
            shape[name] = sorted(rows)
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema])
        counts = {}
        for (table,) in cursor.fetchall():
            cursor.execute(f'SELECT count(*) FROM "{schema}"."{table}"')  # noqa: S608 -- catalog names
            counts[table] = cursor.fetchone()[0]
        shape["rows"] = sorted(counts.items())
    return shape


def test_the_replayed_copy_is_the_template(db, tenants_ab):
    template = settings.TENANT_BASE_SCHEMA
    assert template_script() is not None  # pg_dump is here: onboarding replays, it does not clone
    # when
    assert schema_copy_from_template("copy_check") is True
    # then
    copy, original = _shape("copy_check"), _shape(template)
    assert len(original["columns"]) > 100 and len(original["triggers"]) > 0 and len(original["functions"]) > 0
    for part in SHAPE:
        assert copy[part] == original[part], part
    assert copy["rows"] == original["rows"]
    assert dict(copy["rows"])["django_migrations"] > 50  # no fake migrate needed: the history came along


def test_clone_is_the_fallback_when_asked_for(db, tenants_ab, settings):
    settings.MDR_SCHEMA_COPY = "clone"
    assert template_script() is None
    assert schema_copy_from_template("never_made") is False


def test_a_name_that_is_no_schema_name_is_refused_before_any_sql(db, tenants_ab):
    import pytest
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        schema_copy_from_template('x"; DROP SCHEMA public CASCADE; --')
