"""Writes to contracts, scope, inventory and the scope records classification keeps; and the classification
step of the alert pipeline.

Versions: a draft is built (terms, scope items, entitlements; bulk import with per-row errors), then published
from a date (local midnight in the version's time zone, never in the past); the previous version's
``valid_to`` is set to that instant. Published versions never change (database triggers, migration 0003).
"""

from __future__ import annotations

import csv
import io
import ipaddress
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from mdr.audit.services import Actor, audit_record
from mdr.jobs.health import customer_health_touch
from mdr.scope.matcher import AlertFacts
from mdr.scope.models import (
    Asset,
    AssetKind,
    Contract,
    ContractVersion,
    CoverageDegradation,
    Criticality,
    DriftStatus,
    Entitlement,
    EntitlementMetric,
    LogSourceState,
    Measurement,
    MeteredHost,
    OverLimitPolicy,
    ResponseMode,
    ScopeItem,
    ScopeKind,
    ScopeState,
    UnknownAsset,
    VersionStatus,
)
from mdr.scope.selectors import (
    compiled_scope,
    coverage_calendar,
    inventory_revision,
    version_for_alert,
    version_in_force,
)
from mdr.sla.calendar import BusinessCalendar

log = logging.getLogger(__name__)

SILENCE_ACTOR = "scope_logsource_check"


