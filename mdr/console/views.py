"""Provider console pages (provider domain, public schema). Views only: reads via selectors, writes via services.

A page that shows a customer's data enters that customer's schema explicitly (``schema_context``) and records the
read in the customer's audit log (``provider.console.*``), so the customer sees who at the provider looked at what.
Actions are POST-redirect-GET; a refused action renders the page again (400) with the error next to its field.
"""

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_tenants.utils import schema_context

from mdr.accounts.permissions import capability_required, has_capability
from mdr.audit.services import Actor, audit_record
from mdr.console import forms
from mdr.incidents.models import OPEN_STATES
from reports.models import ReportState
from reports.summary import health_wording
from tenants.constants import CustomerStatus
from tenants.selectors import customer_get, customer_list

QUEUE_LIMIT = 200
QUEUE_PRIORITIES = ("P1", "P2", "P3", "P4")


HOME_PAGE_SIZE = 100


@capability_required("customer.list")
def home(request):
    """Every customer with its health at a glance, most urgent first (or by name), optionally only those that need
    attention. Public queries only, whatever the number of customers: the customers with the rollup the workers
    keep (``CustomerHealth``) and their domains, the SLA timer counts from the public timer index, the open-request
    count; no customer schema is entered."""
    from django.core.paginator import Paginator

    from mdr.jobs.selectors import customer_health_list, open_request_counts

    can_manage_contracts = has_capability(request.user, "contract.manage")
    rows = customer_health_list()
    attention_total = sum(1 for row in rows if row.needs_attention)
    attention_only = request.GET.get("attention") == "1"
    sort = "name" if request.GET.get("sort") == "name" else "attention"
    search = request.GET.get("q", "").strip()[:100]
    if attention_only:
        rows = [row for row in rows if row.needs_attention]
    if search:
        needle = search.lower()
        rows = [row for row in rows if needle in row.customer.name.lower() or needle in row.customer.slug]
    if sort == "name":
        rows.sort(key=lambda row: row.customer.name.lower())
    page = Paginator(rows, HOME_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "console/home.html",
        {
            "page": page,
            "rows": page.object_list,
            "attention_only": attention_only,
            "attention_total": attention_total,
            "sort": sort,
            "search": search,
            "at_risk_minutes": settings.MDR_HEALTH_AT_RISK_MINUTES,
            "can_manage_contracts": can_manage_contracts,
            "pending_proposals": open_request_counts()["proposal"] if can_manage_contracts else 0,
            "can_onboard": has_capability(request.user, "customer.onboard"),
            "can_suspend": has_capability(request.user, "customer.suspend"),
        },
    )


# ---- customer lifecycle (onboarding, suspend/resume; offboarding stays a command) ----------------------------------


@capability_required("customer.onboard")
def customer_new(request):
    """The onboarding wizard: one form, one service call. The secrets are rendered once, never stored or redirected."""
    from tenants.services import OnboardingError, customer_onboard, customer_url

    form = forms.OnboardForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                result = customer_onboard(
                    actor=Actor.from_request(request),
                    name=data["name"],
                    slug=data["slug"],
                    admin_email=data["admin_email"],
                    timezone_name=data["timezone"],
                    language=data["language"],
                )
            except OnboardingError as exc:
                forms.field_error(form, exc.field, exc.message)
            else:
                response = render(
                    request,
                    "console/onboard.html",
                    {"result": result, "portal_url": customer_url(result.domain)},
                )
                response["Cache-Control"] = "private, no-store"
                return response
        status = 400
    return render(request, "console/onboard.html", {"form": form}, status=status)


def _customer_status_page(request, customer, *, form=None, status: int = 200):
    return render(
        request,
        "console/customer_status.html",
        {
            "customer": customer,
            "form": form or forms.SuspendForm(),
            "is_suspended": customer.status == CustomerStatus.SUSPENDED,
        },
        status=status,
    )


@capability_required("customer.suspend")
def customer_status(request, slug: str):
    return _customer_status_page(request, customer_get(slug=slug))


