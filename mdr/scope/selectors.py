"""Read queries on contracts, scope, inventory, log source health and drift."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Q, QuerySet

from mdr.scope.matcher import AlertFacts, CompiledScope, InventoryAsset, ScopeRule
from mdr.scope.models import (
    Asset,
    Contract,
    ContractVersion,
    CoverageDegradation,
    Entitlement,
    ScopeState,
    UnknownAsset,
    VersionStatus,
)
from mdr.sla.calendar import BusinessCalendar

__all__ = ["AlertFacts"]


def contract_current() -> Contract | None:
    return Contract.objects.order_by("-starts_on", "-id").first()


def version_list(*, contract: Contract) -> QuerySet[ContractVersion]:
    return contract.versions.order_by("number")


def version_in_force(*, at: datetime) -> ContractVersion | None:
    """The published version whose [valid_from, valid_to) contains ``at``."""
    return (
        ContractVersion.objects.filter(status=VersionStatus.PUBLISHED, valid_from__lte=at)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=at))
        .order_by("-valid_from")
        .first()
    )


def version_for_alert(*, at: datetime) -> ContractVersion | None:
    """The version that judges an alert observed at ``at``: the one in force then; for an alert older than the
    contract itself (a tool forwarding its backlog at onboarding), the first version."""
    version = version_in_force(at=at)
    if version is None:
        first = ContractVersion.objects.filter(status=VersionStatus.PUBLISHED).order_by("valid_from").first()
        if first is not None and at < first.valid_from:
            return first
    return version


def coverage_calendar(version: ContractVersion) -> BusinessCalendar:
    """The version's coverage hours (24x7 when none are set)."""
    if not version.coverage:
        return BusinessCalendar.always(timezone=version.timezone)
    return BusinessCalendar.from_dict(version.coverage)


def inventory_revision() -> int:
    state = ScopeState.objects.filter(pk=1).first()
    return state.inventory_revision if state else 0


# Compiled matchers, per process: keyed by schema, version and inventory revision, so a new version or an inventory
# change is a new key (nothing to invalidate) and one customer's matcher can never answer for another.
_MATCHERS: OrderedDict[tuple[str, int, int], CompiledScope] = OrderedDict()
_MATCHER_CACHE_SIZE = 256


def scope_rules(version: ContractVersion) -> list[ScopeRule]:
    """A version's scope items as the matcher sees them."""
    return [
        ScopeRule(
            id=item.pk,
            kind=item.kind,
            value=item.value,
            provider=item.provider,
            region=item.region,
            criticality=item.criticality,
            included=item.included,
            remediation_allowed=item.remediation_allowed,
            label=item.label,
        )
        for item in version.scope_items.all()
    ]


def compiled_scope(*, version: ContractVersion, revision: int | None = None) -> CompiledScope:
    revision = inventory_revision() if revision is None else revision
    key = (connection.schema_name, version.pk, revision)
    matcher = _MATCHERS.get(key)
    if matcher is not None:
        _MATCHERS.move_to_end(key)
        return matcher
    rules = scope_rules(version)
    inventory = [
        InventoryAsset(hostname=hostname.lower(), ips=tuple(ips), groups=tuple(groups))
        for hostname, ips, groups in Asset.objects.values_list("hostname", "ips", "groups")
    ]
    matcher = CompiledScope.compile(rules, inventory)
    _MATCHERS[key] = matcher
    while len(_MATCHERS) > _MATCHER_CACHE_SIZE:
        _MATCHERS.popitem(last=False)
    return matcher


def degradation_list(*, open_only: bool = False) -> QuerySet[CoverageDegradation]:
    qs = CoverageDegradation.objects.order_by("-started_at")
    return qs.filter(ended_at__isnull=True) if open_only else qs


def drift_list(*, status: str | None = None) -> QuerySet[UnknownAsset]:
    qs = UnknownAsset.objects.order_by("-occurrences", "identifier")
    return qs.filter(status=status) if status else qs


@dataclass(frozen=True)
class UsageLine:
    metric: str
    measurement: str
    limit: Decimal
    tolerance_pct: Decimal
    policy: str
    used: Decimal
    over: bool


def month_bounds(month: date, timezone_name: str) -> tuple[datetime, datetime]:
    tz = ZoneInfo(timezone_name)
    start = datetime(month.year, month.month, 1, tzinfo=tz)
    nxt = datetime(month.year + (month.month == 12), month.month % 12 + 1, 1, tzinfo=tz)
    return start, nxt


def usage_for_month(*, version: ContractVersion, month: date) -> list[UsageLine]:
    """Each entitlement of ``version`` against what was used in ``month`` (contract time zone), in SQL."""
    start, end = month_bounds(month, version.timezone)
    lines = []
    for ent in Entitlement.objects.filter(version=version).order_by("metric"):
        used = _measure(ent, start, end, version.timezone)
        ceiling = ent.limit * (1 + ent.tolerance_pct / 100)
        lines.append(
            UsageLine(
                metric=ent.metric,
                measurement=ent.measurement,
                limit=ent.limit,
                tolerance_pct=ent.tolerance_pct,
                policy=ent.over_limit_policy,
                used=used,
                over=used > ceiling,
            )
        )
    return lines


def _scalar(sql: str, params: list) -> Decimal:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        value = cursor.fetchone()[0]
    return Decimal(str(value or 0)).quantize(Decimal("0.001"))


