"""Every figure of the monthly customer report, computed in SQL in the current customer schema (docs/reports.md).

``monthly_metrics`` returns the metrics JSON (schema_version 1) that a ``MonthlyReport`` stores and the renderer
reads; ``sla_summary`` is its SLA block for any period (the account managers' cross-customer report calls it per
customer); ``month_trend_point`` is one month of the trend chart. Figures are aggregates in PostgreSQL (counts with
``FILTER``, ``unnest`` for array columns, ``percentile_cont`` for medians and p90), never loops over alert rows in
Python, so the number of queries is fixed whatever the size of the month (about 20). Raw SQL is made of fixed
fragments; every value is a parameter. Callers enter the customer's schema (``schema_context``).
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.utils import timezone

from mdr.incidents.models import OPEN_STATES as INCIDENT_OPEN_STATES
from mdr.incidents.models import IncidentState
from mdr.scope.models import Asset, ContractVersion, VersionStatus
from mdr.scope.selectors import usage_for_month
from mdr.sla.models import SlaPolicy

SCHEMA_VERSION = 1
DEFAULT_TIMEZONE = "Asia/Tokyo"  # docs/reports.md: the month's zone when no contract version says otherwise
TOP_N = 10
LIST_N = 50
TREND_MONTHS = 6

SCOPE_STATUSES = ("in_scope", "out_of_scope", "excluded", "unknown_asset", "unsupported_source", "over_quota")
WORKED_STATUSES = ("in_scope", "unknown_asset")
CLASSIFICATIONS = ("true_positive", "benign_true_positive", "false_positive", "duplicate")
PRIORITIES = ("P1", "P2", "P3", "P4")
CRITICAL_PRIORITIES = ("P1", "P2")
SEVERITIES = (6, 5, 4, 3, 2, 1, 0)
SLA_METRICS = ("acknowledge", "notify", "update", "resolve")  # the report's order: the incident's life
MTT_METRICS = ("acknowledge", "notify", "resolve")
HEALTH_REASONS = ("sla_breaches", "silent_sources", "open_critical_incidents", "customer_unreachable")


# ---- helpers -------------------------------------------------------------------------------------------------


def _rows(sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [col.name for col in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _one(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    return _rows(sql, params)[0]


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _num(value: Any) -> float | None:
    """A duration or measure as a JSON float (3 decimals), None stays None."""
    return None if value is None else round(float(value), 3)


def _pct(part: float, whole: float) -> float | None:
    return round(part * 100 / whole, 1) if whole else None


def _stats(n: int, mean: Any, median: Any, p90: Any) -> dict[str, float | None]:
    if not n:
        return {"mean": None, "median": None, "p90": None}
    return {"mean": _num(mean), "median": _num(median), "p90": _num(p90)}


def _duration_text(seconds: float) -> str:
    """'1h 05m', '15m', '42s': the wording of a built breach reason (not localised: reasons are free text)."""
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m" if not secs else f"{minutes}m {secs:02d}s"
    return f"{secs}s"


# ---- the month -----------------------------------------------------------------------------------------------


def _local_bounds(month: date, zone: str) -> tuple[datetime, datetime]:
    tz = ZoneInfo(zone)
    start = datetime(month.year, month.month, 1, tzinfo=tz)
    end = datetime(month.year + (month.month == 12), month.month % 12 + 1, 1, tzinfo=tz)
    return start, end


def _published_versions() -> list[ContractVersion]:
    """Every published version, oldest first: one small query that the month rules below work on."""
    return list(ContractVersion.objects.filter(status=VersionStatus.PUBLISHED).order_by("valid_from", "pk"))


def _in_force(versions: list[ContractVersion], at: datetime) -> ContractVersion | None:
    """``mdr.scope.selectors.version_in_force`` over a loaded list (same rule: [valid_from, valid_to) holds
    ``at``; the latest start wins), so six months of trend cost no query each."""
    found = [v for v in versions if v.valid_from <= at and (v.valid_to is None or v.valid_to > at)]
    return max(found, key=lambda v: (v.valid_from, v.pk)) if found else None


def _month_zone(versions: list[ContractVersion], month: date) -> str:
    """The zone of the version in force at the month's local midnight. That midnight depends on the zone, so each
    zone of the contract's history is tried: a zone fits when the version in force at its midnight has that zone;
    when two fit (a zone change at the month boundary), the later version wins. Before the contract (the onboarding
    month: version 1 starts mid-month) the first version that comes into force during the month decides; with no
    version then, Asia/Tokyo."""
    fitting = []
    for zone in dict.fromkeys(v.timezone for v in reversed(versions)):  # the latest version's zone first
        version = _in_force(versions, _local_bounds(month, zone)[0])
        if version is not None and version.timezone == zone:
            fitting.append(version)
    if fitting:
        return max(fitting, key=lambda v: (v.valid_from, v.pk)).timezone
    if versions:
        zone = versions[-1].timezone
        start, end = _local_bounds(month, zone)
        version = _in_force(versions, start) or next((v for v in versions if start <= v.valid_from < end), None)
        if version is not None:  # no zone fits (a change between two candidate midnights): the one found first
            return version.timezone
    return DEFAULT_TIMEZONE


def _bounds(versions: list[ContractVersion], month: date) -> tuple[datetime, datetime, str]:
    zone = _month_zone(versions, month)
    start, end = _local_bounds(month, zone)
    return start, end, zone


def month_bounds(*, month: date) -> tuple[datetime, datetime, str]:
    """(period_start, period_end, time zone name) of the month holding ``month``: local midnight of the 1st to
    local midnight of the next 1st, in the zone of the contract version in force at the month's start."""
    return _bounds(_published_versions(), month)


