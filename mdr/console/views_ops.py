"""Console operations pages: offboarding a customer (run by a worker, outcome recorded) and every customer's
pending change proposals (read from the public index of open requests; no customer schema is entered)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from mdr.accounts.permissions import capability_required
from mdr.audit.services import Actor
from mdr.console.forms import field_error
from mdr.console.forms_ops import OffboardForm
from mdr.jobs.models import OffboardingState
from tenants.constants import CustomerStatus
from tenants.selectors import customer_get

ACTIVE_RUN_STATES = (OffboardingState.QUEUED, OffboardingState.RUNNING)


def _offboard_context(customer, form=None) -> dict:
    runs = list(customer.offboarding_runs.order_by("-requested_at", "-id")[:20])
    return {
        "customer": customer,
        "form": form or OffboardForm(slug=customer.slug),
        "runs": runs,
        "running": any(run.state in ACTIVE_RUN_STATES for run in runs),
        "offboarded": customer.status == CustomerStatus.OFFBOARDED,
        "export_root": settings.MDR_EXPORT_DIR,
    }


@require_http_methods(["GET", "POST"])
@capability_required("customer.offboard")
def customer_offboard(request, slug: str):
    """Explain, confirm by typing the slug, hand the offboarding to a worker; the page shows every run's outcome
    (export directory, manifest SHA-256, rows per table, or the error). With htmx the runs table refreshes itself
    while a run is queued or running (``HX-Request``: only that fragment)."""
    from tenants.offboarding import OffboardingError, customer_offboard_request

    customer = customer_get(slug=slug)
    if request.method == "GET":
        if request.headers.get("HX-Request") == "true":
            return render(request, "console/offboard_runs.html", _offboard_context(customer))
        return render(request, "console/offboard.html", _offboard_context(customer))
    form = OffboardForm(request.POST, slug=customer.slug)
    if form.is_valid():
        try:
            customer_offboard_request(
                actor=Actor.from_request(request), customer=customer, confirm=form.cleaned_data["confirm"]
            )
        except OffboardingError as exc:
            field_error(form, exc.field, exc.message)
        else:
            messages.success(
                request,
                _("Offboarding of %(name)s started: a worker exports, verifies and drops the schema.")
                % {"name": customer.name},
            )
            return redirect("console-customer-offboard", slug=customer.slug)
    return render(request, "console/offboard.html", _offboard_context(customer, form), status=400)


@require_GET
@capability_required("contract.manage")
def proposals_all(request):
    """Every customer's pending contact and matrix change proposals, oldest first, each linking to the customer's
    proposal page where they are decided. Two queries whatever the number of customers."""
    from mdr.escalations.models import ProposalKind
    from mdr.jobs.models import OpenRequestKind
    from mdr.jobs.selectors import open_request_list

    kinds = dict(ProposalKind.choices)
    rows = [(row, kinds.get(row.subject, row.subject)) for row in open_request_list(kind=OpenRequestKind.PROPOSAL)]
    return render(request, "console/proposals_all.html", {"rows": rows})