@require_POST
@capability_required("customer.suspend")
def customer_status_suspend(request, slug: str):
    from tenants.services import OnboardingError, customer_suspend

    customer = customer_get(slug=slug)
    form = forms.SuspendForm(request.POST)
    if form.is_valid():
        try:
            customer_suspend(actor=Actor.from_request(request), customer=customer, reason=form.cleaned_data["reason"])
        except OnboardingError as exc:
            forms.field_error(form, exc.field, exc.message)
        else:
            messages.success(request, _("%(name)s is suspended.") % {"name": customer.name})
            return redirect("console-customer-status", slug=customer.slug)
    return _customer_status_page(request, customer, form=form, status=400)


@require_POST
@capability_required("customer.suspend")
def customer_status_resume(request, slug: str):
    from tenants.services import OnboardingError, customer_resume

    customer = customer_get(slug=slug)
    try:
        customer_resume(actor=Actor.from_request(request), customer=customer)
    except OnboardingError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(name)s is active again.") % {"name": customer.name})
    return redirect("console-customer-status", slug=customer.slug)


@require_POST
@capability_required("alert.triage")
def fire_drill(request, slug: str):
    """Start a fire drill for one customer (runs in a worker; the report lands on the drill's incident)."""
    from mdr.escalations.drill import fire_drill_request

    customer = customer_list().filter(slug=slug).first()
    if customer is None:
        raise Http404("No such customer.")
    fire_drill_request(actor=Actor.from_request(request), schema_name=customer.schema_name)
    messages.success(
        request, _("Fire drill started for %(name)s: its report is on the drill's incident.") % {"name": customer.name}
    )
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


# ---- helpers --------------------------------------------------------------------------------------------------------


def _audit_read(request, action: str, *, target_type: str = "", target_id="") -> None:
    """Provider staff read a customer's data: recorded in that customer's schema (the customer sees who looked)."""
    audit_record(actor=Actor.from_request(request), action=action, target_type=target_type, target_id=target_id)


def _remaining(seconds: int | None) -> str:
    if seconds is None:
        return "paused"
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    return f"{sign}{f'{days}d ' if days else ''}{hours}h {rest // 60:02d}m"


# ---- analyst queue --------------------------------------------------------------------------------------------------


@capability_required("alert.read_any")
def queue(request):
    """Every customer's open SLA timers, nearest breach first, from the public timer index, and the recommended
    actions customers asked help with, from the public index of open requests (no schema entered)."""
    from mdr.jobs.models import OpenRequestKind
    from mdr.jobs.selectors import open_request_list
    from mdr.sla.selectors import timer_queue_list

    customers = list(customer_list().values_list("slug", "name", "schema_name"))
    slug = request.GET.get("customer", "")
    priority = request.GET.get("priority", "")
    schema = next((s for c, _name, s in customers if c == slug), None)
    if (slug and schema is None) or (priority and priority not in QUEUE_PRIORITIES):
        raise Http404("No such filter.")
    rows = timer_queue_list(schema_name=schema, priorities=[priority] if priority else None, limit=QUEUE_LIMIT)
    help_requests = open_request_list(kind=OpenRequestKind.ACTION_HELP)
    if slug:
        help_requests = [r for r in help_requests if r.customer == slug]
    return render(
        request,
        "console/queue.html",
        {
            "rows": [(row, _remaining(row.seconds_left)) for row in rows],
            "customers": customers,
            "selected_customer": slug,
            "selected_priority": priority,
            "priorities": QUEUE_PRIORITIES,
            "limit": QUEUE_LIMIT,
            "help_requests": help_requests,
        },
    )


# ---- incidents ------------------------------------------------------------------------------------------------------


INCIDENT_FORMS = {
    "transition": forms.TransitionForm,
    "priority": forms.PriorityForm,
    "note": forms.NoteForm,
    "escalate": forms.EscalateForm,
    "update": forms.UpdateForm,
}


@capability_required("alert.read_any")
def incident_list(request, slug: str):
    from mdr.incidents import selectors

    customer = customer_get(slug=slug)
    open_only = request.GET.get("open") == "1"
    with schema_context(customer.schema_name):
        incidents = selectors.incident_list()
        if open_only:
            incidents = incidents.filter(state__in=OPEN_STATES)
        _audit_read(request, "provider.console.incidents.list", target_type="incident")
        return render(
            request,
            "console/incident_list.html",
            {
                "customer": customer,
                "can_manage_contracts": has_capability(request.user, "contract.manage"),
                "incidents": incidents[:200],
                "open_only": open_only,
            },
        )


