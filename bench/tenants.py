"""Benchmark: one node at up to 2,000 customers (issue 10) -- what grows with the number of customer schemas.

Run from the repository root (PostgreSQL and Redis running)::

    DJANGO_DEBUG=1 .venv/bin/python bench/tenants.py --customers 2000 [--sample 8] [--requests 200]

Uses its own database ``mdr_bench_tenants`` (created if missing, migrated with ``manage.py migrate_all``), Redis
db 8 and the dramatiq namespace ``mdr-bench-capacity`` (flushed around each measurement), so nothing real is
touched. Resumable: the fleet (customers ``cap-00001`` ...) is kept, a rerun only onboards what is missing, and
the figures taken early in a run (at 10 and 20 customers) are kept in ``public.bench_capacity_figures`` of the
bench database and reused (said so in the output) unless ``--remeasure-early``.

Every fleet customer is made by the real onboarding service (``tenants.services.customer_onboard``: template
clone, domain, admin, placeholder contract, ingest key, audit) and then furnished: an SLA policy (4 priorities),
a new contract version referring to it, published; 20 alerts and 2 incidents (set-based SQL), 2 SLA timers
(``timer_start``: rows in the public due-work and timer indexes, due in 15+ days) and 5 processed outbox rows
(history in the public outbox).

Measures, printing figures and as the last line one JSON object:

1. provisioning: ``--sample`` probe customers onboarded one after another at 10 existing customers and again at
   the end at N existing (``customer_onboard`` timed, then furnishing timed on its own); the probes are dropped
   again, so the fleet stays at N. Goal: median at N <= 1.5x median at 10.
2. ``migrate_schemas --tenant`` with nothing to apply: the standard executor vs the subprocess executor
   (``--parallel 2``), at 20 customers (complete runs) and at N. At N a run is cut off after
   ``--migrate-cap`` seconds and the total is extrapolated from the schemas done (labelled ``extrapolated``).
3. API p95: ``GET /api/v1/alerts`` of customer ``cap-00001`` with a read key, through a real gunicorn with
   production settings (DEBUG off, 2 workers x 4 threads), ``--requests`` requests in a row, at 20 customers
   and at N. Goal: p95 at N <= 1.2x p95 at 20.
4. the SLA due-work sweep (``due_work_sweep``), the fan-out (``due_work_dispatch``) and the outbox relay
   (``outbox_relay``) with the same due work (500 due rows and 500 pending outbox rows in 20 customers) at 20
   and at N customers (whose future due-work rows and outbox history sit in the same tables). Median of 5 rounds.
   Goal: cost follows due work, not customer count (within 1.5x).
5. ``pg_dump -n`` of one fleet customer and ``DROP SCHEMA ... CASCADE`` of one probe customer (same data) at
   10 and at N; the locks the drop holds (``pg_locks`` before commit), ``max_locks_per_transaction`` and the
   lock table size.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "mdr_bench_tenants"
REDIS_DB = 8
os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
os.environ["REDIS_URL"] = f"redis://127.0.0.1:6379/{REDIS_DB}"
os.environ["MDR_DRAMATIQ_NAMESPACE"] = "mdr-bench-capacity"
os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mdr.settings")
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from benchdb import database_prepare  # noqa: E402
from psycopg import sql  # noqa: E402

PREFIX = "cap-"
PROBE_PREFIX = "capprobe-"
MEASURED_SLUG = "cap-00001"
TEMPLATE = "tenant_template"  # settings.TENANT_BASE_SCHEMA (checked after django.setup())
DUE_ROWS = 500
OUTBOX_ROWS = 500
JOB_ROUNDS = 5
GOAL_PROVISION = 1.5
GOAL_API = 1.2
GOAL_JOBS = 1.5
GOAL_MIGRATE_S = 600
DSN = f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"

ALERTS_SQL = """
INSERT INTO {schema}.alerts_alert (
    id, dedup_key, source_format, source_product, source_vendor, external_id, title, description, severity_id,
    severity_raw, category, rule_id, rule_name, tactics, techniques, observed_at, received_at, hosts, ips, users,
    cloud_provider, cloud_account, cloud_region, raw, occurrence_count, first_seen_at, last_seen_at, status,
    scope_status, scope_reason, criticality, remediation_allowed, contract_version_id, in_coverage, priority,
    incident_id, api_key_public_id, processed_at, assignee, classification, acknowledged_at, closed_at)
