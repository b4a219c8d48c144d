"""Base class for provider-domain APIs that work inside one customer's schema."""

from __future__ import annotations

from contextlib import contextmanager

from django.db import connection
from django_tenants.utils import schema_context
from rest_framework.exceptions import PermissionDenied
from rest_framework.views import APIView

from mdr.accounts.permissions import HasCapability, KeyPrincipal
from mdr.audit.services import Actor, audit_record
from tenants.selectors import customer_get


class ProviderCustomerApi(APIView):
    """Base: provider staff on the provider domain, working inside one customer's schema."""

    permission_classes = [HasCapability]
    write_capability = "contract.manage"
    read_capability = "customer.list"

    @property
    def required_capability(self) -> str:
        return self.read_capability if self.request.method == "GET" else self.write_capability

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if connection.schema_name != "public" or isinstance(request.user, KeyPrincipal):
            raise PermissionDenied("Provider API: use the provider domain and a provider login.")

    @contextmanager
    def customer(self, slug: str, *, view_action: str | None = None):
        customer = customer_get(slug=slug)
        with schema_context(customer.schema_name):
            if view_action:
                audit_record(actor=Actor.from_request(self.request), action=view_action, target_type="contract")
            yield customer
