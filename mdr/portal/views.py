"""Customer portal pages (customer domain, customer schema). Views only: reads via selectors."""

from django.http import Http404, HttpResponse
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


@capability_required("report.read")
def reports(request):
    from reports.selectors import report_list_published

    return render(request, "portal/reports.html", {"reports": report_list_published()[:60]})


@capability_required("report.read")
def report_download(request, report_id):
    """The PDF through this authorised view only (never a file URL); every download is in the audit log."""
    from mdr.audit.services import Actor
    from reports.selectors import report_list_published
    from reports.services import report_pdf

    report = report_list_published().filter(pk=report_id).first()
    if report is None:
        raise Http404("No such report.")
    response = HttpResponse(
        report_pdf(report=report, actor=Actor.from_request(request)), content_type="application/pdf"
    )
    name = f"mdr-report-{report.month:%Y-%m}-{report.language}-v{report.version}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response