class ScopeError(ValueError):
    """A refused change; ``field`` names the input at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


# ---- contracts and versions ----------------------------------------------------------------------------


def contract_create_placeholder(
    *, actor: Actor, customer_name: str, timezone: str, language: str, starts_on: date
) -> Contract:
    """The contract every new customer starts with: version 1, in force from now, 24x7 coverage, no scope items
    (which classifies every alert in scope: a new customer is watched completely until the provider narrows it)."""
    with transaction.atomic():
        contract = Contract.objects.create(name=f"{customer_name} MDR service", starts_on=starts_on)
        version = ContractVersion.objects.create(
            contract=contract,
            number=1,
            timezone=timezone,
            report_language=language,
            change_note="placeholder created at onboarding",
            created_by=actor.name,
        )
        _publish(version=version, valid_from=_now(), actor=actor)
        audit_record(
            actor=actor,
            action="contract.create",
            target_type="contract",
            target_id=contract.pk,
            data={"placeholder": True, "version": 1},
        )
    return contract


def _now() -> datetime:
    return timezone.now()


def _validate_terms(terms: dict) -> dict:
    errors: dict[str, str] = {}
    clean: dict = {}
    if "timezone" in terms:
        try:
            ZoneInfo(terms["timezone"])
            clean["timezone"] = terms["timezone"]
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            errors["timezone"] = f"unknown time zone {terms['timezone']!r}"
    if "response_mode" in terms:
        if terms["response_mode"] not in ResponseMode.values:
            errors["response_mode"] = f"one of {ResponseMode.values}"
        else:
            clean["response_mode"] = terms["response_mode"]
    if "coverage" in terms:
        coverage = terms["coverage"] or {}
        try:
            if coverage:
                BusinessCalendar.from_dict(coverage)
            clean["coverage"] = coverage
        except (ValueError, TypeError, KeyError) as exc:
            errors["coverage"] = str(exc)
    if "report_language" in terms:
        if terms["report_language"] not in ("ja", "en"):
            errors["report_language"] = "ja or en"
        else:
            clean["report_language"] = terms["report_language"]
    for name in ("service_tier", "change_note"):
        if name in terms:
            clean[name] = str(terms[name])[: 50 if name == "service_tier" else 5000]
    if "priority_matrix" in terms:
        matrix = terms["priority_matrix"] or {}
        bands, levels = ("critical", "high", "medium", "low"), ("critical", "high", "medium", "low")
        if matrix and (
            not isinstance(matrix, dict)
            or set(matrix) != set(bands)
            or any(not isinstance(row, dict) or set(row) != set(levels) for row in matrix.values())
            or any(v not in ("P1", "P2", "P3", "P4") for row in matrix.values() for v in row.values())
        ):
            errors["priority_matrix"] = (
                "{severity band: {criticality: P1-P4}} with bands and criticalities critical, high, medium, low"
            )
        else:
            clean["priority_matrix"] = matrix
    if "report_recipients" in terms:
        clean["report_recipients"] = [str(r).strip() for r in terms["report_recipients"] or [] if str(r).strip()]
    if terms.get("sla_policy_id") is not None:
        from mdr.sla.models import SlaPolicy

        if not SlaPolicy.objects.filter(pk=terms["sla_policy_id"]).exists():
            errors["sla_policy_id"] = f"no SLA policy {terms['sla_policy_id']}"
    for name in ("sla_policy_id", "escalation_matrix_id"):
        if name in terms:
            clean[name] = terms[name]
    if errors:
        field_name, message = next(iter(errors.items()))
        raise ScopeError(field_name, message)
    return clean


def version_draft_create(
    *, actor: Actor, contract: Contract, copy_from: ContractVersion | None = None, terms: dict | None = None
) -> ContractVersion:
    """A new draft version, copying terms, scope items and entitlements from ``copy_from`` (default: the
    latest version), then applying ``terms``."""
    terms = _validate_terms(terms or {})
    with transaction.atomic():
        Contract.objects.select_for_update().filter(pk=contract.pk).first()
        base = copy_from or contract.versions.order_by("-number").first()
        number = (contract.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
        fields = {}
        if base is not None:
            for name in (
                "priority_matrix",
                "service_tier",
                "response_mode",
                "timezone",
                "coverage",
                "sla_policy_id",
                "escalation_matrix_id",
                "report_recipients",
                "report_language",
            ):
                fields[name] = getattr(base, name)
        fields.update(terms)
        draft = ContractVersion.objects.create(contract=contract, number=number, created_by=actor.name, **fields)
        if base is not None:
            ScopeItem.objects.bulk_create(
                ScopeItem(
                    version=draft,
                    kind=i.kind,
                    value=i.value,
                    provider=i.provider,
                    region=i.region,
                    criticality=i.criticality,
                    included=i.included,
                    remediation_allowed=i.remediation_allowed,
                    label=i.label,
                    heartbeat_hours=i.heartbeat_hours,
                )
                for i in base.scope_items.all()
            )
            Entitlement.objects.bulk_create(
                Entitlement(
                    version=draft,
                    metric=e.metric,
                    limit=e.limit,
                    tolerance_pct=e.tolerance_pct,
                    measurement=e.measurement,
                    over_limit_policy=e.over_limit_policy,
                )
                for e in base.entitlements.all()
            )
        audit_record(
            actor=actor,
            action="contract.version.draft",
            target_type="contract_version",
            target_id=draft.pk,
            data={"number": number, "copied_from": base.number if base else None, "terms": terms},
        )
    return draft


def _require_draft(version: ContractVersion) -> None:
    if version.status != VersionStatus.DRAFT:
        raise ScopeError(
            "version",
            gettext("version %(number)s is published: create a new version to change it") % {"number": version.number},
        )


def version_draft_update(*, actor: Actor, version: ContractVersion, terms: dict) -> ContractVersion:
    _require_draft(version)
    clean = _validate_terms(terms)
    with transaction.atomic():
        for name, value in clean.items():
            setattr(version, name, value)
        version.save(update_fields=list(clean))
        audit_record(
            actor=actor,
            action="contract.version.update",
            target_type="contract_version",
            target_id=version.pk,
            data={"terms": clean},
        )
    return version


def _publish(*, version: ContractVersion, valid_from: datetime, actor: Actor) -> None:
    previous = (
        ContractVersion.objects.select_for_update()
        .filter(contract=version.contract, status=VersionStatus.PUBLISHED)
        .exclude(pk=version.pk)
        .order_by("-valid_from")
        .first()
    )
    if previous is not None:
        if previous.valid_from >= valid_from:
            raise ScopeError(
                "effective_date", gettext("must be after version %(number)s took effect") % {"number": previous.number}
            )
        if previous.valid_to is not None:
            raise ScopeError(
                "effective_date",
                gettext("version %(number)s already ended; cannot insert before it") % {"number": previous.number},
            )
        previous.valid_to = valid_from
        previous.save(update_fields=["valid_to"])
    version.status = VersionStatus.PUBLISHED
    version.valid_from = valid_from
    version.published_at = _now()
    version.published_by = actor.name
    version.save(update_fields=["status", "valid_from", "published_at", "published_by"])


def _compile_check(version: ContractVersion) -> None:
    """A version whose scope does not compile must never come into force (it would fail every alert)."""
    from mdr.scope.matcher import CompiledScope
    from mdr.scope.selectors import scope_rules

    rules = scope_rules(version)
    try:
        CompiledScope.compile(rules)
    except ValueError as exc:
        raise ScopeError("scope_items", gettext("the scope does not compile: %(exc)s") % {"exc": exc}) from None


def version_publish(*, actor: Actor, version: ContractVersion, effective_date: date) -> ContractVersion:
    """Publish ``version`` from the start of ``effective_date`` in its time zone (today or later: history is
    never rewritten)."""
    _require_draft(version)
    tz = ZoneInfo(version.timezone)
    today_local = _now().astimezone(tz).date()
    if effective_date < today_local:
        raise ScopeError(
            "effective_date",
            gettext("%(effective_date)s is in the past (%(timezone)s today is %(today_local)s)")
            % {"effective_date": effective_date, "timezone": version.timezone, "today_local": today_local},
        )
    valid_from = datetime(effective_date.year, effective_date.month, effective_date.day, tzinfo=tz)
    if effective_date == today_local:
        valid_from = max(valid_from, _now())  # from now on, not retroactively from midnight
    _compile_check(version)
    with transaction.atomic():
        _publish(version=version, valid_from=valid_from, actor=actor)
        customer_health_touch()  # the console's customer list shows the contract
        audit_record(
            actor=actor,
            action="contract.version.publish",
            target_type="contract_version",
            target_id=version.pk,
            data={"number": version.number, "valid_from": valid_from.isoformat()},
        )
    return version


# ---- scope items and entitlements -----------------------------------------------------------------------


_TRUE = {"1", "true", "yes", "y", "included", "include"}
_FALSE = {"0", "false", "no", "n", "excluded", "exclude", ""}


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[dict] = field(default_factory=list)  # {"row": n, "errors": {field: [msg]}}

    def as_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "errors": self.errors}


def _bool(value, name: str, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name}: {value!r} is not yes/no")


def rows_from_upload(*, content: bytes | str, content_type: str) -> list[dict]:
    """CSV (header row) or JSON (a list of objects) into a list of dicts; ScopeError if unreadable."""
    import json

    text = content.decode("utf-8-sig") if isinstance(content, bytes) else content
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in ("application/json", "") and text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except ValueError as exc:
            raise ScopeError("file", gettext("not valid JSON: %(exc)s") % {"exc": exc}) from None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ScopeError("file", gettext("JSON must be a list of objects"))
        return rows
    if kind in ("text/csv", "application/csv", "text/plain", ""):
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames:
            raise ScopeError("file", gettext("CSV needs a header row"))
        return [{(k or "").strip().lower(): (v or "").strip() for k, v in row.items()} for row in reader]
    raise ScopeError(
        "file", gettext("unsupported content type %(kind)s: use text/csv or application/json") % {"kind": repr(kind)}
    )


def _scope_item_from_row(row: dict) -> ScopeItem:
    errors: dict[str, list[str]] = {}
    kind = str(row.get("kind") or "").strip().lower()
    value = str(row.get("value") or "").strip()
    if kind not in ScopeKind.values:
        errors["kind"] = [f"one of {ScopeKind.values}"]
    if not value:
        errors["value"] = ["required"]
    elif kind == ScopeKind.NETWORK:
        try:
            value = str(ipaddress.ip_network(value))
        except ValueError as exc:
            # Host bits set ("10.0.0.5/24") is ambiguous in a contract: refused, not silently widened.
            errors["value"] = [f"{value!r} is not an IP network (CIDR): {exc}"]
    elif kind == ScopeKind.HOST:
        value = value.lower()
    criticality = str(row.get("criticality") or "medium").strip().lower()
    if criticality not in Criticality.values:
        errors["criticality"] = [f"one of {Criticality.values}"]
    for name in ("provider", "region"):
        if str(row.get(name) or "").strip() and kind != ScopeKind.CLOUD_ACCOUNT:
            errors[name] = [f"{name} applies to cloud_account items only"]
    flags = {}
    for name, default in (("included", True), ("remediation_allowed", False)):
        try:
            flags[name] = _bool(row.get(name), name, default)
        except ValueError as exc:
            errors[name] = [str(exc)]
    heartbeat = row.get("heartbeat_hours")
    if heartbeat in (None, ""):
        heartbeat = None
    else:
        try:
            heartbeat = int(heartbeat)
            if heartbeat <= 0 or kind != ScopeKind.LOG_SOURCE:
                raise ValueError
        except (TypeError, ValueError):
            errors["heartbeat_hours"] = ["a positive number of hours, for log sources only"]
    if errors:
        raise _RowError(errors)
    return ScopeItem(
        kind=kind,
        value=value[:255],
        provider=str(row.get("provider") or "").strip().lower()[:32],
        region=str(row.get("region") or "").strip().lower()[:64],
        criticality=criticality,
        included=flags["included"],
        remediation_allowed=flags["remediation_allowed"],
        label=str(row.get("label") or "").strip()[:200],
        heartbeat_hours=heartbeat,
    )


class _RowError(Exception):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(str(errors))
        self.errors = errors


def scope_items_import(
    *, actor: Actor, version: ContractVersion, rows: list[dict], replace: bool = False
) -> ImportResult:
    """Add scope items to a draft version; valid rows are kept, each invalid row is reported with its number
    (1-based, header excluded) and field errors."""
    _require_draft(version)
    result = ImportResult()
    items = []
    for number, row in enumerate(rows, start=1):
        try:
            item = _scope_item_from_row(row)
        except _RowError as exc:
            result.errors.append({"row": number, "errors": exc.errors})
            continue
        item.version = version
        items.append(item)
    with transaction.atomic():
        if replace:
            version.scope_items.all().delete()
        ScopeItem.objects.bulk_create(items, batch_size=2000)
        result.created = len(items)
        audit_record(
            actor=actor,
            action="contract.scope.import",
            target_type="contract_version",
            target_id=version.pk,
            data={"created": len(items), "rejected": len(result.errors), "replace": replace},
        )
    return result


def entitlements_set(*, actor: Actor, version: ContractVersion, entitlements: list[dict]) -> list[Entitlement]:
    """Replace a draft's entitlements; ScopeError naming ``entitlements[i].field`` on the first bad one."""
    from decimal import Decimal, InvalidOperation

    _require_draft(version)
    built = []
    seen = set()
    for i, ent in enumerate(entitlements):
        prefix = f"entitlements[{i}]"
        metric = ent.get("metric")
        if metric not in EntitlementMetric.values:
            raise ScopeError(
                f"{prefix}.metric",
                gettext("one of %(choices)s") % {"choices": EntitlementMetric.values},
            )
        if metric in seen:
            raise ScopeError(f"{prefix}.metric", gettext("%(metric)s given twice") % {"metric": metric})
        seen.add(metric)
        try:
            limit = Decimal(str(ent.get("limit")))
            tolerance = Decimal(str(ent.get("tolerance_pct", 0)))
        except (InvalidOperation, ValueError):
            raise ScopeError(f"{prefix}.limit", gettext("limit and tolerance_pct must be numbers")) from None
        if limit < 0 or not 0 <= tolerance <= 100:
            raise ScopeError(f"{prefix}.limit", gettext("limit >= 0 and 0 <= tolerance_pct <= 100"))
        if ent.get("measurement") not in Measurement.values:
            raise ScopeError(f"{prefix}.measurement", gettext("one of %(choices)s") % {"choices": Measurement.values})
        if ent.get("over_limit_policy") not in OverLimitPolicy.values:
            raise ScopeError(
                f"{prefix}.over_limit_policy",
                gettext("one of %(choices)s") % {"choices": OverLimitPolicy.values},
            )
        built.append(
            Entitlement(
                version=version,
                metric=metric,
                limit=limit,
                tolerance_pct=tolerance,
                measurement=ent["measurement"],
                over_limit_policy=ent["over_limit_policy"],
            )
        )
    with transaction.atomic():
        version.entitlements.all().delete()
        Entitlement.objects.bulk_create(built)
        audit_record(
            actor=actor,
            action="contract.entitlements.set",
            target_type="contract_version",
            target_id=version.pk,
            data={"entitlements": [{"metric": e.metric, "limit": str(e.limit)} for e in built]},
        )
    return built


