"""Soak: minutes of mixed load on the real service, then the books are balanced.

Run from the repository root (PostgreSQL and Redis running)::

    .venv/bin/python bench/soak.py [--duration 600] [--customers 20] [--alerts-per-second 200]

Uses its own database ``mdr_bench_soak`` (created if missing, migrated with ``manage.py migrate_all``), Redis db 9
and the dramatiq namespace ``mdr-bench-soak``. ``--customers`` customers (``soak01`` ...) are onboarded once, each
with a published contract whose scope covers every host, an escalation contact whose webhook is a receiver in this
process, an ``auto`` matrix rule (incidents of P3 and above are escalated without an analyst), a customer admin
and an ingest key; every run empties their alerts, incidents and escalations first.

The service runs as in production (``DJANGO_DEBUG=0``): gunicorn (2 workers x 4 threads), one dramatiq worker
process (2 threads) and the scheduler, as subprocesses. The load, paced in client threads (an open loop, so a slow
server shows as latency and backlog, not as less load):

- ingest: batches of ``--batch`` native alerts from every customer in turn at ``--alerts-per-second`` in total
  (hosts from a pool of 10 per customer, so alerts correlate into incidents, which are escalated to the receiver);
- portal reads: a logged-in customer admin of a customer in turn opens the dashboard or the alert list, at
  ``--reads-per-second``;
- the baseline, in the same run and on the same server: ``GET /bench/noop`` (a plain Django view) at 2/s.

The receiver (tests/reliability/receivers.py, as in the fault tests) verifies each webhook's signature and counts
notices by ``webhook-id`` (duplicates are retries the receiver dedupes). Every ``--sample`` seconds the resident
memory of each process (gunicorn master and workers, the dramatiq processes, the scheduler) is read.

After the load stops, the workers get up to ``--drain`` seconds to finish, then the books: every alert the API
accepted is stored and processed (lost = accepted - stored, unprocessed = stored - processed), every escalation's
delivery reached the receiver once (notices seen vs deliveries sent), every request's status (errors = 5xx,
connection failures and unexpected 4xx). Goals (issue 9): 0 errors, 0 lost alerts, each process's memory at the
end within 20 % of its memory after the warm-up (``--warmup`` seconds).

Prints the figures, then as the last line one JSON object.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "mdr_bench_soak"
os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
os.environ["REDIS_URL"] = "redis://127.0.0.1:6379/9"
os.environ["MDR_DRAMATIQ_NAMESPACE"] = "mdr-bench-soak"
os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mdr.settings")
# The same keys in this process (setup) and in the served processes (production settings), bench data only.
os.environ["SECRET_KEY"] = "bench-soak-only-" + "k" * 40
os.environ["MDR_ENCRYPTION_KEYS"] = "c29ha2JlbmNoLW9ubHktZW5jcnlwdGlvbi1rZXktMzI="
# ``python bench/soak.py`` puts bench/ first on the path, where bench/reports.py would hide the reports app.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from bench.benchdb import database_prepare  # noqa: E402

PASSWORD = "soak bench password 2026"  # noqa: S105 -- the bench customer admin in the bench database
HOSTS_PER_CUSTOMER = 10
MEMORY_GOAL = 0.20


# ---- the customers ------------------------------------------------------------------------------------------------


def setup(n: int, receiver_url: str, secret: str) -> list[dict]:
    """``n`` customers ready for the load (made once; emptied of alerts, incidents and escalations every run)."""
    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from mdr.accounts.models import Role, User
    from mdr.accounts.services import apikey_create, user_create
    from mdr.audit.services import Actor
    from mdr.escalations.models import Contact
    from mdr.escalations.services import matrix_publish
    from mdr.scope import services as scope
    from mdr.scope.models import VersionStatus
    from mdr.scope.selectors import contract_current
    from tenants.models import Customer
    from tenants.services import customer_onboard, provider_ensure

    actor = Actor.system("bench-soak")
    provider_ensure()
    customers = []
    for i in range(1, n + 1):
        slug = f"soak{i:02d}"
        customer = Customer.objects.filter(slug=slug).first()
        if customer is None:
            customer = customer_onboard(actor=actor, name=f"Soak {i:02d}", slug=slug, language="en").customer
        with schema_context(customer.schema_name):
            contract = contract_current()
            if not contract.versions.filter(status=VersionStatus.PUBLISHED).exists():
                draft = scope.version_draft_create(actor=actor, contract=contract, terms={"timezone": "Asia/Tokyo"})
                scope.scope_items_import(actor=actor, version=draft, rows=[{"kind": "host", "value": "*"}])
                scope.version_publish(actor=actor, version=draft, effective_date=timezone.now().date())
            if not User.objects.filter(username="soak-admin").exists():
                user_create(
                    actor=actor,
                    username="soak-admin",
                    email=f"admin@{slug}.example",
                    role=Role.CUSTOMER_ADMIN,
                    password=PASSWORD,
                    language="en",
                )
            with connection.cursor() as cursor:  # a fresh run: no alerts, incidents or escalations left
                cursor.execute(
                    "TRUNCATE alerts_alert, incidents_incident, escalations_escalation, escalations_delivery, "
                    "sla_slatimer CASCADE"
                )
            Contact.objects.all().delete()
            duty = Contact.objects.create(name="duty", webhook_url=receiver_url, webhook_secret=secret)
            matrix_publish(
                actor=actor,
                rules=[
                    {
                        "min_priority": "P3",
                        "auto": True,
                        "levels": [{"contacts": [duty.pk], "channels": ["webhook"], "wait_minutes": 30}],
                    }
                ],
            )
        key = apikey_create(actor=actor, customer=customer, name=f"soak {datetime.now(UTC):%H%M%S}", scopes=["ingest"])
        customers.append(
            {
                "slug": slug,
                "schema": customer.schema_name,
                "host": customer.get_primary_domain().domain,
                "key": key.plaintext,
            }
        )
    from mdr.jobs.models import DueWork, Outbox, TimerIndex

    schemas = [c["schema"] for c in customers]
    for model in (DueWork, Outbox, TimerIndex):
        model.objects.filter(schema_name__in=schemas).delete()
    return customers


# ---- the load -----------------------------------------------------------------------------------------------------


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)
        self.accepted: dict[str, int] = defaultdict(int)  # per customer slug: alerts created by the API
        self.duplicates = 0

    def add(self, kind: str, ms: float, error: str | None = None) -> None:
        with self.lock:
            self.latencies[kind].append(ms)
            if error:
                self.errors[kind].append(error)


def _http(port: int, method: str, path: str, *, host: str, body: bytes | None = None, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers={"Host": host, **(headers or {})})
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        conn.close()


class PortalSession:
    def __init__(self, port: int, host: str):
        self.port, self.host, self.cookies = port, host, {}

    def get(self, path: str, body: bytes | None = None, method: str = "GET", extra: dict | None = None):
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        status, headers, data = _http(
            self.port, method, path, host=self.host, body=body, headers={"Cookie": cookie, **(extra or {})}
        )
        for name, value in headers:
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        return status, data

    def login(self) -> None:
        _, page = self.get("/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
        form = urlencode({"username": "soak-admin", "password": PASSWORD, "csrfmiddlewaretoken": token}).encode()
        status, _ = self.get(
            "/login/", form, "POST", {"Content-Type": "application/x-www-form-urlencoded", "Referer": "/login/"}
        )
        if status != 302:
            raise SystemExit(f"portal login failed on {self.host}: {status}")


def _paced(rate: float, until: float, work) -> None:
    """Call ``work()`` ``rate`` times a second until ``until`` (monotonic), on schedule (open loop)."""
    interval, due = 1.0 / rate, time.monotonic()
    while due < until:
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        work()
        due += interval


def _batch(customer: dict, size: int, counter: list[int]) -> bytes:
    items = []
    for _ in range(size):
        counter[0] += 1
        n = counter[0]
        items.append(
            {
                "id": f"soak-{uuid.uuid4().hex}",
                "title": f"Soak alert {n % 50}",
                "severity": ("high", "critical", "medium")[n % 3],
                "observed_at": datetime.now(UTC).isoformat(),
                "hosts": [f"{customer['slug']}-host-{n % HOSTS_PER_CUSTOMER}"],
                "ips": [f"10.{n % 200}.{n % 250}.7"],
                "rule": {"id": f"R-{n % 40}", "name": f"Soak rule {n % 40}"},
            }
        )
    return json.dumps(items).encode()


def run_load(port: int, customers: list[dict], args, stats: Stats, until: float) -> None:
    threads = []
    counter = [0]
    order = [0]
    lock = threading.Lock()

    def ingest_once() -> None:
        with lock:
            customer = customers[order[0] % len(customers)]
            order[0] += 1
            body = _batch(customer, args.batch, counter)
        started = time.perf_counter()
        try:
            status, _, data = _http(
                port,
                "POST",
                "/api/v1/alerts",
                host=customer["host"],
                body=body,
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {customer['key']}"},
            )
            ms = (time.perf_counter() - started) * 1000
            if status == 202:
                result = json.loads(data)
                with stats.lock:
                    stats.accepted[customer["slug"]] += result.get("accepted", 0)
                    stats.duplicates += result.get("duplicates", 0)
                stats.add("ingest", ms)
            else:
                stats.add("ingest", ms, f"{status} {data[:200]!r}")
        except OSError as exc:
            stats.add("ingest", (time.perf_counter() - started) * 1000, f"connection: {exc}")

    sessions = []
    for customer in customers:
        session = PortalSession(port, customer["host"])
        session.login()
        sessions.append(session)
    reads = [0]

    def read_once() -> None:
        with lock:
            i = reads[0]
            reads[0] += 1
        session = sessions[i % len(sessions)]
        path = "/" if i % 2 == 0 else "/alerts/"
        started = time.perf_counter()
        try:
            status, _ = session.get(path)
            ms = (time.perf_counter() - started) * 1000
            stats.add("portal", ms, None if status == 200 else f"{status} {path}")
        except OSError as exc:
            stats.add("portal", (time.perf_counter() - started) * 1000, f"connection: {exc}")

    def noop_once() -> None:
        started = time.perf_counter()
        try:
            status, _, _ = _http(port, "GET", "/bench/noop", host=customers[0]["host"])
            stats.add("noop", (time.perf_counter() - started) * 1000, None if status == 201 else str(status))
        except OSError as exc:
            stats.add("noop", (time.perf_counter() - started) * 1000, f"connection: {exc}")

    batches_per_second = args.alerts_per_second / args.batch
    ingest_threads = 4
    for _ in range(ingest_threads):
        threads.append(threading.Thread(target=_paced, args=(batches_per_second / ingest_threads, until, ingest_once)))
    for _ in range(2):
        threads.append(threading.Thread(target=_paced, args=(args.reads_per_second / 2, until, read_once)))
    threads.append(threading.Thread(target=_paced, args=(2.0, until, noop_once)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# ---- memory -------------------------------------------------------------------------------------------------------


def _tree(pid: int) -> dict[str, int]:
    """Resident memory (bytes) of a process and its children, by a stable name (role and position)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *sorted(root.children(recursive=True), key=lambda p: p.pid)]
    except psutil.NoSuchProcess:
        return {}
    found = {}
    for i, proc in enumerate(procs):
        try:
            found[f"{i}:{proc.pid}"] = proc.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return found