def _shift(month: date, by: int) -> date:
    index = month.year * 12 + month.month - 1 + by
    return date(index // 12, index % 12 + 1, 1)


# ---- contract ------------------------------------------------------------------------------------------------


def _contract(versions: list[ContractVersion], start: datetime, end: datetime) -> list[ContractVersion]:
    return [v for v in versions if v.valid_from < end and (v.valid_to is None or v.valid_to > start)]


def _contract_block(month_versions: list[ContractVersion]) -> dict:
    policy_ids = {v.sla_policy_id for v in month_versions if v.sla_policy_id}
    policies = (
        {p["id"]: p for p in SlaPolicy.objects.filter(pk__in=policy_ids).values("id", "name", "version")}
        if policy_ids
        else {}
    )
    return {
        "versions": [
            {
                "number": v.number,
                "valid_from": _iso(v.valid_from),
                "valid_to": _iso(v.valid_to),
                "service_tier": v.service_tier,
                "response_mode": v.response_mode,
                "timezone": v.timezone,
                "coverage": v.coverage or "24x7",
                "sla_policy": policies.get(v.sla_policy_id),
            }
            for v in month_versions
        ]
    }


# ---- alerts: funnel, scope counts and breakdowns -------------------------------------------------------------

_WORKED = "scope_status IN ('in_scope', 'unknown_asset')"
_TOTALS = (
    "count(*) AS received, coalesce(sum(occurrence_count), 0) AS occurrences, "
    + "".join(f"count(*) FILTER (WHERE scope_status = '{s}') AS scope_{s}, " for s in SCOPE_STATUSES)
    + f"count(*) FILTER (WHERE {_WORKED} AND (acknowledged_at <= %(as_of)s OR classification <> '')) AS triaged, "
    "count(*) FILTER (WHERE in_incident) AS in_incidents, "
    + "".join(f"count(*) FILTER (WHERE classification = '{c}') AS class_{c}, " for c in CLASSIFICATIONS)
    + "".join(f"count(*) FILTER (WHERE severity_id = {s}) AS severity_{s}, " for s in SEVERITIES)
    + ", ".join(f"count(*) FILTER (WHERE {_WORKED} AND priority = '{p}') AS priority_{p.lower()}" for p in PRIORITIES)
)

# The month's alerts in three scans (with an index on received_at, each reads only the month): the scalar totals
# (the funnel, scope, severity and priority counts), the plain columns (category, rule, source) as grouping sets, and
# the array columns (tactics, techniques, users, hosts; hosts of in-scope alerts) unnested side by side as grouping
# sets. Every dimension is ranked (count desc, key) and cut to the top N with the number of distinct keys beside it.
# ``log_source`` (every source under the lower-case key mdr.scope records it by, with its last alert) and
# ``scope_host`` (distinct in-scope hosts) feed the coverage block; the single-row totals come back as JSON.
_ALERT_PASS_SQL = f"""
WITH m AS NOT MATERIALIZED (
    SELECT received_at, severity_id, priority, scope_status, classification, occurrence_count, acknowledged_at,
           incident_id IS NOT NULL AS in_incident, category, rule_id, rule_name, tactics, techniques, hosts, users,
           CASE WHEN source_product <> '' THEN source_product ELSE source_format END AS source
    FROM alerts_alert WHERE received_at >= %(start)s AND received_at < %(end)s
), flat AS (
    SELECT CASE WHEN GROUPING(category) = 0 THEN 'category' WHEN GROUPING(rule_id) = 0 THEN 'rule' ELSE 'source'
           END AS dim,
           coalesce(category, rule_id, source) AS key, max(rule_name) AS name, count(*) AS n,
           max(received_at) FILTER (WHERE received_at <= %(as_of)s) AS last_at
    FROM m GROUP BY GROUPING SETS ((category), (rule_id), (source))
), arr AS (
    SELECT CASE WHEN GROUPING(t) = 0 THEN 'tactic' WHEN GROUPING(q) = 0 THEN 'technique'
                WHEN GROUPING(u) = 0 THEN 'user' WHEN GROUPING(h) = 0 THEN 'host' ELSE 'scope_host' END AS dim,
           coalesce(t, q, u, h, sh) AS key, count(*) AS n
    FROM (SELECT unnest(tactics) AS t, unnest(techniques) AS q, unnest(users) AS u, unnest(hosts) AS h,
                 unnest(CASE WHEN scope_status = 'in_scope' THEN hosts END) AS sh FROM m) z
    GROUP BY GROUPING SETS ((t), (q), (u), (h), (sh))
), g AS (
    SELECT dim, key, CASE WHEN dim = 'rule' THEN name END AS name, n, last_at FROM flat WHERE key <> ''
    UNION ALL SELECT 'log_source', lower(btrim(key)), min(btrim(key)), sum(n)::bigint, max(last_at) FROM flat
        WHERE dim = 'source' AND btrim(key) <> '' GROUP BY lower(btrim(key))
    UNION ALL SELECT dim, key, NULL, n, NULL FROM arr WHERE key <> ''
), r AS (
    SELECT dim, key, name, n, last_at, count(*) OVER (PARTITION BY dim) AS total,
           row_number() OVER (PARTITION BY dim ORDER BY n DESC, key COLLATE "C") AS rn
    FROM g
)
SELECT dim, key, name, n, last_at, total, NULL::json AS totals FROM r
    WHERE rn <= %(top)s OR dim = 'log_source'
UNION ALL
SELECT 'totals', NULL, NULL, NULL, NULL, NULL, row_to_json(t) FROM (SELECT {_TOTALS} FROM m) t
"""  # noqa: S608


def _alert_blocks(start: datetime, end: datetime, as_of: datetime) -> tuple[dict, dict, dict, list[dict]]:
    """(scope counts + in-scope asset count, funnel without incidents, breakdowns, the month's log sources)."""
    params = {"start": start, "end": end, "as_of": as_of, "top": TOP_N}
    grouped: dict[str, list[dict]] = {}
    totals: dict[str, int] = {}
    t: dict[str, int] = {}
    for row in _rows(_ALERT_PASS_SQL, params):
        if row["dim"] == "totals":
            t = row["totals"]
            continue
        grouped.setdefault(row["dim"], []).append(row)
        totals[row["dim"]] = row["total"]

    def top(dim: str) -> list[dict]:
        return [{"key": r["key"], "count": r["n"]} for r in grouped.get(dim, [])]

    classified = {c: t[f"class_{c}"] for c in CLASSIFICATIONS}
    funnel = {
        "received": t["received"],
        "occurrences": int(t["occurrences"]),
        "worked": sum(t[f"scope_{s}"] for s in WORKED_STATUSES),
        "triaged": t["triaged"],
        "in_incidents": t["in_incidents"],
        "incidents": 0,  # filled from the incidents block
        "classified": classified,
        "false_positive_rate": _pct(classified["false_positive"], sum(classified.values())),
    }
    scope = {
        "scope_counts": {s: t[f"scope_{s}"] for s in SCOPE_STATUSES},
        "in_scope_assets": totals.get("scope_host", 0),
    }
    breakdowns = {
        "by_severity": [{"key": str(s), "count": t[f"severity_{s}"]} for s in SEVERITIES],
        "by_priority": [{"key": p, "count": t[f"priority_{p.lower()}"]} for p in PRIORITIES],
        "by_category": top("category"),
        "by_tactic": top("tactic"),
        "by_technique": top("technique"),
        "by_source": top("source"),
        "top_rules": [{"key": r["key"], "name": r["name"], "count": r["n"]} for r in grouped.get("rule", [])],
        "top_hosts": top("host"),
        "top_users": top("user"),
        "totals": {
            "categories": totals.get("category", 0),
            "rules": totals.get("rule", 0),
            "hosts": totals.get("host", 0),
            "users": totals.get("user", 0),
        },
    }
    return scope, funnel, breakdowns, grouped.get("log_source", [])


# ---- coverage: entitlements, log sources, degradations -------------------------------------------------------

# The month's sources (from the alert pass, as parallel arrays) beside the sources mdr.scope keeps track of;
# silent = a coverage degradation open at as_of.
_LOG_SOURCES_SQL = """
WITH m AS (
    SELECT * FROM unnest(%(keys)s::text[], %(names)s::text[], %(counts)s::int[], %(last)s::timestamptz[])
        AS m(key, name, n, last_at)
), silent AS (
    SELECT DISTINCT source_key FROM scope_coveragedegradation
    WHERE detected_at <= %(as_of)s AND (ended_at IS NULL OR ended_at > %(as_of)s)
)
SELECT coalesce(s.display_name, m.name) AS name,
       CASE WHEN s.last_seen_at <= %(as_of)s THEN s.last_seen_at ELSE m.last_at END AS last_seen_at,
       coalesce(m.n, 0) AS alerts, (silent.source_key IS NOT NULL) AS silent
FROM scope_logsourcestate s
FULL JOIN m ON m.key = s.source_key
LEFT JOIN silent ON silent.source_key = coalesce(s.source_key, m.key)
ORDER BY alerts DESC, name COLLATE "C"
"""

# Seconds are the part of the degradation inside the month and before as_of.
_DEGRADED_SQL = """
SELECT display_name AS source, started_at AS start,
       CASE WHEN ended_at <= %(as_of)s THEN ended_at END AS "end", reason,
       greatest(0, EXTRACT(EPOCH FROM
           least(coalesce(ended_at, %(as_of)s), %(end)s, %(as_of)s) - greatest(started_at, %(start)s)))::float8
           AS seconds
FROM scope_coveragedegradation
WHERE started_at < %(end)s AND (ended_at IS NULL OR ended_at > %(start)s) AND detected_at <= %(as_of)s
ORDER BY started_at, id
"""


def _entitlements(version: ContractVersion | None, month: date) -> list[dict]:
    """Usage as ``mdr.scope.selectors.usage_for_month`` measures it, for the last version in force in the month."""
    if version is None:
        return []
    return [
        {
            "metric": line.metric,
            "limit": float(line.limit),
            "used": float(line.used),
            "pct": _pct(float(line.used), float(line.limit)) if line.limit else None,
            "measurement": line.measurement,
        }
        for line in usage_for_month(version=version, month=date(month.year, month.month, 1))
    ]


def _coverage_block(
    scope: dict,
    month_sources: list[dict],
    version: ContractVersion | None,
    month: date,
    start: datetime,
    end: datetime,
    as_of: datetime,
) -> dict:
    params = {
        "start": start,
        "end": end,
        "as_of": as_of,
        "keys": [r["key"] for r in month_sources],
        "names": [r["name"] for r in month_sources],
        "counts": [r["n"] for r in month_sources],
        "last": [r["last_at"] for r in month_sources],
    }
    sources = _rows(_LOG_SOURCES_SQL, params)
    return {
        **scope,
        "inventory_assets": Asset.objects.filter(created_at__lte=as_of).count(),
        "entitlements": _entitlements(version, month),
        "log_sources": [
            {"name": s["name"], "last_seen_at": _iso(s["last_seen_at"]), "alerts": s["alerts"], "silent": s["silent"]}
            for s in sources
        ],
        "degraded_periods": [
            {
                "source": d["source"],
                "start": _iso(d["start"]),
                "end": _iso(d["end"]),
                "seconds": _num(d["seconds"]),
                "reason": d["reason"],
            }
            for d in _rows(_DEGRADED_SQL, params)
        ],
    }


# ---- incidents -----------------------------------------------------------------------------------------------

_OPEN_LIST = ", ".join(f"'{s}'" for s in INCIDENT_OPEN_STATES)

# The state of incident ``i`` at instant %(t)s. An incident not changed since then is in its current state;
# otherwise its timeline says: the last state change (a merge closes) at or before then, 'new' before any.
_STATE_AT = """
CASE WHEN i.updated_at <= {t} THEN i.state ELSE coalesce((
    SELECT CASE WHEN e.kind = 'merged' THEN 'closed' ELSE e.data->>'new' END
    FROM incidents_incidentevent e
    WHERE e.incident_id = i.id AND e.kind IN ('state', 'merged') AND e.at <= {t}
    ORDER BY e.at DESC, e.id DESC LIMIT 1), 'new') END
"""

_IN_MONTH = "created_at >= %(start)s AND created_at < %(end)s"
_INCIDENT_COUNTS_SQL = (
    "WITH x AS (SELECT i.created_at, i.priority, "  # noqa: S608
    + _STATE_AT.format(t="%(as_of)s")
    + " AS state_now, "
    + _STATE_AT.format(t="%(t_end)s")
    + " AS state_end FROM incidents_incident i "
    f"WHERE i.{_IN_MONTH} OR i.state IN ({_OPEN_LIST}) OR i.updated_at > %(t_end)s) "
    f"SELECT count(*) FILTER (WHERE {_IN_MONTH}) AS created, "
    + "".join(f"count(*) FILTER (WHERE {_IN_MONTH} AND priority = '{p}') AS p_{p.lower()}, " for p in PRIORITIES)
    + "".join(f"count(*) FILTER (WHERE {_IN_MONTH} AND state_now = '{s}') AS s_{s}, " for s in IncidentState.values)
    + f"count(*) FILTER (WHERE created_at < %(t_end)s AND state_end IN ({_OPEN_LIST})) AS open_at_end, "
    f"count(*) FILTER (WHERE created_at <= %(as_of)s AND priority IN ('P1', 'P2') AND state_now IN ({_OPEN_LIST}))"
    " AS open_critical FROM x"
)

_INCIDENT_LIST_SQL = (
    "SELECT i.id, i.title, i.priority, i.severity_id, i.state, i.alert_count, i.created_at AS detected_at, "  # noqa: S608
    """(SELECT min(e.at) FROM incidents_incidentevent e WHERE e.incident_id = i.id AND e.kind = 'state'
        AND e.data->>'old' = 'new' AND e.at <= %(as_of)s) AS acknowledged_at,
    CASE WHEN i.notified_at <= %(as_of)s THEN i.notified_at END AS notified_at,
    CASE WHEN i.customer_acknowledged_at <= %(as_of)s THEN i.customer_acknowledged_at END
        AS customer_acknowledged_at,
    (SELECT min(e.at) FROM incidents_incidentevent e WHERE e.incident_id = i.id AND e.kind = 'state'
        AND e.data->>'new' = 'contained' AND e.at <= %(as_of)s) AS contained_at,
    CASE WHEN i.state IN ('resolved', 'closed') THEN coalesce(
        CASE WHEN i.resolved_at <= %(as_of)s THEN i.resolved_at END,
        (SELECT max(e.at) FROM incidents_incidentevent e WHERE e.incident_id = i.id AND e.kind = 'state'
            AND e.data->>'new' = 'resolved' AND e.at <= %(as_of)s)) END AS resolved_at,
    CASE WHEN i.state = 'closed' THEN coalesce(
        CASE WHEN i.closed_at <= %(as_of)s THEN i.closed_at END,
        (SELECT max(e.at) FROM incidents_incidentevent e WHERE e.incident_id = i.id AND e.at <= %(as_of)s
            AND (e.kind = 'merged' OR (e.kind = 'state' AND e.data->>'new' = 'closed')))) END AS closed_at
FROM (SELECT i.id, i.title, i.priority, i.severity_id, i.alert_count, i.created_at, i.notified_at,
             i.customer_acknowledged_at, i.resolved_at, i.closed_at, """
    + _STATE_AT.format(t="%(as_of)s")
    + """ AS state
      FROM incidents_incident i
      WHERE i.created_at >= %(start)s AND i.created_at < %(end)s
      ORDER BY i.priority, i.created_at, i.id
      LIMIT %(limit)s) i
ORDER BY i.priority, i.created_at, i.id
"""
)


def _incidents_block(start: datetime, end: datetime, as_of: datetime) -> tuple[dict, int]:
    """(the incidents block, the number of P1/P2 incidents open at as_of)."""
    params = {"start": start, "end": end, "as_of": as_of, "t_end": min(end, as_of), "limit": LIST_N}
    c = _one(_INCIDENT_COUNTS_SQL, params)
    rows = _rows(_INCIDENT_LIST_SQL, params)
    block = {
        "created": c["created"],
        "open_at_end": c["open_at_end"],
        "by_priority": {p: c[f"p_{p.lower()}"] for p in PRIORITIES},
        "by_state": {s: c[f"s_{s}"] for s in IncidentState.values},
        "list": [
            {
                "id": str(r["id"]),
                "title": r["title"],
                "priority": r["priority"],
                "severity_id": r["severity_id"],
                "state": r["state"],
                "alert_count": r["alert_count"],
                **{
                    name: _iso(r[name])
                    for name in (
                        "detected_at",
                        "acknowledged_at",
                        "notified_at",
                        "customer_acknowledged_at",
                        "contained_at",
                        "resolved_at",
                        "closed_at",
                    )
                },
            }
            for r in rows
        ],
        "list_total": c["created"],
    }
    return block, c["open_critical"]


# ---- SLA -----------------------------------------------------------------------------------------------------

_METRIC_ORDER = "CASE metric " + " ".join(f"WHEN '{m}' THEN {i}" for i, m in enumerate(SLA_METRICS)) + " ELSE 9 END"

# A timer's outcome as of %(as_of)s: breached (breach recorded by then, stopped or not) wins; then met or
# cancelled (stopped by then); otherwise open.
_OUTCOME = """
CASE WHEN breached_at <= %(as_of)s THEN 'breached'
     WHEN state = 'met' AND stopped_at <= %(as_of)s THEN 'met'
     WHEN state = 'cancelled' AND stopped_at <= %(as_of)s THEN 'cancelled'
     ELSE 'open' END
"""

_SLA_ROWS_SQL = (
    "SELECT subject_type, metric, priority, goal_seconds, "  # noqa: S608
    "count(*) FILTER (WHERE outcome = 'met') AS met, count(*) FILTER (WHERE outcome = 'breached') AS breached, "
    "count(*) FILTER (WHERE outcome = 'open') AS open "
    f"FROM (SELECT subject_type, metric, priority, goal_seconds, {_OUTCOME} AS outcome FROM sla_slatimer "
    "WHERE started_at >= %(start)s AND started_at < %(end)s) t "
    f"GROUP BY subject_type, metric, priority, goal_seconds "
    f"ORDER BY {_METRIC_ORDER}, priority, subject_type, goal_seconds DESC"
)

_MTT_SQL = """
SELECT metric, count(*) AS n,
       avg(elapsed_business_seconds) AS b_mean,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY elapsed_business_seconds) AS b_median,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY elapsed_business_seconds) AS b_p90,
       avg(w) AS w_mean,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY w) AS w_median,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY w) AS w_p90
FROM (SELECT metric, elapsed_business_seconds,
             coalesce(elapsed_wall_seconds, EXTRACT(EPOCH FROM stopped_at - started_at)::float8) AS w
      FROM sla_slatimer
      WHERE started_at >= %(start)s AND started_at < %(end)s AND state = 'met' AND stopped_at <= %(as_of)s
        AND metric IN ('acknowledge', 'notify', 'resolve')) t
GROUP BY metric
"""

# Pauses of the period's timers: each 'paused' event up to as_of, ended by the next resume (or stop) of its timer,
# a pause still open at as_of counting until as_of. A timer's pauses come after its start, so ``at >= start``.
_PAUSES_CTE = """
p AS (
    SELECT ev.timer_id, ev.at, coalesce(ev.data->>'reason', '') AS reason,
           EXTRACT(EPOCH FROM least(coalesce((
               SELECT min(x.at) FROM sla_slatimerevent x
               WHERE x.timer_id = ev.timer_id AND x.kind IN ('resumed', 'met', 'cancelled')
                 AND (x.at, x.id) > (ev.at, ev.id)), %(as_of)s), %(as_of)s) - ev.at)::float8 AS seconds
    FROM sla_slatimerevent ev JOIN sla_slatimer t ON t.id = ev.timer_id
    WHERE ev.kind = 'paused' AND ev.at >= %(start)s AND ev.at <= %(as_of)s
      AND t.started_at >= %(start)s AND t.started_at < %(end)s {only}
)
"""

_BREACHES_SQL = (
    "WITH b AS (SELECT t.id, t.subject_type, t.subject_id, t.metric, t.priority, t.goal_seconds, t.breached_at, "  # noqa: S608
    "coalesce(br.deadline, t.breached_at) AS deadline, br.evidence->>'reason' AS reason, "
    "CASE WHEN t.stopped_at <= %(as_of)s THEN greatest(0, t.elapsed_business_seconds - t.goal_seconds) END "
    "AS late_seconds, count(*) OVER () AS total "
    "FROM sla_slatimer t LEFT JOIN sla_slabreach br ON br.timer_id = t.id "
    "WHERE t.started_at >= %(start)s AND t.started_at < %(end)s AND t.breached_at <= %(as_of)s "
    "ORDER BY t.breached_at, t.id LIMIT %(limit)s), "
    + _PAUSES_CTE.format(only="AND ev.timer_id IN (SELECT id FROM b)")
    + "SELECT b.*, (SELECT coalesce(json_agg(json_build_object('reason', p.reason, 'seconds', p.seconds) "
    "ORDER BY p.at), '[]'::json) FROM p WHERE p.timer_id = b.id) AS pauses "
    "FROM b ORDER BY b.breached_at, b.id"
)

_PAUSED_BY_REASON_SQL = (
    "WITH "  # noqa: S608
    + _PAUSES_CTE.format(only="")
    + "SELECT reason, sum(seconds) AS seconds, count(*) AS n FROM p GROUP BY reason "
    'ORDER BY seconds DESC, reason COLLATE "C"'
)


def _breach_reason(row: dict) -> str:
    if row["reason"]:
        return row["reason"]
    goal = _duration_text(row["goal_seconds"])
    if row["late_seconds"] is None:
        return f"goal {goal} exceeded (not met at the time of the report)"
    return f"goal {goal} exceeded by {_duration_text(row['late_seconds'])}"


def sla_summary(*, start: datetime, end: datetime, as_of: datetime | None = None) -> dict:
    """The "sla" block for timers started in [start, end) with their outcome as of ``as_of`` (default now)."""
    as_of = as_of or timezone.now()
    params = {"start": start, "end": end, "as_of": as_of, "limit": LIST_N}
    rows = [
        {
            "metric": r["metric"],
            "priority": r["priority"],
            "subject": r["subject_type"],
            "met": r["met"],
            "breached": r["breached"],
            "open": r["open"],
            "compliance_pct": _pct(r["met"], r["met"] + r["breached"]),
            "goal_seconds": r["goal_seconds"],
        }
        for r in _rows(_SLA_ROWS_SQL, params)
    ]
    met, breached = sum(r["met"] for r in rows), sum(r["breached"] for r in rows)
    mtt_rows = {r["metric"]: r for r in _rows(_MTT_SQL, params)}
    mtt = {}
    for metric in MTT_METRICS:
        r = mtt_rows.get(metric)
        n = r["n"] if r else 0
        mtt[metric] = {
            "n": n,
            "business": _stats(n, *(r[k] for k in ("b_mean", "b_median", "b_p90"))) if r else _stats(0, 0, 0, 0),
            "wall": _stats(n, *(r[k] for k in ("w_mean", "w_median", "w_p90"))) if r else _stats(0, 0, 0, 0),
        }
    breach_rows = _rows(_BREACHES_SQL, params)
    breaches = []
    for r in breach_rows:
        pauses = [{"reason": p["reason"], "seconds": _num(p["seconds"])} for p in r["pauses"]]
        breaches.append(
            {
                "timer_id": r["id"],
                "subject": r["subject_type"],
                "subject_id": r["subject_id"],
                "metric": r["metric"],
                "priority": r["priority"],
                "deadline": _iso(r["deadline"]),
                "breached_at": _iso(r["breached_at"]),
                "goal_seconds": r["goal_seconds"],
                "late_seconds": _num(r["late_seconds"]),
                "reason": _breach_reason(r),
                "paused_seconds": _num(sum(p["seconds"] for p in r["pauses"])),
                "pauses": pauses,
            }
        )
    return {
        "rows": rows,
        "overall": {"met": met, "breached": breached, "compliance_pct": _pct(met, met + breached)},
        "mtt": mtt,
        "breaches": breaches,
        "breaches_total": breach_rows[0]["total"] if breach_rows else 0,
        "paused_by_reason": [
            {"reason": r["reason"], "seconds": _num(r["seconds"]), "count": r["n"]}
            for r in _rows(_PAUSED_BY_REASON_SQL, params)
        ],
    }


# ---- escalations ---------------------------------------------------------------------------------------------

# The month's escalations with, from their deliveries, the highest level (1-based) a first notice was delivered at
# and the first delivery instant.
_ESCALATIONS_CTE = """
WITH e AS (
    SELECT id, incident_id, started_at, state, acknowledged_by,
           CASE WHEN acknowledged_at <= %(as_of)s THEN acknowledged_at END AS acknowledged_at
    FROM escalations_escalation WHERE started_at >= %(start)s AND started_at < %(end)s
), d AS (
    SELECT d.escalation_id,
           max(d.level) FILTER (WHERE d.state = 'sent' AND d.notice_kind = 'first') + 1 AS level_reached,
           min(d.delivered_at) FILTER (WHERE d.state = 'sent') AS first_delivery_at
    FROM escalations_delivery d JOIN e ON e.id = d.escalation_id GROUP BY d.escalation_id
)
"""

_ESCALATION_COUNTS_SQL = (
    _ESCALATIONS_CTE
    + """
SELECT count(*) AS n,
       count(*) FILTER (WHERE acknowledged_at IS NOT NULL) AS acknowledged,
       count(*) FILTER (WHERE acknowledged_at IS NULL AND state = 'unreachable') AS unreachable,
       count(acknowledged_at) AS ack_n,
       avg(EXTRACT(EPOCH FROM acknowledged_at - started_at)::float8) AS ack_mean,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM acknowledged_at - started_at)::float8)
           AS ack_median,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM acknowledged_at - started_at)::float8)
           AS ack_p90
FROM e
"""
)

_ESCALATION_LEVELS_SQL = (
    _ESCALATIONS_CTE + "SELECT level_reached AS level, count(*) AS n FROM d WHERE level_reached IS NOT NULL "  # noqa: S608
    "GROUP BY level_reached ORDER BY level_reached"
)

_DELIVERIES_SQL = """
SELECT d.channel,
       count(*) FILTER (WHERE d.state = 'sent') AS sent,
       count(*) FILTER (WHERE d.state = 'failed') AS failed,
       count(*) FILTER (WHERE d.state = 'cancelled') AS cancelled
FROM escalations_delivery d JOIN escalations_escalation e ON e.id = d.escalation_id
WHERE e.started_at >= %(start)s AND e.started_at < %(end)s
GROUP BY d.channel
"""

_ESCALATION_LIST_SQL = (
    _ESCALATIONS_CTE
    + """
SELECT e.incident_id, e.started_at, e.state, d.level_reached, e.acknowledged_at, e.acknowledged_by,
       EXTRACT(EPOCH FROM e.acknowledged_at - e.started_at)::float8 AS ack_seconds, d.first_delivery_at
FROM e LEFT JOIN d ON d.escalation_id = e.id
ORDER BY e.started_at, e.id
LIMIT %(limit)s
"""
)


def _escalations_block(start: datetime, end: datetime, as_of: datetime) -> dict:
    params = {"start": start, "end": end, "as_of": as_of, "limit": LIST_N}
    c = _one(_ESCALATION_COUNTS_SQL, params)
    channels = _rows(_DELIVERIES_SQL, params)
    return {
        "count": c["n"],
        "acknowledged": c["acknowledged"],
        "unanswered": c["n"] - c["acknowledged"] - c["unreachable"],
        "unreachable": c["unreachable"],
        "by_level_reached": [{"level": r["level"], "count": r["n"]} for r in _rows(_ESCALATION_LEVELS_SQL, params)],
        "customer_ack_seconds": {"n": c["ack_n"], **_stats(c["ack_n"], c["ack_mean"], c["ack_median"], c["ack_p90"])},
        "deliveries": {
            "sent": sum(r["sent"] for r in channels),
            "failed": sum(r["failed"] for r in channels),
            "cancelled": sum(r["cancelled"] for r in channels),
            "by_channel": sorted(
                ({"key": r["channel"], "count": r["sent"]} for r in channels if r["sent"]),
                key=lambda x: (-x["count"], x["key"]),
            ),
        },
        "list": [
            {
                "incident_id": str(r["incident_id"]),
                "started_at": _iso(r["started_at"]),
                "state": r["state"],
                "level_reached": r["level_reached"],
                "acknowledged_at": _iso(r["acknowledged_at"]),
                "acknowledged_by": r["acknowledged_by"],
                "ack_seconds": _num(r["ack_seconds"]),
                "first_delivery_at": _iso(r["first_delivery_at"]),
            }
            for r in _rows(_ESCALATION_LIST_SQL, params)
        ],
    }


# ---- trends --------------------------------------------------------------------------------------------------

# Several months in one scan per table: one FILTER column per month and figure (months with a zone change between
# them need not be contiguous, so each keeps its own bounds). The text only depends on the number of months.
_IN = "{col} >= %(s{i})s AND {col} < %(e{i})s"
_CLASSIFIED = "('true_positive', 'benign_true_positive', 'false_positive', 'duplicate')"


@functools.cache
def _trend_sql(n: int) -> tuple[str, str, str]:
    def columns(col: str, figures: dict[str, str]) -> str:
        return ", ".join(
            f"count(*) FILTER (WHERE {_IN.format(col=col, i=i)}{extra}) AS {name}_{i}"
            for i in range(n)
            for name, extra in figures.items()
        )

    alerts = columns(
        "received_at",
        {
            "alerts": "",
            "fp": " AND classification = 'false_positive'",
            "classified": f" AND classification IN {_CLASSIFIED}",
        },
    )
    incidents = columns("created_at", {"incidents": "", "critical": " AND priority IN ('P1', 'P2')"})
    sla = columns(
        "started_at",
        {
            "breached": " AND breached_at <= %(as_of)s",
            "met": " AND state = 'met' AND stopped_at <= %(as_of)s"
            " AND (breached_at IS NULL OR breached_at > %(as_of)s)",
        },
    )
    return (
        f"SELECT {alerts} FROM alerts_alert WHERE received_at >= %(lo)s AND received_at < %(hi)s",  # noqa: S608
        f"SELECT {incidents} FROM incidents_incident WHERE created_at >= %(lo)s AND created_at < %(hi)s",  # noqa: S608
        f"SELECT {sla} FROM sla_slatimer WHERE started_at >= %(lo)s AND started_at < %(hi)s",  # noqa: S608
    )


def _trend_points(months: list[date], versions: list[ContractVersion], as_of: datetime) -> list[dict]:
    bounds = [_bounds(versions, m) for m in months]
    params: dict[str, Any] = {"as_of": as_of, "lo": min(b[0] for b in bounds), "hi": max(b[1] for b in bounds)}
    for i, (start, end, _) in enumerate(bounds):
        params[f"s{i}"], params[f"e{i}"] = start, end
    alerts_sql, incidents_sql, sla_sql = _trend_sql(len(months))
    a, inc, sla = _one(alerts_sql, params), _one(incidents_sql, params), _one(sla_sql, params)
    return [
        {
            "month": f"{month:%Y-%m}",
            "alerts": a[f"alerts_{i}"],
            "incidents": inc[f"incidents_{i}"],
            "critical_incidents": inc[f"critical_{i}"],
            "sla_compliance_pct": _pct(sla[f"met_{i}"], sla[f"met_{i}"] + sla[f"breached_{i}"]),
            "false_positive_rate": _pct(a[f"fp_{i}"], a[f"classified_{i}"]),
        }
        for i, month in enumerate(months)
    ]


def month_trend_point(*, month: date, as_of: datetime | None = None) -> dict:
    """One entry of ``trends.months``: alerts, incidents, P1/P2 incidents, SLA compliance and false positive rate
    of the month holding ``month`` (four aggregate queries)."""
    return _trend_points([date(month.year, month.month, 1)], _published_versions(), as_of or timezone.now())[0]


def _change_pct(current: int, previous: int) -> float | None:
    return round((current - previous) * 100 / previous, 1) if previous else None


def _trends_block(month: date, versions: list[ContractVersion], as_of: datetime, current: dict) -> dict:
    """The five months before ``month`` from the database, the report's month from its own figures (``current``:
    the same definitions, already counted)."""
    earlier = [_shift(month, -k) for k in range(TREND_MONTHS - 1, 0, -1)]
    points = [*_trend_points(earlier, versions, as_of), current]
    previous = points[-2]
    sla_now, sla_before = current["sla_compliance_pct"], previous["sla_compliance_pct"]
    return {
        "months": points,
        "mom": {
            "alerts_pct": _change_pct(current["alerts"], previous["alerts"]),
            "incidents_pct": _change_pct(current["incidents"], previous["incidents"]),
            "sla_points": round(sla_now - sla_before, 1) if sla_now is not None and sla_before is not None else None,
        },
    }


# ---- the report ----------------------------------------------------------------------------------------------


def monthly_metrics(*, month: date, as_of: datetime | None = None) -> dict:
    """Every figure of the monthly report of the month holding ``month``, as of ``as_of`` (default now), in the
    current customer schema. The JSON is docs/reports.md's "metrics JSON", schema_version 1."""
    as_of = as_of or timezone.now()
    month = date(month.year, month.month, 1)
    versions = _published_versions()
    start, end, zone = _bounds(versions, month)
    month_versions = _contract(versions, start, end)

    scope, funnel, breakdowns, month_sources = _alert_blocks(start, end, as_of)
    version = month_versions[-1] if month_versions else None
    coverage = _coverage_block(scope, month_sources, version, month, start, end, as_of)
    incidents, open_critical = _incidents_block(start, end, as_of)
    funnel["incidents"] = incidents["created"]
    sla = sla_summary(start=start, end=end, as_of=as_of)
    escalations = _escalations_block(start, end, as_of)

    flags = {
        "sla_breaches": sla["breaches_total"] > 0,
        "silent_sources": any(s["silent"] for s in coverage["log_sources"]),
        "open_critical_incidents": open_critical > 0,
        "customer_unreachable": escalations["unreachable"] > 0,
    }
    reasons = [code for code in HEALTH_REASONS if flags[code]]
    return {
        "schema_version": SCHEMA_VERSION,
        "period": {
            "month": f"{month:%Y-%m}",
            "start": _iso(start),
            "end": _iso(end),
            "timezone": zone,
            "as_of": _iso(as_of),
        },
        "contract": _contract_block(month_versions),
        "health": {"status": "at_risk" if reasons else "ok", "reasons": reasons},
        "coverage": coverage,
        "funnel": funnel,
        "breakdowns": breakdowns,
        "incidents": incidents,
        "sla": sla,
        "escalations": escalations,
        "trends": _trends_block(
            month,
            versions,
            as_of,
            current={
                "month": f"{month:%Y-%m}",
                "alerts": funnel["received"],
                "incidents": incidents["created"],
                "critical_incidents": sum(incidents["by_priority"][p] for p in CRITICAL_PRIORITIES),
                "sla_compliance_pct": sla["overall"]["compliance_pct"],
                "false_positive_rate": funnel["false_positive_rate"],
            },
        ),
    }


__all__ = ["month_bounds", "month_trend_point", "monthly_metrics", "sla_summary"]