SELECT md5(%(tag)s || i)::uuid, 'cap' || i, 'suricata', 'Suricata', '', 'ext-' || i,
    'Capacity bench alert ' || i, 'desc', 1 + i %% 6, '', 'network', 'R-' || i, 'Rule ' || i,
    ARRAY['TA0001'], ARRAY['T1059'], now() - i * interval '1 hour', now() - i * interval '1 hour',
    ARRAY['host-' || (i %% 5)], ARRAY[('10.0.0.' || (1 + i))::inet], ARRAY['user' || (i %% 3)], '', '', '',
    jsonb_build_object('event_id', i), 1, now() - i * interval '1 hour', now() - i * interval '1 hour',
    CASE WHEN i %% 4 = 0 THEN 'closed' ELSE 'new' END, 'in_scope', '', 'medium', false, NULL, true,
    (ARRAY['P1','P2','P3','P4'])[1 + i %% 4], NULL, '', now(), '', '', NULL, NULL
FROM generate_series(0, 19) AS i
"""

INCIDENTS_SQL = """
INSERT INTO {schema}.incidents_incident (id, title, state, severity_id, priority, correlation_rule, correlation_key,
    first_alert_at, last_alert_at, alert_count, customer_summary, created_at, updated_at)
SELECT md5(%(tag)s || 'i' || j)::uuid, 'Capacity bench incident ' || j, 'investigating', 4, 'P2', '', '',
    now() - j * interval '1 hour', now() - j * interval '1 hour', 5, '', now(), now()
