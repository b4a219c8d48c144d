"""The month's full alert and incident lists as CSV (attached to the PDF, so a customer's tooling reads the same
rows the figures come from). Written by PostgreSQL's COPY: no Python loop over rows."""

from __future__ import annotations

from datetime import datetime

from django.db import connection

ALERT_COLUMNS = (
    "id, received_at, observed_at, severity_id, priority, scope_status, status, classification, category, "
    "source_format, source_product, rule_id, rule_name, array_to_string(tactics, ';') AS tactics, "
    "array_to_string(techniques, ';') AS techniques, array_to_string(hosts, ';') AS hosts, "
    "array_to_string(ips::text[], ';') AS ips, array_to_string(users, ';') AS users, cloud_account, "
    "occurrence_count, incident_id, acknowledged_at, closed_at, title"
)
INCIDENT_COLUMNS = (
    "id, created_at, title, state, priority, severity_id, alert_count, first_alert_at, last_alert_at, "
    "notified_at, customer_acknowledged_at, customer_unreachable_at, resolved_at, closed_at, merged_into"
)


def _copy(sql: str, params: list) -> bytes:
    out = bytearray()
    with connection.cursor() as cursor, cursor.cursor.copy(sql, params) as copy:
        for chunk in copy:
            out += chunk
    return bytes(out)


def alerts_csv(*, start: datetime, end: datetime) -> bytes:
    """Alerts received in [start, end), oldest first, with a header row (UTF-8)."""
    return _copy(
        f"COPY (SELECT {ALERT_COLUMNS} FROM alerts_alert WHERE received_at >= %s AND received_at < %s "  # noqa: S608
        "ORDER BY received_at, id) TO STDOUT WITH (FORMAT csv, HEADER true)",
        [start, end],
    )


def incidents_csv(*, start: datetime, end: datetime) -> bytes:
    """Incidents created in [start, end), oldest first, with a header row (UTF-8)."""
    return _copy(
        f"COPY (SELECT {INCIDENT_COLUMNS} FROM incidents_incident WHERE created_at >= %s AND created_at < %s "  # noqa: S608
        "ORDER BY created_at, id) TO STDOUT WITH (FORMAT csv, HEADER true)",
        [start, end],
    )
