"""Customer portal pages (customer domain, customer schema). Views only: reads via selectors, writes via services.

Every page names its capability (``portal_page``), which also shows times in the customer's time zone. Forms post
and redirect (messages say what happened); a form with errors is shown again with the errors next to the fields.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from functools import wraps
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mdr.accounts.permissions import capability_required, has_capability
from mdr.accounts.selectors import user_list
from mdr.accounts.services import AccountError, apikey_create, apikey_revoke
from mdr.alerts.selectors import DEFAULT_PAGE, FilterError, alert_counts_received, alert_filters_from_params, alert_get
from mdr.alerts.selectors import alert_page as alert_page_select
from mdr.audit.selectors import audit_event_list
from mdr.audit.services import Actor
from mdr.escalations import contacts as contact_services
from mdr.escalations import proposals as proposal_services
from mdr.escalations.models import EscalationMatrix, ProposalKind, ProposalState
from mdr.escalations.selectors import escalation_list_for_incident, escalation_matrix_current
from mdr.escalations.services import EscalationError, escalation_acknowledge_incident
from mdr.incidents import selectors as incident_selectors
from mdr.incidents.services import IncidentError, incident_customer_comment, recommended_action_set_status
from mdr.portal.forms import (
    AlertFilterForm,
    ApiKeyForm,
    ContactArchiveForm,
    ContactForm,
    IncidentCommentForm,
    add_service_error,
)
from mdr.portal.forms_actions import ActionStatusForm
from mdr.scope.selectors import contract_overview
from tenants.models import ApiKey

# Customer admins and CSIRT members comment on incidents and set the status of recommended actions; viewers read.
COMMENT_CAPABILITY = "incident.comment"
ACTION_STATUS_CAPABILITY = "incident.action_status"
EXPIRY_WARNING_DAYS = 30


def _customer_zone(request) -> ZoneInfo:
    name = getattr(getattr(request, "tenant", None), "timezone", "") or settings.TIME_ZONE
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError):
        return ZoneInfo(settings.TIME_ZONE)


def portal_page(capability: str):
    """``capability_required`` plus the customer's time zone for everything the page renders or parses."""

    def decorator(view):
        @capability_required(capability)
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            timezone.activate(_customer_zone(request))
            try:
                return view(request, *args, **kwargs)
            finally:
                timezone.deactivate()

        return wrapped

    return decorator


def _month_start(when: datetime) -> datetime:
    return when.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


# --- overview ---------------------------------------------------------------------------------------------------


@require_GET
@portal_page("portal.view")
def home(request):
    from reports.charts import bar_chart
    from reports.selectors import report_list_published

    now = timezone.now()
    overview = contract_overview(at=now)
    local = timezone.localtime(now)
    this_month = _month_start(local)
    last_month = _month_start(this_month - timedelta(days=1))
    counts = alert_counts_received(periods={"last": (last_month, this_month), "this": (this_month, now)})
    chart = bar_chart(
        [(f"{last_month:%Y-%m}", counts["last"]), (f"{this_month:%Y-%m}", counts["this"])],
        width=260,
        height=140,
        title="Alerts received: last month and this month",
        empty_label="no alerts",
    )
    timers = incident_selectors.timer_list_nearest_breach(schema_name=request.tenant.schema_name, limit=10)
    can_read_alerts = has_capability(request.user, "alert.read")
    return render(
        request,
        "portal/home.html",
        {
            "version": overview.version,
            "degraded": overview.degraded,
            "can_view_audit": has_capability(request.user, "audit.view"),
            "can_read_alerts": can_read_alerts,
            "open_by_priority": incident_selectors.incident_open_counts_by_priority() if can_read_alerts else [],
            "timers": timers if can_read_alerts else [],
            "now": now,
            "alert_counts": counts,
            "this_month": this_month,
            "last_month": last_month,
            "alert_chart": mark_safe(chart),  # noqa: S308 - built by reports.charts, which escapes every text
            "awaiting_ack": list(incident_selectors.incident_list_awaiting_acknowledgement()[:20])
            if can_read_alerts
            else [],
            "latest_report": report_list_published().first() if has_capability(request.user, "report.read") else None,
        },
    )


