"""Sample metrics dicts for the report renderer, shaped exactly as docs/reports.md (schema_version 1).

``sample_metrics()`` is a busy October 2026 for a Tokyo customer: two contract versions, an at-risk health, top-N
lists cut with totals beside them, 50 listed incidents of 63, 50 listed breaches of 57 and 42 escalations, so the
PDF spans several pages. ``empty_metrics()`` is a month with nothing in it (zeros, nulls, empty lists).
``sample_csvs()`` gives the alert and incident CSV attachments for the sample. Everything is deterministic (no
clock, no randomness) so rendering can be compared byte for byte.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

MONTH_START = datetime(2026, 9, 30, 15, 0, tzinfo=UTC)  # 2026-10-01 00:00 JST
MONTH_END = datetime(2026, 10, 31, 15, 0, tzinfo=UTC)  # 2026-11-01 00:00 JST
AS_OF = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)

# Figures the tests look for in the extracted text, as the renderer formats them.
SLA_COMPLIANCE_PCT = 98.7
INCIDENTS_CREATED = 63
ALERTS_RECEIVED = 52_707

INCIDENT_TITLES = [
    "Suspicious PowerShell download cradle",
    "不審なPowerShellの実行 (ダウンロードクレードル)",
    "Credential dumping via LSASS access",
    "Impossible travel sign-in for privileged account",
    "ランサムウェアの兆候: 大量のファイル名変更",
    "Outbound C2 beacon to known bad domain",
    "Brute force against VPN gateway",
    "メール添付ファイルからのマクロ実行",
    "New local administrator created",
    "Suspicious scheduled task persistence",
]
HOSTS = [f"tky-ws-{i:04d}.corp.example.jp" for i in range(1, 11)]
USERS = [f"user{i:03d}@example.jp" for i in range(1, 11)]


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def _month_at(days: float) -> datetime:
    return MONTH_START + timedelta(days=days)


def _incidents() -> list[dict]:
    priorities = ["P1"] * 3 + ["P2"] * 12 + ["P3"] * 22 + ["P4"] * 13  # the 50 listed (63 created)
    rows = []
    for i, priority in enumerate(priorities):
        detected = _month_at(0.37 + i * 0.6)
        open_ = i % 11 == 4
        acknowledged = detected + timedelta(minutes=3 + i % 9)
        notified = acknowledged + timedelta(minutes=9 + i % 17) if priority in ("P1", "P2") else None
        customer_ack = notified + timedelta(minutes=14 + i % 23) if notified else None
        contained = detected + timedelta(hours=2 + i % 5) if priority != "P4" and not open_ else None
        resolved = detected + timedelta(hours=20 + i % 30) if not open_ else None
        closed = resolved + timedelta(days=1) if resolved and i % 3 else None
        state = "contained" if open_ and contained else "investigating" if open_ else "closed" if closed else "resolved"
        rows.append(
            {
                "id": f"INC-2026-{1000 + i:04d}",
                "title": INCIDENT_TITLES[i % len(INCIDENT_TITLES)],
                "priority": priority,
                "severity_id": {"P1": 5, "P2": 4, "P3": 3, "P4": 2}[priority] + (1 if i == 0 else 0),
                "state": state,
                "alert_count": 1 + (i * 7) % 13,
                "detected_at": _iso(detected),
                "acknowledged_at": _iso(acknowledged),
                "notified_at": _iso(notified),
                "customer_acknowledged_at": _iso(customer_ack),
                "contained_at": _iso(contained),
                "resolved_at": _iso(resolved),
                "closed_at": _iso(closed),
            }
        )
    # as reports/metrics.py lists them: by priority (P1 first), then by detection (creation) time
    return sorted(rows, key=lambda r: (r["priority"], r["detected_at"]))


SLA_ROWS = [
    # (subject, metric, priority, met, breached, open, goal_seconds)
    ("alert", "acknowledge", "P1", 54, 6, 0, 900),
    ("alert", "acknowledge", "P2", 412, 14, 1, 1800),
    ("alert", "acknowledge", "P3", 1630, 12, 3, 3600),
    ("alert", "acknowledge", "P4", 1290, 4, 5, 14400),
    ("incident", "notify", "P1", 3, 0, 0, 1800),
    ("incident", "notify", "P2", 11, 1, 0, 3600),
    ("alert", "resolve", "P1", 50, 4, 2, 14400),
    ("alert", "resolve", "P2", 380, 9, 6, 28800),
    ("alert", "resolve", "P3", 441, 7, 12, 86400),
    ("incident", "update", "P1", 50, 0, 0, 3600),
]


def _sla() -> dict:
    rows = []
    for subject, metric, priority, met, breached, open_, goal in SLA_ROWS:
        rows.append(
            {
                "metric": metric,
                "priority": priority,
                "subject": subject,
                "met": met,
                "breached": breached,
                "open": open_,
                "compliance_pct": round(met / (met + breached) * 100, 1),
                "goal_seconds": goal,
            }
        )
    order = ("acknowledge", "notify", "update", "resolve")  # reports/metrics.py: the incident's life
    rows.sort(key=lambda r: (order.index(r["metric"]), r["priority"], r["subject"]))
    met = sum(r["met"] for r in rows)
    breached = sum(r["breached"] for r in rows)
    breaches = []
    specs = [(s, m, p, g) for s, m, p, _met, b, _o, g in SLA_ROWS for _ in range(b)]
    for i, (subject, metric, priority, goal) in enumerate(specs[:50]):
        started = _month_at(0.5 + i * 0.55)
        paused = 3600.0 * (i % 3) if metric == "resolve" else 0.0
        deadline = started + timedelta(seconds=goal + paused)
        late = None if i % 13 == 12 else 60.0 * (2 + i * 7 % 95)
        breaches.append(
            {
                "timer_id": 9000 + i,
                "subject": subject,
                "subject_id": f"INC-2026-{1000 + i:04d}" if subject == "incident" else f"ALR-{700000 + i * 37}",
                "metric": metric,
                "priority": priority,
                "deadline": _iso(deadline),
                "breached_at": _iso(deadline),
                "goal_seconds": goal,
                "late_seconds": late,
                "reason": [
                    "analyst queue backlog during major incident",
                    "夜間帯の一次対応遅延",
                    "priority raised after enrichment (goal shortened)",
                ][i % 3],
                "paused_seconds": paused,
                "pauses": (
                    [{"reason": "awaiting customer: host owner confirmation", "seconds": paused}] if paused else []
                ),
            }
        )
    breaches.sort(key=lambda b: b["breached_at"])
    assert breached == 57 and len(specs) == 57
    return {
        "rows": rows,
        "overall": {"met": met, "breached": breached, "compliance_pct": round(met / (met + breached) * 100, 1)},
        "mtt": {
            "acknowledge": {
                "n": 3432,
                "business": {"mean": 1184.2, "median": 612.0, "p90": 2710.5},
                "wall": {"mean": 1530.9, "median": 640.0, "p90": 3920.0},
            },
            "notify": {
                "n": 15,
                "business": {"mean": 1302.4, "median": 1140.0, "p90": 2460.0},
                "wall": {"mean": 1302.4, "median": 1140.0, "p90": 2460.0},
            },
            "resolve": {
                "n": 891,
                "business": {"mean": 20310.0, "median": 14420.5, "p90": 61200.0},
                "wall": {"mean": 41022.7, "median": 30211.0, "p90": 152400.0},
            },
        },
        "breaches": breaches,
        "breaches_total": breached,
        "paused_by_reason": [
            {"reason": "awaiting customer: host owner confirmation", "seconds": 93600.0, "count": 31},
            {"reason": "awaiting customer: 隔離の承認待ち", "seconds": 28800.0, "count": 6},
            {"reason": "manual: vendor support case", "seconds": 7200.0, "count": 1},
        ],
    }


def _escalations() -> dict:
    items = []
    for i in range(42):
        started = _month_at(0.4 + i * 0.7)
        state = "acknowledged" if i % 7 not in (3, 5) else ("unreachable" if i % 14 == 5 else "running")
        ack = started + timedelta(seconds=240 + i * 61) if state == "acknowledged" else None
        items.append(
            {
                "incident_id": f"INC-2026-{1000 + i:04d}",
                "started_at": _iso(started),
                "state": state,
                "level_reached": 1 + (i % 4 == 0) + (state == "unreachable") * 2,
                "acknowledged_at": _iso(ack),
                "acknowledged_by": ["山田 太郎", "Jane Smith", "佐藤 花子"][i % 3] if ack else "",
                "ack_seconds": (ack - started).total_seconds() if ack else None,
                "first_delivery_at": _iso(started + timedelta(seconds=20)),
            }
        )
    return {
        "count": 42,
        "acknowledged": 36,
        "unanswered": 4,
        "unreachable": 2,
        "by_level_reached": [{"level": 1, "count": 28}, {"level": 2, "count": 12}, {"level": 3, "count": 2}],
        "customer_ack_seconds": {"n": 36, "mean": 1340.6, "median": 985.0, "p90": 2710.0},
        "deliveries": {
            "sent": 71,
            "failed": 3,
            "cancelled": 9,
            "by_channel": [
                {"key": "email", "count": 42},
                {"key": "phone", "count": 23},
                {"key": "slack", "count": 18},
            ],
        },
        "list": items,
    }


def _top(keys: list[str], first: int, step: int) -> list[dict]:
    return [{"key": key, "count": first - i * step} for i, key in enumerate(keys)]


def sample_metrics() -> dict:
    """The busy month (see the module docstring)."""
    incidents_list = _incidents()
    return {
        "schema_version": 1,
        "period": {
            "month": "2026-10",
            "start": _iso(MONTH_START),
            "end": _iso(MONTH_END),
            "timezone": "Asia/Tokyo",
            "as_of": _iso(AS_OF),
        },
        "contract": {
            "versions": [
                {
                    "number": 2,
                    "valid_from": "2026-04-01T00:00:00+09:00",
                    "valid_to": "2026-10-15T00:00:00+09:00",
                    "service_tier": "standard",
                    "response_mode": "notify_only",
                    "timezone": "Asia/Tokyo",
                    "coverage": "24x7",
                    "sla_policy": {"id": 3, "name": "gold", "version": 2},
                },
                {
                    "number": 3,
                    "valid_from": "2026-10-15T00:00:00+09:00",
                    "valid_to": None,
                    "service_tier": "premium",
                    "response_mode": "collaborate",
                    "timezone": "Asia/Tokyo",
                    "coverage": {
                        "timezone": "Asia/Tokyo",
                        "weekly_hours": {str(d): [["09:00", "18:00"]] for d in range(5)},
                        "holidays": ["JP"],
                        "extra_holidays": ["2026-12-29", "2026-12-30", "2026-12-31"],
                    },
                    "sla_policy": {"id": 5, "name": "gold", "version": 3},
                },
            ]
        },
        "health": {"status": "at_risk", "reasons": ["sla_breaches", "silent_sources"]},
        "coverage": {
            "scope_counts": {
                "in_scope": 48_210,
                "out_of_scope": 3_120,
                "excluded": 870,
                "unknown_asset": 412,
                "unsupported_source": 95,
                "over_quota": 0,
            },
            "in_scope_assets": 684,
            "inventory_assets": 812,
            "entitlements": [
                {"metric": "endpoints", "limit": 1000.0, "used": 812.0, "pct": 81.2, "measurement": "unique_in_month"},
                {"metric": "servers", "limit": 120.0, "used": 117.0, "pct": 97.5, "measurement": "unique_in_month"},
                {"metric": "gb_per_day", "limit": 50.0, "used": 43.7, "pct": 87.4, "measurement": "daily_max"},
            ],
            "log_sources": [
                {"name": name, "last_seen_at": _iso(AS_OF - timedelta(minutes=5 + i * 3)), "alerts": n, "silent": False}
                for i, (name, n) in enumerate(
                    [
                        ("Microsoft Defender for Endpoint", 21_344),
                        ("Suricata", 12_904),
                        ("Wazuh", 9_870),
                        ("Palo Alto Networks NGFW", 4_410),
                        ("Microsoft Entra ID", 2_911),
                        ("AWS GuardDuty", 1_020),
                        ("Google Workspace", 233),
                    ]
                )
            ]
            + [
                {
                    "name": "FortiGate (本社)",
                    "last_seen_at": _iso(_month_at(27.3)),
                    "alerts": 15,
                    "silent": True,
                }
            ],
            "degraded_periods": [
                {
                    "source": "Wazuh",
                    "start": _iso(_month_at(6.1)),
                    "end": _iso(_month_at(6.1) + timedelta(hours=2)),
                    "seconds": 7200.0,
                    "reason": "no events beyond heartbeat (6 h)",
                },
                {
                    "source": "FortiGate (本社)",
                    "start": _iso(_month_at(27.3)),
                    "end": None,
                    "seconds": 366_480.0,
                    "reason": "no events beyond heartbeat (12 h)",
                },
            ],
        },
        "funnel": {
            "received": ALERTS_RECEIVED,
            "occurrences": 61_234,
            "worked": 48_622,
            "triaged": 48_590,
            "in_incidents": 214,
            "incidents": INCIDENTS_CREATED,
            "classified": {
                "true_positive": 180,
                "benign_true_positive": 1_204,
                "false_positive": 2_310,
                "duplicate": 5_432,
            },
            "false_positive_rate": 25.3,
        },
        "breakdowns": {
            "by_severity": [
                {"key": "6", "count": 2},
                {"key": "5", "count": 96},
                {"key": "4", "count": 2_310},
                {"key": "3", "count": 11_840},
                {"key": "2", "count": 20_113},
                {"key": "1", "count": 18_046},
                {"key": "0", "count": 300},
            ],
            "by_priority": [
                {"key": "P1", "count": 60},
                {"key": "P2", "count": 427},
                {"key": "P3", "count": 1_645},
                {"key": "P4", "count": 46_490},
            ],
            "by_category": _top(
                [
                    "Network Activity",
                    "System Activity",
                    "Identity & Access Management",
                    "Findings",
                    "Application Activity",
                    "Discovery",
                    "マルウェア",
                    "Policy Violation",
                    "Data Loss",
                    "Cloud Configuration",
                ],
                14_900,
                1_300,
            ),
            "by_tactic": _top(
                [
                    "Discovery",
                    "Execution",
                    "Defense Evasion",
                    "Credential Access",
                    "Initial Access",
                    "Persistence",
                    "Lateral Movement",
                    "Command and Control",
                    "Privilege Escalation",
                    "Exfiltration",
                ],
                9_800,
                900,
            ),
            "by_technique": _top(
                [
                    "T1046",
                    "T1059.001",
                    "T1110",
                    "T1078",
                    "T1566.001",
                    "T1053.005",
                    "T1021.002",
                    "T1071.001",
                    "T1003.001",
                    "T1486",
                ],
                6_100,
                550,
            ),
            "by_source": _top(
                [
                    "Microsoft Defender for Endpoint",
                    "Suricata",
                    "Wazuh",
                    "Palo Alto Networks NGFW",
                    "Microsoft Entra ID",
                    "AWS GuardDuty",
                    "Google Workspace",
                    "FortiGate (本社)",
                    "cef",
                ],
                21_344,
                2_300,
            ),
            "top_rules": [
                {"key": f"R{4000 + i}", "name": name, "count": 3_900 - i * 310}
                for i, name in enumerate(
                    [
                        "ET SCAN Nmap Scripting Engine User-Agent",
                        "PowerShell encoded command line",
                        "Multiple failed logons for one account",
                        "LSASS memory access by unsigned process",
                        "Office application spawned a script interpreter",
                        "社外宛ての大容量アップロード",
                        "Scheduled task created by non-admin",
                        "SMB admin share access from workstation",
                        "DNS query to newly registered domain",
                        "Mass file rename by single process",
                    ]
                )
            ],
            "top_hosts": _top(HOSTS, 1_840, 120),
            "top_users": _top(USERS, 620, 41),
            "totals": {"categories": 14, "rules": 312, "hosts": 684, "users": 233},
        },
        "incidents": {
            "created": INCIDENTS_CREATED,
            "open_at_end": 5,
            "by_priority": {"P1": 3, "P2": 12, "P3": 30, "P4": 18},
            "by_state": {
                "new": 1,
                "investigating": 2,
                "escalated": 0,
                "awaiting_customer": 1,
                "contained": 1,
                "resolved": 20,
                "closed": 38,
            },
            "list": incidents_list,
            "list_total": INCIDENTS_CREATED,
        },
        "sla": _sla(),
        "escalations": _escalations(),
        "trends": {
            "months": [
                {
                    "month": "2026-05",
                    "alerts": 39_870,
                    "incidents": 41,
                    "critical_incidents": 9,
                    "sla_compliance_pct": 99.1,
                    "false_positive_rate": 31.0,
                },
                {
                    "month": "2026-06",
                    "alerts": 42_115,
                    "incidents": 47,
                    "critical_incidents": 11,
                    "sla_compliance_pct": 98.9,
                    "false_positive_rate": 29.4,
                },
                {
                    "month": "2026-07",
                    "alerts": 44_902,
                    "incidents": 52,
                    "critical_incidents": 10,
                    "sla_compliance_pct": None,
                    "false_positive_rate": 28.8,
                },
                {
                    "month": "2026-08",
                    "alerts": 43_310,
                    "incidents": 55,
                    "critical_incidents": 13,
                    "sla_compliance_pct": 99.3,
                    "false_positive_rate": 27.5,
                },
                {
                    "month": "2026-09",
                    "alerts": 47_060,
                    "incidents": 58,
                    "critical_incidents": 14,
                    "sla_compliance_pct": 99.0,
                    "false_positive_rate": 26.2,
                },
                {
                    "month": "2026-10",
                    "alerts": ALERTS_RECEIVED,
                    "incidents": INCIDENTS_CREATED,
                    "critical_incidents": 15,
                    "sla_compliance_pct": SLA_COMPLIANCE_PCT,
                    "false_positive_rate": 25.3,
                },
            ],
            "mom": {"alerts_pct": 12.0, "incidents_pct": 8.6, "sla_points": -0.3},
        },
    }


def empty_metrics() -> dict:
    """A month with nothing in it: no alerts, incidents, timers or escalations; every percentage null."""
    zero_stats = {"mean": None, "median": None, "p90": None}
    return {
        "schema_version": 1,
        "period": {
            "month": "2026-10",
            "start": _iso(MONTH_START),
            "end": _iso(MONTH_END),
            "timezone": "Asia/Tokyo",
            "as_of": _iso(AS_OF),
        },
        "contract": {"versions": []},
        "health": {"status": "ok", "reasons": []},
        "coverage": {
            "scope_counts": {
                "in_scope": 0,
                "out_of_scope": 0,
                "excluded": 0,
                "unknown_asset": 0,
                "unsupported_source": 0,
                "over_quota": 0,
            },
            "in_scope_assets": 0,
            "inventory_assets": 0,
            "entitlements": [],
            "log_sources": [],
            "degraded_periods": [],
        },
        "funnel": {
            "received": 0,
            "occurrences": 0,
            "worked": 0,
            "triaged": 0,
            "in_incidents": 0,
            "incidents": 0,
            "classified": {"true_positive": 0, "benign_true_positive": 0, "false_positive": 0, "duplicate": 0},
            "false_positive_rate": None,
        },
        "breakdowns": {
            "by_severity": [{"key": str(s), "count": 0} for s in range(6, -1, -1)],
            "by_priority": [{"key": p, "count": 0} for p in ("P1", "P2", "P3", "P4")],
            "by_category": [],
            "by_tactic": [],
            "by_technique": [],
            "by_source": [],
            "top_rules": [],
            "top_hosts": [],
            "top_users": [],
            "totals": {"categories": 0, "rules": 0, "hosts": 0, "users": 0},
        },
        "incidents": {
            "created": 0,
            "open_at_end": 0,
            "by_priority": {"P1": 0, "P2": 0, "P3": 0, "P4": 0},
            "by_state": {},
            "list": [],
            "list_total": 0,
        },
        "sla": {
            "rows": [],
            "overall": {"met": 0, "breached": 0, "compliance_pct": None},
            "mtt": {
                metric: {"n": 0, "business": dict(zero_stats), "wall": dict(zero_stats)}
                for metric in ("acknowledge", "notify", "resolve")
            },
            "breaches": [],
            "breaches_total": 0,
            "paused_by_reason": [],
        },
        "escalations": {
            "count": 0,
            "acknowledged": 0,
            "unanswered": 0,
            "unreachable": 0,
            "by_level_reached": [],
            "customer_ack_seconds": {"n": 0, "mean": None, "median": None, "p90": None},
            "deliveries": {"sent": 0, "failed": 0, "cancelled": 0, "by_channel": []},
            "list": [],
        },
        "trends": {
            "months": [
                {
                    "month": month,
                    "alerts": 0,
                    "incidents": 0,
                    "critical_incidents": 0,
                    "sla_compliance_pct": None,
                    "false_positive_rate": None,
                }
                for month in ("2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10")
            ],
            "mom": {"alerts_pct": None, "incidents_pct": None, "sla_points": None},
        },
    }


ALERT_CSV_HEADER = ["id", "received_at", "severity_id", "priority", "scope_status", "rule_name", "host"]
INCIDENT_CSV_HEADER = ["id", "title", "priority", "state", "created_at"]


def sample_csvs(metrics: dict | None = None) -> tuple[bytes, bytes]:
    """(alerts.csv, incidents.csv) as the caller would pass them: UTF-8 with a header row."""
    alerts = io.StringIO()
    writer = csv.writer(alerts, lineterminator="\n")
    writer.writerow(ALERT_CSV_HEADER)
    for i in range(200):
        writer.writerow(
            [
                f"ALR-{700000 + i}",
                _iso(_month_at(i * 0.15)),
                i % 7,
                f"P{1 + i % 4}",
                "in_scope",
                INCIDENT_TITLES[i % len(INCIDENT_TITLES)],
                HOSTS[i % len(HOSTS)],
            ]
        )
    incidents = io.StringIO()
    writer = csv.writer(incidents, lineterminator="\n")
    writer.writerow(INCIDENT_CSV_HEADER)
    for row in (metrics or sample_metrics())["incidents"]["list"]:
        writer.writerow([row["id"], row["title"], row["priority"], row["state"], row["detected_at"]])
    return alerts.getvalue().encode(), incidents.getvalue().encode()