# ---- inventory ---------------------------------------------------------------------------------------------


class ScopeRowsRefused(ScopeError):
    """A draft save whose scope rows were refused: ``errors`` as in ``ImportResult.errors``; nothing was kept."""

    def __init__(self, errors: list[dict]):
        super().__init__("scope_items", gettext("%(count)d scope rows refused") % {"count": len(errors)})
        self.errors = errors


def version_draft_save(
    *,
    actor: Actor,
    contract: Contract,
    terms: dict,
    scope_rows: list[dict],
    entitlements: list[dict],
    copy_from: ContractVersion | None = None,
    draft: ContractVersion | None = None,
) -> ContractVersion:
    """A whole draft in one go, as the console's form gives it: create (copying ``copy_from``) or update ``draft``
    with ``terms``, replace its scope items and set its entitlements, all or nothing. Raises ``ScopeError`` naming
    the field, or ``ScopeRowsRefused`` listing every refused scope row; then nothing is written."""
    with transaction.atomic():
        if draft is None:
            draft = version_draft_create(actor=actor, contract=contract, copy_from=copy_from, terms=terms)
        else:
            draft = version_draft_update(actor=actor, version=draft, terms=terms)
        result = scope_items_import(actor=actor, version=draft, rows=scope_rows, replace=True)
        if result.errors:
            raise ScopeRowsRefused(result.errors)
        entitlements_set(actor=actor, version=draft, entitlements=entitlements)
    return draft