FROM generate_series(0, 1) AS j
"""

database_prepare(DB_NAME)

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

from mdr.accounts.services import apikey_create  # noqa: E402
from mdr.alerts.services import TOPIC_PROCESS  # noqa: E402
from mdr.audit.services import Actor  # noqa: E402
from mdr.jobs.models import DueWork, OpenRequestIndex, Outbox, TimerIndex  # noqa: E402
from mdr.jobs.services import due_work_dispatch, due_work_sweep, outbox_relay  # noqa: E402
from mdr.scope.selectors import contract_current  # noqa: E402
from mdr.scope.services import version_draft_create, version_publish  # noqa: E402
from mdr.sla.calendar import BusinessCalendar  # noqa: E402
from mdr.sla.models import SlaPolicy  # noqa: E402
from mdr.sla.services import policy_create, timer_start  # noqa: E402
from tenants.models import ApiKey, Customer, Domain  # noqa: E402
from tenants.services import customer_onboard, provider_ensure  # noqa: E402

ACTOR = Actor.system("bench-capacity")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def redis_flush() -> None:
    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[int(p / 100 * (len(ordered) - 1))]


# --- figures kept between runs ------------------------------------------------------------------------------


def figures_load() -> dict:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS public.bench_capacity_figures "
            "(key text PRIMARY KEY, value jsonb NOT NULL, measured_at timestamptz NOT NULL DEFAULT now())"
        )
        cursor.execute("SELECT key, value FROM public.bench_capacity_figures")
        return {key: json.loads(value) if isinstance(value, str) else value for key, value in cursor.fetchall()}


def figure_save(key: str, value) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO public.bench_capacity_figures (key, value) VALUES (%s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, measured_at = now()",
            [key, json.dumps(value)],
        )


# --- the fleet ----------------------------------------------------------------------------------------------


def fleet_slugs() -> set[str]:
    return set(Customer.objects.filter(slug__startswith=PREFIX).values_list("slug", flat=True))


def customer_furnish(schema: str) -> None:
    """SLA policy, a published contract version using it, a little data; idempotent (skips a furnished one)."""
    with schema_context(schema):
        if SlaPolicy.objects.exists():
            return
        with transaction.atomic():
            goals = {"P1": 15, "P2": 60, "P3": 240, "P4": 1440}
            policy = policy_create(
                actor=ACTOR,
                name="Standard",
                targets=[{"priority": p, "metric": "acknowledge", "goal_minutes": g} for p, g in goals.items()],
            )
            draft = version_draft_create(actor=ACTOR, contract=contract_current(), terms={"sla_policy_id": policy.pk})
            version_publish(actor=ACTOR, version=draft, effective_date=datetime.now(ZoneInfo(draft.timezone)).date())
            with connection.cursor() as cursor:
                ident = sql.Identifier(schema)
                cursor.execute(
                    sql.SQL(ALERTS_SQL).format(schema=ident).as_string(connection.connection), {"tag": schema}
                )
                cursor.execute(
                    sql.SQL(INCIDENTS_SQL).format(schema=ident).as_string(connection.connection), {"tag": schema}
                )
            always = BusinessCalendar.always("Asia/Tokyo")
            now = timezone.now()
            for n in range(2):  # 30-day goals: the first warning (50%) is due in 15 days, never during the bench
                timer_start(
                    subject_type="alert",
                    subject_id=f"cap-{n}",
                    metric="acknowledge",
                    priority="P4",
                    goal_seconds=30 * 86400,
                    calendar=always,
                    at=now,
                    policy=policy,
                )
            Outbox.objects.bulk_create(
                Outbox(schema_name=schema, topic=TOPIC_PROCESS, payload={}, sent_at=now, processed_at=now)
                for _ in range(5)
            )


def onboard(slug: str) -> tuple[str, float, float]:
    """Onboard and furnish one customer; (schema, onboard ms, furnish ms)."""
    started = time.perf_counter()
    result = customer_onboard(actor=ACTOR, name=f"Capacity {slug}", slug=slug, language="en")
    onboard_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    customer_furnish(result.customer.schema_name)
    connection.set_schema_to_public()
    return result.customer.schema_name, onboard_ms, (time.perf_counter() - started) * 1000


def template_ddl() -> str:
    """The template schema as one DDL script (``pg_dump -s``, plus its ``django_migrations`` rows), for
    ``--fleet-copy replay``; session settings become ``SET LOCAL`` and the search path is left alone."""
    dump = ["pg_dump", "-h", "127.0.0.1", "-U", "postgres", "-n", TEMPLATE, DB_NAME]
    ddl = subprocess.run([*dump, "-s"], capture_output=True, text=True, check=True).stdout
    rows = subprocess.run(
        [*dump, "-a", "--inserts", "-t", f"{TEMPLATE}.django_migrations"], capture_output=True, text=True, check=True
    ).stdout
    lines = []
    for line in (ddl + rows).splitlines():
        if "set_config('search_path'" in line or line.startswith("\\"):  # psql meta-commands (\restrict)
            continue
        lines.append("SET LOCAL " + line[4:] if line.startswith("SET ") else line)
    return "\n".join(lines)


def create_schema_replay(ddl: str):
    """A stand-in for ``Customer.create_schema``: the template's DDL replayed under the new name (one schema's
    worth of work, whatever the size of the catalog), instead of django-tenants' ``clone_schema``."""
    pattern = re.compile(rf"\b{TEMPLATE}\b")

    def create_schema(self, check_if_exists=False, sync_schema=True, verbosity=1):
        if not re.fullmatch(r"cap_[0-9]{5}", self.schema_name):
            raise ValueError(f"replay is for fleet schemas only, not {self.schema_name}")
        with connection.cursor() as cursor:
            cursor.execute(pattern.sub(self.schema_name, ddl))
        return True

    return create_schema


def fleet_grow(target: int, deadline: float | None = None, copy: str = "clone") -> None:
    """Onboard fleet customers up to ``target``, or until ``deadline`` (time.monotonic()) passes. ``copy``:
    ``clone`` (the service as it is) or ``replay`` (the service with the schema copied by DDL replay)."""
    if copy == "replay":
        with mock.patch.object(Customer, "create_schema", create_schema_replay(template_ddl())):
            return fleet_grow(target, deadline)
    have = fleet_slugs()
    missing = [f"{PREFIX}{i:05d}" for i in range(1, target + 1) if f"{PREFIX}{i:05d}" not in have]
    if not missing:
        return
    log(f"fleet: {len(have)} customers, onboarding {len(missing)} more to reach {target}")
    started = time.perf_counter()
    for n, slug in enumerate(missing, 1):
        onboard(slug)
        if n % 50 == 0 or n == len(missing):
            rate = (time.perf_counter() - started) / n
            log(
                f"fleet: {len(have) + n} customers ({n}/{len(missing)} this run, {rate * 1000:.0f} ms each, "
                f"{rate * (len(missing) - n) / 60:.1f} min left)"
            )
        if deadline is not None and time.monotonic() > deadline:
            log(f"fleet: --provision-minutes reached at {len(have) + n} customers (target {target})")
            return


