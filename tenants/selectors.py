"""Read queries on customers (public schema)."""

from django.db.models import QuerySet
from django.http import Http404

from tenants.models import Customer


def customer_list() -> QuerySet[Customer]:
    """Every customer, without the provider's own public row."""
    return Customer.objects.exclude(schema_name="public").order_by("name")


def customer_get(*, slug: str) -> Customer:
    customer = customer_list().filter(slug=slug).first()
    if customer is None:
        raise Http404("No such customer.")
    return customer