def _inventory_bump() -> None:
    ScopeState.objects.get_or_create(pk=1)
    ScopeState.objects.filter(pk=1).update(inventory_revision=F("inventory_revision") + 1)


def assets_import(*, actor: Actor, rows: list[dict]) -> ImportResult:
    """Upsert inventory assets by host name (rows without one are added by IPs); per-row errors."""
    result = ImportResult()
    valid = []
    for number, row in enumerate(rows, start=1):
        errors: dict[str, list[str]] = {}
        hostname = str(row.get("hostname") or "").strip().lower()
        raw_ips = row.get("ips") or ""
        ip_list = raw_ips if isinstance(raw_ips, list) else [p for p in str(raw_ips).replace(";", " ").split() if p]
        ips = []
        for ip in ip_list:
            try:
                ips.append(str(ipaddress.ip_address(str(ip).strip())))
            except ValueError:
                errors.setdefault("ips", []).append(f"{ip!r} is not an IP address")
        if not hostname and not ips:
            errors["hostname"] = ["a host name or at least one IP is required"]
        kind = str(row.get("kind") or "endpoint").strip().lower()
        if kind not in AssetKind.values:
            errors["kind"] = [f"one of {AssetKind.values}"]
        criticality = str(row.get("criticality") or "medium").strip().lower()
        if criticality not in Criticality.values:
            errors["criticality"] = [f"one of {Criticality.values}"]
        raw_groups = row.get("groups") or ""
        groups = raw_groups if isinstance(raw_groups, list) else [g for g in str(raw_groups).split(";") if g.strip()]
        if errors:
            result.errors.append({"row": number, "errors": errors})
            continue
        valid.append(
            dict(
                hostname=hostname[:255],
                ips=ips,
                kind=kind,
                criticality=criticality,
                groups=[str(g).strip()[:100] for g in groups],
                owner=str(row.get("owner") or "")[:200],
            )
        )
    with transaction.atomic():
        for data in valid:
            if data["hostname"]:
                _, created = Asset.objects.update_or_create(hostname=data["hostname"], defaults=data)
            else:
                Asset.objects.create(**data)
                created = True
            result.created += created
            result.updated += not created
        # Assets that were drift are drift no more.
        names = [d["hostname"] for d in valid if d["hostname"]] + [ip for d in valid for ip in d["ips"]]
        UnknownAsset.objects.filter(identifier__in=names).exclude(status=DriftStatus.DISMISSED).update(
            status=DriftStatus.RESOLVED
        )
        _inventory_bump()
        audit_record(
            actor=actor,
            action="inventory.import",
            target_type="asset",
            data={"created": result.created, "updated": result.updated, "rejected": len(result.errors)},
        )
    return result


