"""Benchmark: the monthly report of a busy customer: metrics in SQL, rendering in Japanese and English, peak memory,
and what 4x the data costs.

Run from the repository root (PostgreSQL and Redis running; fonts-noto-cjk installed)::

    DJANGO_DEBUG=1 .venv/bin/python bench/reports.py [--alerts 100000] [--incidents 500] [--rounds 3]

Uses its own database ``mdr_bench_reports`` (created if missing, migrated with ``manage.py migrate_all``) and Redis
db 14. Two customers are onboarded once: ``rpt1x`` with ``--alerts`` alerts and ``--incidents`` incidents in
October 2026 (Asia/Tokyo), and ``rpt4x`` with four times as many; each with SLA timers for its in-scope alerts
(acknowledge and resolve: met, a few breached with evidence, some paused with reasons), notify timers and
escalations with deliveries for its incidents, and 5 earlier months of lighter data for the trends. Rows are made
by set-based SQL (``generate_series``), deterministic (no randomness).

Measured, median of ``--rounds``:
1. ``reports.metrics.monthly_metrics`` at 1x and 4x, against a baseline measured in the same run: one
   aggregate scan of the month's alerts (``count``, ``sum(occurrence_count)`` grouped by severity) -- the
   least any report must read. Goal: metrics under 2 s at 1x; 4x data costs at most 4x time.
2. Rendering (``reports.pdf.render_report_pdf`` with the CSV attachments), each in a fresh child process (the
   worker's job: metrics already computed, CSVs by COPY, HTML -> PDF/A-3b), in Japanese and in English on the same
   data, at 1x and 4x: wall time and the child's peak RSS (``ru_maxrss``). Goals: Japanese within 1.5x of English;
   4x data at most 4x time; peak memory under 500 MB.

Prints the figures, then as the last line one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "mdr_bench_reports"
os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
os.environ["REDIS_URL"] = "redis://127.0.0.1:6379/14"
os.environ["MDR_DRAMATIQ_NAMESPACE"] = "mdr-bench-reports"
os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mdr.settings")
sys.path.insert(0, str(ROOT))

MONTH = date(2026, 10, 1)
GOAL_METRICS_S = 2.0
GOAL_JA_EN = 1.5
GOAL_SCALE = 4.0
GOAL_RSS_MB = 500


def _child() -> None:
    """Render one report in this (fresh) process and print its figures: the worker's job, measured alone."""
    import django

    django.setup()
    from django_tenants.utils import schema_context

    from reports.exports import alerts_csv, incidents_csv
    from reports.metrics import month_bounds, monthly_metrics
    from reports.pdf import render_report_pdf

    slug, language = sys.argv[2], sys.argv[3]
    with schema_context(slug):
        metrics = monthly_metrics(month=MONTH)
        start, end, _tz = month_bounds(month=MONTH)
        started = time.perf_counter()
        pdf = render_report_pdf(
            metrics=metrics,
            language=language,
            customer_name=f"Bench {slug}",
            recommendations=["Review the top rules with the customer.", "EDR をすべてのサーバーに展開する。"],
            customer_actions=["Confirm the new VPN range."],
            alerts_csv=alerts_csv(start=start, end=end),
            incidents_csv=incidents_csv(start=start, end=end),
        )
        seconds = time.perf_counter() - started
    import io

    from pypdf import PdfReader

    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "bytes": len(pdf), "pages": pages, "rss_mb": rss_mb}))


if len(sys.argv) > 1 and sys.argv[1] == "--child":
    _child()
    sys.exit(0)

import psycopg  # noqa: E402
from benchdb import database_prepare  # noqa: E402
from psycopg import sql  # noqa: E402

