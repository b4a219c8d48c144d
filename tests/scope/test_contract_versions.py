from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import DatabaseError, transaction
from django_tenants.utils import schema_context

from mdr.audit.models import AuditEvent
from mdr.scope import services
from mdr.scope.models import ContractVersion, ScopeItem
from mdr.scope.selectors import contract_current, version_in_force
from tests.scope.helpers import ACTOR, new_version

TOKYO = ZoneInfo("Asia/Tokyo")


def test_onboarding_gives_version_1_in_force(acme):
    with schema_context("acme"):
        v1 = contract_current().versions.get()
        assert v1.number == 1 and v1.status == "published" and v1.valid_to is None
        assert version_in_force(at=datetime.now(TOKYO)) == v1


def test_version_boundary_in_the_contract_time_zone(acme):
    with schema_context("acme"):
        # given: v2 from 2027-06-01 and v3 from 2027-07-01 (Tokyo), published ahead of time
        v2 = new_version(terms={"service_tier": "gold"}, effective=date(2027, 6, 1))
        v3 = new_version(terms={"service_tier": "platinum"}, effective=date(2027, 7, 1))
        v1 = contract_current().versions.get(number=1)
        # then: 23:59:59 on the last day of v2 is v2; 00:00 of the first day of v3 is v3 (Tokyo wall clock)
        assert version_in_force(at=datetime(2027, 5, 31, 23, 59, 59, tzinfo=TOKYO)) == v1
        assert version_in_force(at=datetime(2027, 6, 30, 23, 59, 59, tzinfo=TOKYO)) == v2
        assert version_in_force(at=datetime(2027, 7, 1, 0, 0, 0, tzinfo=TOKYO)) == v3
        # the same instants seen from UTC: 14:59:59 and 15:00 the day before
        assert version_in_force(at=datetime(2027, 6, 30, 14, 59, 59, tzinfo=ZoneInfo("UTC"))) == v2
        assert version_in_force(at=datetime(2027, 6, 30, 15, 0, 0, tzinfo=ZoneInfo("UTC"))) == v3
        v2.refresh_from_db()
        assert v2.valid_to == v3.valid_from


def test_publishing_into_the_past_is_refused(acme):
    with schema_context("acme"):
        draft = services.version_draft_create(actor=ACTOR, contract=contract_current())
        with pytest.raises(services.ScopeError) as err:
            services.version_publish(actor=ACTOR, version=draft, effective_date=date(2020, 1, 1))
        assert err.value.field == "effective_date"


def test_published_history_is_frozen_in_the_database(acme):
    with schema_context("acme"):
        v1 = contract_current().versions.get()
        # a published version cannot be edited, deleted, or given new scope items, even through the ORM
        for change in (
            lambda: ContractVersion.objects.filter(pk=v1.pk).update(service_tier="hacked"),
            lambda: ContractVersion.objects.filter(pk=v1.pk).delete(),
            lambda: ScopeItem.objects.create(version=v1, kind="host", value="sneaky"),
        ):
            with pytest.raises(DatabaseError, match=r"published|history"), transaction.atomic():
                change()
        # and the service says so with the field
        with pytest.raises(services.ScopeError, match="published"):
            services.version_draft_update(actor=ACTOR, version=v1, terms={"service_tier": "x"})


def test_a_draft_copies_the_latest_version_and_changes_are_audited(acme):
    with schema_context("acme"):
        v2 = new_version(items=[{"kind": "host", "value": "web01"}])
        draft = services.version_draft_create(actor=ACTOR, contract=contract_current(), terms={"timezone": "UTC"})
        assert [i.value for i in draft.scope_items.all()] == ["web01"]
        assert draft.timezone == "UTC" and draft.number == v2.number + 1
        actions = set(AuditEvent.objects.values_list("action", flat=True))
        assert {"contract.version.draft", "contract.scope.import", "contract.version.publish"} <= actions


def test_bad_terms_name_the_field(acme):
    with schema_context("acme"):
        for terms, field in [
            ({"timezone": "Mars/Olympus"}, "timezone"),
            ({"response_mode": "yolo"}, "response_mode"),
            ({"coverage": {"timezone": "UTC", "weekly_hours": {"9": []}}}, "coverage"),
        ]:
            with pytest.raises(services.ScopeError) as err:
                services.version_draft_create(actor=ACTOR, contract=contract_current(), terms=terms)
            assert err.value.field == field


def test_publishing_today_starts_now_not_at_midnight(acme):
    with schema_context("acme"):
        before = datetime.now(TOKYO)
        v2 = new_version()
        assert v2.valid_from >= before - timedelta(seconds=1)


def test_a_draft_is_saved_whole_or_not_at_all(acme):
    """``version_draft_save`` (the console's contract form): a refused scope row or entitlement leaves no draft."""
    with schema_context("acme"):
        contract = contract_current()
        v1 = contract.versions.get()
        good_rows = [{"kind": "host", "value": "web-01"}]
        # a refused scope row: nothing is created, every refused row is named
        with pytest.raises(services.ScopeRowsRefused) as refused:
            services.version_draft_save(
                actor=ACTOR,
                contract=contract,
                terms={"service_tier": "gold"},
                scope_rows=[*good_rows, {"kind": "spaceship", "value": "x"}],
                entitlements=[],
                copy_from=v1,
            )
        assert [row["row"] for row in refused.value.errors] == [2]
        # a refused entitlement: nothing is created either, and the field is named
        with pytest.raises(services.ScopeError) as bad:
            services.version_draft_save(
                actor=ACTOR,
                contract=contract,
                terms={"service_tier": "gold"},
                scope_rows=good_rows,
                entitlements=[{"metric": "bogus", "limit": 1}],
                copy_from=v1,
            )
        assert bad.value.field == "entitlements[0].metric"
        assert contract.versions.count() == 1
        # all good: one draft with its terms and scope
        draft = services.version_draft_save(
            actor=ACTOR, contract=contract, terms={"service_tier": "gold"}, scope_rows=good_rows, entitlements=[]
        )
        assert draft.status == "draft" and draft.service_tier == "gold"
        assert list(draft.scope_items.values_list("value", flat=True)) == ["web-01"]
