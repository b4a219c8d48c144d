"""API keys page: customer admins list, create (plaintext shown once) and revoke their own customer's keys."""

import re

import pytest

from mdr.accounts.models import Role
from mdr.accounts.services import apikey_create
from mdr.audit.services import Actor
from tenants.models import ApiKey, Customer
from tests.portal.helpers import portal_client

PLAINTEXT = re.compile(r'value="(mdr_[^"]+)" data-testid="apikey-plaintext"')


def _whoami(tenant, key: str):
    return tenant.client().get("/api/v1/whoami", HTTP_AUTHORIZATION=f"Bearer {key}")


def _create(client, name="CI pipeline", scopes=("read",)):
    return client.post("/api-keys/", {"name": name, "scopes": list(scopes)})


def test_admin_creates_a_key_shown_once_and_it_works(acme):
    # given
    client = portal_client(acme, Role.CUSTOMER_ADMIN, username="keyadmin")
    # when
    response = _create(client, scopes=("read", "ingest"))
    # then: the plaintext is in the POST response once, never cached
    html = response.content.decode()
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    plaintext = PLAINTEXT.search(html).group(1)
    assert html.count(plaintext) == 1 and "will not be shown again" in html
    key = ApiKey.objects.get(customer__schema_name=acme.schema, name="CI pipeline")
    assert key.scopes == ["ingest", "read"] and key.digest not in html
    # and: the key answers on acme's domain
    whoami = _whoami(acme, plaintext)
    assert whoami.status_code == 200, whoami.content
    assert whoami.json()["kind"] == "api_key" and whoami.json()["tenant"] == acme.schema
    # and: the list shows the key but never its secret or digest
    listing = client.get("/api-keys/")
    page = listing.content.decode()
    assert listing.status_code == 200 and "no-store" in listing["Cache-Control"]
    assert 'data-testid="api-keys"' in page and 'data-testid="api-key-form"' in page
    assert key.public_id in page and "CI pipeline" in page
    assert plaintext not in page and plaintext.split("_")[-1] not in page and key.digest not in page
    assert 'data-testid="apikey-plaintext"' not in page
    assert "<script" not in page.split("<main", 1)[-1] and "style=" not in page


def test_admin_revokes_a_key_and_it_is_refused(acme):
    # given
    client = portal_client(acme, Role.CUSTOMER_ADMIN, username="keyadmin")
    plaintext = PLAINTEXT.search(_create(client).content.decode()).group(1)
    key = ApiKey.objects.get(customer__schema_name=acme.schema, name="CI pipeline")
    assert _whoami(acme, plaintext).status_code == 200
    page = client.get("/api-keys/").content.decode()
    assert f'data-testid="revoke-{key.public_id}"' in page and "cannot be undone" in page
    # when
    response = client.post(f"/api-keys/{key.public_id}/revoke", follow=True)
    # then
    assert response.status_code == 200 and "revoked" in response.content.decode()
    assert response.redirect_chain[-1][0].endswith("/api-keys/")
    key.refresh_from_db()
    assert key.revoked_at is not None and key.revoked_by
    assert f'data-testid="revoke-{key.public_id}"' not in response.content.decode()
    assert _whoami(acme, plaintext).status_code in (401, 403)


def test_a_key_of_another_customer_is_not_found_and_stays_active(acme, globex):
    # given
    other = apikey_create(
        actor=Actor.system("tests"), customer=Customer.objects.get(schema_name=globex.schema), name="g", scopes=["read"]
    )
    client = portal_client(acme, Role.CUSTOMER_ADMIN, username="keyadmin")
    # when
    response = client.post(f"/api-keys/{other.key.public_id}/revoke")
    # then
    assert response.status_code == 404
    other.key.refresh_from_db()
    assert other.key.revoked_at is None
    assert other.key.public_id not in client.get("/api-keys/").content.decode()
    assert _whoami(globex, other.plaintext).status_code == 200


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CSIRT])
def test_other_roles_are_refused(acme, role):
    client = portal_client(acme, role)
    assert client.get("/api-keys/").status_code == 403
    assert _create(client).status_code == 403
    assert client.post(f"/api-keys/{acme.api_key.split('_')[1]}/revoke").status_code == 403
    assert 'data-testid="nav-api-keys"' not in client.get("/").content.decode()
    assert not ApiKey.objects.filter(name="CI pipeline").exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "No scope"}, "scopes"),
        ({"name": "", "scopes": ["read"]}, "name"),
        ({"name": "Bad scope", "scopes": ["admin"]}, "scopes"),
    ],
)
def test_invalid_input_is_shown_next_to_the_field(acme, data, field):
    # given
    client = portal_client(acme, Role.CUSTOMER_ADMIN, username="keyadmin")
    before = ApiKey.objects.count()
    # when
    response = client.post("/api-keys/", data)
    # then
    html = response.content.decode()
    assert response.status_code == 400
    assert f'data-testid="error-{field}"' in html
    assert 'data-testid="apikey-plaintext"' not in html
    assert ApiKey.objects.count() == before