# The month's data, set-based. %(schema)s is an identifier inserted by psycopg.sql; every value is a parameter.
# Alert i: received within October (Tokyo), severity i % 7, in scope 80 %, P1..P4, 12 categories, 40 rules,
# 2,000 hosts, 300 users, ATT&CK tactics/techniques from small sets, 1 in 5 classified (1 in 4 of those FP),
# the first (incidents x 8) alerts attached to incidents (8 each).
ALERTS_SQL = """
INSERT INTO {schema}.alerts_alert (
    id, dedup_key, source_format, source_product, source_vendor, external_id, title, description, severity_id,
    severity_raw, category, rule_id, rule_name, tactics, techniques, observed_at, received_at, hosts, ips, users,
    cloud_provider, cloud_account, cloud_region, raw, occurrence_count, first_seen_at, last_seen_at, status,
    scope_status, scope_reason, criticality, remediation_allowed, contract_version_id, in_coverage, priority,
    incident_id, api_key_public_id, processed_at, assignee, classification, acknowledged_at, closed_at)
SELECT md5(%(tag)s || i)::uuid, %(tag)s || i, (ARRAY['suricata','wazuh','ecs','guardduty'])[1 + i %% 4],
    (ARRAY['Suricata','Wazuh','Elastic Defend','GuardDuty'])[1 + i %% 4], '', 'ext-' || i,
    'Bench alert ' || (i %% 40), '', i %% 7, '', (ARRAY['malware','network','credential_access','discovery',
    'execution','persistence','lateral_movement','exfiltration','phishing','policy','cloud','other'])[1 + i %% 12],
    'R-' || (i %% 40), 'Rule number ' || (i %% 40), ARRAY[(ARRAY['TA0001','TA0002','TA0003','TA0007'])[1 + i %% 4]],
    ARRAY[(ARRAY['T1059','T1078','T1110','T1021','T1046'])[1 + i %% 5]],
    %(start)s + (i * %(step)s) * interval '1 second', %(start)s + (i * %(step)s) * interval '1 second',
    ARRAY['host-' || (i %% 2000)], ARRAY[('10.' || (i %% 200) || '.' || (i %% 250) || '.1')::inet],
    ARRAY['user' || (i %% 300)], '', '', '', '{{}}'::jsonb, 1 + (i %% 3 = 0)::int,
    %(start)s + (i * %(step)s) * interval '1 second', %(start)s + (i * %(step)s) * interval '1 second',
    CASE WHEN i %% 5 = 0 THEN 'closed' ELSE 'new' END,
    CASE WHEN i %% 10 < 8 THEN 'in_scope' WHEN i %% 10 = 8 THEN 'out_of_scope' ELSE 'unknown_asset' END,
    '', 'medium', false, %(version)s, true, (ARRAY['P1','P2','P3','P4'])[1 + i %% 4],
    CASE WHEN i < %(incidents)s * 8 THEN md5(%(tag)s || 'inc' || (i / 8))::uuid END, '', now(), '',
    CASE WHEN i %% 5 = 0 THEN (CASE WHEN i %% 20 = 0 THEN 'false_positive' ELSE 'true_positive' END) ELSE '' END,
    CASE WHEN i %% 5 = 0 THEN %(start)s + (i * %(step)s + 600) * interval '1 second' END,
    CASE WHEN i %% 5 = 0 THEN %(start)s + (i * %(step)s + 3600) * interval '1 second' END
FROM generate_series(0, %(n)s - 1) AS i
"""

INCIDENTS_SQL = """
INSERT INTO {schema}.incidents_incident (id, title, state, severity_id, priority, correlation_rule,
    correlation_key, first_alert_at, last_alert_at, alert_count, customer_summary, created_at, updated_at,
    resolved_at, closed_at, notified_at, customer_acknowledged_at)
SELECT md5(%(tag)s || 'inc' || j)::uuid, 'Bench incident ' || j,
    (ARRAY['new','investigating','escalated','contained','resolved','closed'])[1 + j %% 6], 3 + j %% 4,
    (ARRAY['P1','P2','P3','P4'])[1 + j %% 4], '', '', %(start)s + (j * 8 * %(step)s) * interval '1 second',
    %(start)s + ((j * 8 + 7) * %(step)s) * interval '1 second', 8, '',
    %(start)s + (j * 8 * %(step)s + 60) * interval '1 second', now(),
    CASE WHEN j %% 6 >= 4 THEN %(start)s + (j * 8 * %(step)s + 86400) * interval '1 second' END,
    CASE WHEN j %% 6 = 5 THEN %(start)s + (j * 8 * %(step)s + 90000) * interval '1 second' END,
    %(start)s + (j * 8 * %(step)s + 900) * interval '1 second',
    CASE WHEN j %% 3 > 0 THEN %(start)s + (j * 8 * %(step)s + 2400) * interval '1 second' END
FROM generate_series(0, %(incidents)s - 1) AS j
"""

