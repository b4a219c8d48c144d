"""Building contract versions for tests through the real services."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from mdr.audit.services import Actor
from mdr.scope import services
from mdr.scope.models import ContractVersion
from mdr.scope.selectors import contract_current

ACTOR = Actor.system("tests")


def new_version(
    *,
    items: list[dict] = (),
    terms: dict | None = None,
    entitlements: list[dict] | None = None,
    effective: date | None = None,
) -> ContractVersion:
    """A version with ``items`` published from ``effective`` (local midnight; today or later), default: now."""
    contract = contract_current()
    draft = services.version_draft_create(actor=ACTOR, contract=contract, terms=terms or {})
    if items:
        result = services.scope_items_import(actor=ACTOR, version=draft, rows=list(items), replace=True)
        assert result.errors == [], result.errors
    if entitlements is not None:
        services.entitlements_set(actor=ACTOR, version=draft, entitlements=entitlements)
    tz = ZoneInfo(draft.timezone)
    services.version_publish(actor=ACTOR, version=draft, effective_date=effective or datetime.now(tz).date())
    draft.refresh_from_db()
    return draft


def backdated_version(*, items: list[dict] = (), terms: dict | None = None, valid_from: datetime) -> ContractVersion:
    """A version that has been in force since ``valid_from`` (in the past): history for tests of past alerts.

    The services never publish into the past, so this sets the publication fields directly on a draft (the
    database allows a draft to become published; it refuses any change after that)."""
    draft = services.version_draft_create(actor=ACTOR, contract=contract_current(), terms=terms or {})
    if items:
        assert services.scope_items_import(actor=ACTOR, version=draft, rows=list(items), replace=True).errors == []
    ContractVersion.objects.filter(pk=draft.pk).update(
        status="published", valid_from=valid_from, published_by="tests", published_at=valid_from
    )
    draft.refresh_from_db()
    return draft