@require_GET
@portal_page("contract.read")
def contract(request):
    return render(request, "portal/contract.html", {"overview": contract_overview(at=timezone.now())})


@require_GET
@portal_page("user.list")
def users(request):
    return render(request, "portal/users.html", {"users": user_list()})


# --- API keys ---------------------------------------------------------------------------------------------------


def _customer_keys(request):
    """This customer's keys only (public schema, filtered by the tenant of the request)."""
    return ApiKey.objects.filter(customer=request.tenant).order_by("-created_at")


@require_http_methods(["GET", "POST"])
@portal_page("apikey.manage")
def api_keys(request):
    """List and create keys. A new key's plaintext is rendered once, in the POST response itself (never in the
    session or a message), and the page is never cached."""
    form = ApiKeyForm(request.POST if request.method == "POST" else None)
    issued = None
    if form.is_bound:
        if form.is_valid():
            try:
                issued = apikey_create(
                    actor=Actor.from_request(request),
                    customer=request.tenant,
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                )
            except AccountError as exc:
                add_service_error(form, exc.field, exc.message)
        if issued is not None:
            form = ApiKeyForm()
    response = render(
        request,
        "portal/api_keys.html",
        {"keys": _customer_keys(request), "form": form, "issued": issued},
        status=400 if form.is_bound and issued is None else 200,
    )
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
@portal_page("apikey.manage")
def api_key_revoke(request, public_id):
    key = _customer_keys(request).filter(public_id=public_id).first()
    if key is None:
        raise Http404("No such API key.")
    if not key.is_active:
        messages.error(request, gettext("Key %(name)s was already revoked.") % {"name": key.name})
    else:
        apikey_revoke(actor=Actor.from_request(request), key=key)
        messages.success(request, gettext("Key %(name)s revoked: it is refused from now on.") % {"name": key.name})
    return redirect("portal-api-keys")


@require_GET
@portal_page("audit.view")
def access_log(request):
    return render(request, "portal/access_log.html", {"events": audit_event_list()[:200]})


@require_GET
@portal_page("report.read")
def reports(request):
    from reports.selectors import report_list_published

    return render(request, "portal/reports.html", {"reports": report_list_published()[:60]})


@require_GET
@capability_required("report.read")
def report_download(request, report_id):
    """The PDF through this authorised view only (never a file URL); every download is in the audit log."""
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


# --- alerts -----------------------------------------------------------------------------------------------------


def _page_link(form_params: dict[str, str], **cursor: str) -> str:
    query = QueryDict(mutable=True)
    query.update({**form_params, **cursor})
    return "?" + query.urlencode()


@require_GET
@portal_page("alert.read")
def alerts(request):
    form = AlertFilterForm(request.GET or None)
    page, params = None, {}
    if not form.is_bound or form.is_valid():
        params = form.as_params() if form.is_bound else {}
        try:
            filters = alert_filters_from_params(params)
            page = alert_page_select(
                filters=filters,
                after=request.GET.get("after") or None,
                before=None if request.GET.get("after") else request.GET.get("before") or None,
                limit=DEFAULT_PAGE,
            )
        except FilterError as exc:
            add_service_error(form, exc.field, exc.message)
    return render(
        request,
        "portal/alerts.html",
        {
            "form": form,
            "page": page,
            "next_link": _page_link(params, after=page.next_cursor) if page and page.next_cursor else None,
            "prev_link": _page_link(params, before=page.prev_cursor) if page and page.prev_cursor else None,
            "first_link": _page_link(params) if request.GET.get("after") or request.GET.get("before") else None,
        },
    )


