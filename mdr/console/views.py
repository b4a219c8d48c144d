"""Provider console pages (provider domain, public schema). Views only: reads via selectors."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from mdr.accounts.permissions import capability_required
from mdr.audit.services import Actor
from tenants.selectors import customer_list


@capability_required("customer.list")
def home(request):
    return render(request, "console/home.html", {"customers": customer_list().prefetch_related("domains")})


@require_POST
@capability_required("alert.triage")
def fire_drill(request, slug: str):
    """Start a fire drill for one customer (runs in a worker; the report lands on the drill's incident)."""
    from mdr.escalations.drill import fire_drill_request

    customer = customer_list().filter(slug=slug).first()
    if customer is None:
        raise Http404("No such customer.")
    fire_drill_request(actor=Actor.from_request(request), schema_name=customer.schema_name)
    messages.success(request, f"Fire drill started for {customer.name}: its report is on the drill's incident.")
    return redirect("home")


@capability_required("report.sla")
def sla_report(request):
    """The account managers' SLA report across customers (page, CSV, PDF)."""
    from django.http import HttpResponse
    from django.utils import timezone

    from reports.services import ReportError
    from reports.sla_report import period_parse, sla_report_csv, sla_report_dangerously_all_tenants, sla_report_pdf

    now = timezone.now()
    last_month = (now.date().replace(day=1) - timezone.timedelta(days=1)).strftime("%Y-%m")
    try:
        period = period_parse(request.GET.get("period") or last_month)
    except ReportError as exc:
        return render(
            request, "console/sla_report.html", {"error": exc.message, "period": period_parse(last_month)}, status=400
        )
    customers = sla_report_dangerously_all_tenants(period=period, actor=Actor.from_request(request))
    fmt = request.GET.get("format", "html")
    if fmt in ("csv", "pdf"):
        body = (
            sla_report_csv(period=period, customers=customers)
            if fmt == "csv"
            else sla_report_pdf(period=period, customers=customers, generated_at=now)
        )
        response = HttpResponse(body, content_type="text/csv; charset=utf-8" if fmt == "csv" else "application/pdf")
        response["Content-Disposition"] = f'attachment; filename="sla-report-{period.label}.{fmt}"'
        response["Cache-Control"] = "private, no-store"
        return response
    from django.conf import settings

    return render(
        request,
        "console/sla_report.html",
        {"period": period, "customers": customers, "threshold": settings.MDR_SLA_AT_RISK_PCT},
    )
