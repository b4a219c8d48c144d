"""Benchmark: alert ingestion over HTTP against a real gunicorn server, with baselines measured in the same run.

Run from the repository root (PostgreSQL and Redis must answer; the database is created if missing)::

    .venv/bin/python bench/ingest.py --batches 20 --singles 2000 --concurrency 4

Uses its own database ``mdr_bench_ingest`` (``DATABASE_URL`` from the environment supplies the server part only),
Redis database 14 and the dramatiq namespace ``mdr-bench``, so demo and test data are never touched. Customer
``benchco`` is onboarded on the first run; later runs issue it a fresh ingest key. Its alerts and its outbox rows
are emptied before measuring, so runs are comparable.

The server is ``gunicorn mdr.wsgi:application --workers 2 --worker-class sync`` with production settings
(``DJANGO_DEBUG=0``), ``MDR_BENCH_INSTRUMENT=1`` (query counters in response headers, ``/bench/noop``) and the
ingest rate limit lifted. No dramatiq worker runs: processing messages just queue in Redis db 14, flushed at the
start and at the end.

Alerts are built from the real samples in ``../shared/samples`` (every format, CEF lines included, round robin).
Each sample is normalised once with the project's adapters and re-posted in the ``native`` format built from its
normalised fields, with a unique ``id`` per copy and the original sample nested under ``raw`` (so payload sizes stay
realistic); about 10 % of every batch repeats an earlier item of the run (duplicates).

Measures:

a. batch ingest: ``--batches`` POSTs of 1,000 items from ``--concurrency`` client threads; alerts/s = items
   accepted (created + duplicate) / wall time;
b. the ceiling: psycopg ``COPY`` of the same normalised rows (built like ``alert_ingest`` builds them, with fresh ids
   and dedup keys) straight into ``<schema>.alerts_alert``, 1,000 rows per transaction from as many threads and
   connections; a and b run interleaved, round by round;
c. single-alert POSTs (``--singles``, one JSON object each) against ``POST /bench/noop`` on the same server with the
   same client and bodies, interleaved chunk by chunk: requests/s, p50/p99 latency. /bench/noop is a plain Django
   view, so its POSTs carry a CSRF cookie and the matching header (without them CsrfViewMiddleware answers 403);
   gunicorn's sync workers close every connection, so each request of either kind opens a new one;
d. statements per request for 1-, 100- and 1,000-item POSTs, from the response headers: ``X-MDR-Queries`` (SQL run
   through Django's cursor; django-tenants' ``SET search_path`` goes through it too, so it is included) and
   ``X-MDR-Search-Path-Sets``. ``COPY`` runs on the raw psycopg cursor and is not counted: add one.

``--profile`` also shows where a request's time goes, in-process (Django test client): the statements of one
single-alert POST with their times, mean times per request, and cProfile of single-alert and 1,000-item POSTs.
Prints readable figures, then as the last line one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import http.client
import io
import json
import logging
import math
import os
import pstats
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import sysconfig
import threading
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = "mdr_bench_ingest"
SLUG = "benchco"
BASE_DOMAIN = "bench.test"
REDIS_DB = 14
SAMPLES = Path(os.environ.get("MDR_SAMPLES_DIR", ROOT.parent / "shared" / "samples"))
BATCH_SIZE = 1000
DUPLICATE_FRACTION = 0.10
QUERY_SIZES = (1, 100, 1000)
# /bench/noop is a plain Django view, so CsrfViewMiddleware guards its POSTs (403 without a token): the baseline
# requests carry a CSRF cookie and the matching header, as any browser form POST to Django does.
_CSRF = secrets.token_hex(16)
NOOP_HEADERS = {"Cookie": f"csrftoken={_CSRF}", "X-CSRFToken": _CSRF}


def _url_with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


DATABASE_URL = _url_with_path(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mdr"), f"/{DB_NAME}")
REDIS_URL = _url_with_path(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), f"/{REDIS_DB}")
# What the server (and this process, for its small Django steps) runs with: production settings.
SERVER_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECURE_SSL_REDIRECT": "0",  # plain http on the loopback
    "SECRET_KEY": os.environ.get("MDR_BENCH_SECRET_KEY") or secrets.token_urlsafe(48),
    "MDR_ENCRYPTION_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "MDR_DRAMATIQ_NAMESPACE": "mdr-bench",
    "MDR_BASE_DOMAIN": BASE_DOMAIN,
    "DJANGO_ALLOWED_HOSTS": f"{BASE_DOMAIN},.{BASE_DOMAIN}",
    "MDR_BENCH_INSTRUMENT": "1",
    "MDR_INGEST_RATE_PER_SECOND": "1000000",
    "MDR_INGEST_BURST": "1000000",
    "DJANGO_SETTINGS_MODULE": "mdr.settings",
}
os.environ.update(SERVER_ENV)

import django  # noqa: E402  (Django must be configured before the project's modules are imported)

django.setup()

import orjson  # noqa: E402
import psycopg  # noqa: E402
import redis  # noqa: E402
from django.db import connection  # noqa: E402
from psycopg import sql  # noqa: E402

from mdr.alerts.adapters import REGISTRY, AdapterError, NormalizedAlert, normalize  # noqa: E402
from mdr.alerts.adapters.base import dedup_from_id  # noqa: E402
from mdr.alerts.parsing import RawItem  # noqa: E402
from mdr.alerts.services import STAGE_COLUMNS, _raw_json, _uuid7  # noqa: E402

STAGE_NAMES = [c for c, _ in STAGE_COLUMNS]
# The columns alert_ingest's INSERT fills with constants, and those constants (as Python values for COPY).
CONSTANT_COLUMNS = (
    ("status", "new"),
    ("scope_status", "pending"),
    ("priority", ""),
    ("scope_reason", ""),
    ("criticality", ""),
    ("remediation_allowed", False),
)


def log(message: str) -> None:
    print(message, flush=True)


# ---- setup -----------------------------------------------------------------------------------------------


def database_ensure() -> bool:
    """Create the bench database if missing (through the ``postgres`` maintenance database)."""
    with psycopg.connect(_url_with_path(DATABASE_URL, "/postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))
    return True


def manage(*args: str) -> str:
    env = {**os.environ, "DJANGO_DEBUG": "1"}
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def customer_ensure() -> tuple[str, str, str, str]:
    """(schema, domain, api key plaintext, how): onboard benchco, or issue it a fresh ingest key."""
    from mdr.accounts.services import apikey_create
    from mdr.audit.services import Actor
    from tenants.models import Customer, Domain

    customer = Customer.objects.filter(slug=SLUG).first()
    if customer is None:
        out = manage("onboard_customer", "--name", "Bench Co", "--slug", SLUG, "--json")
        data = json.loads(out.strip().splitlines()[-1])
        return data["schema"], data["domain"], data["api_key"], "onboarded"
    if not customer.is_active:
        raise RuntimeError(f"customer {SLUG} exists but is {customer.status}; drop database {DB_NAME} to start over")
    domain = Domain.objects.filter(tenant=customer, is_primary=True).values_list("domain", flat=True).first()
    issued = apikey_create(
        actor=Actor.system("bench:ingest"), customer=customer, name="bench ingest", scopes=["ingest"]
    )
    connection.close()
    return customer.schema_name, domain, issued.plaintext, "existing, fresh key"


def data_reset(schema: str) -> None:
    """Empty the customer's alerts and its outbox rows (and their failed jobs) so runs are comparable."""
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("TRUNCATE {}.alerts_alert").format(sql.Identifier(schema)))
        conn.execute("DELETE FROM public.jobs_failedjob WHERE schema_name = %s", [schema])
        conn.execute("DELETE FROM public.jobs_outbox WHERE schema_name = %s", [schema])
        conn.execute(sql.SQL("VACUUM ANALYZE {}.alerts_alert").format(sql.Identifier(schema)))