def _incident_or_404(incident_id):
    from mdr.incidents.selectors import incident_get

    incident = incident_get(incident_id=incident_id)
    if incident is None:
        raise Http404("No such incident.")
    return incident


def _incident_page(request, customer, incident, *, bound: dict | None = None, status: int = 200):
    """The workspace (inside the customer's schema): full timeline, escalations with every attempt, action forms."""
    from mdr.escalations.selectors import escalation_list_for_incident
    from mdr.incidents.selectors import incident_timeline_full, recommended_action_list

    bound = bound or {}
    action_forms = {
        name: bound.get(name) or form_class(incident=incident, prefix=name)
        for name, form_class in INCIDENT_FORMS.items()
    }
    _audit_read(request, "provider.console.incident.view", target_type="incident", target_id=incident.pk)
    return render(
        request,
        "console/incident.html",
        {
            "customer": customer,
            "can_manage_contracts": has_capability(request.user, "contract.manage"),
            "incident": incident,
            "timeline": list(incident_timeline_full(incident=incident)),
            "escalations": escalation_list_for_incident(incident_id=incident.pk, with_attempts=True),
            "recommended_actions": list(recommended_action_list(incident=incident)),
            "forms": action_forms,
            "can_triage": has_capability(request.user, "alert.triage"),
        },
        status=status,
    )


@capability_required("alert.read_any")
def incident_detail(request, slug: str, incident_id):
    customer = customer_get(slug=slug)
    with schema_context(customer.schema_name):
        return _incident_page(request, customer, _incident_or_404(incident_id))


def _incident_apply(action: str, form, incident, actor: Actor) -> str:
    """Call the one service the action names; returns what to tell the analyst."""
    from mdr.escalations.services import escalation_update_send, incident_escalate
    from mdr.incidents import services

    data = form.cleaned_data
    if action == "transition":
        services.incident_transition(incident=incident, to=data["to"], reason=data["reason"], actor=actor)
        return _("Incident moved to %(state)s.") % {"state": data["to"].replace("_", " ")}
    if action == "priority":
        services.incident_set_priority(
            incident=incident,
            priority=data["priority"],
            severity_id=data["severity_id"],
            reason=data["reason"],
            actor=actor,
        )
        return _("Priority set to %(priority)s.") % {"priority": data["priority"]}
    if action == "note":
        services.incident_note(
            incident=incident, text=data["text"], actor=actor, customer_visible=data["customer_visible"]
        )
        return _("Customer-visible update added.") if data["customer_visible"] else _("Internal note added.")
    if action == "escalate":
        incident_escalate(incident=incident, actor=actor, brief=form.brief())
        return _("Escalation started (TLP:%(tlp)s).") % {"tlp": data["tlp"]}
    deliveries = escalation_update_send(
        incident=incident, kind=data["kind"], text=data["text"], actor=actor, brief=form.brief()
    )
    if data["kind"] == "final":
        return _("Final report queued for %(count)d delivery(ies).") % {"count": len(deliveries)}
    return _("Follow-up queued for %(count)d delivery(ies).") % {"count": len(deliveries)}


@require_POST
@capability_required("alert.triage")
def incident_action(request, slug: str, incident_id, action: str):
    from mdr.escalations.services import EscalationError
    from mdr.incidents.services import IncidentError

    form_class = INCIDENT_FORMS.get(action)
    if form_class is None:
        raise Http404("No such action.")
    customer = customer_get(slug=slug)
    with schema_context(customer.schema_name):
        incident = _incident_or_404(incident_id)
        form = form_class(request.POST, incident=incident, prefix=action)
        if form.is_valid():
            try:
                message = _incident_apply(action, form, incident, Actor.from_request(request))
            except (IncidentError, EscalationError) as exc:
                forms.field_error(form, exc.field, exc.message)
            else:
                messages.success(request, message)
                return redirect("console-incident", slug=customer.slug, incident_id=incident.pk)
        incident.refresh_from_db()
        return _incident_page(request, customer, incident, bound={action: form}, status=400)