def _measure(ent: Entitlement, start: datetime, end: datetime, tz: str) -> Decimal:
    """One metric over [start, end). Hosts are metered when first seen in scope (MeteredHost); the rest are
    aggregates over the month's alerts."""
    if ent.metric in ("endpoints", "servers"):
        kind_filter = "kind = 'server'" if ent.metric == "servers" else "kind <> 'server'"
        if ent.measurement == "daily_max":
            return _scalar(
                "SELECT max(n) FROM (SELECT count(*) AS n FROM scope_meteredhost WHERE first_seen_at >= %s "
                f"AND first_seen_at < %s AND {kind_filter} GROUP BY (first_seen_at AT TIME ZONE %s)::date) d",
                [start, end, tz],
            )
        return _scalar(f"SELECT count(*) FROM scope_meteredhost WHERE month = %s AND {kind_filter}", [start.date()])
    if ent.metric == "log_sources":
        return _scalar(
            "SELECT count(DISTINCT lower(source_product)) FROM alerts_alert WHERE observed_at >= %s "
            "AND observed_at < %s",
            [start, end],
        )
    if ent.metric == "gb_per_day":
        return _scalar(
            "SELECT max(b) / 1e9 FROM (SELECT sum(pg_column_size(raw)) AS b FROM alerts_alert WHERE "
            "received_at >= %s AND received_at < %s GROUP BY (received_at AT TIME ZONE %s)::date) d",
            [start, end, tz],
        )
    # events per second from alert arrivals: 24 h average per day, or the busiest minute / 60
    if ent.metric == "eps_avg" or ent.measurement == "avg_24h":
        return _scalar(
            "SELECT max(n) / 86400.0 FROM (SELECT count(*) AS n FROM alerts_alert WHERE received_at >= %s "
            "AND received_at < %s GROUP BY (received_at AT TIME ZONE %s)::date) d",
            [start, end, tz],
        )
    return _scalar(
        "SELECT max(n) / 60.0 FROM (SELECT count(*) AS n FROM alerts_alert WHERE received_at >= %s "
        "AND received_at < %s GROUP BY date_trunc('minute', received_at)) m",
        [start, end],
    )


@dataclass(frozen=True)
class ContractOverview:
    version: ContractVersion | None
    month: date | None
    usage: list[UsageLine]
    degraded: list[CoverageDegradation]


def contract_overview(*, at: datetime, month: date | None = None) -> ContractOverview:
    """What a customer sees of its contract: the version in force at ``at``, usage in ``month`` (default: the
    month of ``at`` in the contract's time zone) and the open coverage degradations."""
    version = version_in_force(at=at)
    if version is None:
        return ContractOverview(version=None, month=None, usage=[], degraded=[])
    local = at.astimezone(ZoneInfo(version.timezone))
    month = month or date(local.year, local.month, 1)
    return ContractOverview(
        version=version,
        month=month,
        usage=usage_for_month(version=version, month=month),
        degraded=list(degradation_list(open_only=True)),
    )


# ---- versions as plain data, for the console's version pages and diffs (mdr.core.versiondiff) ----------------


def version_get(*, contract: Contract, number: int) -> ContractVersion | None:
    return contract.versions.filter(number=number).first()


def version_previous(*, version: ContractVersion) -> ContractVersion | None:
    """The version numbered just before ``version`` (what it was copied from, as a rule)."""
    return version.contract.versions.filter(number__lt=version.number).order_by("-number").first()


def version_numbers_by_policy() -> dict[int, list[int]]:
    """SLA policy id -> the numbers of the contract versions that name it."""
    out: dict[int, list[int]] = {}
    for policy_id, number in (
        ContractVersion.objects.filter(sla_policy_id__isnull=False)
        .order_by("number")
        .values_list("sla_policy_id", "number")
    ):
        out.setdefault(policy_id, []).append(number)
    return out


def _decimal_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _scope_item_key(item) -> str:
    key = f"{item.kind}:{item.value}"
    if item.provider or item.region:
        key += f"@{item.provider}/{item.region}"
    return key


def version_as_dict(*, version: ContractVersion) -> dict:
    """The terms of ``version`` as data: terms, coverage hours, priority matrix, scope items keyed by kind:value,
    entitlements keyed by metric, and the SLA policy by name and version. The change note and who/when are the
    version's own story, not its terms: they are left out of the comparison."""
    from mdr.sla.models import SlaPolicy
    from mdr.sla.selectors import calendar_spec_as_dict

    policy = SlaPolicy.objects.filter(pk=version.sla_policy_id).first() if version.sla_policy_id else None
    scope: dict[str, dict] = {}
    for item in version.scope_items.order_by("kind", "value", "pk"):
        key = _scope_item_key(item)
        n = 2
        while key in scope:
            key, n = f"{_scope_item_key(item)} #{n}", n + 1
        data = {
            "included": item.included,
            "criticality": item.criticality,
            "remediation_allowed": item.remediation_allowed,
            "label": item.label,
        }
        if item.heartbeat_hours is not None:
            data["heartbeat_hours"] = item.heartbeat_hours
        scope[key] = data
    return {
        "terms": {
            "service_tier": version.service_tier,
            "response_mode": version.response_mode,
            "timezone": version.timezone,
            "report_language": version.report_language,
            "report_recipients": list(version.report_recipients),
            "escalation_matrix_id": version.escalation_matrix_id,
        },
        "sla_policy": f"{policy.name} v{policy.version} (#{policy.pk})" if policy else None,
        "coverage": calendar_spec_as_dict(version.coverage or {"type": "24x7", "timezone": version.timezone}),
        "priority_matrix": version.priority_matrix or "default",
        "scope_items": scope,
        "entitlements": {
            e.metric: {
                "limit": _decimal_text(e.limit),
                "tolerance_pct": _decimal_text(e.tolerance_pct),
                "measurement": e.measurement,
                "over_limit_policy": e.over_limit_policy,
            }
            for e in version.entitlements.order_by("metric")
        },
    }
