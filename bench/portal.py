"""Benchmark: portal pages with 1,000,000 alerts in the customer's schema.

Run from the repository root (PostgreSQL and Redis running)::

    DJANGO_DEBUG=1 .venv/bin/python bench/portal.py [--alerts 1000000] [--requests 200]

Uses its own database ``mdr_bench_portal`` (created if missing, migrated with ``manage.py migrate_all``) and Redis
db 12. One customer (``portalbench``) gets ``--alerts`` alerts spread over the last 120 days (set-based SQL,
deterministic), 2,000 incidents and its users; loaded once, kept between runs. A real gunicorn with production
settings (DEBUG off; 2 workers x 4 threads) serves the portal; one logged-in session (a customer admin) requests
each page ``--requests`` times in a row and the latency of each response is taken on the client.

Pages: the dashboard (``/``), the alert list (first page, the 21st page through the keyset, a filtered page by
severity and source, a host filter), the incident list, and as the baseline measured in the same run the login page
for an anonymous visitor (``GET /login/``: a template render that touches no customer data). Goal (issue 8): the
alert list and the dashboard under 150 ms at p95.

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
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "mdr_bench_portal"
os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
os.environ["REDIS_URL"] = "redis://127.0.0.1:6379/12"
os.environ["MDR_DRAMATIQ_NAMESPACE"] = "mdr-bench-portal"
os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mdr.settings")
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from benchdb import database_prepare  # noqa: E402
from psycopg import sql  # noqa: E402

SLUG = "portalbench"
USERNAME, PASSWORD = "bench-admin", "bench portal password 2026"
GOAL_P95_MS = 150.0

ALERTS_SQL = """
INSERT INTO {schema}.alerts_alert (
    id, dedup_key, source_format, source_product, source_vendor, external_id, title, description, severity_id,
    severity_raw, category, rule_id, rule_name, tactics, techniques, observed_at, received_at, hosts, ips, users,
    cloud_provider, cloud_account, cloud_region, raw, occurrence_count, first_seen_at, last_seen_at, status,
    scope_status, scope_reason, criticality, remediation_allowed, contract_version_id, in_coverage, priority,
    incident_id, api_key_public_id, processed_at, assignee, classification, acknowledged_at, closed_at)
SELECT md5('pb' || i)::uuid, 'pb' || i, (ARRAY['suricata','wazuh','ecs','guardduty'])[1 + i %% 4],
    (ARRAY['Suricata','Wazuh','Elastic Defend','GuardDuty'])[1 + i %% 4], '', 'ext-' || i,
    'Portal bench alert ' || (i %% 97), 'desc', i %% 7, '',
    (ARRAY['malware','network','discovery','other'])[1 + i %% 4],
    'R-' || (i %% 97), 'Rule number ' || (i %% 97), ARRAY['TA0001'], ARRAY['T1059'],
    now() - (i * %(step)s) * interval '1 second', now() - (i * %(step)s) * interval '1 second',
    ARRAY['host-' || (i %% 5000)], ARRAY[('10.' || (i %% 200) || '.' || (i %% 250) || '.1')::inet],
    ARRAY['user' || (i %% 800)], '', '', '', jsonb_build_object('event_id', i, 'message', 'raw payload ' || i), 1,
    now() - (i * %(step)s) * interval '1 second', now() - (i * %(step)s) * interval '1 second',
    CASE WHEN i %% 5 = 0 THEN 'closed' ELSE 'new' END,
    CASE WHEN i %% 10 < 8 THEN 'in_scope' ELSE 'out_of_scope' END, '', 'medium', false, NULL, true,
    (ARRAY['P1','P2','P3','P4'])[1 + i %% 4], NULL, '', now(), '', '', NULL, NULL
FROM generate_series(0, %(n)s - 1) AS i
"""

INCIDENTS_SQL = """
INSERT INTO {schema}.incidents_incident (id, title, state, severity_id, priority, correlation_rule, correlation_key,
    first_alert_at, last_alert_at, alert_count, customer_summary, created_at, updated_at)
SELECT md5('pbi' || j)::uuid, 'Portal bench incident ' || j,
    (ARRAY['new','investigating','escalated','contained','resolved','closed'])[1 + j %% 6], 4,
    (ARRAY['P1','P2','P3','P4'])[1 + j %% 4],
    '', '', now() - j * interval '1 hour', now() - j * interval '1 hour', 5, '', now() - j * interval '1 hour', now()
