"""Password login against the current schema's users only, refused while the customer is suspended."""

from django.contrib.auth.backends import ModelBackend
from django.db import connection

from mdr.accounts.models import CUSTOMER_ROLES, PROVIDER_ROLES


class TenantUserBackend(ModelBackend):
    """ModelBackend whose user must fit the schema it logs in to and whose customer must be active."""

    def user_can_authenticate(self, user) -> bool:
        if not super().user_can_authenticate(user):
            return False
        tenant = getattr(connection, "tenant", None)
        if tenant is None:
            return False
        if connection.schema_name == "public":
            return user.role in PROVIDER_ROLES
        if getattr(tenant, "status", "active") != "active":
            return False
        return user.role in CUSTOMER_ROLES
