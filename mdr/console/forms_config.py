"""Forms of the console's configuration pages (contract versions, SLA policies, escalation matrices, calendars).

They parse what a person typed into the shapes the services take (terms dict, scope rows, entitlements list,
policy targets, matrix rules, calendar spec) and check the form itself; every business rule stays in the services,
whose field errors the views put back next to the field they name (``service_error``).
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

from mdr.scope.models import EntitlementMetric, Measurement, OverLimitPolicy, ResponseMode
from mdr.sla.calendar import BusinessCalendar
from mdr.sla.models import Metric

WEEKDAY_FIELDS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_LABELS = (_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"), _("Sunday"))
PRIORITIES = ("P1", "P2", "P3", "P4")
METRICS = tuple(Metric.values)
SCOPE_COLUMNS = (
    "kind",
    "value",
    "provider",
    "region",
    "criticality",
    "included",
    "remediation_allowed",
    "label",
    "heartbeat_hours",
)
ENTITLEMENT_PARTS = ("limit", "tolerance_pct", "measurement", "over_limit_policy")
_INTERVAL = re.compile(r"^\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$")
_MAX_RANGE_DAYS = 366


def service_error(form: forms.Form, field: str, message: str, *, aliases: dict[str, str] | None = None) -> None:
    """A service's error next to the form field it names (``aliases`` maps service names such as
    ``entitlements[2].limit`` to form fields), or at the top of the form, prefixed with the service's name."""
    target = (aliases or {}).get(field, field)
    if target in form.fields:
        form.add_error(target, message)
    else:
        form.add_error(None, f"{field}: {message}")


def lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


# ---- business calendars (stored calendars and a contract version's coverage hours) ----------------------------


