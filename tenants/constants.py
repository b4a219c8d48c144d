"""Names shared by the tenant services, the host router and the front ends."""

import re

from django.db import models
from django.utils.translation import gettext_lazy as _


class CustomerStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    OFFBOARDED = "offboarded", _("Offboarded")


# A slug is a DNS label (it becomes <slug>.<base domain>) and, with '-' mapped to '_', a schema name.
SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")
RESERVED_SLUGS = frozenset(
    {
        "public",
        "www",
        "api",
        "admin",
        "console",
        "portal",
        "static",
        "media",
        "mail",
        "smtp",
        "provider",
        "template",
        "tenant-template",
        "information-schema",
        "default",
        "root",
        "postgres",
        "localhost",
    }
)


def schema_name_for(slug: str) -> str:
    return slug.replace("-", "_")