def fleet_check() -> int:
    """Furnish any fleet customer left unfurnished by an interrupted run; returns how many were."""
    fixed = 0
    for schema in Customer.objects.filter(slug__startswith=PREFIX).values_list("schema_name", flat=True):
        with schema_context(schema):
            furnished = SlaPolicy.objects.exists()
        if not furnished:
            customer_furnish(schema)
            fixed += 1
    connection.set_schema_to_public()
    return fixed


def customer_remove(customer: Customer) -> tuple[float, int]:
    """DROP SCHEMA CASCADE (timed) and the public rows of a probe customer; (drop ms, locks held by the drop)."""
    schema = customer.schema_name
    if not customer.slug.startswith(PROBE_PREFIX):
        raise ValueError(f"refusing to remove {customer.slug}")
    connection.set_schema_to_public()
    with transaction.atomic():
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(
                sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)).as_string(connection.connection)
            )
            drop_ms = (time.perf_counter() - started) * 1000
            cursor.execute("SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid()")
            locks = cursor.fetchone()[0]
        for model in (DueWork, TimerIndex, OpenRequestIndex, Outbox):
            model.objects.filter(schema_name=schema).delete()
        ApiKey.objects.filter(customer=customer).delete()
        Domain.objects.filter(tenant=customer).delete()
        customer.delete()  # the schema is gone already (auto_drop_schema is off)
    return drop_ms, locks


def probes(label: str, k: int) -> dict:
    """Onboard ``k`` probe customers (timed), drop them again (the first drop timed with its locks)."""
    run = secrets.token_hex(2)
    onboard_ms, furnish_ms, made = [], [], []
    try:
        for j in range(k):
            slug = f"{PROBE_PREFIX}{label}-{run}-{j}"
            _, o, f = onboard(slug)
            made.append(slug)
            onboard_ms.append(o)
            furnish_ms.append(f)
    finally:
        drops = []
        for customer in Customer.objects.filter(slug__in=made):
            drops.append(customer_remove(customer))
    return {
        "existing": len(fleet_slugs()),
        "onboard_ms": [round(v, 1) for v in onboard_ms],
        "onboard_ms_median": round(statistics.median(onboard_ms), 1),
        "furnish_ms_median": round(statistics.median(furnish_ms), 1),
        "drop_schema_ms": round(drops[0][0], 1),
        "drop_schema_ms_median": round(statistics.median(d[0] for d in drops), 1),
        "drop_locks": drops[0][1],
    }


# --- API p95 ------------------------------------------------------------------------------------------------


def read_key(figures: dict) -> str:
    if "read_key" in figures:
        return figures["read_key"]
    customer = Customer.objects.get(slug=MEASURED_SLUG)
    key = apikey_create(actor=ACTOR, customer=customer, name="capacity bench read key", scopes=["read"]).plaintext
    figure_save("read_key", key)
    figures["read_key"] = key
    return key


def api_p95(key: str, requests: int) -> dict:
    import http.client

    from tests.live import start_web

    domain = Customer.objects.get(slug=MEASURED_SLUG).get_primary_domain().domain
    env = dict(
        os.environ,
        DJANGO_DEBUG="0",
        MDR_STATIC_FROM_FINDERS="1",
        DJANGO_SECURE_COOKIES="0",
        DJANGO_SECURE_SSL_REDIRECT="0",  # plain http on the loopback
        SECRET_KEY="bench-capacity-only-" + "k" * 40,
        MDR_ENCRYPTION_KEYS="YmVuY2gtcG9ydGFsLW9ubHktZW5jcnlwdGlvbi1rZXk=",
    )
    web, port = start_web(env, Path(tempfile.mkdtemp(prefix="mdr-bench-capacity-")), workers=2, threads=4)
    headers = {"Host": domain, "Authorization": f"Bearer {key}"}

    def get() -> float:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        started = time.perf_counter()
        conn.request("GET", "/api/v1/alerts?limit=20", headers=headers)
        response = conn.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        conn.close()
        if response.status != 200:
            raise SystemExit(f"GET /api/v1/alerts: HTTP {response.status}: {body[:300]!r}")
        return elapsed

    try:
        for _ in range(10):  # warm both workers
            get()
        times = [get() for _ in range(requests)]
    finally:
        web.stop()
    return {"p50_ms": round(statistics.median(times), 1), "p95_ms": round(pct(times, 95), 1), "n": requests}


