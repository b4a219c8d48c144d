"""Read queries on users and API keys."""

from django.db.models import QuerySet

from mdr.accounts.models import User
from tenants.models import ApiKey, Customer


def user_list() -> QuerySet[User]:
    """Users of the current schema only."""
    return User.objects.order_by("username")


def apikey_list(*, customer: Customer) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(customer=customer).order_by("-created_at")
