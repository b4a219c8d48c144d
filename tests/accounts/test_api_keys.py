import pytest
from django.conf import settings
from django.test import Client

from mdr.accounts import keys
from mdr.accounts.services import AccountError, apikey_create, apikey_revoke
from mdr.audit.services import Actor
from tenants.models import ApiKey, Customer
from tenants.services import customer_resume, customer_suspend
from tests.conftest import login


def test_key_format_has_prefix_public_id_secret_and_checksum():
    # when
    generated = keys.generate()
    # then
    assert keys.KEY_RE.match(generated.plaintext)
    assert keys.parse_public_id(generated.plaintext) == generated.public_id
    assert len(generated.plaintext) == len("mdr_") + 12 + 1 + 43 + 6


def test_checksum_refuses_a_mistyped_key():
    plaintext = keys.generate().plaintext
    i = len("mdr_") + 20
    typo = plaintext[:i] + ("A" if plaintext[i] != "A" else "B") + plaintext[i + 1 :]
    assert keys.parse_public_id(typo) is None


def test_every_key_is_unique():
    assert len({keys.generate().plaintext for _ in range(200)}) == 200


def test_scopes_are_validated(acme):
    with pytest.raises(AccountError) as err:
        apikey_create(actor=Actor.system("t"), customer=Customer.objects.get(slug="acme"), name="x", scopes=["admin"])
    assert err.value.field == "scopes"


def test_revoked_key_is_refused_at_once(acme):
    # given
    issued = apikey_create(
        actor=Actor.system("t"), customer=Customer.objects.get(slug="acme"), name="ci", scopes=["read"]
    )
    client = acme.client()
    assert client.get("/api/v1/whoami", HTTP_AUTHORIZATION=f"Bearer {issued.plaintext}").status_code == 200
    # when
    apikey_revoke(actor=Actor.system("t"), key=issued.key)
    # then
    response = client.get("/api/v1/whoami", HTTP_AUTHORIZATION=f"Bearer {issued.plaintext}")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_unknown_and_malformed_keys_are_refused(acme):
    client = acme.client()
    unknown = keys.generate().plaintext
    assert client.get("/api/v1/whoami", HTTP_AUTHORIZATION=f"Bearer {unknown}").status_code == 401
    assert client.get("/api/v1/whoami", HTTP_AUTHORIZATION="Bearer nope").status_code == 401
    assert client.get("/api/v1/whoami", HTTP_AUTHORIZATION="Bearer a b").status_code == 401


def test_use_is_recorded(acme):
    client = acme.client()
    client.get("/api/v1/whoami", HTTP_AUTHORIZATION=f"Bearer {acme.api_key}")
    assert ApiKey.objects.get(public_id=keys.parse_public_id(acme.api_key)).last_used_at is not None


def test_suspension_stops_keys_logins_and_sessions_at_once(acme, provider_admin):
    # given: a live session and a working key
    customer = Customer.objects.get(slug="acme")
    session = acme.client()
    login(session, acme.admin_username, acme.admin_password)
    assert session.get("/users/").status_code == 200
    # when
    customer_suspend(actor=Actor.system("t"), customer=customer, reason="unpaid invoices")
    # then
    assert session.get("/users/").status_code == 403
    fresh = acme.client()
    assert fresh.post("/login/", {"username": acme.admin_username, "password": acme.admin_password}).status_code == 403
    by_key = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN).get(
        "/api/v1/whoami", HTTP_AUTHORIZATION=f"Bearer {acme.api_key}"
    )
    assert by_key.status_code == 401
    # and resuming restores access
    customer_resume(actor=Actor.system("t"), customer=customer)
    assert session.get("/users/").status_code == 200


def test_provider_admin_issues_and_revokes_keys_over_the_api(acme, provider_client, provider_admin):
    login(provider_client, provider_admin[0].username, provider_admin[1])
    created = provider_client.post(
        "/api/provider/customers/acme/keys",
        {"name": "siem", "scopes": ["ingest"]},
        content_type="application/json",
    )
    assert created.status_code == 201
    plaintext = created.json()["api_key"]
    assert acme.client().get("/api/v1/whoami", HTTP_AUTHORIZATION=f"Bearer {plaintext}").status_code == 200
    public_id = created.json()["public_id"]
    revoked = provider_client.post(f"/api/provider/customers/acme/keys/{public_id}/revoke")
    assert revoked.status_code == 200
    assert acme.client().get("/api/v1/whoami", HTTP_AUTHORIZATION=f"Bearer {plaintext}").status_code == 401
