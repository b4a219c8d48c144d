"""Customer portal pages (customer domain, customer schema). Views only: reads via selectors."""

from django.shortcuts import render
from django.utils import timezone

from mdr.accounts.permissions import capability_required, has_capability
from mdr.accounts.selectors import user_list
from mdr.audit.selectors import audit_event_list
from mdr.scope.selectors import contract_overview


@capability_required("portal.view")
def home(request):
    overview = contract_overview(at=timezone.now())
    return render(
        request,
        "portal/home.html",
        {
            "version": overview.version,
            "degraded": overview.degraded,
            "can_view_audit": has_capability(request.user, "audit.view"),
        },
    )


@capability_required("contract.read")
def contract(request):
    return render(request, "portal/contract.html", {"overview": contract_overview(at=timezone.now())})


@capability_required("user.list")
def users(request):
    return render(request, "portal/users.html", {"users": user_list()})


@capability_required("audit.view")
def access_log(request):
    return render(request, "portal/access_log.html", {"events": audit_event_list()[:200]})