def sample_memory(procs: dict, samples: list, stop: threading.Event, every: float) -> None:
    started = time.monotonic()
    while not stop.wait(every):
        row = {"t": round(time.monotonic() - started, 1)}
        for name, proc in procs.items():
            for key, rss in _tree(proc.popen.pid).items():
                row[f"{name}/{key}"] = rss
        samples.append(row)


def memory_growth(samples: list[dict], warmup: float) -> dict[str, dict]:
    """Per process: median RSS of the minute after warm-up vs median RSS of the last minute."""
    after = [s for s in samples if warmup <= s["t"] < warmup + 60]
    end_t = samples[-1]["t"] if samples else 0
    last = [s for s in samples if s["t"] >= end_t - 60]
    result = {}
    keys = {k for s in samples for k in s if k != "t"}
    for key in sorted(keys):
        a = [s[key] for s in after if key in s]
        b = [s[key] for s in last if key in s]
        if not a or not b:
            continue
        start_mb, end_mb = statistics.median(a) / 2**20, statistics.median(b) / 2**20
        result[key] = {
            "after_warmup_mb": round(start_mb, 1),
            "end_mb": round(end_mb, 1),
            "growth": round(end_mb / start_mb - 1, 3),
        }
    return result


# ---- the books ----------------------------------------------------------------------------------------------------


