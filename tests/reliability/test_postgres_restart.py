"""PostgreSQL restarted while the web server, a worker and the scheduler run: requests during the outage get a 503
with Retry-After (never a 500), the service recovers by itself (no process restarted), every accepted batch is
processed, and no batch is half-written (each is in the database whole, or not at all).

A private PostgreSQL cluster (never the machine's server: other test runs use it), built like a deploy:
``migrate_all`` then a customer onboarded, both in subprocesses. Ingest runs continuously from a client thread
while the server stops and starts, so the stop also lands in the middle of batches.
"""

import json
import subprocess
import sys
import threading
import time

import psycopg
import pytest
from psycopg import sql

from tests.live import PG_BIN, ROOT, process_env, request, start_postgres, start_scheduler, start_web, start_worker

# About 25 s: part of `make test`. It needs PostgreSQL's server binaries (the machine's Debian package).
pytestmark = pytest.mark.skipif(
    not (PG_BIN / "initdb").exists(), reason=f"PostgreSQL server binaries not found in {PG_BIN}"
)

BATCH = 50
ONBOARD = (
    "import json; from mdr.audit.services import Actor; from tenants.services import customer_onboard; "
    "r = customer_onboard(actor=Actor.system('tests'), name='Restart Corp', slug='restart', language='en'); "
    "print(json.dumps({'schema': r.customer.schema_name, 'domain': r.domain, 'key': r.api_key}))"
)


def _batch(batch: int) -> bytes:
    return json.dumps(
        [
            {
                "title": f"Beacon b{batch}",
                "severity": "high",
                "observed_at": "2026-11-20T10:00:00+09:00",
                "id": f"b{batch}-{i}",
                "hosts": [f"WS-{i}"],
                "rule": {"id": "R-9", "name": "C2 beacon"},
            }
            for i in range(BATCH)
        ]
    ).encode()


@pytest.fixture
def cluster(tmp_path, django_db_setup):
    pg = start_postgres()
    env = process_env(DATABASE_URL=pg.url, MDR_SCHEDULER_INTERVAL_SECONDS="0.5", MDR_OUTBOX_RESEND_AFTER_SECONDS="1")
    for cmd in (["manage.py", "migrate_all"], ["manage.py", "shell", "-c", ONBOARD]):
        done = subprocess.run([sys.executable, *cmd], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    customer = json.loads(done.stdout.strip().splitlines()[-1])
    yield pg, env, customer
    pg.remove()


def test_postgres_restart_gives_503_then_recovers_without_half_batches(cluster, tmp_path):
    pg, env, customer = cluster
    web, port = start_web(env, tmp_path)
    procs = {"web": web, "worker": start_worker(env, tmp_path), "scheduler": start_scheduler(env, tmp_path)}
    statuses: dict[int, int] = {}
    retry_after: set[str] = set()
    stop = threading.Event()

    def ingest():
        batch = 0
        while not stop.is_set():
            try:
                result = request(
                    port,
                    "POST",
                    "/api/v1/alerts",
                    host=customer["domain"],
                    body=_batch(batch),
                    headers={"Authorization": f"Bearer {customer['key']}", "Content-Type": "application/json"},
                    timeout=30,
                )
                statuses[batch] = result.status
                if result.status == 503:
                    retry_after.add(result.headers.get("retry-after", ""))
            except OSError as exc:  # the client's view of a broken connection: no answer at all
                statuses[batch] = -1
                print(f"batch {batch}: {exc}")
            batch += 1
            time.sleep(0.05)

    client = threading.Thread(target=ingest, daemon=True)
    try:
        client.start()
        time.sleep(2)
        # when: PostgreSQL stops for a few seconds, then starts again; no service process is restarted
        pg.stop()
        time.sleep(4)
        during = request(port, "GET", "/api/v1/alerts", host=customer["domain"], headers={"Authorization": "x"})
        pg.start()
        restarted = time.monotonic()
        recovered = None
        while time.monotonic() < restarted + 30 and recovered is None:
            if statuses and statuses[max(statuses)] == 202 and max(statuses) > 0:
                recovered = time.monotonic() - restarted
            time.sleep(0.2)
        time.sleep(2)
        stop.set()
        client.join(timeout=40)
        logs = "\n".join(f"--- {n}\n{p.output()[-2500:]}" for n, p in procs.items())
        codes = sorted(set(statuses.values()))
        # then: the outage answered 503 with Retry-After, nothing else went wrong, the service came back
        assert during.status == 503 and during.headers.get("retry-after") == "5", logs
        assert 503 in codes and retry_after == {"5"}, (codes, logs)
        assert set(codes) <= {202, 503}, (statuses, logs)
        assert recovered is not None, (statuses, logs)
        for proc in procs.values():
            assert proc.popen.poll() is None, f"{proc.name} exited\n{logs}"
        accepted = [b for b, s in statuses.items() if s == 202]
        # every accepted batch processed by the worker (which lived through the restart), none half-written
        deadline = time.monotonic() + 60
        while True:
            with psycopg.connect(pg.url) as conn:
                query = sql.SQL(
                    "SELECT split_part(external_id, '-', 1), count(*), count(processed_at) FROM {}.alerts_alert "
                    "GROUP BY 1"
                ).format(sql.Identifier(customer["schema"]))
                rows = conn.execute(query).fetchall()
            per_batch = {int(key[1:]): (n, processed) for key, n, processed in rows}
            if all(per_batch.get(b, (0, 0))[1] == BATCH for b in accepted) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert all(n == BATCH for n, _ in per_batch.values()), per_batch  # whole batches only
        assert {b: per_batch.get(b) for b in accepted} == {b: (BATCH, BATCH) for b in accepted}, logs
        print(f"batches: {len(statuses)}, accepted {len(accepted)}, recovered {recovered:.1f}s after the restart")
    finally:
        stop.set()
        for proc in procs.values():
            proc.stop()
