"""Read queries on users and API keys."""

from django.db.models import QuerySet

from mdr.accounts.models import User


def user_list() -> QuerySet[User]:
    """Users of the current schema only."""
    return User.objects.order_by("username")


def staff_list() -> QuerySet[User]:
    """Provider staff (public schema) with ``totp_enrolled`` (a confirmed device), admins first."""
    from django.db.models import Exists, OuterRef
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from mdr.accounts.models import PROVIDER_ROLES

    enrolled = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
    return (
        User.objects.filter(role__in=PROVIDER_ROLES)
        .annotate(totp_enrolled=Exists(enrolled))
        .order_by("-is_active", "role", "username")
    )