FROM generate_series(0, 1999) AS j
"""


def setup(n: int) -> str:
    """The customer, its admin and its data (loaded once); returns the customer's domain."""
    from django_tenants.utils import schema_context

    from mdr.accounts.models import Role, User
    from mdr.accounts.services import user_create
    from mdr.alerts.models import Alert
    from mdr.audit.services import Actor
    from tenants.models import Customer
    from tenants.services import customer_onboard, provider_ensure

    provider_ensure()
    customer = Customer.objects.filter(slug=SLUG).first()
    if customer is None:
        customer = customer_onboard(actor=Actor.system("bench"), name="Portal Bench", slug=SLUG, language="en").customer
    with schema_context(customer.schema_name):
        user = User.objects.filter(username=USERNAME).first()
        if user is None:
            user, _ = user_create(
                actor=Actor.system("bench"),
                username=USERNAME,
                email="bench@portal.example",
                role=Role.CUSTOMER_ADMIN,
                password=PASSWORD,
                language="en",
            )
        if Alert.objects.count() != n:
            print(f"loading {n:,} alerts and 2,000 incidents ...", flush=True)
            started = time.perf_counter()
            dsn = os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
            schema = sql.Identifier(customer.schema_name)
            with psycopg.connect(dsn) as conn:
                for table in ("alerts_alert", "incidents_incident"):
                    conn.execute(sql.SQL("TRUNCATE {}.{} CASCADE").format(schema, sql.Identifier(table)))
                conn.execute(sql.SQL(ALERTS_SQL).format(schema=schema), {"n": n, "step": 120 * 86400 // n})
                conn.execute(sql.SQL(INCIDENTS_SQL).format(schema=schema), {})
                conn.commit()
                conn.autocommit = True
                conn.execute(sql.SQL("VACUUM ANALYZE {}.alerts_alert").format(schema))
            print(f"loaded in {time.perf_counter() - started:.1f}s", flush=True)
    return customer.get_primary_domain().domain


class Session:
    """A logged-in browser session over plain HTTP (cookies and the CSRF token by hand)."""

    def __init__(self, port: int, host: str):
        self.port, self.host, self.cookies = port, host, {}

    def _headers(self) -> dict:
        return {"Host": self.host, "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    def request(self, method: str, path: str, body: str | None = None, extra: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        started = time.perf_counter()
        conn.request(method, path, body=body, headers=self._headers() | (extra or {}))
        response = conn.getresponse()
        data = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        conn.close()
        return response.status, data.decode("utf-8", "replace"), elapsed

    def login(self) -> None:
        status, page, _ = self.request("GET", "/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        form = urlencode({"username": USERNAME, "password": PASSWORD, "csrfmiddlewaretoken": token})
        status, _, _ = self.request(
            "POST", "/login/", form, {"Content-Type": "application/x-www-form-urlencoded", "Referer": "/login/"}
        )
        if status != 302:
            raise SystemExit(f"login failed: {status}")


def measure(session: Session, path: str, n: int) -> dict:
    times = []
    for _ in range(n):
        status, _, ms = session.request("GET", path)
        if status != 200:
            raise SystemExit(f"{path}: HTTP {status}")
        times.append(ms)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
        "max_ms": round(times[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    database_prepare(DB_NAME)
    import django

    django.setup()
    domain = setup(args.alerts)

    import tempfile

    from tests.live import start_web

    # Production settings as gunicorn runs them (DEBUG off); plain http, so no secure-only cookies.
    env = dict(
        os.environ,
        DJANGO_DEBUG="0",
        MDR_STATIC_FROM_FINDERS="1",
        DJANGO_SECURE_COOKIES="0",
        DJANGO_SECURE_SSL_REDIRECT="0",  # plain http on the loopback
        SECRET_KEY="bench-portal-only-" + "k" * 40,
        MDR_ENCRYPTION_KEYS="YmVuY2gtcG9ydGFsLW9ubHktZW5jcnlwdGlvbi1rZXk=",
    )
    logs = Path(tempfile.mkdtemp(prefix="mdr-bench-portal-"))
    web, port = start_web(env, logs, workers=2, threads=4)
    try:
        session = Session(port, domain)
        session.login()
        anonymous = Session(port, domain)
        measure(anonymous, "/login/", 5)
        results = {"login page (baseline, anonymous)": measure(anonymous, "/login/", args.requests)}
        pages = {
            "dashboard": "/",
            "alerts, first page": "/alerts/",
            "alerts, severity + source": "/alerts/?" + urlencode({"severity": "5", "source": "Suricata"}),
            "alerts, one host": "/alerts/?" + urlencode({"host": "host-4321"}),
            "incidents": "/incidents/",
        }
        deep = _deep_cursor(session, hops=20)
        if deep:
            pages["alerts, 21st page"] = "/alerts/?" + urlencode({"after": deep})
        for name, path in pages.items():
            measure(session, path, 5)  # warm
            results[name] = measure(session, path, args.requests)
            r = results[name]
            print(
                f"{name:<28} p50 {r['p50_ms']:7.1f} ms   p95 {r['p95_ms']:7.1f} ms   max {r['max_ms']:7.1f} ms",
                flush=True,
            )
    finally:
        web.stop()
    base = results["login page (baseline, anonymous)"]["p95_ms"]
    worst = max(v["p95_ms"] for k, v in results.items() if k.startswith(("dashboard", "alerts")))
    summary = {
        "bench": "portal",
        "alerts": args.alerts,
        "requests_per_page": args.requests,
        "pages": results,
        "baseline_p95_ms": base,
        "worst_alerts_or_dashboard_p95_ms": worst,
        "worst_over_baseline": round(worst / base, 1) if base else None,
        "goal_p95_ms": GOAL_P95_MS,
        "goal_met": worst < GOAL_P95_MS,
    }
    print(json.dumps(summary))


def _deep_cursor(session: Session, hops: int) -> str | None:
    """Follow the 'next' link ``hops`` times and return that cursor."""
    cursor = None
    for _ in range(hops):
        path = "/alerts/" + (f"?{urlencode({'after': cursor})}" if cursor else "")
        _, page, _ = session.request("GET", path)
        found = re.search(r'data-testid="alerts-next"[^>]*href="[^"]*after=([^"&]+)', page) or re.search(
            r'href="[^"]*after=([^"&]+)[^"]*"[^>]*data-testid="alerts-next"', page
        )
        if not found:
            return cursor
        from urllib.parse import unquote

        cursor = unquote(found.group(1))
    return cursor


if __name__ == "__main__":
    main()