def redis_flush() -> None:
    redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).flushdb()


# ---- the server ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, port: int, log_path: Path):
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> None:
        gunicorn = Path(sys.executable).parent / "gunicorn"
        cmd = [str(gunicorn), "mdr.wsgi:application", "--bind", f"127.0.0.1:{self.port}"]
        cmd += ["--workers", "2", "--worker-class", "sync"]
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ), stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer /healthz within {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()  # the master stops its workers
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""


# ---- alerts from the samples -----------------------------------------------------------------------------


def samples_load() -> tuple[dict[str, list[tuple[object, NormalizedAlert]]], dict[str, int]]:
    """Every sample normalised once with its format's adapter: {format: [(raw, normalised)]}, and skips."""
    if not SAMPLES.is_dir():
        raise SystemExit(f"samples not found at {SAMPLES} (set MDR_SAMPLES_DIR)")
    loaded: dict[str, list[tuple[object, NormalizedAlert]]] = {}
    skipped: dict[str, int] = {}
    for folder in sorted(p for p in SAMPLES.iterdir() if p.is_dir()):
        fmt = folder.name
        if fmt not in REGISTRY:
            continue
        line_format = REGISTRY[fmt].accepts == "line"
        for path in sorted(p for p in folder.iterdir() if p.is_file()):
            for line in path.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                raw = line if line_format else json.loads(line)
                try:
                    loaded.setdefault(fmt, []).append((raw, normalize(raw, fmt)))
                except AdapterError:
                    skipped[fmt] = skipped.get(fmt, 0) + 1
    return loaded, skipped


def native_item(fmt: str, raw: object, alert: NormalizedAlert, item_id: str, shift: timedelta) -> dict:
    """A ``native`` alert from a normalised sample: unique id, time moved by ``shift``, the sample under raw."""
    observed = min(alert.observed_at + shift, datetime.now(tz=UTC))
    item = {
        "id": item_id,
        "title": alert.title,
        "severity": alert.severity_id,
        "observed_at": observed.isoformat(),
        "description": alert.description,
        "category": alert.category,
        "hosts": alert.hosts,
        "ips": alert.ips,
        "users": alert.users,
        "rule": {"id": alert.rule_id, "name": alert.rule_name},
        "attack": {"tactics": alert.tactics, "techniques": alert.techniques},
        "source": {"product": alert.source_product, "vendor": alert.source_vendor},
        "raw": raw if isinstance(raw, dict) else {"format": fmt, "line": raw},
    }
    if alert.cloud_provider or alert.cloud_account or alert.cloud_region:
        item["cloud"] = {"provider": alert.cloud_provider, "account": alert.cloud_account, "region": alert.cloud_region}
    return item


class ItemFactory:
    """Round robin over formats (and over each format's samples); ``batch`` mixes in duplicates of earlier items."""

    def __init__(self, samples: dict[str, list[tuple[object, NormalizedAlert]]], run_id: str, seed: int = 7):
        self.samples = samples
        self.formats = sorted(samples)
        self.run_id = run_id
        self.rng = random.Random(seed)
        self.copies = dict.fromkeys(self.formats, 0)
        self.seq = 0
        self.pool: list[dict] = []  # every distinct item made so far, for duplicates

    def fresh(self) -> dict:
        fmt = self.formats[self.seq % len(self.formats)]
        n = self.copies[fmt]
        self.copies[fmt] += 1
        raw, alert = self.samples[fmt][n % len(self.samples[fmt])]
        copy_no = n // len(self.samples[fmt])
        item = native_item(fmt, raw, alert, f"bench-{self.run_id}-{self.seq:07d}", timedelta(seconds=copy_no))
        self.seq += 1
        self.pool.append(item)
        return item

    def batch(self, n: int, duplicate_fraction: float = DUPLICATE_FRACTION) -> list[dict]:
        first = 0 if self.pool else 1
        k = min(round(n * duplicate_fraction), max(0, n - first))
        duplicates = set(self.rng.sample(range(first, n), k)) if k else set()
        return [self.rng.choice(self.pool) if i in duplicates else self.fresh() for i in range(n)]


def stage_row(alert: NormalizedAlert, item: RawItem, received_at: datetime, api_key_public_id: str) -> list:
    """One row in STAGE_COLUMNS order, valued as alert_ingest values it (a first occurrence)."""
    special = {
        "id": _uuid7(),
        "received_at": received_at,
        "raw": _raw_json(alert, item),
        "occurrence_count": 1,
        "first_seen_at": alert.observed_at,
        "last_seen_at": alert.observed_at,
        "api_key_public_id": api_key_public_id,
    }
    return [special[name] if name in special else getattr(alert, name) for name in STAGE_NAMES]


def copy_rows(items: list[dict], run_id: str, start: int, public_id: str) -> list[list]:
    """The COPY ceiling's rows for one batch: the same normalised items, each under a fresh id and dedup key."""
    rows = []
    received_at = datetime.now(tz=UTC)
    dedup_at = STAGE_NAMES.index("dedup_key")
    for n, value in enumerate(items):
        alert = normalize(value)
        assert alert.source_format == "native", alert.source_format
        row = stage_row(alert, RawItem(index=n, value=value, dumped=orjson.dumps(value)), received_at, public_id)
        row[dedup_at] = dedup_from_id("native", "bench-copy", run_id, start + n)
        rows.append(row + [v for _, v in CONSTANT_COLUMNS])
    return rows


# ---- clients ---------------------------------------------------------------------------------------------


class HttpClient:
    """One client connection (keep-alive when the server allows it; gunicorn's sync workers close each one)."""

    def __init__(self, port: int, host: str, api_key: str):
        self.port = port
        self.headers = {"Host": host, "Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self.conn: http.client.HTTPConnection | None = None

    def post(self, path: str, body: bytes, extra: dict | None = None) -> tuple[int, dict[str, str], bytes, float]:
        headers = {**self.headers, **extra} if extra else self.headers
        started = time.perf_counter()
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
            try:
                self.conn.request("POST", path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()  # a kept-alive connection the server had closed: retry once on a new one
                if attempt == 2:
                    raise
                continue
            if response.will_close:
                self.close()
            headers = {k.lower(): v for k, v in response.getheaders()}
            return response.status, headers, data, time.perf_counter() - started
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def run_parallel(jobs: list, concurrency: int, make_state, work) -> tuple[list, float]:
    """Run ``work(state, job)`` for every job from ``concurrency`` threads (one ``make_state()`` each)."""
    results: list = [None] * len(jobs)
    errors: list[BaseException] = []
    lock = threading.Lock()
    position = iter(range(len(jobs)))
    states = [make_state() for _ in range(min(concurrency, len(jobs)))]  # connections opened before timing

    def loop(state) -> None:
        try:
            while True:
                with lock:
                    i = next(position, None)
                if i is None or errors:
                    return
                results[i] = work(state, jobs[i])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=loop, args=(s,)) for s in states]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    for state in states:
        state.close()
    if errors:
        raise errors[0]
    return results, wall


def http_parallel(port, host, key, jobs: list[tuple], concurrency: int) -> tuple[list, float]:
    return run_parallel(jobs, concurrency, lambda: HttpClient(port, host, key), lambda c, job: c.post(*job))


def copy_parallel(copy_sql: sql.Composed, chunks: list[list[list]], concurrency: int) -> float:
    def write(conn: psycopg.Connection, rows: list[list]) -> None:
        with conn.transaction(), conn.cursor() as cursor, cursor.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row(row)

    return run_parallel(chunks, concurrency, lambda: psycopg.connect(DATABASE_URL), write)[1]


def ingest_check(results: list, posted: list[list[dict]], seen_ids: set[str]) -> tuple[int, int]:
    """Every item accepted (created or duplicate); created = ids never posted before. Returns (created, dups)."""
    created = duplicates = 0
    expected = 0
    for (status, _headers, body, _s), items in zip(results, posted, strict=True):
        if status != 202:
            raise RuntimeError(f"ingest answered {status}: {body[:500]!r}")
        data = orjson.loads(body)
        if data["rejected"] or data["accepted"] + data["duplicates"] != len(items):
            raise RuntimeError(f"ingest rejected items: {str(data['rejected'])[:500]}")
        created += data["accepted"]
        duplicates += data["duplicates"]
        for item in items:
            if item["id"] not in seen_ids:
                seen_ids.add(item["id"])
                expected += 1
    if created != expected:
        raise RuntimeError(f"ingest created {created} alerts, expected {expected} (ids not posted before)")
    return created, duplicates


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile: an observed value, no interpolation."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


# ---- profile ---------------------------------------------------------------------------------------------


def profile_inprocess(domain: str, key: str, factory: ItemFactory) -> str:
    """Where a request's time goes, in this process (Django test client: every middleware, DRF, the service).

    Statements of one single-alert POST with their times; mean wall time per request without the profiler; then
    cProfile of single-alert POSTs and of 1,000-item POSTs (project code, psycopg and orjson lines only).
    """
    from django.test import Client

    # The server writes its log lines to its log file; here they go to /dev/null (formatted all the same).
    warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collectstatic in the checkout
    devnull = open(os.devnull, "w")  # noqa: SIM115  (closed below)
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    streams = [h.setStream(devnull) for h in handlers]
    client = Client(HTTP_HOST=domain, HTTP_AUTHORIZATION=f"Bearer {key}")
    singles = [orjson.dumps(item) for item in factory.batch(620)]
    batches = [orjson.dumps(factory.batch(BATCH_SIZE)) for _ in range(8)]

    def post(body: bytes, path: str = "/api/v1/alerts") -> None:
        response = client.post(path, data=body, content_type="application/json")
        assert response.status_code in (201, 202), response.content[:300]

    for body in singles[:20]:  # warm-up
        post(body)
    out = io.StringIO()
    statements: list[tuple[float, str]] = []

    def timed(execute, sql_text, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql_text, params, many, context)
        finally:
            statements.append((time.perf_counter() - started, " ".join(sql_text.split())[:100]))

    with connection.execute_wrapper(timed):
        post(singles[20])
    out.write("statements of one single-alert POST through Django's cursor (COPY, BEGIN, COMMIT not listed), ms:\n")
    out.writelines(f"  {seconds * 1000:6.2f}  {text}\n" for seconds, text in statements)

    def mean_ms(bodies: list[bytes], path: str = "/api/v1/alerts") -> float:
        started = time.perf_counter()
        for body in bodies:
            post(body, path)
        return (time.perf_counter() - started) / len(bodies) * 1000

    out.write(
        f"in-process mean per request, no profiler: single-alert POST {mean_ms(singles[21:321]):.2f} ms, "
        f"/bench/noop {mean_ms(singles[21:321], '/bench/noop'):.2f} ms, "
        f"1,000-item POST {mean_ms(batches[:4]):.1f} ms\n"
    )
    restrict = r"mdr/|tenants/|psycopg/(connection|_copy|cursor)|orjson|django_tenants/middleware|redis/client"
    for label, bodies in (("single-alert POSTs", singles[321:]), ("1,000-item POSTs", batches[4:])):
        profiler = cProfile.Profile()
        profiler.enable()
        for body in bodies:
            post(body)
        profiler.disable()
        out.write(f"\ncProfile of {len(bodies)} {label}:\n")
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(restrict, 30)
        stats.sort_stats("tottime").print_stats(15)
    connection.close()
    for handler, stream in zip(handlers, streams, strict=True):
        handler.setStream(stream)
    devnull.close()
    return out.getvalue().replace(sysconfig.get_paths()["purelib"] + "/", "").replace(str(ROOT) + "/", "")


# ---- main ------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--batches", type=int, default=20, help="1,000-item batch POSTs (default 20)")
    parser.add_argument("--singles", type=int, default=2000, help="single-alert POSTs (default 2000)")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads/connections (default 4)")
    parser.add_argument("--repeats", type=int, default=3, help="POSTs per size for the query counts (default 3)")
    parser.add_argument("--profile", action="store_true", help="also profile requests in-process (cProfile)")
    args = parser.parse_args()
    if args.batches < 1 or args.singles < 1 or args.concurrency < 1 or args.repeats < 1:
        parser.error("--batches, --singles, --concurrency and --repeats must be at least 1")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks (stop the server)

    started = time.perf_counter()
    created_db = database_ensure()
    manage("migrate_all")
    schema, domain, api_key, how = customer_ensure()
    public_id = api_key.split("_")[1]
    data_reset(schema)
    redis_flush()
    log(
        f"setup: database {DB_NAME} {'created' if created_db else 'exists'}, migrate_all done, customer {SLUG} "
        f"({how}; schema {schema}, domain {domain}), alerts and outbox emptied, redis db {REDIS_DB} flushed "
        f"({time.perf_counter() - started:.1f}s)"
    )

    samples, skipped = samples_load()
    log(
        "samples: "
        + ", ".join(f"{fmt} {len(v)}" for fmt, v in samples.items())
        + (f"; skipped (adapter refused): {skipped}" if skipped else "")
    )
    run_id = secrets.token_hex(4)
    factory = ItemFactory(samples, run_id)

    started = time.perf_counter()
    warmup_items = [factory.batch(BATCH_SIZE) for _ in range(2)] + [factory.batch(1) for _ in range(4)]
    query_items = [[factory.batch(size) for size in QUERY_SIZES] for _ in range(args.repeats)]
    batch_items = [factory.batch(BATCH_SIZE) for _ in range(args.batches)]
    single_items = factory.batch(args.singles)
    batch_bodies = [orjson.dumps(items) for items in batch_items]
    single_bodies = [orjson.dumps(item) for item in single_items]
    copy_chunks = [copy_rows(items, run_id, i * BATCH_SIZE, public_id) for i, items in enumerate(batch_items)]
    body_kib = statistics.mean(len(b) for b in batch_bodies) / 1024
    single_bytes = statistics.mean(len(b) for b in single_bodies)
    log(
        f"items: native format built from the normalised samples (unique id per copy, sample nested under raw); "
        f"{len(samples)} formats round robin, {DUPLICATE_FRACTION:.0%} duplicates of earlier items per batch; "
        f"1,000-item body {body_kib:.0f} KiB on average, single body {single_bytes:.0f} bytes "
        f"(built in {time.perf_counter() - started:.1f}s)"
    )

    cols = [*STAGE_NAMES, *(c for c, _ in CONSTANT_COLUMNS)]
    copy_sql = sql.SQL("COPY {}.alerts_alert ({}) FROM STDIN").format(
        sql.Identifier(schema), sql.SQL(", ").join(map(sql.Identifier, cols))
    )

    server = Server(free_port(), Path(f"/tmp/mdr-bench-ingest-{os.getpid()}.log"))  # noqa: S108
    seen: set[str] = set()
    profile_text = ""
    try:
        server.start()
        log(f"server: gunicorn, 2 sync workers, production settings, 127.0.0.1:{server.port}")
        post = lambda jobs, c: http_parallel(server.port, domain, api_key, jobs, c)  # noqa: E731

        # Warm-up (untimed): every worker imports its lazy modules and opens its connections.
        results, _ = post([("/api/v1/alerts", orjson.dumps(i)) for i in warmup_items], args.concurrency)
        ingest_check(results, warmup_items, seen)
        results, _ = post([("/bench/noop", single_bodies[0], NOOP_HEADERS)] * 4, args.concurrency)
        if any(r[0] != 201 for r in results):
            raise RuntimeError(f"/bench/noop answered {results[0][0]}: {results[0][2][:300]!r}")

        # d. statements per request, by batch size (sequential, one client).
        queries: dict[str, list[int]] = {str(s): [] for s in QUERY_SIZES}
        search_path_sets: dict[str, list[int]] = {str(s): [] for s in QUERY_SIZES}
        for repeat in query_items:
            results, _ = post([("/api/v1/alerts", orjson.dumps(items)) for items in repeat], 1)
            ingest_check(results, repeat, seen)
            for size, (_status, headers, _body, _s) in zip(QUERY_SIZES, results, strict=True):
                queries[str(size)].append(int(headers["x-mdr-queries"]))
                search_path_sets[str(size)].append(int(headers["x-mdr-search-path-sets"]))

        # a + b. batch ingest and the COPY ceiling, interleaved round by round.
        round_size = 2 * args.concurrency
        ingest_wall = copy_wall = 0.0
        created = duplicates = 0
        for start in range(0, args.batches, round_size):
            items = batch_items[start : start + round_size]
            results, wall = post(
                [("/api/v1/alerts", b) for b in batch_bodies[start : start + round_size]], args.concurrency
            )
            ingest_wall += wall
            c, d = ingest_check(results, items, seen)
            created += c
            duplicates += d
            copy_wall += copy_parallel(copy_sql, copy_chunks[start : start + round_size], args.concurrency)
        batch_items_total = args.batches * BATCH_SIZE
        batch_rate = (created + duplicates) / ingest_wall
        copy_rate = batch_items_total / copy_wall

        # c. single-alert POSTs against /bench/noop, interleaved chunk by chunk (which goes first alternates).
        chunk = max(args.concurrency, min(250, args.singles))
        single_lat: list[float] = []
        noop_lat: list[float] = []
        single_wall = noop_wall = 0.0
        for n, start in enumerate(range(0, args.singles, chunk)):
            bodies = single_bodies[start : start + chunk]
            for kind in ("ingest", "noop") if n % 2 == 0 else ("noop", "ingest"):
                if kind == "ingest":
                    results, wall = post([("/api/v1/alerts", b) for b in bodies], args.concurrency)
                    single_wall += wall
                    ingest_check(results, [[i] for i in single_items[start : start + chunk]], seen)
                    single_lat += [r[3] for r in results]
                else:
                    results, wall = post([("/bench/noop", b, NOOP_HEADERS) for b in bodies], args.concurrency)
                    noop_wall += wall
                    if any(r[0] != 201 for r in results):
                        raise RuntimeError("/bench/noop did not answer 201")
                    noop_lat += [r[3] for r in results]
        single_rate = args.singles / single_wall
        noop_rate = args.singles / noop_wall

        if args.profile:
            profile_text = profile_inprocess(domain, api_key, factory)
    except BaseException:
        print(f"server log kept: {server.log_path}", file=sys.stderr)
        raise
    else:
        server.log_path.unlink(missing_ok=True)
    finally:
        server.stop()
        redis_flush()

    with psycopg.connect(DATABASE_URL) as conn:
        rows_now = conn.execute(sql.SQL("SELECT count(*) FROM {}.alerts_alert").format(sql.Identifier(schema)))
        table_rows = rows_now.fetchone()[0]

    ms = {
        "single_p50_ms": percentile(single_lat, 50) * 1000,
        "single_p99_ms": percentile(single_lat, 99) * 1000,
        "noop_p50_ms": percentile(noop_lat, 50) * 1000,
        "noop_p99_ms": percentile(noop_lat, 99) * 1000,
    }
    ratio_copy = batch_rate / copy_rate
    ratio_noop = single_rate / noop_rate
    # The minimum over the repeats: the key's last-used write happens at most once a minute and may land in one.
    q_min = {k: min(v) for k, v in queries.items()}
    sp_min = {k: min(v) for k, v in search_path_sets.items()}
    # Constant = does not grow with the batch: 1,000 items need no more statements than 100 (small batches take
    # the one-INSERT path, one statement fewer than the staging path of larger ones).
    sizes = sorted(q_min, key=int)
    constant = all(q_min[b] <= q_min[sizes[1]] for b in sizes[1:]) and len(set(sp_min.values())) == 1
    if profile_text:
        log("\n" + profile_text)

    def row(label: str, value: str) -> None:
        log(f"{label:<46}{value:>16}")

    log(f"\ningest, {args.concurrency} client threads, gunicorn 2 sync workers, {os.cpu_count()} cores")
    row("batch ingest, alerts/s (1,000-item POSTs)", f"{batch_rate:,.0f}")
    row("  created / duplicate", f"{created:,} / {duplicates:,}")
    row("COPY ceiling, rows/s (1,000-row COPYs)", f"{copy_rate:,.0f}")
    row("ratio ingest/COPY (goal >= 0.25)", f"{ratio_copy:.3f}")
    row("single-alert POSTs, req/s", f"{single_rate:,.1f}")
    row("  p50 / p99 ms", f"{ms['single_p50_ms']:.1f} / {ms['single_p99_ms']:.1f}")
    row("POST /bench/noop, req/s", f"{noop_rate:,.1f}")
    row("  p50 / p99 ms", f"{ms['noop_p50_ms']:.1f} / {ms['noop_p99_ms']:.1f}")
    row("ratio single/noop (goal >= 0.30)", f"{ratio_noop:.3f}")
    for size in QUERY_SIZES:
        row(f"X-MDR-Queries, {size:,}-item POST (+1 COPY)", "/".join(map(str, queries[str(size)])))
        row("  of which SET search_path", "/".join(map(str, search_path_sets[str(size)])))
    log(f"rows in {schema}.alerts_alert after the run: {table_rows:,} (ingest and COPY rows)")
    log(
        f"goals: ingest/COPY >= 0.25 {'met' if ratio_copy >= 0.25 else 'MISSED'}; "
        f"single/noop >= 0.30 {'met' if ratio_noop >= 0.30 else 'MISSED'}; "
        f"statements constant in batch size {'met' if constant else 'MISSED'}"
    )
    figures = {
        "bench": "ingest",
        "date": datetime.now(tz=UTC).strftime("%Y-%m-%d"),
        "cores": os.cpu_count(),
        "concurrency": args.concurrency,
        "batches": args.batches,
        "batch_size": BATCH_SIZE,
        "singles": args.singles,
        "items": "native built from normalised samples, sample nested as raw",
        "batch_body_kib": round(body_kib, 1),
        "batch_alerts_per_s": round(batch_rate, 1),
        "batch_created": created,
        "batch_duplicates": duplicates,
        "copy_rows_per_s": round(copy_rate, 1),
        "ratio_ingest_over_copy": round(ratio_copy, 3),
        "single_req_per_s": round(single_rate, 1),
        "noop_req_per_s": round(noop_rate, 1),
        "ratio_single_over_noop": round(ratio_noop, 3),
        **{k: round(v, 1) for k, v in ms.items()},
        "queries_per_request": q_min,
        "search_path_sets_per_request": sp_min,
        "copy_statements_per_request": 1,
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
