from django_tenants.utils import schema_context

from mdr.scope import services
from mdr.scope.models import Asset
from mdr.scope.selectors import contract_current, inventory_revision
from tests.scope.helpers import ACTOR

SCOPE_CSV = """kind,value,provider,region,criticality,included,remediation_allowed,label,heartbeat_hours
host,WEB01,,,high,yes,no,web,
network,10.0.0.0/8,,,medium,yes,no,,
network,10.0.0.5/24,,,medium,yes,no,,
network,not-a-net,,,medium,yes,no,,
cloud_account,123456789012,aws,ap-northeast-1,critical,yes,yes,prod,
printer,x,,,low,yes,no,,
log_source,Suricata,,,medium,yes,no,,24
host,lab-*,,,low,no,no,,
host,db01,,,extreme,maybe,no,,
"""


def test_csv_import_keeps_good_rows_and_names_bad_ones(acme):
    with schema_context("acme"):
        draft = services.version_draft_create(actor=ACTOR, contract=contract_current())
        rows = services.rows_from_upload(content=SCOPE_CSV.encode(), content_type="text/csv")
        result = services.scope_items_import(actor=ACTOR, version=draft, rows=rows)
        assert result.created == 5
        bad = {e["row"]: e["errors"] for e in result.errors}
        assert set(bad) == {3, 4, 6, 9}
        assert "host bits set" in bad[3]["value"][0]
        assert "not an IP network" in bad[4]["value"][0]
        assert "kind" in bad[6]
        assert {"criticality", "included"} <= set(bad[9])
        values = set(draft.scope_items.values_list("value", flat=True))
        assert values == {"web01", "10.0.0.0/8", "123456789012", "Suricata", "lab-*"}
        assert draft.scope_items.get(value="Suricata").heartbeat_hours == 24


def test_json_import_and_unreadable_files(acme):
    with schema_context("acme"):
        draft = services.version_draft_create(actor=ACTOR, contract=contract_current())
        rows = services.rows_from_upload(
            content=b'[{"kind": "host", "value": "a"}, {"kind": "host"}]', content_type="application/json"
        )
        result = services.scope_items_import(actor=ACTOR, version=draft, rows=rows)
        assert result.created == 1 and result.errors == [{"row": 2, "errors": {"value": ["required"]}}]
        for content, ctype in [(b"[not json", "application/json"), (b"{}", "application/json"), (b"x", "image/png")]:
            try:
                services.rows_from_upload(content=content, content_type=ctype)
            except services.ScopeError as exc:
                assert exc.field == "file"
            else:
                raise AssertionError(f"{content!r} accepted")


def test_asset_import_upserts_and_bumps_the_inventory_revision(acme):
    with schema_context("acme"):
        before = inventory_revision()
        rows = [
            {"hostname": "WS-01", "ips": "10.1.1.1; 10.1.1.2", "kind": "endpoint", "groups": "finance;tokyo"},
            {"hostname": "srv-01", "ips": "bad-ip", "kind": "server"},
            {"hostname": "", "ips": ""},
            {"hostname": "ws-01", "kind": "endpoint", "criticality": "high"},
        ]
        result = services.assets_import(actor=ACTOR, rows=rows)
        assert (result.created, result.updated) == (1, 1)
        assert [e["row"] for e in result.errors] == [2, 3]
        asset = Asset.objects.get(hostname="ws-01")
        assert asset.criticality == "high"
        assert inventory_revision() == before + 1


def test_provider_outside_cloud_accounts_is_a_row_error_and_bad_scope_cannot_be_published(acme):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from mdr.scope.models import ScopeItem

    with schema_context("acme"):
        draft = services.version_draft_create(actor=ACTOR, contract=contract_current())
        result = services.scope_items_import(
            actor=ACTOR, version=draft, rows=[{"kind": "host", "value": "web01", "provider": "aws"}]
        )
        assert result.errors == [{"row": 1, "errors": {"provider": ["provider applies to cloud_account items only"]}}]
        # written past the import's checks (e.g. by hand): publishing refuses a scope that does not compile
        ScopeItem.objects.create(version=draft, kind="network", value="10.0.0.5/24")
        try:
            services.version_publish(
                actor=ACTOR, version=draft, effective_date=datetime.now(ZoneInfo(draft.timezone)).date()
            )
        except services.ScopeError as exc:
            assert exc.field == "scope_items" and "does not compile" in exc.message
        else:
            raise AssertionError("published a scope that does not compile")
