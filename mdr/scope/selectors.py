"""Read queries on contracts and scope."""

from mdr.scope.models import Contract


def contract_current() -> Contract | None:
    return Contract.objects.order_by("-starts_on", "-id").first()
