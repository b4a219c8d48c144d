"""Console pages that change a customer's configuration by new versions: contract versions, SLA policies, escalation
matrices and stored calendars, each with a diff against the version before it (``mdr.core.versiondiff``).

Nothing is edited in place. A contract change is a draft (copied from the version in force, edited, compared with
the version in force, then published from a date); an SLA policy change is a new policy version that a new contract
version names (the page offers to create that draft); a matrix or a calendar change is its next version. Every
page enters the customer's schema and records the read there; every write goes through the domain services, which
audit it. Provider admins (``contract.manage``) change; every provider role (``contract.read_any``) reads.

A contract draft is saved whole by ``version_draft_save`` (terms, scope items, entitlements in one transaction) and an
SLA policy version by ``policy_revise`` (policy, optional timer move, the contract draft naming it), so an error in
any part leaves nothing behind and is shown next to the field it names.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST
from django_tenants.utils import schema_context

from mdr.accounts.permissions import capability_required, has_capability
from mdr.audit.services import Actor, audit_record
from mdr.console import forms_config as forms
from mdr.core.versiondiff import diff_sections, version_diff
from tenants.selectors import customer_get

READ = "contract.read_any"
MANAGE = "contract.manage"


def _audit_read(request, action: str, *, target_type: str, target_id="") -> None:
    """Provider staff read a customer's configuration: recorded in that customer's schema."""
    audit_record(actor=Actor.from_request(request), action=action, target_type=target_type, target_id=target_id)


def _render(request, template: str, customer, context: dict, *, status: int = 200):
    return render(
        request,
        f"console/{template}",
        {
            "customer": customer,
            "can_manage_contracts": has_capability(request.user, MANAGE),
            "can_manage": has_capability(request.user, MANAGE),
            **context,
        },
        status=status,
    )


SECTION_LABELS = {
    "terms": _lazy("Terms"),
    "sla_policy": _lazy("SLA policy"),
    "coverage": _lazy("Coverage hours"),
    "priority_matrix": _lazy("Priority matrix"),
    "scope_items": _lazy("Scope items"),
    "entitlements": _lazy("Entitlements"),
    "warning_thresholds": _lazy("Warnings"),
    "targets": _lazy("Targets"),
    "rules": _lazy("Rules"),
    "type": _lazy("Type"),
    "timezone": _lazy("Time zone"),
    "weekly_hours": _lazy("Working hours"),
    "holidays": _lazy("Public holidays"),
    "extra_holidays": _lazy("Extra closed days"),
}


def _diff(old, new) -> dict:
    """The diff rows with a readable name of the part of the version each is about; a first version has nothing
    to be compared with (rather than a table of everything "added")."""
    if old is None:
        return {"diff_rows": [], "diff_count": 0, "diff_sections": 0, "no_previous": True}
    rows = version_diff(old, new)
    return {
        "diff_rows": [(row, SECTION_LABELS.get(row.section, row.section)) for row in rows],
        "diff_count": len(rows),
        "diff_sections": len(diff_sections(rows)),
    }


# ---- contract versions ----------------------------------------------------------------------------------------


def _found(obj, what: str):
    """``obj`` from a selector, or a 404 naming what was not found (in the customer's schema only)."""
    if obj is None:
        raise Http404(f"No such {what}.")
    return obj


def _contract_or_404():
    from mdr.scope.selectors import contract_current

    return _found(contract_current(), "contract")


def _version_or_404(contract, number: int):
    from mdr.scope.selectors import version_get

    return _found(version_get(contract=contract, number=number), "contract version")


@capability_required(READ)
def contract_versions(request, slug: str):
    from mdr.scope.selectors import contract_current, version_in_force, version_list

    customer = customer_get(slug=slug)
    with schema_context(customer.schema_name):
        contract = contract_current()
        versions = list(version_list(contract=contract).order_by("-number")) if contract else []
        in_force = version_in_force(at=timezone.now())
        _audit_read(request, "provider.console.contract.view", target_type="contract")
        return _render(
            request,
            "config_contract.html",
            customer,
            {"contract": contract, "versions": versions, "in_force": in_force},
        )


def _version_page(request, customer, contract, version, *, publish_form=None, status: int = 200):
    from mdr.scope.selectors import version_as_dict, version_in_force, version_previous
    from mdr.sla.models import SlaPolicy

    in_force = version_in_force(at=timezone.now())
    against = None
    if request.GET.get("against", "").isdigit():
        against = _version_or_404(contract, int(request.GET["against"]))
    elif version.status == "draft" and in_force is not None and in_force.pk != version.pk:
        against = in_force
    else:
        against = version_previous(version=version)
    today = timezone.localdate(timezone=_version_tz(version))
    _audit_read(request, "provider.console.contract.version.view", target_type="contract_version", target_id=version.pk)
    return _render(
        request,
        "config_contract_version.html",
        customer,
        {
            "contract": contract,
            "version": version,
            "in_force": in_force,
            "against": against,
            "versions": list(contract.versions.order_by("-number").values_list("number", flat=True)),
            "data": version_as_dict(version=version),
            "scope_items": list(version.scope_items.order_by("kind", "value", "pk")),
            "entitlements": list(version.entitlements.order_by("metric")),
            "policy": SlaPolicy.objects.filter(pk=version.sla_policy_id).first() if version.sla_policy_id else None,
            "publish_form": publish_form or forms.PublishForm(initial={"effective_date": today}),
            **_diff(version_as_dict(version=against) if against else None, version_as_dict(version=version)),
        },
        status=status,
    )


def _version_tz(version):
    from zoneinfo import ZoneInfo

    return ZoneInfo(version.timezone)


@capability_required(READ)
def contract_version(request, slug: str, number: int):
    customer = customer_get(slug=slug)
    with schema_context(customer.schema_name):
        contract = _contract_or_404()
        return _version_page(request, customer, contract, _version_or_404(contract, number))


def _scope_row_message(errors: list[dict]) -> str:
    parts = []
    for row in errors[:20]:
        fields = "; ".join(f"{name}: {', '.join(msgs)}" for name, msgs in row["errors"].items())
        parts.append(_("row %(row)s: %(errors)s") % {"row": row["row"], "errors": fields})
    if len(errors) > 20:
        parts.append(_("and %(count)d more rows") % {"count": len(errors) - 20})
    return " | ".join(parts)


def _draft_write(request, form, coverage_form, *, contract, base=None, draft=None):
    """Create (from ``base``) or update ``draft`` with the form's terms, scope items and entitlements, all or
    nothing (``version_draft_save``). Returns the draft, or None with the errors put on the forms."""
    from mdr.scope import services

    content, content_type = form.scope_source()
    if isinstance(content, bytes):
        content = content.decode("utf-8-sig", errors="replace")
    try:
        rows = services.rows_from_upload(content=content, content_type=content_type) if content.strip() else []
        return services.version_draft_save(
            actor=Actor.from_request(request),
            contract=contract,
            terms=form.terms(coverage=coverage_form.spec),
            scope_rows=rows,
            entitlements=form.entitlements(),
            copy_from=base,
            draft=draft,
        )
    except services.ScopeRowsRefused as exc:
        form.add_error("scope_items", _scope_row_message(exc.errors))
    except services.ScopeError as exc:
        if exc.field == "coverage":
            coverage_form.add_error(None, exc.message)
        else:
            aliases = {"file": "scope_items", "version": "__all__", **form.entitlement_aliases()}
            forms.service_error(form, exc.field, exc.message, aliases=aliases)
    return None


def _contract_form_page(request, customer, *, form, coverage_form, base, draft=None, status: int = 200):
    return _render(
        request,
        "config_contract_form.html",
        customer,
        {"form": form, "coverage_form": coverage_form, "base": base, "draft": draft},
        status=status,
    )


def _policies():
    from mdr.sla.selectors import policy_list

    return list(policy_list())


@capability_required(MANAGE)
def contract_new(request, slug: str):
    """A new draft copied from the version in force (or the latest), edited here, then shown with its diff."""
    from mdr.scope.selectors import version_in_force

    customer = customer_get(slug=slug)
    with schema_context(customer.schema_name):
        contract = _contract_or_404()
        base = version_in_force(at=timezone.now()) or contract.versions.order_by("-number").first()
        if request.method == "POST":
            form = forms.ContractVersionForm(request.POST, request.FILES, policies=_policies())
            coverage_form = forms.CalendarSpecForm(request.POST, prefix="coverage")
            if form.is_valid() & coverage_form.is_valid():
                draft = _draft_write(request, form, coverage_form, contract=contract, base=base)
                if draft is not None:
                    messages.success(
                        request,
                        _("Draft version %(number)d created: check the differences, then publish it.")
                        % {"number": draft.number},
                    )
                    return redirect("console-contract-version", slug=customer.slug, number=draft.number)
            return _contract_form_page(request, customer, form=form, coverage_form=coverage_form, base=base, status=400)
        initial = forms.ContractVersionForm.initial_from_version(base) if base else {}
        form = forms.ContractVersionForm(initial=initial, policies=_policies())
        coverage_form = forms.CalendarSpecForm(
            prefix="coverage",
            initial=forms.CalendarSpecForm.initial_from_spec(
                base.coverage if base else None, timezone_name=base.timezone if base else customer.timezone
            ),
        )
        _audit_read(request, "provider.console.contract.view", target_type="contract")
        return _contract_form_page(request, customer, form=form, coverage_form=coverage_form, base=base)


@capability_required(MANAGE)
def contract_edit(request, slug: str, number: int):
    """Change a draft (a published version is frozen: a change is a new version)."""
    customer = customer_get(slug=slug)
    with schema_context(customer.schema_name):
        contract = _contract_or_404()
        draft = _version_or_404(contract, number)
        if draft.status != "draft":
            messages.error(request, _("Version %(number)d is published: create a new version.") % {"number": number})
            return redirect("console-contract-version", slug=customer.slug, number=number)
        if request.method == "POST":
            form = forms.ContractVersionForm(request.POST, request.FILES, policies=_policies())
            coverage_form = forms.CalendarSpecForm(request.POST, prefix="coverage")
            if (
                form.is_valid() & coverage_form.is_valid()
                and _draft_write(request, form, coverage_form, contract=contract, draft=draft) is not None
            ):
                messages.success(request, _("Draft version %(number)d saved.") % {"number": number})
                return redirect("console-contract-version", slug=customer.slug, number=number)
            return _contract_form_page(
                request, customer, form=form, coverage_form=coverage_form, base=None, draft=draft, status=400
            )
        initial = {**forms.ContractVersionForm.initial_from_version(draft), "change_note": draft.change_note}
        form = forms.ContractVersionForm(initial=initial, policies=_policies())
        coverage_form = forms.CalendarSpecForm(
            prefix="coverage",
            initial=forms.CalendarSpecForm.initial_from_spec(draft.coverage, timezone_name=draft.timezone),
        )
        _audit_read(
            request, "provider.console.contract.version.view", target_type="contract_version", target_id=draft.pk
        )
        return _contract_form_page(request, customer, form=form, coverage_form=coverage_form, base=None, draft=draft)


@require_POST
@capability_required(MANAGE)
def contract_publish(request, slug: str, number: int):
    from mdr.scope.services import ScopeError, version_publish

    customer = customer_get(slug=slug)
    with schema_context(customer.schema_name):
        contract = _contract_or_404()
        version = _version_or_404(contract, number)
        form = forms.PublishForm(request.POST)
        if form.is_valid():
            try:
                version_publish(
                    actor=Actor.from_request(request),
                    version=version,
                    effective_date=form.cleaned_data["effective_date"],
                )
            except ScopeError as exc:
                forms.service_error(form, exc.field, exc.message)
            else:
                messages.success(
                    request,
                    _("Version %(number)d published, in force from %(date)s.")
                    % {"number": number, "date": form.cleaned_data["effective_date"].isoformat()},
                )
                return redirect("console-contract", slug=customer.slug)
        version.refresh_from_db()
        return _version_page(request, customer, contract, version, publish_form=form, status=400)


# ---- SLA policies ---------------------------------------------------------------------------------------------


@capability_required(READ)
def sla_policies(request, slug: str):
    from mdr.scope.selectors import version_in_force, version_numbers_by_policy
    from mdr.sla.selectors import policy_list, timers_open_by_policy

    customer = customer_get(slug=slug)
    with schema_context(customer.schema_name):
        in_force = version_in_force(at=timezone.now())
        used = version_numbers_by_policy()
        open_timers = timers_open_by_policy()
        rows = [
            {
                "policy": policy,
                "targets": len(policy.targets.all()),
                "contract_versions": used.get(policy.pk, []),
                "in_force": in_force is not None and in_force.sla_policy_id == policy.pk,
                "open_timers": open_timers.get(policy.pk, 0),
            }
            for policy in policy_list()
        ]
        _audit_read(request, "provider.console.sla.view", target_type="sla_policy")
        return _render(request, "config_sla.html", customer, {"rows": rows, "in_force": in_force})


def _policy_or_404(policy_id: int):
    from mdr.sla.selectors import policy_get

    return _found(policy_get(policy_id=policy_id), "SLA policy")


def _policy_grid(data: dict) -> list[tuple[str, list]]:
    targets = data["targets"]
    return [(p, [targets.get(p, {}).get(m) for m in forms.METRICS]) for p in forms.PRIORITIES]


def _policy_page(request, customer, policy, *, retarget_form=None, status: int = 200):
    from mdr.scope.selectors import version_in_force, version_numbers_by_policy
    from mdr.sla.models import SlaPolicy
    from mdr.sla.selectors import policy_as_dict, policy_previous, timers_open_by_policy

    previous = policy_previous(policy=policy)
    data = policy_as_dict(policy=policy)
    older_ids = list(
        SlaPolicy.objects.filter(name=policy.name, version__lt=policy.version).values_list("pk", flat=True)
    )
    open_timers = timers_open_by_policy()
    in_force = version_in_force(at=timezone.now())
    _audit_read(request, "provider.console.sla.policy.view", target_type="sla_policy", target_id=policy.pk)
    return _render(
        request,
        "config_sla_policy.html",
        customer,
        {
            "policy": policy,
            "previous": previous,
            "grid": _policy_grid(data),
            "metrics": forms.METRICS,
            "contract_versions": version_numbers_by_policy().get(policy.pk, []),
            "in_force": in_force is not None and in_force.sla_policy_id == policy.pk,
            "older_open_timers": sum(open_timers.get(pk, 0) for pk in older_ids),
            "retarget_form": retarget_form or forms.RetargetForm(),
            **_diff(policy_as_dict(policy=previous) if previous else None, data),
        },
        status=status,
    )


@capability_required(READ)
def sla_policy(request, slug: str, policy_id: int):
    customer = customer_get(slug=slug)
    with schema_context(customer.schema_name):
        return _policy_page(request, customer, _policy_or_404(policy_id))


@capability_required(MANAGE)
def sla_policy_new(request, slug: str):
    """The next version of a policy (prefilled from ``?from=<id>``, else the policy of the version in force):
    optionally a contract draft naming it and, as an explicit choice, the open timers moved to its goals."""
    from mdr.scope.selectors import version_in_force
    from mdr.sla import services
    from mdr.sla.selectors import calendar_list, policy_get, policy_list

    customer = customer_get(slug=slug)
    with schema_context(customer.schema_name):
        in_force = version_in_force(at=timezone.now())
        base = None
        if request.GET.get("from", "").isdigit():
            base = _policy_or_404(int(request.GET["from"]))
        elif in_force is not None and in_force.sla_policy_id:
            base = policy_get(policy_id=in_force.sla_policy_id)
        base = base or policy_list().order_by("-created_at").first()
        calendars = list(calendar_list())
        if request.method == "POST":
            form = forms.SlaPolicyForm(request.POST, calendars=calendars)
            if form.is_valid():
                actor = Actor.from_request(request)
                data = form.cleaned_data
                try:
                    policy, moved, draft = services.policy_revise(
                        actor=actor,
                        name=data["name"].strip(),
                        targets=form.targets(),
                        warning_thresholds=data["warning_thresholds"] or None,
                        retarget_timers=data["retarget_timers"],
                        contract_draft=data["create_contract_draft"],
                    )
                except services.SlaError as exc:
                    forms.service_error(form, exc.field, exc.message, aliases=form.target_aliases())
                else:
                    messages.success(
                        request,
                        _("SLA policy %(name)s v%(version)d created.")
                        % {"name": policy.name, "version": policy.version},
                    )
                    if data["retarget_timers"]:
                        messages.info(request, _("%(count)d open timers moved to its goals.") % {"count": moved})
                    if draft is not None:
                        messages.info(
                            request,
                            _("Contract draft %(number)d names it: publish it to put the policy in force.")
                            % {"number": draft.number},
                        )
                        return redirect("console-contract-version", slug=customer.slug, number=draft.number)
                    return redirect("console-sla-policy", slug=customer.slug, policy_id=policy.pk)
            return _render(request, "config_sla_form.html", customer, {"form": form, "base": base}, status=400)
        initial = forms.SlaPolicyForm.initial_from_policy(base) if base else {"create_contract_draft": True}
        form = forms.SlaPolicyForm(initial=initial, calendars=calendars)
        _audit_read(request, "provider.console.sla.view", target_type="sla_policy")
        return _render(request, "config_sla_form.html", customer, {"form": form, "base": base})


@require_POST
@capability_required(MANAGE)
def sla_policy_retarget(request, slug: str, policy_id: int):
    """The audited exception: open timers of older versions of this policy get its goals now."""
    from mdr.sla.services import SlaError, timers_retarget

    customer = customer_get(slug=slug)
    with schema_context(customer.schema_name):
        policy = _policy_or_404(policy_id)
        form = forms.RetargetForm(request.POST)
        if form.is_valid():
            try:
                moved = timers_retarget(actor=Actor.from_request(request), policy=policy)
            except SlaError as exc:
                forms.service_error(form, exc.field, exc.message)
            else:
                messages.success(request, _("%(count)d open timers moved to its goals.") % {"count": moved})
                return redirect("console-sla-policy", slug=customer.slug, policy_id=policy.pk)
        return _policy_page(request, customer, policy, retarget_form=form, status=400)


# ---- escalation matrices --------------------------------------------------------------------------------------


@capability_required(READ)
def escalation(request, slug: str):
    from mdr.escalations.contacts import contact_channels, contact_list
    from mdr.escalations.selectors import contact_names, matrix_list, matrix_rules_as_dict

    customer = customer_get(slug=slug)
    with schema_context(customer.schema_name):
        contacts = [(c, contact_channels(c)) for c in contact_list(include_archived=True).order_by("name", "pk")]
        matrices = list(matrix_list())
        current = matrices[0] if matrices else None
        _audit_read(request, "provider.console.escalation.view", target_type="escalation_matrix")
        return _render(
            request,
            "config_escalation.html",
            customer,
            {
                "contacts": contacts,
                "matrices": matrices,
                "current": current,
                "rules": matrix_rules_as_dict(rules=current.rules, names=contact_names())["rules"] if current else [],
            },
        )


@capability_required(READ)
def matrix_version(request, slug: str, version: int):
    from mdr.escalations.selectors import contact_names, matrix_get, matrix_previous, matrix_rules_as_dict

    customer = customer_get(slug=slug)
    with schema_context(customer.schema_name):
        matrix = _found(matrix_get(version=version), "matrix version")
        previous = matrix_previous(matrix=matrix)
        names = contact_names()
        data = matrix_rules_as_dict(rules=matrix.rules, names=names)
        _audit_read(
            request, "provider.console.escalation.matrix.view", target_type="escalation_matrix", target_id=matrix.pk
        )
        return _render(
            request,
            "config_matrix.html",
            customer,
            {
                "matrix": matrix,
                "previous": previous,
                "rules": data["rules"],
                **_diff(matrix_rules_as_dict(rules=previous.rules, names=names) if previous else None, data),
            },
        )


@capability_required(MANAGE)
def matrix_new(request, slug: str):
    """The next matrix version as JSON rules; "preview" validates and shows the diff without storing."""
    import json

    from mdr.escalations.contacts import contact_list
    from mdr.escalations.selectors import contact_names, escalation_matrix_current, matrix_rules_as_dict
    from mdr.escalations.services import EscalationError, matrix_publish, matrix_validate

    customer = customer_get(slug=slug)
    with schema_context(customer.schema_name):
        current = escalation_matrix_current()
        context = {"current": current, "contacts": list(contact_list().order_by("name", "pk"))}
        if request.method == "POST":
            form = forms.MatrixForm(request.POST)
            if form.is_valid():
                rules = form.cleaned_data["rules"]
                try:
                    if "preview" in request.POST:
                        matrix_validate(rules)
                    else:
                        matrix = matrix_publish(actor=Actor.from_request(request), rules=rules)
                except EscalationError as exc:
                    form.add_error("rules", f"{exc.field}: {exc.message}")
                else:
                    if "preview" not in request.POST:
                        messages.success(request, _("Matrix version %(version)d stored.") % {"version": matrix.version})
                        return redirect("console-matrix-version", slug=customer.slug, version=matrix.version)
                    names = contact_names()
                    context.update(
                        preview=True,
                        **_diff(
                            matrix_rules_as_dict(rules=current.rules, names=names) if current else None,
                            matrix_rules_as_dict(rules=rules, names=names),
                        ),
                    )
                    return _render(request, "config_matrix_form.html", customer, {**context, "form": form})
            return _render(request, "config_matrix_form.html", customer, {**context, "form": form}, status=400)
        initial = json.dumps(current.rules if current else [], indent=2, ensure_ascii=False)
        _audit_read(request, "provider.console.escalation.view", target_type="escalation_matrix")
        return _render(
            request,
            "config_matrix_form.html",
            customer,
            {**context, "form": forms.MatrixForm(initial={"rules": initial})},
        )


# ---- stored calendars -----------------------------------------------------------------------------------------


@capability_required(READ)
def calendars(request, slug: str):
    from mdr.sla.selectors import calendar_list, calendar_spec_as_dict

    customer = customer_get(slug=slug)
    with schema_context(customer.schema_name):
        rows = [(c, calendar_spec_as_dict(c.spec)) for c in calendar_list()]
        latest = {}
        for stored, _data in rows:
            latest.setdefault(stored.name, stored.pk)
        _audit_read(request, "provider.console.calendars.view", target_type="calendar")
        return _render(request, "config_calendars.html", customer, {"rows": rows, "latest": latest})


def _calendar_or_404(calendar_id: int):
    from mdr.sla.selectors import calendar_get

    return _found(calendar_get(calendar_id=calendar_id), "calendar")


@capability_required(READ)
def calendar_detail(request, slug: str, calendar_id: int):
    from mdr.sla.selectors import calendar_previous, calendar_spec_as_dict

    customer = customer_get(slug=slug)
    with schema_context(customer.schema_name):
        stored = _calendar_or_404(calendar_id)
        previous = calendar_previous(calendar=stored)
        data = calendar_spec_as_dict(stored.spec)
        _audit_read(request, "provider.console.calendar.view", target_type="calendar", target_id=stored.pk)
        return _render(
            request,
            "config_calendar.html",
            customer,
            {
                "calendar": stored,
                "previous": previous,
                "data": data,
                **_diff(calendar_spec_as_dict(previous.spec) if previous else None, data),
            },
        )


@capability_required(MANAGE)
def calendar_new(request, slug: str):
    """A calendar's next version (prefilled from ``?from=<id>``) or a new calendar; "preview" shows the diff."""
    from mdr.sla.selectors import calendar_spec_as_dict
    from mdr.sla.services import SlaError, calendar_store

    customer = customer_get(slug=slug)
    with schema_context(customer.schema_name):
        base = _calendar_or_404(int(request.GET["from"])) if request.GET.get("from", "").isdigit() else None
        context = {"base": base}
        if request.method == "POST":
            form = forms.CalendarForm(request.POST)
            if form.is_valid():
                if "preview" in request.POST:
                    from mdr.sla.models import StoredCalendar

                    name = form.cleaned_data["name"].strip()
                    latest = StoredCalendar.objects.filter(name=name).order_by("-version").first()
                    context.update(
                        preview=True,
                        against=latest,
                        **_diff(
                            calendar_spec_as_dict(latest.spec) if latest else None, calendar_spec_as_dict(form.spec)
                        ),
                    )
                    return _render(request, "config_calendar_form.html", customer, {**context, "form": form})
                try:
                    stored = calendar_store(
                        actor=Actor.from_request(request), name=form.cleaned_data["name"].strip(), spec=form.spec
                    )
                except SlaError as exc:
                    form._spec_error(exc.message)
                else:
                    messages.success(
                        request,
                        _("Calendar %(name)s v%(version)d stored.") % {"name": stored.name, "version": stored.version},
                    )
                    return redirect("console-calendar", slug=customer.slug, calendar_id=stored.pk)
            return _render(request, "config_calendar_form.html", customer, {**context, "form": form}, status=400)
        initial = forms.CalendarSpecForm.initial_from_spec(base.spec if base else None, timezone_name=customer.timezone)
        if base is not None:
            initial["name"] = base.name
        else:
            initial.update(
                always=False, japanese_holidays=True, **dict.fromkeys(forms.WEEKDAY_FIELDS[:5], "09:00-18:00")
            )
        _audit_read(request, "provider.console.calendars.view", target_type="calendar")
        return _render(
            request, "config_calendar_form.html", customer, {**context, "form": forms.CalendarForm(initial=initial)}
        )
