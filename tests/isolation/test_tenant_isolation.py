"""Data written in one customer is invisible from another: through the ORM, the API and the pages."""

from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from mdr.accounts.models import Role, User
from tenants.models import Customer
from tests.conftest import login
from tests.factories import ApiKeyFactory, UserFactory


def _make_user(schema: str, username: str) -> None:
    with schema_context(schema):
        UserFactory(username=username, role=Role.CSIRT)


def _read_key(slug: str) -> str:
    return ApiKeyFactory(customer=Customer.objects.get(slug=slug), scopes=["read"]).plaintext


def test_orm_sees_only_the_current_schema(acme, globex):
    # given
    _make_user("acme", "wile-e")
    # then
    with schema_context("acme"):
        assert User.objects.filter(username="wile-e").exists()
    with schema_context("globex"):
        assert not User.objects.filter(username="wile-e").exists()
    assert not User.objects.filter(username="wile-e").exists()  # nor in public


def test_api_lists_only_own_users_with_key_and_session(acme, globex):
    # given
    _make_user("acme", "wile-e")
    _make_user("globex", "hank")
    acme_key = _read_key("acme")
    # when: an API key on the customer's own domain
    by_key = acme.client().get("/api/v1/users", HTTP_AUTHORIZATION=f"Bearer {acme_key}")
    # then
    assert by_key.status_code == 200
    names = {u["username"] for u in by_key.json()}
    assert {"wile-e", acme.admin_username} <= names
    assert not names & {"hank", globex.admin_username}
    # when: a logged-in globex admin on globex's domain
    client = globex.client()
    login(client, globex.admin_username, globex.admin_password)
    names = {u["username"] for u in client.get("/api/v1/users").json()}
    assert "hank" in names
    assert "wile-e" not in names


def test_key_on_provider_domain_is_routed_to_its_own_customer(acme, globex):
    # given
    _make_user("acme", "wile-e")
    acme_key = _read_key("acme")
    client = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    # when
    who = client.get("/api/v1/whoami", HTTP_AUTHORIZATION=f"Bearer {acme_key}")
    # then
    assert who.status_code == 200
    assert who.json()["tenant"] == "acme"
    assert who.json()["scopes"] == ["read"]


def test_portal_pages_show_only_own_data(acme, globex):
    # given
    _make_user("acme", "wile-e")
    _make_user("globex", "hank")
    client = acme.client()
    login(client, acme.admin_username, acme.admin_password)
    # when
    page = client.get("/users/")
    # then
    assert page.status_code == 200
    html = page.content.decode()
    assert "wile-e" in html
    assert "hank" not in html
    assert globex.admin_username not in html


def test_globex_user_cannot_log_in_on_acme_domain(acme, globex):
    # when
    response = acme.client().post("/login/", {"username": globex.admin_username, "password": globex.admin_password})
    # then: the login form is shown again with an error, no session
    assert response.status_code == 200
    assert "did not match" in response.content.decode()
    assert "sessionid" not in response.cookies


def test_acme_session_is_worthless_on_globex_domain(acme, globex):
    # given: a logged-in acme session
    acme_client = acme.client()
    login(acme_client, acme.admin_username, acme.admin_password)
    assert acme_client.get("/users/").status_code == 200
    # when: the same cookie is presented to globex's domain
    globex_client = globex.client()
    globex_client.cookies["sessionid"] = acme_client.cookies["sessionid"].value
    response = globex_client.get("/users/")
    # then: not logged in there
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_provider_staff_cannot_log_in_on_a_customer_domain(acme, provider_admin):
    user, password = provider_admin
    response = acme.client().post("/login/", {"username": user.username, "password": password})
    assert response.status_code == 200
    assert "sessionid" not in response.cookies


def test_customer_admin_cannot_log_in_on_provider_domain(acme, provider_client):
    response = provider_client.post("/login/", {"username": acme.admin_username, "password": acme.admin_password})
    assert response.status_code == 200
    assert "sessionid" not in response.cookies


def test_acme_key_is_refused_on_globex_domain(acme, globex):
    response = globex.client().get("/api/v1/whoami", HTTP_AUTHORIZATION=f"Bearer {acme.api_key}")
    assert response.status_code == 403
    assert "another customer" in response.json()["detail"]


def test_customer_key_cannot_use_provider_api(acme, provider_client):
    response = provider_client.get("/api/provider/customers/", HTTP_AUTHORIZATION=f"Bearer {_read_key('acme')}")
    assert response.status_code == 403


def test_ingest_only_key_cannot_read(acme):
    response = acme.client().get("/api/v1/users", HTTP_AUTHORIZATION=f"Bearer {acme.api_key}")
    assert response.status_code == 403