# --- sweep and relay ----------------------------------------------------------------------------------------


def jobs_measure() -> dict:
    """The same due work (in the 20 first fleet customers) through the real sweep, fan-out and relay."""
    schemas = [f"{PREFIX}{i:05d}".replace("-", "_") for i in range(1, 21)]
    redis_flush()
    pg = psycopg.connect(DSN, autocommit=True)
    try:
        # Anything else due now (nothing expected) goes first, untimed; pending outbox rows become history.
        due_work_sweep(limit=100_000)
        pg.execute("UPDATE jobs_outbox SET processed_at = now() WHERE processed_at IS NULL")
        pg.execute("VACUUM ANALYZE jobs_duework")
        pg.execute("VACUUM ANALYZE jobs_outbox")
        sweep, dispatch, relay = [], [], []
        extra = 0
        for _ in range(JOB_ROUNDS):
            due_work_sweep(limit=100_000)  # whatever else fell due since, untimed: the timed sweep sees ours
            pg.execute(
                "INSERT INTO jobs_duework (schema_name, kind, ref, due_at, created_at) "
                "SELECT (%s::text[])[1 + i %% 20], 'sla_timer_due', 'capbench-' || i, "
                "now() - interval '1 minute', now() FROM generate_series(0, %s - 1) AS i",
                [schemas, DUE_ROWS],
            )
            items = [[schemas[i % 20], "sla_timer_due", f"capbench-{i}"] for i in range(DUE_ROWS)]
            started = time.perf_counter()
            fired = due_work_sweep(limit=20_000)
            sweep.append((time.perf_counter() - started) * 1000)
            left = pg.execute("SELECT count(*) FROM jobs_duework WHERE ref LIKE 'capbench-%%'").fetchone()[0]
            if fired < DUE_ROWS or left:
                raise SystemExit(f"the sweep fired {fired} rows ({left} of the bench's left), expected {DUE_ROWS}")
            extra += fired - DUE_ROWS  # other work that fell due meanwhile (e.g. a health rollup refresh)
            started = time.perf_counter()
            due_work_dispatch(items=items)
            dispatch.append((time.perf_counter() - started) * 1000)
            pg.execute(
                "INSERT INTO jobs_outbox (schema_name, topic, payload, created_at, attempts, last_error) "
                "SELECT (%s::text[])[1 + i %% 20], %s, '{\"capbench\": true}'::jsonb, now() - interval '1 hour', 0, '' "
                "FROM generate_series(0, %s - 1) AS i",
                [schemas, TOPIC_PROCESS, OUTBOX_ROWS],
            )
            started = time.perf_counter()
            result = outbox_relay(limit=OUTBOX_ROWS)
            relay.append((time.perf_counter() - started) * 1000)
            if result.sent != OUTBOX_ROWS:
                raise SystemExit(f"the relay sent {result.sent} rows, expected {OUTBOX_ROWS}")
            pg.execute("DELETE FROM jobs_outbox WHERE payload @> '{\"capbench\": true}'")  # same table each round
            redis_flush()
        counts = pg.execute(
            "SELECT (SELECT count(*) FROM jobs_duework), (SELECT count(*) FROM jobs_timerindex), "
            "(SELECT count(*) FROM jobs_outbox)"
        ).fetchone()
    finally:
        pg.close()
    return {
        "sweep_ms": round(statistics.median(sweep), 2),
        "dispatch_ms": round(statistics.median(dispatch), 2),
        "relay_ms": round(statistics.median(relay), 2),
        "other_due_rows_swept": extra,
        "duework_rows": counts[0],
        "timerindex_rows": counts[1],
        "outbox_rows": counts[2],
    }


# --- migrate_schemas ----------------------------------------------------------------------------------------