# ---- monthly reports ------------------------------------------------------------------------------------------------


def _report_list_page(request, customer, *, form=None, status: int = 200):
    from reports.selectors import report_list

    if form is None:
        today = timezone.localdate(timezone=ZoneInfo(customer.timezone or "UTC"))
        last_month = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
        form = forms.ReportGenerateForm(initial={"month": last_month, "language": customer.language})
    _audit_read(request, "provider.console.reports.list", target_type="report")
    return render(
        request,
        "console/report_list.html",
        {
            "customer": customer,
            "can_manage_contracts": has_capability(request.user, "contract.manage"),
            "reports": report_list()[:120],
            "form": form,
            "can_manage": has_capability(request.user, "report.manage"),
        },
        status=status,
    )


@capability_required("alert.read_any")
def report_list(request, slug: str):
    customer = customer_get(slug=slug)
    with schema_context(customer.schema_name):
        return _report_list_page(request, customer)


@require_POST
@capability_required("report.manage")
def report_generate(request, slug: str):
    from reports.services import ReportError, month_parse, report_generate_monthly

    customer = customer_get(slug=slug)
    form = forms.ReportGenerateForm(request.POST)
    with schema_context(customer.schema_name):
        if form.is_valid():
            try:
                report, created = report_generate_monthly(
                    month=month_parse(form.cleaned_data["month"]),
                    actor=Actor.from_request(request),
                    language=form.cleaned_data["language"],
                    reason=form.cleaned_data["reason"],
                )
            except ReportError as exc:
                forms.field_error(form, exc.field, exc.message)
            else:
                label = f"{report.month:%Y-%m} {report.language} v{report.version}"
                if created:
                    messages.success(request, _("Draft %(label)s generated.") % {"label": label})
                else:
                    messages.info(
                        request,
                        _("Report %(label)s already exists (%(state)s); give a reason for a new one.")
                        % {"label": label, "state": report.state},
                    )
                return redirect("console-report", slug=customer.slug, report_id=report.pk)
        return _report_list_page(request, customer, form=form, status=400)


def _report_or_404(report_id):
    from reports.selectors import report_get

    report = report_get(report_id=report_id)
    if report is None:
        raise Http404("No such report.")
    return report


def _report_page(request, customer, report, *, form=None, errors: dict | None = None, status: int = 200):
    if form is None:
        form = forms.ReportEditForm(
            initial={
                "recommendations": "\n".join(report.recommendations),
                "customer_actions": "\n".join(report.customer_actions),
            }
        )
    _audit_read(request, "provider.console.report.view", target_type="report", target_id=report.pk)
    metrics = report.metrics or {}
    return render(
        request,
        "console/report.html",
        {
            "customer": customer,
            "can_manage_contracts": has_capability(request.user, "contract.manage"),
            "report": report,
            "form": form,
            "errors": errors or {},
            "funnel": metrics.get("funnel", {}),
            "sla_overall": (metrics.get("sla") or {}).get("overall", {}),
            "incidents": metrics.get("incidents", {}),
            "health": health_wording(metrics.get("health") or {}, get_language()),
            "is_draft": report.state == ReportState.DRAFT,
            "can_manage": has_capability(request.user, "report.manage"),
        },
        status=status,
    )


@capability_required("alert.read_any")
def report_detail(request, slug: str, report_id):
    customer = customer_get(slug=slug)
    with schema_context(customer.schema_name):
        return _report_page(request, customer, _report_or_404(report_id))


