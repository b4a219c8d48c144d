"""DRF authentication by API key (``Authorization: Bearer mdr_...``).

The key is resolved in the public schema. On a customer's own domain the key must belong to that customer
(403 otherwise); on the provider domain the request is moved into the key's customer schema, so the views
behind it always run in the key's tenant.
"""

from django.db import connection
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from mdr.accounts import keys
from mdr.accounts.permissions import KeyPrincipal
from tenants.constants import CustomerStatus
from tenants.models import ApiKey

LAST_USED_RESOLUTION_SECONDS = 60


class ApiKeyAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <api key>'.")
        try:
            plaintext = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("API key contains invalid characters.") from exc
        public_id = keys.parse_public_id(plaintext)
        if public_id is None:
            raise exceptions.AuthenticationFailed("Malformed API key.")

        current = connection.tenant
        # Key digests live in public, which is on every tenant's search path (and no customer schema has a
        # table of that name: the tenants app is shared-only), so no schema switch is needed to read them.
        key = ApiKey.objects.select_related("customer").filter(public_id=public_id).first()
        if key is None or not keys.matches(plaintext, key.digest):
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("API key has been revoked.")
        customer = key.customer
        if customer.status != CustomerStatus.ACTIVE:
            raise exceptions.AuthenticationFailed("Customer account is not active.")
        if current.schema_name != "public" and current.pk != customer.pk:
            raise exceptions.PermissionDenied("This API key belongs to another customer's domain.")
        if current.schema_name == "public":
            connection.set_tenant(customer)
            request.tenant = customer
        self._touch(key)
        principal = KeyPrincipal(
            key_id=key.pk,
            public_id=key.public_id,
            customer_id=customer.pk,
            schema_name=customer.schema_name,
            scopes=tuple(key.scopes),
        )
        return principal, key

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'

    @staticmethod
    def _touch(key: ApiKey) -> None:
        # ``last_used_at`` has a resolution of a minute: skip the write while the stored value is recent (it came
        # with the key row, so this costs no query). Concurrent processes may both write once; harmless.
        now = timezone.now()
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() >= LAST_USED_RESOLUTION_SECONDS:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