# ---- classification (the pipeline's scope step) ---------------------------------------------------------


def _facts(alert) -> AlertFacts:
    return AlertFacts(
        hosts=tuple(h.lower() for h in alert.hosts),
        ips=tuple(alert.ips),
        cloud_provider=alert.cloud_provider.lower(),
        cloud_account=alert.cloud_account,
        cloud_region=alert.cloud_region.lower(),
        source_product=alert.source_product,
        source_vendor=alert.source_vendor,
    )


def alerts_classify(alerts: list) -> None:
    """Set scope_status, reason, criticality, coverage and the deciding version on each alert (in memory), and
    keep the scope records up to date: log source last-seen and heartbeats, drift, metered hosts."""
    if not alerts:
        return
    revision = inventory_revision()
    versions: dict[int, ContractVersion] = {}
    calendars: dict[int, BusinessCalendar] = {}
    unknown: dict[str, tuple[str, datetime, datetime, int]] = {}
    for alert in alerts:
        version = _cached_version(versions, alert)
        if version is None:
            alert.scope_status, alert.scope_reason = "unknown_asset", "no contract version in force at that time"
            alert.contract_version_id = None
            continue
        versions[version.pk] = version
        verdict = compiled_scope(version=version, revision=revision).classify(_facts(alert))
        alert.scope_status = verdict.status
        alert.scope_reason = verdict.reason[:500]
        alert.criticality = verdict.criticality or ""
        alert.remediation_allowed = verdict.remediation_allowed
        alert.contract_version_id = version.pk
        if version.pk not in calendars:
            calendars[version.pk] = coverage_calendar(version)
        alert.in_coverage = calendars[version.pk].is_working(alert.observed_at)
        for identifier in verdict.unknown_identifiers:
            kind = "ip" if _is_ip(identifier) else "host"
            _, first, last, n = unknown.get(identifier, (kind, alert.observed_at, alert.observed_at, 0))
            unknown[identifier] = (kind, min(first, alert.observed_at), max(last, alert.observed_at), n + 1)
    _apply_entitlements([a for a in alerts if a.scope_status == "in_scope"], versions)
    _record_drift(unknown)
    _record_log_sources(alerts, versions)