# Every other incident escalated (level reached 1 or 2), two in three acknowledged; one delivery per level.
ESCALATIONS_SQL = """
INSERT INTO {schema}.escalations_escalation (id, incident_id, matrix_id, rule_index, level, cycle, state, started_at,
    acknowledged_at, acknowledged_by, ack_channel, brief)
SELECT md5(%(tag)s || 'esc' || i.n)::uuid, i.id, %(matrix)s, 0, i.n %% 2, 0,
    CASE WHEN i.customer_acknowledged_at IS NOT NULL THEN 'acknowledged' ELSE 'unreachable' END,
    i.created_at + interval '5 minutes', i.customer_acknowledged_at,
    CASE WHEN i.customer_acknowledged_at IS NOT NULL THEN 'CSIRT duty' ELSE '' END,
    CASE WHEN i.customer_acknowledged_at IS NOT NULL THEN 'link' ELSE '' END, '{{}}'::jsonb
FROM (SELECT id, created_at, customer_acknowledged_at, row_number() OVER (ORDER BY created_at) AS n
      FROM {schema}.incidents_incident) AS i
WHERE i.n %% 2 = 0;
INSERT INTO {schema}.escalations_delivery (escalation_id, level, cycle, notice_kind, sequence, contact_id, channel,
    target, created_at, state, attempts, delivered_at, message_id, payload, last_error)
SELECT e.id, l.level, 0, 'first', l.level + 1, %(contact)s, 'email', 'csirt@bench.example',
    e.started_at + l.level * interval '15 minutes', 'sent', 1,
    e.started_at + l.level * interval '15 minutes' + interval '2 seconds', '<bench-' || e.id || '-' || l.level || '>',
    '{{}}'::jsonb, ''
FROM {schema}.escalations_escalation e CROSS JOIN (VALUES (0), (1)) AS l(level)
WHERE l.level <= e.level;
"""


def populate(
    conn: psycopg.Connection,
    schema: str,
    n: int,
    incidents: int,
    version_id: int,
    policy_id: int,
    matrix_id: int,
    contact_id: int,
) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    tag = f"{schema}-"
    start = datetime(2026, 10, 1, tzinfo=ZoneInfo("Asia/Tokyo"))
    step = (31 * 86400 - 3600) // n  # spread over the month, in seconds
    ident = sql.Identifier(schema)
    params = {"tag": tag, "start": start, "step": step, "n": n, "incidents": incidents, "version": version_id}
    conn.execute(sql.SQL(ALERTS_SQL).format(schema=ident), params)
    conn.execute(sql.SQL(INCIDENTS_SQL).format(schema=ident), params)
    # SLA timers: acknowledge (goal 900 s) and resolve (goal 28,800 s) for in-scope alerts with an even index.
    conn.execute(
        sql.SQL(
            """
            INSERT INTO {schema}.sla_slatimer (subject_type, subject_id, metric, priority, policy_id, goal_seconds,
                calendar_spec, warning_thresholds, state, started_at, elapsed_business_seconds, resumed_at,
                paused_since, deadline, warned_pct, breached_at, stopped_at, elapsed_wall_seconds)
            SELECT 'alert', a.id::text, m.metric, a.priority, %(policy)s, m.goal,
                '{{"type": "24x7", "timezone": "UTC"}}', ARRAY[50, 75, 90], 'met', a.received_at,
                CASE WHEN a.n %% 50 = 0 THEN m.goal * 1.5 ELSE m.goal * ((a.n %% 9) + 1) / 10.0 END, NULL, NULL,
                NULL, 90,
                CASE WHEN a.n %% 50 = 0 THEN a.received_at + m.goal * interval '1 second' END,
                a.received_at + (CASE WHEN a.n %% 50 = 0 THEN m.goal * 1.5 ELSE m.goal * ((a.n %% 9) + 1) / 10.0 END)
                    * interval '1 second',
                CASE WHEN a.n %% 50 = 0 THEN m.goal * 1.5 ELSE m.goal * ((a.n %% 9) + 1) / 10.0 END
            FROM (SELECT id, received_at, priority, row_number() OVER (ORDER BY received_at) AS n
                  FROM {schema}.alerts_alert WHERE scope_status = 'in_scope') AS a
            CROSS JOIN (VALUES ('acknowledge', 900), ('resolve', 28800)) AS m(metric, goal)
            WHERE a.n %% 2 = 0
            """
        ).format(schema=ident),
        {"policy": policy_id},
    )
    conn.execute(
        sql.SQL(
            """
            INSERT INTO {schema}.sla_slatimer (subject_type, subject_id, metric, priority, policy_id, goal_seconds,
                calendar_spec, warning_thresholds, state, started_at, elapsed_business_seconds, warned_pct,
                stopped_at, elapsed_wall_seconds)
            SELECT 'incident', id::text, 'notify', priority, %(policy)s, 1800, '{{"type": "24x7", "timezone": "UTC"}}',
                ARRAY[50, 75, 90], 'met', created_at, extract(epoch FROM notified_at - created_at), 50, notified_at,
                extract(epoch FROM notified_at - created_at)
            FROM {schema}.incidents_incident
            """
        ).format(schema=ident),
        {"policy": policy_id},
    )
    for statement in ESCALATIONS_SQL.strip().split(";\n"):
        if statement.strip():
            conn.execute(sql.SQL(statement).format(schema=ident), params | {"matrix": matrix_id, "contact": contact_id})
    conn.execute(
        sql.SQL(
            """
            INSERT INTO {schema}.sla_slabreach (timer_id, breached_at, deadline, evidence)
            SELECT id, breached_at, breached_at, jsonb_build_object('goal_seconds', goal_seconds,
                   'reason', 'goal of ' || goal_seconds || ' s exceeded')
            FROM {schema}.sla_slatimer WHERE breached_at IS NOT NULL
            """
        ).format(schema=ident)
    )
    conn.execute(
        sql.SQL(
            """
            INSERT INTO {schema}.sla_slatimerevent (timer_id, kind, at, data, actor)
            SELECT id, k.kind, started_at + k.offset_s * interval '1 second', k.data, 'bench'
            FROM {schema}.sla_slatimer
            CROSS JOIN (VALUES ('paused', 60, '{{"reason": "awaiting customer: VPN logs"}}'::jsonb),
                               ('resumed', 660, '{{}}'::jsonb)) AS k(kind, offset_s, data)
            WHERE id %% 100 = 0
            """
        ).format(schema=ident),
        {},
    )
    conn.commit()