def migrate_run(executor: str, parallel: int | None, cap_s: float) -> dict:
    """``migrate_schemas --tenant`` with nothing to apply; cut off after ``cap_s`` and extrapolated if so."""
    total = Customer.objects.exclude(schema_name="public").count()
    cmd = [sys.executable, "manage.py", "migrate_schemas", "--tenant", "--noinput", f"--executor={executor}"]
    if parallel:
        cmd.append(f"--parallel={parallel}")
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    done = [0]
    applied = [0]
    tail: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            if "No migrations to apply" in line:
                done[0] += 1
            elif "Applying " in line:
                applied[0] += 1
            tail.append(line)
            del tail[:-20]

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        proc.wait(timeout=cap_s)
        capped = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()
        capped = True
    elapsed = time.perf_counter() - started
    reader.join(timeout=5)
    if not capped and proc.returncode:
        raise SystemExit(f"migrate_schemas --executor={executor} failed:\n{''.join(tail)}")
    if applied[0]:
        raise SystemExit(f"migrate_schemas applied {applied[0]} migrations: the bench wants nothing to apply")
    out = {
        "executor": executor,
        "parallel": parallel,
        "schemas": total,
        "schemas_done": done[0],
        "seconds": round(elapsed, 1),
        "capped": capped,
    }
    if done[0] == 0:
        out["total_seconds"] = None
    else:
        out["total_seconds"] = round(elapsed * total / done[0], 1) if capped else round(elapsed, 1)
    out["per_schema_ms"] = round(elapsed * 1000 / max(done[0], 1), 1)
    return out


# --- pg_dump and locks --------------------------------------------------------------------------------------


def pg_dump_one(schema: str) -> dict:
    target = Path(tempfile.mkdtemp(prefix="mdr-bench-capacity-")) / f"{schema}.dump"
    cmd = ["pg_dump", "-h", "127.0.0.1", "-U", "postgres", "-n", schema, "-Fc", "-f", str(target), DB_NAME]
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    size = target.stat().st_size if target.exists() else 0
    target.unlink(missing_ok=True)
    return {"ok": done.returncode == 0, "seconds": round(elapsed, 2), "bytes": size, "error": done.stderr[-300:]}


def lock_settings(schema: str) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('max_locks_per_transaction')::int, current_setting('max_connections')::int, "
            "current_setting('max_prepared_transactions')::int"
        )
        mlpt, conns, prepared = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FILTER (WHERE c.relkind IN ('r', 'p')), count(*) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s",
            [schema],
        )
        tables, relations = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM pg_class")
        catalog = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM pg_namespace")
        namespaces = cursor.fetchone()[0]
    return {
        "max_locks_per_transaction": mlpt,
        "max_connections": conns,
        "max_prepared_transactions": prepared,
        "lock_table_slots": mlpt * (conns + prepared),
        "schema_tables": tables,
        "schema_relations": relations,
        "pg_class_rows": catalog,
        "pg_namespace_rows": namespaces,
    }