def _cached_version(versions: dict[int, ContractVersion], alert) -> ContractVersion | None:
    """The version for this alert, from the batch's versions when one covers it (most batches need one query)."""
    for version in versions.values():
        if version.valid_from <= alert.observed_at and (
            version.valid_to is None or alert.observed_at < version.valid_to
        ):
            return version
    return version_for_alert(at=alert.observed_at)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


def _record_drift(unknown: dict[str, tuple[str, datetime, datetime, int]]) -> None:
    """Count unknown hosts/IPs (one upsert for the batch) and open drift items that reached the threshold."""
    if not unknown:
        return
    items = sorted(unknown.items())
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO scope_unknownasset (identifier, kind, first_seen_at, last_seen_at, occurrences, status) "
            "SELECT i, k, f, l, n, 'watching' FROM unnest(%s::text[], %s::text[], %s::timestamptz[], "
            "%s::timestamptz[], %s::int[]) AS t(i, k, f, l, n) ON CONFLICT (identifier) DO UPDATE SET "
            "first_seen_at = LEAST(scope_unknownasset.first_seen_at, EXCLUDED.first_seen_at), "
            "last_seen_at = GREATEST(scope_unknownasset.last_seen_at, EXCLUDED.last_seen_at), "
            "occurrences = scope_unknownasset.occurrences + EXCLUDED.occurrences",
            [
                [identifier[:255] for identifier, _ in items],
                [kind for _, (kind, *_rest) in items],
                [first for _, (_k, first, _l, _n) in items],
                [last for _, (_k, _f, last, _n) in items],
                [n for _, (*_x, n) in items],
            ],
        )
    opened = UnknownAsset.objects.filter(
        identifier__in=[i for i, _ in items], status=DriftStatus.WATCHING, occurrences__gte=settings.MDR_DRIFT_THRESHOLD
    ).update(status=DriftStatus.OPEN, drift_opened_at=_now())
    if opened:
        log.info("scope.drift.opened", extra={"schema": connection.schema_name, "count": opened})


