"""migrate_all as a deploy step: resumable after a customer fails midway, exit code naming the failed schema,
progress lines, and a lock timeout that makes a migration give up instead of waiting behind web traffic.

Customers here are committed (the command runs DDL and, with the subprocess executor, other processes), so the
tests take no ``db`` fixture. The broken state is real: the last migration of ``alerts`` (a concurrent index
build) is marked unapplied in a schema, and in the "broken" customer the index it creates is left in place, so
the migration fails with "already exists" exactly as after an interrupted ``CREATE INDEX CONCURRENTLY``.
"""

from __future__ import annotations

import subprocess
import sys
from io import StringIO

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from mdr.audit.services import Actor
from tests.live import ROOT, process_env
from tests.live import test_database_url as database_url

MIGRATION = ("alerts", "0004_report_indexes")
INDEX = "alerts_alert_received_idx"


@pytest.fixture
def customers(django_db_setup, django_db_blocker, request):
    from tenants.models import ApiKey, Customer, Domain
    from tenants.services import customer_onboard

    base = request.node.name[5:20].replace("_", "-").strip("-")
    slugs = [f"mig-{base}-a", f"mig-{base}-b"]
    with django_db_blocker.unblock():
        schemas = [
            customer_onboard(actor=Actor.system("tests"), name=slug, slug=slug, language="en").customer.schema_name
            for slug in slugs
        ]
    yield schemas
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        with connection.cursor() as cursor:
            for schema in schemas:
                cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        ApiKey.objects.filter(customer__slug__in=slugs).delete()
        Domain.objects.filter(tenant__slug__in=slugs).delete()
        Customer.objects.filter(slug__in=slugs).delete()


def _sql(sql: str, params=None):
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


def _record(schema: str, verb: str = "SELECT applied"):
    """The schema's django_migrations row for MIGRATION (the schema is the test's own customer)."""
    return _sql(f'{verb} FROM "{schema}".django_migrations WHERE app = %s AND name = %s', list(MIGRATION))


def _unapply(schema: str, *, drop_index: bool) -> None:
    _record(schema, "DELETE")
    if drop_index:
        _sql(f'DROP INDEX "{schema}"."{INDEX}"')


def _applied(schema: str) -> bool:
    return bool(_record(schema))


def _index_exists(schema: str) -> bool:
    return _sql("SELECT to_regclass(%s)", [f'"{schema}"."{INDEX}"'])[0][0] is not None


def _migrate_all(*schemas: str) -> tuple[str, str, CommandError | None]:
    out, err = StringIO(), StringIO()
    args = [arg for schema in schemas for arg in ("--schema", schema)]
    try:
        call_command("migrate_all", "--customers-only", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue(), err.getvalue(), exc
    return out.getvalue(), err.getvalue(), None


def test_a_rerun_after_a_failed_customer_migrates_only_what_is_left(customers, django_db_blocker):
    a, b = customers
    with django_db_blocker.unblock():
        # given: both customers one migration behind; b in a broken state (the index already there)
        _unapply(a, drop_index=True)
        _unapply(b, drop_index=False)
        # when: the deploy step runs
        out, err, error = _migrate_all(a, b)
        # then: a is migrated, b failed, the command fails naming b only
        assert error is not None, out
        assert f"failed: {b}." in str(error) and a not in str(error)
        assert "0 at target (skipped), 2 to migrate" in out
        assert f"[1/2] {a} ok" in out and f"[2/2] {b} FAILED" in out
        assert "elapsed" in out and "ETA" in out
        assert f"{b} FAILED" in err and "already exists" in err
        assert _applied(a) and _index_exists(a)
        assert not _applied(b)
        a_applied_at = _record(a)
        # when: the broken state is fixed and the step runs again
        _sql(f'DROP INDEX "{b}"."{INDEX}"')
        out, err, error = _migrate_all(a, b)
        # then: a is skipped (at target, untouched), b is migrated, exit code zero
        assert error is None, err
        assert "1 at target (skipped), 1 to migrate" in out
        assert f"[1/1] {b} ok" in out and f"] {a} " not in out
        assert _applied(b) and _index_exists(b)
        assert _record(a) == a_applied_at
        # and a third run has nothing to do
        out, _, error = _migrate_all(a, b)
        assert error is None and "2 at target (skipped), 0 to migrate" in out


def test_a_customer_with_its_schema_gone_is_named_as_failed(customers, django_db_blocker):
    a, b = customers
    with django_db_blocker.unblock():
        _sql(f'DROP SCHEMA "{b}" CASCADE')
        out, err, error = _migrate_all(a, b)
    assert error is not None and f"failed: {b}." in str(error)
    assert "schema does not exist" in err
    assert "1 at target (skipped), 0 to migrate" in out


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "migrate_all", *args],
        cwd=ROOT,
        env=process_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_lock_timeout_gives_up_names_the_schema_and_a_rerun_resumes(customers, django_db_blocker):
    a, b = customers
    with django_db_blocker.unblock():
        _unapply(a, drop_index=True)
        _unapply(b, drop_index=True)
    # given: web traffic (here: one open transaction) holds a lock on a's alert table
    holder = psycopg.connect(database_url())
    try:
        holder.execute(f'LOCK TABLE "{a}".alerts_alert IN ACCESS EXCLUSIVE MODE')
        # when: the whole deploy step runs in its own process, customers in parallel children
        done = _run_cli("--executor", "subprocess", "--parallel", "2", "--lock-timeout", "300ms", "--lock-retries", "0")
    finally:
        holder.rollback()
        holder.close()
    # then: public and template were at target; b migrated; a gave up on the lock instead of waiting; exit code 1
    assert done.returncode == 1, done.stdout + done.stderr
    assert "public schema at target, skipped" in done.stdout
    assert "template schema tenant_template at target, skipped" in done.stdout
    assert "lock_timeout 300ms on every migration connection" in done.stdout
    assert f"{b} ok" in done.stdout and f"{a} FAILED" in done.stdout
    assert "lock timeout" in done.stderr and f"failed: {a}." in done.stderr and f"{b}," not in done.stderr
    with django_db_blocker.unblock():
        assert _applied(b) and not _applied(a)
    # when: the lock is gone and the step runs again, restricted to the schema the failure named
    done = _run_cli("--executor", "subprocess", "--lock-timeout", "300ms", "--customers-only", "--schema", a)
    # then: it resumes and succeeds
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"[1/1] {a} ok" in done.stdout
    with django_db_blocker.unblock():
        assert _applied(a) and _index_exists(a)


def test_a_malformed_lock_timeout_is_refused(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), pytest.raises(CommandError, match="--lock-timeout"):
        call_command("migrate_all", "--customers-only", "--lock-timeout", "5 seconds; DROP", stdout=StringIO())
