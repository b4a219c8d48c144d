import json

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context, schema_exists

from mdr.accounts.models import Role
from mdr.accounts.services import user_create
from mdr.audit.services import Actor
from tenants.constants import CustomerStatus
from tenants.offboarding import OffboardingError, customer_offboard, export_verify
from tenants.services import customer_onboard


def _count(schema: str, table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{schema}"."{table}"')  # noqa: S608 -- test constants
        return cursor.fetchone()[0]


@pytest.fixture
def initech(tenants_ab, db):
    result = customer_onboard(actor=Actor.system("t"), name="Initech", slug="initech")
    with schema_context("initech"):
        for i in range(7):
            user_create(actor=Actor.system("t"), username=f"user{i}", email=f"u{i}@initech.example", role=Role.VIEWER)
    return result


def test_export_round_trips_row_counts_and_drops_only_with_confirmation(initech, tmp_path):
    # given
    customer = initech.customer
    expected_users = _count("initech", "accounts_user")
    expected_audit = _count("initech", "audit_auditevent")
    assert expected_users == 8
    # when: exported without confirmation
    result = customer_offboard(actor=Actor.system("t"), customer=customer, export_to=tmp_path / "a", confirm=None)
    # then: complete, verified, schema kept, customer suspended
    assert export_verify(directory=result.directory) == []
    lines = (result.directory / "accounts_user.jsonl").read_text().splitlines()
    assert len(lines) == expected_users
    assert {json.loads(line)["username"] for line in lines} >= {"user0", "user6", initech.admin_username}
    assert result.row_counts["audit_auditevent"] == expected_audit
    assert result.row_counts["public.tenants_apikey"] == 1
    assert schema_exists("initech")
    customer.refresh_from_db()
    assert customer.status == CustomerStatus.SUSPENDED
    # when: confirmed with the slug
    result = customer_offboard(actor=Actor.system("t"), customer=customer, export_to=tmp_path / "b", confirm="initech")
    # then
    assert result.row_counts["accounts_user"] == expected_users
    assert not schema_exists("initech")
    customer.refresh_from_db()
    assert customer.status == CustomerStatus.OFFBOARDED
    response = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN).get(
        "/api/v1/whoami", HTTP_AUTHORIZATION=f"Bearer {initech.api_key}"
    )
    assert response.status_code == 401


def test_wrong_confirmation_keeps_the_schema(initech, tmp_path):
    customer_offboard(actor=Actor.system("t"), customer=initech.customer, export_to=tmp_path / "a", confirm="acme")
    assert schema_exists("initech")


def test_tampered_export_fails_verification(initech, tmp_path):
    result = customer_offboard(
        actor=Actor.system("t"), customer=initech.customer, export_to=tmp_path / "a", confirm=None
    )
    with (result.directory / "accounts_user.jsonl").open("a") as fh:
        fh.write('{"id": 999}\n')
    problems = export_verify(directory=result.directory)
    assert any("accounts_user" in p and "SHA-256" in p for p in problems)


def test_export_refuses_a_non_empty_directory(initech, tmp_path):
    (tmp_path / "junk").write_text("x")
    with pytest.raises(OffboardingError) as err:
        customer_offboard(actor=Actor.system("t"), customer=initech.customer, export_to=tmp_path, confirm="initech")
    assert err.value.field == "export_to"
    assert schema_exists("initech")


def test_command_exports_and_drops(initech, tmp_path, capsys):
    from django.core.management import call_command

    call_command("offboard_customer", "initech", "--export-to", str(tmp_path / "x"), "--confirm", "initech")
    out = json.loads(capsys.readouterr().out)
    assert out["schema_dropped"] is True
    assert out["tables"]["accounts_user"] == 8
    assert not schema_exists("initech")