@require_GET
@portal_page("alert.read")
def alert_detail(request, alert_id):
    alert = alert_get(alert_id=alert_id)
    if alert is None:
        raise Http404("No such alert.")
    raw = json.dumps(alert.raw, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    return render(request, "portal/alert_detail.html", {"alert": alert, "raw_json": raw})


# --- incidents --------------------------------------------------------------------------------------------------


def _incident_or_404(incident_id):
    incident = incident_selectors.incident_get(incident_id=incident_id)
    if incident is None:
        raise Http404("No such incident.")
    return incident


@require_GET
@portal_page("alert.read")
def incidents(request):
    return render(request, "portal/incidents.html", {"incidents": incident_selectors.incident_list()[:200]})


def _is_htmx(request) -> bool:
    """An htmx request (``HX-Request``) gets the changed fragment; without JavaScript the same URL answers with a
    redirect (or the whole page with errors), so every form works either way."""
    return request.headers.get("HX-Request") == "true"


def _incident_context(request, incident, *, comment_form=None, action_forms: dict | None = None) -> dict:
    can_set = has_capability(request.user, ACTION_STATUS_CAPABILITY)
    action_forms = action_forms or {}
    actions = [
        (action, action_forms.get(action.pk) or (ActionStatusForm.for_action(action) if can_set else None))
        for action in incident_selectors.recommended_action_list(incident=incident)
    ]
    return {
        "incident": incident,
        "timeline": incident_selectors.incident_timeline_customer(incident=incident),
        "escalations": escalation_list_for_incident(incident_id=incident.pk, with_attempts=False),
        "can_acknowledge": has_capability(request.user, "incident.acknowledge")
        and incident_selectors.incident_has_running_escalation(incident=incident),
        "can_comment": has_capability(request.user, COMMENT_CAPABILITY),
        "comment_form": comment_form or IncidentCommentForm(),
        "actions": actions,
        "can_set_actions": can_set,
    }


def _incident_page(request, incident, comment_form=None, status=200, action_forms=None):
    context = _incident_context(request, incident, comment_form=comment_form, action_forms=action_forms)
    return render(request, "portal/incident_detail.html", context, status=status)


@require_GET
@portal_page("alert.read")
def incident_detail(request, incident_id):
    return _incident_page(request, _incident_or_404(incident_id))


@require_POST
@portal_page("incident.acknowledge")
def incident_acknowledge(request, incident_id):
    incident = _incident_or_404(incident_id)
    try:
        escalation_acknowledge_incident(
            incident_id=incident.pk, by=request.user.username, channel="portal", ip=request.META.get("REMOTE_ADDR")
        )
    except EscalationError as exc:
        notice, level = gettext("Not acknowledged: %(reason)s.") % {"reason": exc.message}, messages.ERROR
    else:
        notice = gettext("Acknowledged. The SOC has been told; further notices of this ladder are stopped.")
        level = messages.SUCCESS
    if _is_htmx(request):
        incident.refresh_from_db()
        context = _incident_context(request, incident) | {"notice": notice, "notice_ok": level == messages.SUCCESS}
        return render(request, "portal/_incident_summary.html", context)
    messages.add_message(request, level, notice)
    return redirect("portal-incident", incident_id=incident.pk)


@require_POST
@portal_page(COMMENT_CAPABILITY)
def incident_comment(request, incident_id):
    incident = _incident_or_404(incident_id)
    form = IncidentCommentForm(request.POST)
    if form.is_valid():
        try:
            incident_customer_comment(
                incident=incident, text=form.cleaned_data["text"], actor=Actor.from_request(request)
            )
        except IncidentError as exc:
            add_service_error(form, exc.field, exc.message)
    if _is_htmx(request):
        ok = form.is_valid()
        context = _incident_context(request, incident, comment_form=None if ok else form)
        if ok:
            context |= {"notice": gettext("Comment added to the timeline."), "notice_ok": True}
        return render(request, "portal/_incident_timeline.html", context, status=200 if ok else 400)
    if not form.is_valid():
        return _incident_page(request, incident, comment_form=form, status=400)
    messages.success(request, gettext("Comment added to the timeline."))
    return redirect("portal-incident", incident_id=incident.pk)


@require_POST
@portal_page(ACTION_STATUS_CAPABILITY)
def incident_action_status(request, incident_id, action_id):
    """A customer admin or CSIRT member sets the status of one recommended action (htmx: the row is swapped and the
    timeline refreshed out of band; without JavaScript: redirect, or the page with the error at 400)."""
    incident = _incident_or_404(incident_id)
    action = incident_selectors.recommended_action_get(incident=incident, action_id=action_id)
    if action is None:
        raise Http404("No such recommended action.")
    form = ActionStatusForm.for_action(action, data=request.POST)
    if form.is_valid():
        try:
            action = recommended_action_set_status(
                actor=Actor.from_request(request),
                action=action,
                status=form.cleaned_data["status"],
                note=form.cleaned_data["note"],
            )
        except IncidentError as exc:
            add_service_error(form, exc.field, exc.message)
    ok = form.is_valid()
    if _is_htmx(request):
        context = _incident_context(request, incident) | {
            "action": action,
            "form": ActionStatusForm.for_action(action) if ok else form,
            "saved": ok,
        }
        return render(request, "portal/_action_response.html", context, status=200 if ok else 400)
    if not ok:
        return _incident_page(request, incident, status=400, action_forms={action.pk: form})
    messages.success(request, gettext("Action marked %(status)s.") % {"status": action.get_status_display()})
    return redirect(reverse("portal-incident", kwargs={"incident_id": incident.pk}) + f"#action-{action.pk}")


# --- contacts and escalation ------------------------------------------------------------------------------------


def _matrix_display(matrix: EscalationMatrix | None, names: dict[int, str]) -> list[dict]:
    if matrix is None:
        return []
    return [
        {
            "number": i + 1,
            "min_priority": rule.get("min_priority", ""),
            "categories": rule.get("categories") or [],
            "sources": rule.get("sources") or [],
            "window": rule.get("window", "any"),
            "auto": rule.get("auto", False),
            "repeat": rule.get("repeat", 0),
            "levels": [
                {
                    "number": j + 1,
                    "contacts": [names.get(c, f"contact #{c}") for c in level.get("contacts", [])],
                    "channels": level.get("channels", []),
                    "wait_minutes": level.get("wait_minutes"),
                    "mode": level.get("mode", "parallel"),
                }
                for j, level in enumerate(rule.get("levels") or [])
            ],
        }
        for i, rule in enumerate(matrix.rules or [])
    ]


def _proposal_payload(payload: dict) -> dict:
    """Chat webhook URLs carry their own bearer secret: the page says one is set, like the API does."""
    return {
        key: ("(set)" if value else "(cleared)") if key in ("slack_webhook_url", "teams_webhook_url") else value
        for key, value in payload.items()
    }


def _escalation_page(request, add_form=None, status=200):
    today = contact_services.customer_today()
    everyone = list(contact_services.contact_list(include_archived=True))
    rows = []
    for contact in everyone:
        if contact.archived_at is not None:
            continue
        days = contact_services.contact_days_to_expiry(contact=contact, today=today)
        rows.append(
            {
                "contact": contact,
                "channels": contact_services.contact_channels(contact),
                "days": days,
                "expiring": days is not None and days <= EXPIRY_WARNING_DAYS,
            }
        )
    # The matrix in force: the latest version (what CustomerMatrixApi serves).
    matrix = escalation_matrix_current()
    proposals = [
        {"proposal": p, "payload": _proposal_payload(p.payload)} for p in proposal_services.proposal_list()[:100]
    ]
    return render(
        request,
        "portal/escalation.html",
        {
            "contacts": rows,
            "today": today,
            "matrix": matrix,
            "rules": _matrix_display(matrix, {c.pk: c.name for c in everyone}),
            "proposals": proposals,
            "can_propose": has_capability(request.user, "escalation.propose"),
            "add_form": add_form or ContactForm(prefix="add"),
            "pending": ProposalState.PENDING,
        },
        status=status,
    )


def _active_contact_or_404(contact_id):
    contact = contact_services.contact_list().filter(pk=contact_id).first()
    if contact is None:
        raise Http404("No such contact.")
    return contact


@require_GET
@portal_page("escalation.read")
def escalation(request):
    return _escalation_page(request)


@require_POST
@portal_page("escalation.propose")
def escalation_propose_add(request):
    form = ContactForm(request.POST, prefix="add")
    if form.is_valid():
        try:
            proposal_services.proposal_create(
                actor=Actor.from_request(request),
                kind=ProposalKind.CONTACT_CREATE,
                payload=form.create_payload(),
                comment=form.cleaned_data["comment"],
            )
        except EscalationError as exc:
            add_service_error(form, exc.field, exc.message)
    if not form.is_valid():
        return _escalation_page(request, add_form=form, status=400)
    messages.success(request, gettext("Proposed: the new contact is added when the provider approves it."))
    return redirect("portal-escalation")


@require_http_methods(["GET", "POST"])
@portal_page("escalation.propose")
def escalation_propose_change(request, contact_id):
    contact = _active_contact_or_404(contact_id)
    if request.method == "GET":
        initial = {field: getattr(contact, field) for field in ContactForm.CONTACT_FIELDS}
        initial.update({field: "" for field in ContactForm.KEEP_IF_BLANK})
        initial["valid_until"] = contact.valid_until.isoformat() if contact.valid_until else ""
        form = ContactForm(initial=initial)
    else:
        form = ContactForm(request.POST)
        if form.is_valid():
            try:
                proposal_services.proposal_create(
                    actor=Actor.from_request(request),
                    kind=ProposalKind.CONTACT_UPDATE,
                    payload=form.update_payload(),
                    contact=contact,
                    comment=form.cleaned_data["comment"],
                )
            except EscalationError as exc:
                add_service_error(form, exc.field, exc.message)
        if form.is_valid():
            messages.success(
                request,
                gettext("Proposed: the change to %(name)s applies when the provider approves it.")
                % {"name": contact.name},
            )
            return redirect("portal-escalation")
    return render(
        request,
        "portal/contact_change.html",
        {"contact": contact, "form": form},
        status=400 if form.is_bound else 200,
    )


@require_POST
@portal_page("escalation.propose")
def escalation_propose_archive(request):
    form = ContactArchiveForm(request.POST)
    if not form.is_valid():
        messages.error(request, gettext("Choose a contact to remove."))
        return redirect("portal-escalation")
    contact = _active_contact_or_404(form.cleaned_data["contact"])
    try:
        proposal_services.proposal_create(
            actor=Actor.from_request(request),
            kind=ProposalKind.CONTACT_ARCHIVE,
            payload={},
            contact=contact,
            comment=form.cleaned_data["comment"],
        )
    except EscalationError as exc:
        messages.error(
            request,
            gettext("%(name)s cannot be removed (%(field)s): %(message)s")
            % {"name": contact.name, "field": exc.field, "message": exc.message},
        )
    else:
        messages.success(
            request, gettext("Proposed: %(name)s is removed when the provider approves it.") % {"name": contact.name}
        )
    return redirect("portal-escalation")


@require_POST
@portal_page("escalation.propose")
def escalation_proposal_withdraw(request, proposal_id):
    proposal = proposal_services.proposal_list().filter(pk=proposal_id).first()
    if proposal is None:
        raise Http404("No such proposal.")
    try:
        proposal_services.proposal_withdraw(actor=Actor.from_request(request), proposal=proposal)
    except EscalationError as exc:
        messages.error(request, gettext("Not withdrawn: %(message)s.") % {"message": exc.message})
    else:
        messages.success(request, gettext("Proposal withdrawn."))
    return redirect("portal-escalation")