# --- main ---------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--sample", type=int, default=8, help="probe onboardings at 10 and at N (default 8)")
    parser.add_argument("--requests", type=int, default=200, help="API requests per measurement (default 200)")
    parser.add_argument("--migrate-cap", type=float, default=240.0, help="seconds per migrate run at N (default 240)")
    parser.add_argument("--remeasure-early", action="store_true", help="measure at 10/20 again (fleet must be <= 20)")
    parser.add_argument(
        "--provision-minutes", type=float, default=None, help="stop growing the fleet after this long (then measure)"
    )
    parser.add_argument(
        "--fleet-copy",
        choices=["clone", "replay"],
        default="clone",
        help="how fleet customers past 20 get their schema: clone (customer_onboard as is) or replay (customer_onboard "
        "with create_schema replaced by a DDL replay of the template: onboarding probes always clone)",
    )
    parser.add_argument("--sample-late", type=int, default=None, help="probe onboardings at N (default --sample)")
    parser.add_argument(
        "--executors",
        default="subprocess:2,standard",
        help="migrate_schemas executors measured at N, comma-separated, :P for --parallel "
        "(default subprocess:2,standard; also multiprocessing, which forks TENANT_MULTIPROCESSING_MAX_PROCESSES=2)",
    )
    parser.add_argument(
        "--migrate-only", action="store_true", help="only the migrate_schemas runs at the current fleet size"
    )
    parser.add_argument("--skip-late", action="store_true", help="grow the fleet only (resumable provisioning)")
    args = parser.parse_args()
    if args.customers < 20:
        parser.error("--customers must be at least 20")

    executors = []
    for spec in args.executors.split(","):
        name, _, parallel = spec.strip().partition(":")
        if name not in ("standard", "subprocess", "multiprocessing"):
            parser.error(f"unknown executor {name!r}")
        executors.append((name, int(parallel) if parallel else None))

    provider_ensure()
    if args.migrate_only:
        runs = [migrate_run(name, parallel, args.migrate_cap) for name, parallel in executors]
        for m in runs:
            log(f"migrate at {len(fleet_slugs())}: {m}")
        print(json.dumps({"bench": "tenants", "customers": len(fleet_slugs()), "migrate_at_n": runs}))
        return
    figures = figures_load()
    fixed = fleet_check()
    log(f"fleet: {len(fleet_slugs())} customers at start ({fixed} furnished after an interrupted run)")

    early_keys = ("provision_at_10", "api_at_20", "jobs_at_20", "migrate_at_20")
    if args.remeasure_early or not all(k in figures for k in early_keys):
        if len(fleet_slugs()) > 20:
            raise SystemExit("early figures missing but the fleet has more than 20 customers: use a fresh database")
        fleet_grow(10)
        log(f"probes at 10 existing: onboarding {args.sample} ...")
        figures["provision_at_10"] = probes("a", args.sample)
        figure_save("provision_at_10", figures["provision_at_10"])
        log(f"  {figures['provision_at_10']}")
        fleet_grow(20)
        key = read_key(figures)
        figures["api_at_20"] = api_p95(key, args.requests)
        figure_save("api_at_20", figures["api_at_20"])
        log(f"API at 20: {figures['api_at_20']}")
        figures["jobs_at_20"] = jobs_measure()
        figure_save("jobs_at_20", figures["jobs_at_20"])
        log(f"jobs at 20: {figures['jobs_at_20']}")
        figures["migrate_at_20"] = [migrate_run("standard", None, 600), migrate_run("subprocess", 2, 600)]
        figure_save("migrate_at_20", figures["migrate_at_20"])
        log(f"migrate at 20: {figures['migrate_at_20']}")
    else:
        log("early figures (10/20 customers) reused from an earlier run (public.bench_capacity_figures)")

    started = time.perf_counter()
    from django.conf import settings

    if settings.TENANT_BASE_SCHEMA != TEMPLATE:
        raise SystemExit(f"the bench expects the template schema {TEMPLATE}, not {settings.TENANT_BASE_SCHEMA}")
    if args.fleet_copy == "replay" and "fleet_cloned_upto" not in figures:  # where the first replay run began
        figures["fleet_cloned_upto"] = len(fleet_slugs())
        figure_save("fleet_cloned_upto", figures["fleet_cloned_upto"])
    if args.fleet_copy == "replay":
        log(
            f"fleet: customers past {figures['fleet_cloned_upto']} got their schema by DDL replay (--fleet-copy replay)"
        )
    deadline = time.monotonic() + args.provision_minutes * 60 if args.provision_minutes else None
    fleet_grow(args.customers, deadline, args.fleet_copy)
    log(f"fleet at {len(fleet_slugs())} customers ({time.perf_counter() - started:.0f}s this run)")
    if args.skip_late:
        return

    n = len(fleet_slugs())
    late = probes("z", args.sample_late or args.sample)
    log(f"probes at {n} existing: {late}")
    measured_schema = MEASURED_SLUG.replace("-", "_")
    dump = pg_dump_one(measured_schema)
    log(f"pg_dump -n {measured_schema}: {dump}")
    locks = lock_settings(measured_schema)
    log(f"locks: {locks}")
    api = api_p95(read_key(figures), args.requests)
    log(f"API at {n}: {api}")
    jobs = jobs_measure()
    log(f"jobs at {n}: {jobs}")
    migrate = [migrate_run(name, parallel, args.migrate_cap) for name, parallel in executors]
    log(f"migrate at {n}: {migrate}")

    early = figures
    p10 = early["provision_at_10"]
    ratio_provision = round(late["onboard_ms_median"] / p10["onboard_ms_median"], 2)
    ratio_api = round(api["p95_ms"] / early["api_at_20"]["p95_ms"], 2)
    ratio_jobs = {k: round(jobs[k] / early["jobs_at_20"][k], 2) for k in ("sweep_ms", "dispatch_ms", "relay_ms")}

    def verdict(ok: bool) -> str:
        return "goal met" if ok else "GOAL MISSED"

    print()
    print(f"capacity at {n} customers (early baselines at {p10['existing']} / 20 customers)")
    if figures.get("fleet_cloned_upto"):
        print(
            f"   fleet: customers 1-{figures['fleet_cloned_upto']} onboarded with clone_schema, the rest with the "
            "template's DDL replayed (--fleet-copy replay); every timed onboarding probe used clone_schema"
        )
    print(
        f"1. onboarding (customer_onboard, median of {args.sample}): {p10['onboard_ms_median']:.0f} ms at "
        f"{p10['existing']} vs {late['onboard_ms_median']:.0f} ms at {late['existing']}: {ratio_provision}x "
        f"(goal <= {GOAL_PROVISION}x: {verdict(ratio_provision <= GOAL_PROVISION)}); furnishing "
        f"{p10['furnish_ms_median']:.0f} vs {late['furnish_ms_median']:.0f} ms"
    )
    for m in early["migrate_at_20"] + migrate:
        label = "extrapolated from " if m["capped"] else ""
        print(
            f"2. migrate_schemas --tenant --executor={m['executor']}"
            f"{' --parallel=' + str(m['parallel']) if m['parallel'] else ''}, {m['schemas']} schemas, nothing to "
            f"apply: {m['total_seconds']} s ({label}{m['schemas_done']} schemas in {m['seconds']} s, "
            f"{m['per_schema_ms']} ms/schema)"
        )
    deploy = min((m for m in migrate if m["total_seconds"]), key=lambda m: m["total_seconds"], default=None)
    if deploy:
        print(
            f"   fastest at {n}: {deploy['executor']} {deploy['total_seconds']} s "
            f"(goal < {GOAL_MIGRATE_S} s: {verdict(deploy['total_seconds'] < GOAL_MIGRATE_S)})"
        )
    print(
        f"3. GET /api/v1/alerts p95: {early['api_at_20']['p95_ms']} ms at 20 vs {api['p95_ms']} ms at {n}: "
        f"{ratio_api}x (goal <= {GOAL_API}x: {verdict(ratio_api <= GOAL_API)})"
    )
    for k, r in ratio_jobs.items():
        print(
            f"4. {k[:-3]}, {DUE_ROWS} rows: {early['jobs_at_20'][k]} ms at 20 vs {jobs[k]} ms at {n}: {r}x "
            f"(goal <= {GOAL_JOBS}x: {verdict(r <= GOAL_JOBS)})"
        )
    print(
        f"   background rows at {n}: duework {jobs['duework_rows']}, timerindex {jobs['timerindex_rows']}, "
        f"outbox {jobs['outbox_rows']}"
    )
    print(
        f"5. pg_dump -n {measured_schema}: {'ok' if dump['ok'] else 'FAILED ' + dump['error']} in "
        f"{dump['seconds']} s ({dump['bytes']} bytes); DROP SCHEMA CASCADE of one customer: "
        f"{late['drop_schema_ms']} ms at {n} (vs {p10['drop_schema_ms']} ms at {p10['existing']}), holding "
        f"{late['drop_locks']} locks; max_locks_per_transaction={locks['max_locks_per_transaction']} "
        f"(lock table {locks['lock_table_slots']} slots); {locks['schema_relations']} relations per schema, "
        f"{locks['pg_class_rows']} pg_class rows in all"
    )
    result = {
        "bench": "tenants",
        "customers": n,
        "provision_at_10": p10,
        "provision_at_n": late,
        "fleet_cloned_upto": figures.get("fleet_cloned_upto"),
        "fleet_copy": args.fleet_copy,
        "ratio_provision": ratio_provision,
        "migrate_at_20": early["migrate_at_20"],
        "migrate_at_n": migrate,
        "api_at_20": early["api_at_20"],
        "api_at_n": api,
        "ratio_api_p95": ratio_api,
        "jobs_at_20": early["jobs_at_20"],
        "jobs_at_n": jobs,
        "ratio_jobs": ratio_jobs,
        "pg_dump": {k: v for k, v in dump.items() if k != "error" or not dump["ok"]},
        "locks": locks,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