def balance(customers: list[dict], stats: Stats, receiver, drain: float) -> dict:
    """Wait (up to ``drain`` s) for every accepted alert to be processed and every delivery to be done; count."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from mdr.alerts.models import Alert
    from mdr.escalations.models import Delivery
    from mdr.incidents.models import Incident

    deadline = time.monotonic() + drain
    while True:
        books = {"stored": 0, "processed": 0, "incidents": 0, "deliveries": 0, "sent": 0, "pending": 0}
        for customer in customers:
            with schema_context(customer["schema"]):
                books["stored"] += Alert.objects.count()
                books["processed"] += Alert.objects.filter(processed_at__isnull=False).count()
                books["incidents"] += Incident.objects.count()
                books["deliveries"] += Delivery.objects.count()
                books["sent"] += Delivery.objects.filter(state="sent").count()
                books["pending"] += Delivery.objects.filter(state="pending").count()
        connection.close()
        if (books["processed"] >= books["stored"] and books["pending"] == 0) or time.monotonic() > deadline:
            break
        time.sleep(2)
    accepted = sum(stats.accepted.values())
    with receiver.lock:
        notices, repeated = len(receiver.notices), receiver.repeats
    books.update(
        accepted=accepted,
        lost=accepted - books["stored"],
        unprocessed=books["stored"] - books["processed"],
        receiver_notices=notices,
        receiver_repeats_deduped=repeated,
        receiver_rejected=receiver.rejected,
    )
    return books


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * (len(values) - 1)))], 1) if values else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=600)
    parser.add_argument("--warmup", type=float, default=60)
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--alerts-per-second", type=float, default=200)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--reads-per-second", type=float, default=10)
    parser.add_argument("--sample", type=float, default=5)
    parser.add_argument("--drain", type=float, default=180)
    args = parser.parse_args()
    database_prepare(DB_NAME)
    import django

    django.setup()
    from mdr.core.redis import redis_client
    from mdr.escalations import webhook
    from tests.live import start_scheduler, start_web, start_worker
    from tests.reliability.receivers import DedupReceiver

    redis_client().flushdb()
    receiver = DedupReceiver(webhook.secret_generate())  # checks signatures, counts notices by webhook-id
    customers = setup(args.customers, receiver.url("/soak"), receiver.secret)
    env = dict(
        os.environ,
        DJANGO_DEBUG="0",
        DJANGO_SECURE_COOKIES="0",
        DJANGO_SECURE_SSL_REDIRECT="0",  # plain http on the loopback
        MDR_STATIC_FROM_FINDERS="1",
        MDR_BENCH_INSTRUMENT="1",
        MDR_WEBHOOK_ALLOW_PRIVATE="1",
        MDR_INGEST_RATE_PER_SECOND="1000",
        MDR_INGEST_BURST="5000",
    )
    logs = Path(tempfile.mkdtemp(prefix="mdr-bench-soak-"))
    web, port = start_web(env, logs, workers=2, threads=4)
    procs = {"web": web, "worker": start_worker(env, logs), "scheduler": start_scheduler(env, logs)}
    stats, samples, stop = Stats(), [], threading.Event()
    sampler = threading.Thread(target=sample_memory, args=(procs, samples, stop, args.sample), daemon=True)
    try:
        print(
            f"soak: {args.duration:.0f}s, {args.customers} customers, {args.alerts_per_second:.0f} alerts/s in batches"
            f" of {args.batch}, {args.reads_per_second:.0f} portal reads/s; logs in {logs}",
            flush=True,
        )
        sampler.start()
        started = time.monotonic()
        run_load(port, customers, args, stats, started + args.duration)
        elapsed = time.monotonic() - started
        print(f"load done after {elapsed:.0f}s; draining ...", flush=True)
        books = balance(customers, stats, receiver, args.drain)
    finally:
        stop.set()
        for proc in procs.values():
            proc.stop()
    requests = {
        kind: {
            "count": len(values),
            "per_second": round(len(values) / elapsed, 1),
            "p50_ms": _pct(values, 0.5),
            "p99_ms": _pct(values, 0.99),
            "errors": len(stats.errors[kind]),
            "first_errors": stats.errors[kind][:3],
        }
        for kind, values in stats.latencies.items()
    }
    memory = memory_growth(samples, args.warmup)
    worst_growth = max((m["growth"] for m in memory.values()), default=0.0)
    errors = sum(r["errors"] for r in requests.values())
    for kind, r in requests.items():
        print(
            f"{kind:<7} {r['count']:>7} requests  {r['per_second']:>6}/s  p50 {r['p50_ms']:>7} ms"
            f"  p99 {r['p99_ms']:>7} ms  errors {r['errors']}",
            flush=True,
        )
    print(f"alerts: accepted {books['accepted']}, stored {books['stored']}, processed {books['processed']}")
    print(
        f"incidents {books['incidents']}, deliveries {books['deliveries']} (sent {books['sent']}), receiver saw"
        f" {books['receiver_notices']} notices ({books['receiver_repeats_deduped']} repeats deduped)"
    )
    for key, m in memory.items():
        print(f"memory {key:<28} {m['after_warmup_mb']:>7} MB -> {m['end_mb']:>7} MB  ({m['growth']:+.1%})")
    noop_p99 = requests.get("noop", {}).get("p99_ms") or None
    summary = {
        "bench": "soak",
        "duration_s": round(elapsed, 1),
        "customers": args.customers,
        "alerts_per_second_target": args.alerts_per_second,
        "ingested_alerts_per_second": round(books["accepted"] / elapsed, 1),
        "requests": {k: {x: v for x, v in r.items() if x != "first_errors"} for k, r in requests.items()},
        "p99_over_noop": {k: round(r["p99_ms"] / noop_p99, 1) for k, r in requests.items() if noop_p99 and k != "noop"},
        "errors": errors,
        "books": books,
        "memory": memory,
        "worst_memory_growth": worst_growth,
        "goals": {
            "zero_errors": errors == 0,
            "zero_lost": books["lost"] == 0 and books["unprocessed"] == 0,
            "deliveries_all_seen_once": books["sent"] == books["receiver_notices"] and books["pending"] == 0,
            "memory_flat_within_20pct": worst_growth <= MEMORY_GOAL,
        },
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
