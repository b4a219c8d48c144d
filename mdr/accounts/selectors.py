"""Read queries on users and API keys."""

from django.db.models import QuerySet

from mdr.accounts.models import User


def user_list() -> QuerySet[User]:
    """Users of the current schema only."""
    return User.objects.order_by("username")