class CalendarSpecForm(forms.Form):
    """A ``BusinessCalendar`` spec as fields: 24x7, or working hours per weekday with holidays and closed days."""

    always = forms.BooleanField(label=_("24x7 (every hour of every day)"), required=False)
    timezone = forms.CharField(label=_("Time zone"), max_length=64, initial="Asia/Tokyo")
    mon = forms.CharField(label=_("Monday"), required=False, max_length=200)
    tue = forms.CharField(label=_("Tuesday"), required=False, max_length=200)
    wed = forms.CharField(label=_("Wednesday"), required=False, max_length=200)
    thu = forms.CharField(label=_("Thursday"), required=False, max_length=200)
    fri = forms.CharField(label=_("Friday"), required=False, max_length=200)
    sat = forms.CharField(label=_("Saturday"), required=False, max_length=200)
    sun = forms.CharField(label=_("Sunday"), required=False, max_length=200)
    japanese_holidays = forms.BooleanField(label=_("Closed on Japanese public holidays (JP)"), required=False)
    holiday_countries = forms.CharField(
        label=_("Other countries' public holidays"),
        required=False,
        max_length=200,
        help_text=_("Country codes separated by commas, e.g. US, SG."),
    )
    extra_holidays = forms.CharField(
        label=_("Extra closed days"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One per line: a date (2026-05-01) or a range (2026-12-29..2027-01-04 for the year-end closure)."),
    )

    def clean_timezone(self) -> str:
        value = self.cleaned_data["timezone"].strip()
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(_("Unknown time zone: use an IANA name such as Asia/Tokyo.")) from None
        return value

    def _day(self, name: str) -> list[list[str]]:
        intervals = []
        for part in (self.data.get(self.add_prefix(name)) or "").split(","):
            if not part.strip():
                continue
            match = _INTERVAL.match(part)
            if not match:
                raise ValidationError(_("Write hours as HH:MM-HH:MM, several separated by commas."))
            start, end = (value.zfill(5) for value in match.groups())
            intervals.append([start, end])
        return intervals

    def clean_extra_holidays(self) -> list[str]:
        days: set[str] = set()
        for line in lines(self.cleaned_data["extra_holidays"]):
            first, _sep, last = line.partition("..")
            try:
                start = date.fromisoformat(first.strip())
                end = date.fromisoformat(last.strip()) if last else start
            except ValueError:
                raise ValidationError(
                    _("%(line)s is not a date (YYYY-MM-DD) or a range (YYYY-MM-DD..YYYY-MM-DD)."),
                    params={"line": line},
                ) from None
            if end < start or (end - start).days > _MAX_RANGE_DAYS:
                raise ValidationError(_("%(line)s: a range runs forward, a year at most."), params={"line": line})
            days.update((start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1))
        return sorted(days)

    def clean(self):
        cleaned = super().clean()
        weekly = {}
        for day, name in enumerate(WEEKDAY_FIELDS):
            try:
                intervals = self._day(name)
            except ValidationError as exc:
                self.add_error(name, exc)
                continue
            if intervals:
                weekly[str(day)] = intervals
        if self.errors or "timezone" not in cleaned:
            return cleaned
        if cleaned.get("always"):
            self.spec = {"type": "24x7", "timezone": cleaned["timezone"]}
            return cleaned
        if not weekly:
            self.add_error("mon", _("Give working hours for at least one day, or choose 24x7."))
            return cleaned
        countries = [c.strip().upper() for c in (cleaned.get("holiday_countries") or "").split(",") if c.strip()]
        if cleaned.get("japanese_holidays") and "JP" not in countries:
            countries.insert(0, "JP")
        self.spec = {
            "timezone": cleaned["timezone"],
            "weekly_hours": weekly,
            "holidays": sorted(set(countries)),
            "extra_holidays": cleaned.get("extra_holidays") or [],
        }
        try:
            BusinessCalendar.from_dict(self.spec)
        except (ValueError, TypeError, KeyError) as exc:
            self._spec_error(str(exc))
        return cleaned

    def _spec_error(self, message: str) -> None:
        """BusinessCalendar's message next to the field it is about."""
        match = re.match(r"weekly_hours\[(\d)\]", message)
        if match:
            self.add_error(WEEKDAY_FIELDS[int(match.group(1))], message)
        elif "holiday country" in message:
            self.add_error("holiday_countries", message)
        elif "extra_holidays" in message:
            self.add_error("extra_holidays", message)
        elif "time zone" in message:
            self.add_error("timezone", message)
        else:
            self.add_error(None, message)

    @staticmethod
    def initial_from_spec(spec: dict | None, *, timezone_name: str = "Asia/Tokyo") -> dict:
        if not spec or spec.get("type") == "24x7":
            return {"always": True, "timezone": (spec or {}).get("timezone") or timezone_name}
        weekly = spec.get("weekly_hours") or {}
        countries = [c for c in spec.get("holidays") or [] if c != "JP"]
        initial = {
            "always": False,
            "timezone": spec.get("timezone") or timezone_name,
            "japanese_holidays": "JP" in (spec.get("holidays") or []),
            "holiday_countries": ", ".join(countries),
            "extra_holidays": "\n".join(_ranges(spec.get("extra_holidays") or [])),
        }
        for day, name in enumerate(WEEKDAY_FIELDS):
            initial[name] = ", ".join(f"{a}-{b}" for a, b in weekly.get(str(day), []))
        return initial


def _ranges(days: list[str]) -> list[str]:
    """Consecutive closed days written back as ranges (the year-end closure is one line, not seven)."""
    parsed = sorted(date.fromisoformat(d) for d in days)
    out: list[str] = []
    start = prev = None
    for day in [*parsed, None]:
        if start is not None and (day is None or day - prev != timedelta(days=1)):
            out.append(start.isoformat() if start == prev else f"{start.isoformat()}..{prev.isoformat()}")
            start = None
        if day is not None and start is None:
            start = day
        prev = day
    return out


class CalendarForm(CalendarSpecForm):
    """A stored calendar's next version (or a new calendar)."""

    name = forms.CharField(label=_("Name"), max_length=100)
    field_order = ["name", "always", "timezone"]


# ---- contract versions ----------------------------------------------------------------------------------------


def scope_items_csv(items) -> str:
    """A version's scope items in the CSV format the API and the form accept."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SCOPE_COLUMNS)
    for item in items:
        writer.writerow(
            [
                item.kind,
                item.value,
                item.provider,
                item.region,
                item.criticality,
                "yes" if item.included else "no",
                "yes" if item.remediation_allowed else "no",
                item.label,
                item.heartbeat_hours or "",
            ]
        )
    return out.getvalue()


class ContractVersionForm(forms.Form):
    """The terms of a draft: simple terms as fields, scope items as CSV or JSON (the API's format), entitlements
    as one row per metric (empty limit: not included). Coverage hours are a ``CalendarSpecForm`` beside it."""

    change_note = forms.CharField(
        label=_("What changes and why"), max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )
    service_tier = forms.CharField(label=_("Service tier"), max_length=50)
    response_mode = forms.ChoiceField(label=_("Response mode"), choices=ResponseMode.choices)
    timezone = forms.CharField(label=_("Time zone"), max_length=64)
    report_language = forms.ChoiceField(label=_("Report language"), choices=[("ja", "ja"), ("en", "en")])
    report_recipients = forms.CharField(
        label=_("Report recipients (one e-mail per line)"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    sla_policy_id = forms.TypedChoiceField(label=_("SLA policy"), coerce=int, empty_value=None, required=False)
    priority_matrix = forms.CharField(
        label=_("Priority matrix (JSON)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            'Empty: the default matrix. Otherwise {"critical": {"critical": "P1", "high": "P1", ...}, ...} with '
            "severity bands and criticalities critical, high, medium, low."
        ),
    )
    scope_items = forms.CharField(
        label=_("Scope items (CSV or JSON)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "class": "mono"}),
        help_text=_(
            "The whole scope of this version, in the API's format: CSV with the header "
            "kind,value,provider,region,criticality,included,remediation_allowed,label,heartbeat_hours, or a JSON "
            "list of objects. Empty: no scope items (every alert is in scope)."
        ),
    )
    scope_file = forms.FileField(
        label=_("Or upload the scope items (CSV or JSON file)"),
        required=False,
        help_text=_("Replaces the text above when given."),
    )

    def __init__(self, *args, policies=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sla_policy_id"].choices = [
            ("", _("none")),
            *((p.pk, f"{p.name} v{p.version} (#{p.pk})") for p in policies),
        ]
        for metric, label in EntitlementMetric.choices:

            def named(part, metric_label=label):
                return {"aria-label": f"{metric_label}: {part}"}

            self.fields[f"ent_{metric}_limit"] = forms.DecimalField(
                label=label,
                required=False,
                min_value=0,
                max_digits=14,
                decimal_places=3,
                widget=forms.NumberInput(attrs=named(_("Limit"))),
            )
            self.fields[f"ent_{metric}_tolerance_pct"] = forms.DecimalField(
                label=_("Tolerance %"),
                required=False,
                min_value=0,
                max_value=100,
                max_digits=5,
                decimal_places=2,
                widget=forms.NumberInput(attrs=named(_("Tolerance %"))),
            )
            self.fields[f"ent_{metric}_measurement"] = forms.ChoiceField(
                label=_("Measurement"),
                choices=[("", "–"), *Measurement.choices],  # noqa: RUF001
                required=False,
                widget=forms.Select(attrs=named(_("Measurement"))),
            )
            self.fields[f"ent_{metric}_over_limit_policy"] = forms.ChoiceField(
                label=_("Over the limit"),
                choices=[("", "–"), *OverLimitPolicy.choices],  # noqa: RUF001
                required=False,
                widget=forms.Select(attrs=named(_("Over the limit"))),
            )

    def entitlement_rows(self) -> list[tuple[str, list]]:
        """(metric label, bound fields of its row) for the entitlements table."""
        return [
            (label, [self[f"ent_{metric}_{part}"] for part in ENTITLEMENT_PARTS])
            for metric, label in EntitlementMetric.choices
        ]

    def entitlement_aliases(self) -> dict[str, str]:
        """Service field names (``entitlements[i].limit``) -> this form's field, by the order ``entitlements()``
        gives them."""
        aliases = {}
        for index, ent in enumerate(getattr(self, "_entitlements", [])):
            for part in ENTITLEMENT_PARTS:
                aliases[f"entitlements[{index}].{part}"] = f"ent_{ent['metric']}_{part}"
            aliases[f"entitlements[{index}]"] = f"ent_{ent['metric']}_limit"
        return aliases

    def clean_report_recipients(self) -> list[str]:
        recipients = lines(self.cleaned_data["report_recipients"])
        for address in recipients:
            try:
                validate_email(address)
            except ValidationError:
                raise ValidationError(_("%(address)s is not an e-mail address."), params={"address": address}) from None
        return recipients

    def clean_priority_matrix(self) -> dict:
        text = self.cleaned_data["priority_matrix"].strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise ValidationError(_("Not valid JSON: %(error)s"), params={"error": str(exc)}) from None
        return value

    def clean(self):
        cleaned = super().clean()
        entitlements = []
        for metric in EntitlementMetric.values:
            limit = cleaned.get(f"ent_{metric}_limit")
            if limit is None:
                continue
            for part in ("measurement", "over_limit_policy"):
                if not cleaned.get(f"ent_{metric}_{part}"):
                    self.add_error(f"ent_{metric}_{part}", _("Required when a limit is given."))
            entitlements.append(
                {
                    "metric": metric,
                    "limit": str(limit),
                    "tolerance_pct": str(cleaned.get(f"ent_{metric}_tolerance_pct") or 0),
                    "measurement": cleaned.get(f"ent_{metric}_measurement"),
                    "over_limit_policy": cleaned.get(f"ent_{metric}_over_limit_policy"),
                }
            )
        self._entitlements = entitlements
        return cleaned

    def terms(self, *, coverage: dict) -> dict:
        data = self.cleaned_data
        return {
            "change_note": data["change_note"].strip(),
            "service_tier": data["service_tier"].strip(),
            "response_mode": data["response_mode"],
            "timezone": data["timezone"].strip(),
            "report_language": data["report_language"],
            "report_recipients": data["report_recipients"],
            "sla_policy_id": data["sla_policy_id"],
            "priority_matrix": data["priority_matrix"],
            "coverage": {} if coverage.get("type") == "24x7" else coverage,
        }

    def scope_source(self) -> tuple[bytes | str, str]:
        """The scope items as given: the uploaded file (with its content type) or the text."""
        upload = self.cleaned_data.get("scope_file")
        if upload:
            content_type = upload.content_type or ""
            if upload.name.lower().endswith(".json"):
                content_type = "application/json"
            elif upload.name.lower().endswith(".csv"):
                content_type = "text/csv"
            return upload.read(), content_type
        text = self.cleaned_data.get("scope_items") or ""
        return text, "application/json" if text.lstrip().startswith("[") else "text/csv"

    def entitlements(self) -> list[dict]:
        return list(self._entitlements)

    @staticmethod
    def initial_from_version(version) -> dict:
        initial = {
            "service_tier": version.service_tier,
            "response_mode": version.response_mode,
            "timezone": version.timezone,
            "report_language": version.report_language,
            "report_recipients": "\n".join(version.report_recipients),
            "sla_policy_id": version.sla_policy_id or "",
            "priority_matrix": json.dumps(version.priority_matrix, indent=2) if version.priority_matrix else "",
            "scope_items": scope_items_csv(version.scope_items.order_by("kind", "value", "pk")),
        }
        for ent in version.entitlements.all():
            initial[f"ent_{ent.metric}_limit"] = ent.limit.normalize()
            initial[f"ent_{ent.metric}_tolerance_pct"] = ent.tolerance_pct.normalize()
            initial[f"ent_{ent.metric}_measurement"] = ent.measurement
            initial[f"ent_{ent.metric}_over_limit_policy"] = ent.over_limit_policy
        return initial


class PublishForm(forms.Form):
    effective_date = forms.DateField(
        label=_("Effective from (in the version's time zone)"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Today (from now on) or a later day (from its midnight). History is never rewritten."),
    )


# ---- SLA policies ---------------------------------------------------------------------------------------------


class SlaPolicyForm(forms.Form):
    """A new policy version: warning thresholds and a goal (minutes) and calendar per priority and metric; an empty
    goal means no target for that cell."""

    name = forms.CharField(
        label=_("Policy name"),
        max_length=200,
        help_text=_("The same name makes the next version of that policy; a new name starts a new policy."),
    )
    warning_thresholds = forms.CharField(
        label=_("Warnings at (percentage of the goal)"), max_length=100, initial="50, 75, 90", required=False
    )
    create_contract_draft = forms.BooleanField(
        label=_("Create a contract draft that refers to the new policy (you publish it with an effective date)"),
        required=False,
        initial=True,
    )
    retarget_timers = forms.BooleanField(
        label=_(
            "Also move the open timers of older versions of this policy to the new goals now (audited; start and "
            "elapsed time are kept)"
        ),
        required=False,
    )

    def __init__(self, *args, calendars=(), **kwargs):
        super().__init__(*args, **kwargs)
        choices = [
            ("24x7", _("24x7 (wall clock)")),
            ("coverage", _("the contract's coverage hours")),
            *((str(c.pk), f"{c.name} v{c.version} (#{c.pk})") for c in calendars),
        ]
        for priority in PRIORITIES:
            for metric in METRICS:
                names = {"priority": priority, "metric": metric}
                self.fields[f"goal_{priority}_{metric}"] = forms.DecimalField(
                    label=f"{priority} {metric}",
                    required=False,
                    min_value=0,
                    max_digits=10,
                    decimal_places=2,
                    widget=forms.NumberInput(
                        attrs={"aria-label": _("%(priority)s %(metric)s: goal in minutes") % names}
                    ),
                )
                self.fields[f"cal_{priority}_{metric}"] = forms.ChoiceField(
                    label=f"{priority} {metric}",
                    choices=choices,
                    required=False,
                    widget=forms.Select(attrs={"aria-label": _("%(priority)s %(metric)s: calendar") % names}),
                )

    def grid(self) -> list[tuple[str, list[tuple]]]:
        """Per priority, per metric (goal, calendar) bound fields: the table of inputs."""
        return [
            (priority, [(self[f"goal_{priority}_{m}"], self[f"cal_{priority}_{m}"]) for m in METRICS])
            for priority in PRIORITIES
        ]

    def clean_warning_thresholds(self) -> list[int]:
        values = []
        for part in re.split(r"[,\s]+", self.cleaned_data["warning_thresholds"].strip()):
            if not part:
                continue
            if not part.isdigit():
                raise ValidationError(_("Whole percentages separated by commas, e.g. 50, 75, 90."))
            values.append(int(part))
        return values

    def clean(self):
        cleaned = super().clean()
        self._targets = []
        for priority in PRIORITIES:
            for metric in METRICS:
                goal = cleaned.get(f"goal_{priority}_{metric}")
                if goal is None:
                    continue
                calendar = cleaned.get(f"cal_{priority}_{metric}") or "24x7"
                self._targets.append(
                    {
                        "priority": priority,
                        "metric": metric,
                        "goal_minutes": float(goal),
                        "calendar": int(calendar) if calendar.isdigit() else calendar,
                    }
                )
        if not self.errors and not self._targets:
            self.add_error(None, _("Give at least one goal."))
        return cleaned

    def targets(self) -> list[dict]:
        return list(self._targets)

    def target_aliases(self) -> dict[str, str]:
        aliases = {}
        for index, target in enumerate(getattr(self, "_targets", [])):
            cell = f"{target['priority']}_{target['metric']}"
            aliases[f"targets[{index}].goal_minutes"] = f"goal_{cell}"
            aliases[f"targets[{index}].calendar"] = f"cal_{cell}"
            aliases[f"targets[{index}]"] = f"goal_{cell}"
        return aliases

    @staticmethod
    def initial_from_policy(policy) -> dict:
        initial = {
            "name": policy.name,
            "warning_thresholds": ", ".join(str(t) for t in policy.warning_thresholds),
            "create_contract_draft": True,
        }
        for target in policy.targets.all():
            cell = f"{target.priority}_{target.metric}"
            minutes = target.goal_seconds / 60
            initial[f"goal_{cell}"] = int(minutes) if minutes == int(minutes) else round(minutes, 2)
            initial[f"cal_{cell}"] = (
                str(target.calendar_id) if target.calendar_kind == "custom" else target.calendar_kind
            )
        return initial


class RetargetForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I understand the open timers of older versions of this policy get its goals now"), required=True
    )


# ---- escalation matrices --------------------------------------------------------------------------------------


class MatrixForm(forms.Form):
    """The rules as JSON (the API's and the proposals' format); the service validates and names the rule and
    field at fault (``rules[1].levels[0].contacts``)."""

    rules = forms.CharField(
        label=_("Rules (JSON)"),
        widget=forms.Textarea(attrs={"rows": 18, "class": "mono"}),
        help_text=_(
            'A list of rules, the first that matches wins: {"min_priority": "P2", "categories": [], "sources": [], '
            '"window": "any", "auto": false, "repeat": 1, "levels": [{"contacts": [1], "channels": ["email"], '
            '"wait_minutes": 15, "mode": "parallel"}]}. Contacts by id (listed above).'
        ),
    )

    def clean_rules(self) -> list:
        try:
            value = json.loads(self.cleaned_data["rules"])
        except ValueError as exc:
            raise ValidationError(_("Not valid JSON: %(error)s"), params={"error": str(exc)}) from None
        if isinstance(value, dict) and "rules" in value:
            value = value["rules"]
        if not isinstance(value, list):
            raise ValidationError(_("A JSON list of rules."))
        return value
