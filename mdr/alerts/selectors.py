"""Read queries on alerts: filtered, keyset-paginated lists (newest first) and single alerts."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from mdr.alerts.adapters.base import SEVERITY_NAMES
from mdr.alerts.models import Alert, AlertStatus, ScopeStatus

MAX_PAGE = 500
DEFAULT_PAGE = 50


class FilterError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class AlertFilters:
    since: datetime | None = None
    until: datetime | None = None
    severities: tuple[int, ...] = ()
    statuses: tuple[str, ...] = ()
    scope_statuses: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    host: str | None = None
    text: str | None = None


def _parse_time(value: str, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise FilterError(field, _("not an ISO 8601 time: %(value)s") % {"value": repr(value[:40])}) from None
    if parsed.tzinfo is None:
        raise FilterError(field, _("time needs a UTC offset (e.g. 2026-11-01T00:00:00+09:00 or ...Z)"))
    return _as_utc(parsed, field)


def _as_utc(when: datetime, field: str) -> datetime:
    """In UTC: PostgreSQL refuses offsets beyond 15:59 that Python accepts (up to 24 h)."""
    try:
        return when.astimezone(UTC)
    except OverflowError:
        raise FilterError(field, _("time out of range")) from None


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def alert_filters_from_params(params) -> AlertFilters:
    """Build filters from query parameters, or FilterError naming the parameter at fault."""
    severities = []
    for token in _csv(params.get("severity")):
        sev = int(token) if token.isdigit() else SEVERITY_NAMES.get(token.lower())
        if sev is None or not 0 <= sev <= 6:
            raise FilterError(
                "severity", _("unknown severity %(token)s: use 0-6 or a name such as high") % {"token": repr(token)}
            )
        severities.append(sev)
    statuses = _csv(params.get("status"))
    if bad := set(statuses) - set(AlertStatus.values):
        raise FilterError(
            "status",
            _("unknown status %(bad)s; one of %(choices)s") % {"bad": sorted(bad), "choices": AlertStatus.values},
        )
    scope_statuses = _csv(params.get("scope_status"))
    if bad := set(scope_statuses) - set(ScopeStatus.values):
        raise FilterError(
            "scope_status",
            _("unknown scope status %(bad)s; one of %(choices)s") % {"bad": sorted(bad), "choices": ScopeStatus.values},
        )
    since = _parse_time(params["since"], "since") if params.get("since") else None
    until = _parse_time(params["until"], "until") if params.get("until") else None
    if since and until and since >= until:
        raise FilterError("until", _("until must be after since"))
    text = (params.get("q") or "").strip() or None
    if text and len(text) > 200:
        raise FilterError("q", _("search text is limited to 200 characters"))
    return AlertFilters(
        since=since,
        until=until,
        severities=tuple(severities),
        statuses=tuple(statuses),
        scope_statuses=tuple(scope_statuses),
        sources=tuple(_csv(params.get("source"))),
        host=(params.get("host") or "").strip().lower() or None,
        text=text,
    )


def encode_cursor(alert: Alert) -> str:
    return base64.urlsafe_b64encode(f"{alert.observed_at.isoformat()}|{alert.pk}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, pk = text.split("|", 1)
        parsed = datetime.fromisoformat(when)
        if parsed.tzinfo is None:
            raise ValueError(when)
        return parsed.astimezone(UTC), uuid.UUID(pk)
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise FilterError("cursor", _("invalid cursor; use the next_cursor of a previous page")) from None


def _filtered(filters: AlertFilters) -> QuerySet[Alert]:
    """The alerts that match ``filters`` (list columns only), for both directions of the keyset."""
    qs: QuerySet[Alert] = Alert.objects.defer("raw", "description")
    if filters.since:
        qs = qs.filter(observed_at__gte=filters.since)
    if filters.until:
        qs = qs.filter(observed_at__lt=filters.until)
    if filters.severities:
        qs = qs.filter(severity_id__in=filters.severities)
    if filters.statuses:
        qs = qs.filter(status__in=filters.statuses)
    if filters.scope_statuses:
        qs = qs.filter(scope_status__in=filters.scope_statuses)
    if filters.sources:
        qs = qs.filter(Q(source_format__in=filters.sources) | Q(source_product__in=filters.sources))
    if filters.host:
        qs = qs.filter(hosts__contains=[filters.host])
    if filters.text:
        qs = qs.filter(
            Q(title__icontains=filters.text) | Q(rule_name__icontains=filters.text) | Q(rule_id=filters.text)
        )
    return qs


def alert_list(
    *, filters: AlertFilters, cursor: str | None = None, limit: int = DEFAULT_PAGE
) -> tuple[list[Alert], str | None]:
    """One page of alerts, newest observed first, and the cursor of the next page (None at the end)."""
    qs = _filtered(filters).order_by("-observed_at", "-id")
    if cursor:
        when, pk = decode_cursor(cursor)
        qs = qs.filter(Q(observed_at__lt=when) | Q(observed_at=when, id__lt=pk))
    page = list(qs[: limit + 1])
    next_cursor = encode_cursor(page[limit - 1]) if len(page) > limit else None
    return page[:limit], next_cursor


def alert_get(*, alert_id: str) -> Alert | None:
    try:
        pk = uuid.UUID(str(alert_id))
    except ValueError:
        return None
    return Alert.objects.filter(pk=pk).first()


# --- portal pages: both directions of the keyset, and month counts ----------------------------------------------


@dataclass(frozen=True)
class AlertPage:
    alerts: list[Alert]
    next_cursor: str | None  # the page after this one (older alerts)
    prev_cursor: str | None  # the page before this one (newer alerts), for ``before=``


def _alerts_before(*, filters: AlertFilters, cursor: str, limit: int) -> tuple[list[Alert], bool]:
    """The ``limit`` alerts just newer than the cursor, newest first, and whether still newer ones exist. The same
    filters as ``alert_list``; the keyset walked the other way (ascending, then reversed)."""
    when, pk = decode_cursor(cursor)
    qs = _filtered(filters).order_by("observed_at", "id")
    qs = qs.filter(Q(observed_at__gt=when) | Q(observed_at=when, id__gt=pk))
    rows = list(qs[: limit + 1])
    return list(reversed(rows[:limit])), len(rows) > limit


def alert_page(
    *, filters: AlertFilters, after: str | None = None, before: str | None = None, limit: int = DEFAULT_PAGE
) -> AlertPage:
    """One page of alerts (newest first) with cursors both ways: ``after`` (a ``next_cursor``) pages to older
    alerts through ``alert_list``; ``before`` (a ``prev_cursor``) pages back to newer ones. Never OFFSET."""
    if before:
        alerts, more_newer = _alerts_before(filters=filters, cursor=before, limit=limit)
        if not alerts:
            return AlertPage(alerts=[], next_cursor=None, prev_cursor=None)
        return AlertPage(
            alerts=alerts,
            next_cursor=encode_cursor(alerts[-1]),
            prev_cursor=encode_cursor(alerts[0]) if more_newer else None,
        )
    alerts, next_cursor = alert_list(filters=filters, cursor=after, limit=limit)
    return AlertPage(
        alerts=alerts, next_cursor=next_cursor, prev_cursor=encode_cursor(alerts[0]) if after and alerts else None
    )


def alert_counts_received(*, periods: dict[str, tuple[datetime, datetime]]) -> dict[str, int]:
    """Alerts received in each named [start, end) period, in one query. Counting ``received_at`` reads only its
    index (an index-only scan), never the alert rows: the dashboard stays fast with millions of alerts."""
    if not periods:
        return {}
    earliest = min(start for start, _ in periods.values())
    latest = max(end for _, end in periods.values())
    counts = Alert.objects.filter(received_at__gte=earliest, received_at__lt=latest).aggregate(
        **{
            name: Count("received_at", filter=Q(received_at__gte=start, received_at__lt=end))
            for name, (start, end) in periods.items()
        }
    )
    return {name: counts[name] or 0 for name in periods}