def setup(conn, slug: str, n: int, incidents: int) -> None:
    """Onboard the customer once, publish a contract version with an SLA policy, and load its month."""
    import django  # noqa: F401
    from django_tenants.utils import schema_context

    from mdr.audit.services import Actor
    from mdr.escalations.contacts import contact_create
    from mdr.escalations.services import matrix_publish
    from mdr.scope.models import ContractVersion
    from mdr.sla.services import policy_create
    from tenants.models import Customer
    from tenants.services import customer_onboard

    customer = Customer.objects.filter(slug=slug).first()
    if customer is None:
        customer = customer_onboard(
            actor=Actor.system("bench"), name=f"Bench {slug}", slug=slug, language="ja"
        ).customer
    with schema_context(customer.schema_name):
        from mdr.alerts.models import Alert

        if Alert.objects.count() == n:
            return
        print(f"{slug}: loading {n:,} alerts and {incidents:,} incidents ...", flush=True)
        policy = policy_create(
            actor=Actor.system("bench"),
            name="bench",
            targets=[
                {"priority": p, "metric": m, "goal_minutes": g}
                for p in ("P1", "P2", "P3", "P4")
                for m, g in (("acknowledge", 15), ("resolve", 480), ("notify", 30))
            ],
        )
        contact, _ = contact_create(
            actor=Actor.system("bench"), data={"name": "CSIRT duty", "email": "csirt@bench.example", "language": "ja"}
        )
        level = {"contacts": [contact.pk], "channels": ["email"], "wait_minutes": 15}
        matrix = matrix_publish(
            actor=Actor.system("bench"), rules=[{"min_priority": "P4", "repeat": 1, "levels": [level, level]}]
        )
        version = ContractVersion.objects.filter(status="published").order_by("-number").first()
        tables = (
            "escalations_delivery",
            "escalations_escalation",
            "sla_slatimerevent",
            "sla_slabreach",
            "sla_slatimer",
            "alerts_alert",
            "incidents_incident",
        )
        schema = sql.Identifier(customer.schema_name)
        for table in tables:
            conn.execute(sql.SQL("TRUNCATE {}.{} CASCADE").format(schema, sql.Identifier(table)))
        conn.commit()
        started = time.perf_counter()
        populate(
            conn, customer.schema_name, n, incidents, version.pk if version else 0, policy.pk, matrix.pk, contact.pk
        )
        conn.execute(sql.SQL("ANALYZE"))
        conn.commit()
        print(f"{slug}: loaded in {time.perf_counter() - started:.1f}s", flush=True)