def _apply_entitlements(in_scope: list, versions: dict[int, ContractVersion]) -> None:
    """Meter hosts against endpoint/server entitlements (the first in-scope alert of a host in a month counts it)
    and apply the over-limit policy to alerts of hosts beyond the limit. Set-based: a few queries per batch."""
    if not in_scope:
        return
    ents = {
        (e.version_id, e.metric): e
        for e in Entitlement.objects.filter(version_id__in=list(versions), metric__in=["endpoints", "servers"])
    }
    if not ents:
        return
    hosts = {h for a in in_scope for h in a.hosts}
    kinds = dict(Asset.objects.filter(hostname__in=hosts).values_list("hostname", "kind"))
    # (alert, host, month, kind, metric, entitlement) for every metered host of every alert, in alert order
    wanted = []
    for alert in in_scope:
        version = versions[alert.contract_version_id]
        local = alert.observed_at.astimezone(ZoneInfo(version.timezone))
        month = date(local.year, local.month, 1)
        for host in alert.hosts:
            kind = kinds.get(host, AssetKind.ENDPOINT)
            metric = "servers" if kind == AssetKind.SERVER else "endpoints"
            ent = ents.get((version.pk, metric))
            if ent is not None:
                wanted.append((alert, host, month, kind, metric, ent))
    metered = _meter_hosts(wanted)
    for alert, host, month, _kind, metric, ent in wanted:
        if not metered[(month, host)] or alert.scope_status != "in_scope":
            continue
        policy = ent.over_limit_policy
        if policy == OverLimitPolicy.NOTIFY_ONLY:
            alert.scope_status = "over_quota"
            alert.scope_reason = (
                f"host {host} is beyond the {metric} entitlement of {ent.limit} "
                f"(+{ent.tolerance_pct}%) this month: notify only"
            )[:500]
        else:
            if policy == OverLimitPolicy.RESTRICT_ACTIONS:
                alert.remediation_allowed = False
            note = f"; {metric} over entitlement ({ent.limit} + {ent.tolerance_pct}%): {policy}"
            if note not in alert.scope_reason:
                alert.scope_reason = (alert.scope_reason + note)[:500]


def _meter_hosts(wanted: list) -> dict[tuple[date, str], bool]:
    """Over-limit flag of every (month, host) in ``wanted``: known ones read in one query; new ones counted in,
    in order, under a per-month advisory lock so two workers cannot both take the last place under the limit."""
    keys = {(month, host) for _, host, month, *_ in wanted}
    months = {m for m, _ in keys}
    result = {
        (m, h): over
        for m, h, over in MeteredHost.objects.filter(month__in=months, hostname__in={h for _, h in keys}).values_list(
            "month", "hostname", "over_limit"
        )
        if (m, h) in keys
    }
    new = [(a, h, m, k, metric, e) for a, h, m, k, metric, e in wanted if (m, h) not in result]
    if not new:
        return result
    with connection.cursor() as cursor:
        for month in sorted({m for _, _, m, *_ in new}):
            # The schema is part of the key: customers metering the same month never wait on each other.
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"scope:meter:{connection.schema_name}:{month}"]
            )
    counts: dict[tuple[date, str], int] = {}
    for month, counted_kind in MeteredHost.objects.filter(
        month__in={m for _, _, m, *_ in new}, over_limit=False
    ).values_list("month", "kind"):
        key = (month, "servers" if counted_kind == AssetKind.SERVER else "endpoints")
        counts[key] = counts.get(key, 0) + 1
    rows = []
    for alert, host, month, kind, metric, ent in new:
        if (month, host) in result:
            continue
        ceiling = ent.limit * (1 + ent.tolerance_pct / 100)
        over = counts.get((month, metric), 0) + 1 > ceiling
        if not over:
            counts[(month, metric)] = counts.get((month, metric), 0) + 1
        result[(month, host)] = over
        rows.append(
            MeteredHost(month=month, hostname=host, kind=kind, first_seen_at=alert.observed_at, over_limit=over)
        )
    MeteredHost.objects.bulk_create(rows, ignore_conflicts=True)
    return result