@require_POST
@capability_required("report.manage")
def report_action(request, slug: str, report_id, action: str):
    from reports.services import ReportError, report_publish_request, report_refresh_draft, report_update_draft

    if action not in ("edit", "refresh", "publish"):
        raise Http404("No such action.")
    customer = customer_get(slug=slug)
    actor = Actor.from_request(request)
    with schema_context(customer.schema_name):
        report = _report_or_404(report_id)
        form = forms.ReportEditForm(request.POST) if action == "edit" else None
        try:
            if action == "edit":
                if form.is_valid():
                    report_update_draft(
                        report=report,
                        actor=actor,
                        recommendations=forms.lines(form.cleaned_data["recommendations"]),
                        customer_actions=forms.lines(form.cleaned_data["customer_actions"]),
                    )
                    messages.success(request, _("Recommendations and customer actions saved."))
            elif action == "refresh":
                report_refresh_draft(report=report, actor=actor)
                messages.success(request, _("Figures computed again."))
            else:
                report_publish_request(report=report, actor=actor)
                messages.success(request, _("Publication requested: the PDF is being rendered."))
        except ReportError as exc:
            if form is not None:
                forms.field_error(form, exc.field, exc.message)
                return _report_page(request, customer, report, form=form, status=400)
            return _report_page(request, customer, report, errors={exc.field: exc.message}, status=400)
        if form is not None and form.errors:
            return _report_page(request, customer, report, form=form, status=400)
        return redirect("console-report", slug=customer.slug, report_id=report.pk)


# ---- change proposals -----------------------------------------------------------------------------------------------


CHAT_URL_FIELDS = ("slack_webhook_url", "teams_webhook_url")


def _payload_rows(proposal) -> list[tuple[str, str, bool]]:
    """The payload as (field, text, multi-line) rows; chat webhook URLs carry their own secret and are never
    shown."""
    import json

    rows = []
    for key, value in sorted(proposal.payload.items()):
        if key in CHAT_URL_FIELDS:
            text = "(set)" if value else "(cleared)"
        elif isinstance(value, (dict, list)):
            text = json.dumps(value, indent=2, ensure_ascii=False)
        else:
            text = str(value)
        rows.append((key.replace("_", " "), text, "\n" in text))
    return rows


def _proposals_page(request, customer, *, bound: dict | None = None, status: int = 200):
    from mdr.escalations.models import ProposalState
    from mdr.escalations.selectors import proposal_list_pending_first

    bound = bound or {}
    rows = []
    for proposal in proposal_list_pending_first()[:200]:
        pending = proposal.state == ProposalState.PENDING
        rows.append(
            {
                "proposal": proposal,
                "payload": _payload_rows(proposal),
                "pending": pending,
                "approve": bound.get((proposal.pk, "approve"))
                or (forms.ApproveForm(prefix=f"approve-{proposal.pk}") if pending else None),
                "reject": bound.get((proposal.pk, "reject"))
                or (forms.RejectForm(prefix=f"reject-{proposal.pk}") if pending else None),
            }
        )
    _audit_read(request, "provider.console.proposals.view", target_type="change_proposal")
    return render(
        request,
        "console/proposals.html",
        {"customer": customer, "can_manage_contracts": has_capability(request.user, "contract.manage"), "rows": rows},
        status=status,
    )


@capability_required("contract.manage")
def proposal_list(request, slug: str):
    customer = customer_get(slug=slug)
    with schema_context(customer.schema_name):
        return _proposals_page(request, customer)


@require_POST
@capability_required("contract.manage")
def proposal_decide(request, slug: str, proposal_id, action: str):
    """Approve (the change is applied now, or refused when stale) or reject with a reason."""
    from mdr.escalations.proposals import proposal_approve, proposal_reject
    from mdr.escalations.selectors import proposal_get
    from mdr.escalations.services import EscalationError

    if action not in ("approve", "reject"):
        raise Http404("No such action.")
    customer = customer_get(slug=slug)
    with schema_context(customer.schema_name):
        proposal = proposal_get(proposal_id=proposal_id)
        if proposal is None:
            raise Http404("No such proposal.")
        form_class = forms.ApproveForm if action == "approve" else forms.RejectForm
        form = form_class(request.POST, prefix=f"{action}-{proposal.pk}")
        if form.is_valid():
            decide = proposal_approve if action == "approve" else proposal_reject
            try:
                decide(actor=Actor.from_request(request), proposal=proposal, reason=form.cleaned_data["reason"])
            except EscalationError as exc:
                forms.field_error(form, exc.field, exc.message)
            else:
                if action == "approve":
                    done = _("Proposal (%(kind)s) approved and applied.")
                else:
                    done = _("Proposal (%(kind)s) rejected.")
                messages.success(request, done % {"kind": proposal.get_kind_display()})
                return redirect("console-proposals", slug=customer.slug)
        return _proposals_page(request, customer, bound={(proposal.pk, action): form}, status=400)
