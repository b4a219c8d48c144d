"""Provider staff logged in on the provider domain, one client per role."""

import pytest
from django.conf import settings
from django.test import Client

from mdr.accounts.models import Role
from tests.conftest import login
from tests.factories import PASSWORD, UserFactory


def _staff(username: str, role: str) -> Client:
    UserFactory(username=username, role=role)
    client = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    login(client, username, PASSWORD)
    return client


@pytest.fixture
def analyst(acme) -> Client:
    return _staff("console-analyst", Role.ANALYST)


@pytest.fixture
def provider_admin_client(acme) -> Client:
    return _staff("console-padmin", Role.PROVIDER_ADMIN)


@pytest.fixture
def account_manager(acme) -> Client:
    return _staff("console-am", Role.ACCOUNT_MANAGER)