def _record_log_sources(alerts: list, versions: dict[int, ContractVersion]) -> None:
    """Last-seen per source; close open degradations of sources heard again; schedule the next silence check
    for sources the contract gives a heartbeat."""
    from mdr.jobs.services import due_work_schedule

    latest: dict[str, tuple[str, datetime]] = {}
    for alert in alerts:
        name = (alert.source_product or alert.source_format).strip()
        key = name.lower()
        if key and (key not in latest or latest[key][1] < alert.received_at):
            latest[key] = (name, alert.received_at)
    if not latest:
        return
    current = version_in_force(at=_now())
    heartbeats = _heartbeats(current) if current else {}
    for key, (name, seen) in sorted(latest.items()):
        state, created = LogSourceState.objects.get_or_create(
            source_key=key[:255], defaults={"display_name": name[:255], "last_seen_at": seen}
        )
        if not created and state.last_seen_at < seen:
            LogSourceState.objects.filter(pk=state.pk, last_seen_at__lt=seen).update(last_seen_at=seen)
        CoverageDegradation.objects.filter(source_key=key, ended_at__isnull=True).update(ended_at=seen)
        hours = _heartbeat_for(heartbeats, key)
        if hours:
            due_work_schedule(
                kind=SILENCE_ACTOR, ref=key[:128], due_at=max(seen, state.last_seen_at) + timedelta(hours=hours)
            )


def _heartbeats(version: ContractVersion) -> dict[str, int]:
    return {
        value.lower(): hours
        for value, hours in version.scope_items.filter(
            kind=ScopeKind.LOG_SOURCE, included=True, heartbeat_hours__isnull=False
        ).values_list("value", "heartbeat_hours")
    }


def _heartbeat_for(heartbeats: dict[str, int], source_key: str) -> int | None:
    if source_key in heartbeats:
        return heartbeats[source_key]
    for value, hours in heartbeats.items():  # "microsoft defender" covers "microsoft defender for endpoint"
        if source_key.startswith(value + " "):
            return hours
    return None


def logsource_check_silence(*, source_key: str) -> CoverageDegradation | None:
    """Open a coverage degradation if ``source_key`` has been silent past its heartbeat (idempotent)."""
    version = version_in_force(at=_now())
    hours = _heartbeat_for(_heartbeats(version), source_key) if version else None
    state = LogSourceState.objects.filter(source_key=source_key).first()
    if not hours or state is None:
        return None
    silent_since = state.last_seen_at
    if _now() < silent_since + timedelta(hours=hours):
        return None  # heard from meanwhile: its next check is already scheduled
    with transaction.atomic():
        existing = CoverageDegradation.objects.filter(source_key=source_key, ended_at__isnull=True).first()
        if existing:
            return existing
        degradation = CoverageDegradation.objects.create(
            source_key=source_key,
            display_name=state.display_name,
            started_at=silent_since,
            detected_at=_now(),
            heartbeat_hours=hours,
            reason=f"no alert or heartbeat from {state.display_name} for more than {hours} h",
        )
        customer_health_touch()  # the console's customer list counts silent sources
        audit_record(
            actor=Actor.system("scope"),
            action="coverage.degraded",
            target_type="log_source",
            target_id=source_key,
            data={"since": silent_since.isoformat(), "heartbeat_hours": hours},
        )
    return degradation


def alerts_reclassify(*, actor: Actor, since: datetime | None = None) -> int:
    """Classify again the open alerts (not closed) observed since ``since``: an explicit, audited action after
    a contract or inventory change. Returns how many alerts were classified."""
    from mdr.alerts.models import Alert, AlertStatus

    qs = Alert.objects.exclude(status=AlertStatus.CLOSED).filter(processed_at__isnull=False).order_by("pk")
    if since:
        qs = qs.filter(observed_at__gte=since)
    total = 0
    with transaction.atomic():
        batch: list = []
        for alert in qs.select_for_update().iterator(chunk_size=2000):
            batch.append(alert)
            if len(batch) == 2000:
                total += _reclassify_batch(batch)
                batch = []
        total += _reclassify_batch(batch)
        audit_record(
            actor=actor,
            action="alerts.reclassify",
            target_type="alert",
            data={"since": since.isoformat() if since else None, "alerts": total},
        )
    return total


def _reclassify_batch(batch: list) -> int:
    from mdr.alerts.models import Alert

    if not batch:
        return 0
    alerts_classify(batch)
    Alert.objects.bulk_update(
        batch,
        ["scope_status", "scope_reason", "criticality", "remediation_allowed", "contract_version_id", "in_coverage"],
        batch_size=1000,
    )
    return len(batch)
