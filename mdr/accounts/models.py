"""People who log in. Provider staff are rows of the public schema; customer staff rows of their customer's schema.

The same table exists in every schema, so a user of one customer does not exist at all on another
customer's domain: the authentication backend only ever sees the current schema's users.
"""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    PROVIDER_ADMIN = "provider_admin", _("Provider admin")
    ANALYST = "analyst", _("SOC analyst")
    ACCOUNT_MANAGER = "account_manager", _("Account manager")
    CUSTOMER_ADMIN = "customer_admin", _("Customer admin")
    CSIRT = "csirt", _("CSIRT member")
    VIEWER = "viewer", _("Viewer")


PROVIDER_ROLES = (Role.PROVIDER_ADMIN, Role.ANALYST, Role.ACCOUNT_MANAGER)
CUSTOMER_ROLES = (Role.CUSTOMER_ADMIN, Role.CSIRT, Role.VIEWER)


class User(AbstractUser):
    """A person with one role. The role must fit the schema: provider roles in public, customer roles elsewhere."""

    role = models.CharField(max_length=32, choices=Role.choices)
    language = models.CharField(max_length=2, choices=[("ja", "日本語"), ("en", "English")], default="ja")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in Role]),
                name="%(app_label)s_%(class)s_role_valid",
            )
        ]

    @property
    def is_provider_staff(self) -> bool:
        return self.role in PROVIDER_ROLES
