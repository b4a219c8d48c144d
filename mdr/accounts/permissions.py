"""Who may do what: the one table of capabilities, used by the API, the console and the portal.

A principal is either a logged-in user (with a role) or an API key (with scopes). A capability is granted by
role or by key scope; everything not listed is denied.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from django.core.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from mdr.accounts.models import Role

# capability -> roles that hold it
ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    # provider side (public schema)
    "customer.list": frozenset({Role.PROVIDER_ADMIN, Role.ANALYST, Role.ACCOUNT_MANAGER}),
    "customer.onboard": frozenset({Role.PROVIDER_ADMIN}),
    "customer.suspend": frozenset({Role.PROVIDER_ADMIN}),
    "customer.offboard": frozenset({Role.PROVIDER_ADMIN}),
    "apikey.manage_any": frozenset({Role.PROVIDER_ADMIN}),
    "audit.view_provider": frozenset({Role.PROVIDER_ADMIN}),
    "alert.read_any": frozenset({Role.PROVIDER_ADMIN, Role.ANALYST, Role.ACCOUNT_MANAGER}),
    "contract.manage": frozenset({Role.PROVIDER_ADMIN}),
    # read a customer's contract versions, SLA policies, escalation matrices and calendars in the console
    "contract.read_any": frozenset({Role.PROVIDER_ADMIN, Role.ANALYST, Role.ACCOUNT_MANAGER}),
    "sla.operate": frozenset({Role.PROVIDER_ADMIN, Role.ANALYST}),
    "alert.triage": frozenset({Role.PROVIDER_ADMIN, Role.ANALYST}),
    "report.manage": frozenset({Role.PROVIDER_ADMIN, Role.ANALYST, Role.ACCOUNT_MANAGER}),
    "report.sla": frozenset({Role.PROVIDER_ADMIN, Role.ACCOUNT_MANAGER, Role.ANALYST}),
    "staff.manage": frozenset({Role.PROVIDER_ADMIN}),
    # everyone's own account page: language, password, second factor
    "account.manage": frozenset(Role.values),
    # customer side (customer schema)
    "portal.view": frozenset({Role.CUSTOMER_ADMIN, Role.CSIRT, Role.VIEWER}),
    "user.list": frozenset({Role.CUSTOMER_ADMIN, Role.CSIRT, Role.VIEWER}),
    "apikey.manage": frozenset({Role.CUSTOMER_ADMIN}),
    "audit.view": frozenset({Role.CUSTOMER_ADMIN}),
    "alert.read": frozenset({Role.CUSTOMER_ADMIN, Role.CSIRT, Role.VIEWER}),
    "contract.read": frozenset({Role.CUSTOMER_ADMIN, Role.CSIRT, Role.VIEWER}),
    "incident.acknowledge": frozenset({Role.CUSTOMER_ADMIN, Role.CSIRT}),
    "incident.comment": frozenset({Role.CUSTOMER_ADMIN, Role.CSIRT}),
    # the status of a recommended action (done / not applicable / need help); API keys read the actions only
    "incident.action_status": frozenset({Role.CUSTOMER_ADMIN, Role.CSIRT}),
    "escalation.read": frozenset({Role.CUSTOMER_ADMIN, Role.CSIRT, Role.VIEWER}),
    "escalation.propose": frozenset({Role.CUSTOMER_ADMIN}),
    "report.read": frozenset({Role.CUSTOMER_ADMIN, Role.CSIRT, Role.VIEWER}),
}

# capability -> API key scopes that hold it
SCOPE_CAPABILITIES: dict[str, frozenset[str]] = {
    "alert.ingest": frozenset({"ingest"}),
    "alert.read": frozenset({"read"}),
    "user.list": frozenset({"read"}),
    "contract.read": frozenset({"read"}),
    "incident.acknowledge": frozenset({"read"}),
    "escalation.read": frozenset({"read"}),
    "report.read": frozenset({"read"}),
    "whoami": frozenset({"ingest", "read"}),
}


@dataclass(frozen=True)
class KeyPrincipal:
    """What DRF's request.user is when a request authenticated with an API key."""

    key_id: int
    public_id: str
    customer_id: int
    schema_name: str
    scopes: tuple[str, ...]
    is_authenticated: bool = True
    is_active: bool = True
    role: str = ""

    def __str__(self) -> str:
        return f"apikey:{self.public_id}"


def has_capability(principal, capability: str) -> bool:
    if principal is None or not getattr(principal, "is_authenticated", False):
        return False
    if isinstance(principal, KeyPrincipal):
        return bool(SCOPE_CAPABILITIES.get(capability, frozenset()) & set(principal.scopes))
    if capability == "whoami":
        return True
    return principal.is_active and principal.role in ROLE_CAPABILITIES.get(capability, frozenset())


class HasCapability(BasePermission):
    """DRF permission: the view names its capability in ``required_capability``."""

    def has_permission(self, request, view) -> bool:
        return has_capability(request.user, view.required_capability)


def capability_required(capability: str):
    """Page decorator: anonymous users go to the login page, others without the capability get 403."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                from django.contrib.auth.views import redirect_to_login

                return redirect_to_login(request.get_full_path())
            if not has_capability(request.user, capability):
                raise PermissionDenied(capability)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
