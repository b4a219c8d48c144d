"""Benchmark: creating a customer schema by cloning the migrated template vs running every tenant migration.

Run from the repository root against a throw-away database (created if missing)::

    DJANGO_DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/mdr_bench \\
        .venv/bin/python bench/provision.py --n 10

Measures, interleaved round by round so that noise on a shared machine hits every method alike:

* ``clone``   -- ``Customer.create_schema()`` with ``TENANT_CREATION_FAKES_MIGRATIONS=True`` (clone_schema of
  the template, then faked migrations);
* ``migrate`` -- the same with ``TENANT_CREATION_FAKES_MIGRATIONS=False`` (``CREATE SCHEMA`` + every
  migration);
* ``onboard`` -- the whole ``tenants.services.customer_onboard`` service (clone path, one transaction).

Only ``create_schema`` (or the onboarding call) is timed. Every schema made is checked against the template
(tables, indexes, triggers, functions, sequences, applied migrations): a bench that measures a broken clone is
worthless, so a mismatch aborts the run. Everything created is removed at the end, on error too, except the
``customer.onboard`` rows in the public audit log, which is append-only by design.

Prints a table, then as the last line one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import re
import secrets
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mdr.settings")

import django  # noqa: E402  (Django must be configured before the project's modules are imported)

django.setup()

import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from psycopg import sql  # noqa: E402

from mdr.audit.services import Actor  # noqa: E402
from tenants.models import ApiKey, Customer, Domain  # noqa: E402
from tenants.services import customer_onboard  # noqa: E402

METHODS = ("clone", "migrate", "onboard")
# Every schema this script creates matches this, and only such names are ever put into SQL text or dropped.
BENCH_SCHEMA_RE = re.compile(r"^bench_[cmo]_[0-9]+_[0-9a-f]{6}$")


def database_ensure() -> bool:
    """Create the database named in DATABASE_URL if it does not exist. Returns True if it was created."""
    db = settings.DATABASES["default"]
    params = {
        "dbname": "postgres",
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "autocommit": True,
    }
    with psycopg.connect(**{k: v for k, v in params.items() if v is not None}) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
    return True


def _rows(query: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def schema_structure(schema: str) -> dict[str, frozenset]:
    """What a schema holds, by name: enough to tell a faithful copy of the template from a broken one."""
    own = [schema]
    return {
        "tables": frozenset(r[0] for r in _rows("SELECT tablename FROM pg_tables WHERE schemaname = %s", own)),
        "columns": frozenset(
            _rows(
                "SELECT table_name, column_name, data_type, is_nullable, is_identity, "
                "character_maximum_length FROM information_schema.columns WHERE table_schema = %s",
                own,
            )
        ),
        # Index definitions without their names: clone_schema recreates unique constraints under
        # PostgreSQL's default names (see index_names), which is not a structural difference.
        "indexes": frozenset(
            (table, definition.replace(f" {name} ON {schema}.", " ON "))
            for table, name, definition in _rows(
                "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = %s", own
            )
        ),
        "sequences": frozenset(r[0] for r in _rows("SELECT sequencename FROM pg_sequences WHERE schemaname = %s", own)),
        "functions": frozenset(
            r[0]
            for r in _rows(
                "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %s",
                own,
            )
        ),
        # Trigger, table, and the schema of the function it fires: a clone whose triggers still fire the
        # template's function would pass a name-only comparison.
        "triggers": frozenset(
            (tg, tbl, "<own>" if fn_schema == schema else fn_schema)
            for tg, tbl, fn_schema in _rows(
                "SELECT t.tgname, c.relname, fn.nspname FROM pg_trigger t "
                "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                "JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace fn ON fn.oid = p.pronamespace "
                "WHERE n.nspname = %s AND NOT t.tgisinternal",
                own,
            )
        ),
        "constraints": frozenset(
            _rows(
                "SELECT c.relname, k.contype, count(*) FROM pg_constraint k "
                "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s GROUP BY c.relname, k.contype",
                own,
            )
        ),
    }


def applied_migrations(schema: str) -> frozenset:
    if BENCH_SCHEMA_RE.match(schema) is None and schema != settings.TENANT_BASE_SCHEMA:
        raise ValueError(f"refusing to query unexpected schema {schema!r}")
    query = sql.SQL("SELECT app, name FROM {}.django_migrations").format(sql.Identifier(schema))
    return frozenset(_rows(query.as_string(), []))


def index_names(schema: str) -> frozenset:
    return frozenset(_rows("SELECT tablename, indexname FROM pg_indexes WHERE schemaname = %s", [schema]))


def structure_check(schema: str, template: dict[str, frozenset], template_migrations: frozenset) -> None:
    """Raise unless ``schema`` holds what the template holds."""
    got = schema_structure(schema)
    problems = []
    for kind, expected in template.items():
        if got[kind] != expected:
            missing = sorted(map(str, expected - got[kind]))
            extra = sorted(map(str, got[kind] - expected))
            problems.append(f"{kind}: missing {missing[:10]} extra {extra[:10]}")
    if not got["tables"]:
        problems.append("no tables at all")
    if not problems and applied_migrations(schema) != template_migrations:
        problems.append("applied migrations (django_migrations) differ from the template's")
    if problems:
        raise RuntimeError(f"schema {schema} does not match {settings.TENANT_BASE_SCHEMA}: " + "; ".join(problems))


def schema_create_timed(schema: str, clone: bool, created: list[str]) -> float:
    customer = Customer(name=f"Bench {schema}", slug=schema.replace("_", "-"), schema_name=schema)
    customer.save()  # auto_create_schema is False: the row only
    created.append(schema)
    with override_settings(TENANT_CREATION_FAKES_MIGRATIONS=clone):
        started = time.perf_counter()
        customer.create_schema(check_if_exists=False, verbosity=0)
        elapsed = time.perf_counter() - started
    connection.set_schema_to_public()
    return elapsed * 1000


def onboard_timed(schema: str, created: list[str]) -> float:
    slug = schema.replace("_", "-")
    created.append(schema)
    started = time.perf_counter()
    customer_onboard(actor=Actor.system("bench"), name=f"Bench {slug}", slug=slug)
    elapsed = time.perf_counter() - started
    connection.set_schema_to_public()
    return elapsed * 1000


def cleanup(schemas: list[str]) -> None:
    """Drop what this run created; each step on its own so one failure does not leave the rest behind."""
    try:
        connection.set_schema_to_public()
    except Exception as exc:  # a broken connection: start a fresh one
        print(f"cleanup: resetting connection ({exc})", file=sys.stderr)
        connection.close()
    for schema in schemas:
        if BENCH_SCHEMA_RE.match(schema) is None:
            print(f"cleanup: skipping unexpected schema name {schema!r}", file=sys.stderr)
            continue
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        except Exception as exc:
            print(f"cleanup: could not drop schema {schema}: {exc}", file=sys.stderr)
    try:
        customers = Customer.objects.filter(schema_name__in=schemas)
        ApiKey.objects.filter(customer__in=customers).delete()
        Domain.objects.filter(tenant__in=customers).delete()
        customers.delete()
    except Exception as exc:
        print(f"cleanup: could not delete customer rows: {exc}", file=sys.stderr)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile: an observed value, no interpolation."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=10, help="schemas created per method (default 10)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    parser.add_argument(
        "--allow-any-database",
        action="store_true",
        help="run even if the database name does not contain 'bench' (leaves rows in the public audit log)",
    )
    args = parser.parse_args()
    if args.n < 1:
        parser.error("--n must be at least 1")
    db_name = settings.DATABASES["default"]["NAME"]
    if "bench" not in db_name and not args.allow_any_database:
        parser.error(
            f"database {db_name!r} does not look like a bench database; onboarding writes append-only "
            "audit rows to public. Use a *bench* database or pass --allow-any-database."
        )

    created_db = database_ensure()
    started = time.perf_counter()
    call_command("migrate_all", verbosity=0, stdout=io.StringIO())
    print(
        f"setup: database {db_name} {'created' if created_db else 'exists'}, "
        f"migrate_all {time.perf_counter() - started:.1f}s"
    )
    template_name = settings.TENANT_BASE_SCHEMA
    template = schema_structure(template_name)
    template_migrations = applied_migrations(template_name)
    template_index_names = index_names(template_name)
    print(
        f"template {template_name}: {len(template['tables'])} tables, {len(template['indexes'])} indexes, "
        f"{len(template['triggers'])} triggers, {len(template_migrations)} applied migrations"
    )

    run_id = secrets.token_hex(3)
    created: list[str] = []
    times: dict[str, list[float]] = {m: [] for m in METHODS}
    renamed: dict[str, set[int]] = {m: set() for m in METHODS}  # index names differing from the template's
    try:
        for i in range(args.warmup + args.n):
            round_times = {
                "clone": schema_create_timed(f"bench_c_{i}_{run_id}", True, created),
                "migrate": schema_create_timed(f"bench_m_{i}_{run_id}", False, created),
                "onboard": onboard_timed(f"bench_o_{i}_{run_id}", created),
            }
            for method, schema in zip(METHODS, created[-3:], strict=True):
                structure_check(schema, template, template_migrations)
                renamed[method].add(len(template_index_names - index_names(schema)))
            if i >= args.warmup:
                for method, ms in round_times.items():
                    times[method].append(ms)
    finally:
        cleanup(created)

    summary = {
        m: {
            "median": statistics.median(v),
            "p90": percentile(v, 90),
            "min": min(v),
            "max": max(v),
        }
        for m, v in times.items()
    }
    ratio = summary["migrate"]["median"] / summary["clone"]["median"]
    print(f"\nschema creation, n={args.n} per method (+{args.warmup} warm-up round untimed), ms:")
    print(f"{'method':<9}{'median':>10}{'p90':>10}{'min':>10}{'max':>10}")
    for method, s in summary.items():
        print(f"{method:<9}{s['median']:>10.1f}{s['p90']:>10.1f}{s['min']:>10.1f}{s['max']:>10.1f}")
    print(f"ratio migrate/clone (median): {ratio:.2f}x")
    print(
        "structure: every schema matched the template (tables, columns, indexes, constraints, triggers, "
        "functions, sequences, applied migrations)"
    )
    for method, counts in renamed.items():
        if counts != {0}:
            print(
                f"note: {method}: {'/'.join(map(str, sorted(counts)))} of {len(template_index_names)} index "
                "names differ from the template's (same definitions, PostgreSQL default names)"
            )
    print(
        json.dumps(
            {
                "bench": "provision",
                "n": args.n,
                "tables": len(template["tables"]),
                "tenant_migrations": len(template_migrations),
                "clone_ms_median": round(summary["clone"]["median"], 1),
                "clone_ms_p90": round(summary["clone"]["p90"], 1),
                "migrate_ms_median": round(summary["migrate"]["median"], 1),
                "migrate_ms_p90": round(summary["migrate"]["p90"], 1),
                "onboard_ms_median": round(summary["onboard"]["median"], 1),
                "onboard_ms_p90": round(summary["onboard"]["p90"], 1),
                "ratio_migrate_over_clone": round(ratio, 2),
                "clone_index_names_renamed": max(renamed["clone"]),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