def baseline_s(conn, schema: str) -> float:
    """One aggregate scan of the month's alerts: the least any monthly report reads."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    tokyo = ZoneInfo("Asia/Tokyo")
    started = time.perf_counter()
    conn.execute(
        sql.SQL(
            "SELECT severity_id, count(*), sum(occurrence_count) FROM {}.alerts_alert "
            "WHERE received_at >= %s AND received_at < %s GROUP BY severity_id"
        ).format(sql.Identifier(schema)),
        [datetime(2026, 10, 1, tzinfo=tokyo), datetime(2026, 11, 1, tzinfo=tokyo)],
    ).fetchall()
    return time.perf_counter() - started


def metrics_s(schema: str) -> float:
    from django_tenants.utils import schema_context

    from reports.metrics import monthly_metrics

    with schema_context(schema):
        started = time.perf_counter()
        monthly_metrics(month=MONTH)
        return time.perf_counter() - started


def render(slug: str, language: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", slug, language],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"render {slug} {language} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--incidents", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    database_prepare(DB_NAME)
    import django

    django.setup()
    from tenants.services import provider_ensure

    provider_ensure()
    dsn = os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
    with psycopg.connect(dsn) as conn:
        setup(conn, "rpt1x", args.alerts, args.incidents)
        setup(conn, "rpt4x", 4 * args.alerts, 4 * args.incidents)
        figures: dict = {}
        for slug in ("rpt1x", "rpt4x"):
            metrics_s(slug)  # warm the caches once
            base = statistics.median(baseline_s(conn, slug) for _ in range(args.rounds))
            took = statistics.median(metrics_s(slug) for _ in range(args.rounds))
            figures[slug] = {"baseline_s": base, "metrics_s": took}
            print(f"{slug}: metrics {took:.3f}s, baseline scan {base:.4f}s, ratio {took / base:.1f}x", flush=True)
        for slug in ("rpt1x", "rpt4x"):
            for language in ("en", "ja"):
                runs = [render(slug, language) for _ in range(args.rounds)]
                best = {
                    "seconds": statistics.median(r["seconds"] for r in runs),
                    "rss_mb": max(r["rss_mb"] for r in runs),
                    "pages": runs[0]["pages"],
                    "bytes": runs[0]["bytes"],
                }
                figures[slug][f"render_{language}"] = best
                print(
                    f"{slug} {language}: render {best['seconds']:.2f}s, {best['pages']} pages, "
                    f"{best['bytes'] / 1e6:.2f} MB, peak RSS {best['rss_mb']:.0f} MB",
                    flush=True,
                )
    one, four = figures["rpt1x"], figures["rpt4x"]
    result = {
        "bench": "reports",
        "alerts": args.alerts,
        "incidents": args.incidents,
        "metrics_s_1x": round(one["metrics_s"], 3),
        "metrics_s_4x": round(four["metrics_s"], 3),
        "metrics_vs_scan_1x": round(one["metrics_s"] / one["baseline_s"], 1),
        "metrics_4x_over_1x": round(four["metrics_s"] / one["metrics_s"], 2),
        "render_en_s_1x": round(one["render_en"]["seconds"], 2),
        "render_ja_s_1x": round(one["render_ja"]["seconds"], 2),
        "render_ja_over_en_1x": round(one["render_ja"]["seconds"] / one["render_en"]["seconds"], 2),
        "render_ja_over_en_4x": round(four["render_ja"]["seconds"] / four["render_en"]["seconds"], 2),
        "render_4x_over_1x_ja": round(four["render_ja"]["seconds"] / one["render_ja"]["seconds"], 2),
        "peak_rss_mb_1x": round(max(one["render_en"]["rss_mb"], one["render_ja"]["rss_mb"])),
        "peak_rss_mb_4x": round(max(four["render_en"]["rss_mb"], four["render_ja"]["rss_mb"])),
    }
    result["goals_met"] = {
        "metrics_under_2s_1x": result["metrics_s_1x"] < GOAL_METRICS_S,
        "metrics_4x_at_most_4x": result["metrics_4x_over_1x"] <= GOAL_SCALE,
        "ja_within_1_5x_en": result["render_ja_over_en_1x"] <= GOAL_JA_EN,
        "render_4x_at_most_4x": result["render_4x_over_1x_ja"] <= GOAL_SCALE,
        "peak_rss_under_500mb": result["peak_rss_mb_4x"] < GOAL_RSS_MB,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
