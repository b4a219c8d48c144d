"""Forms of the provider console: parse and check what a person typed, nothing more. The services validate again
and own every rule; their field errors are put back on these forms by the views."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from mdr.escalations.notices import TLP_LABELS
from mdr.escalations.services import IMPACT_KEYS, NOTICE_KINDS
from mdr.incidents.models import TRANSITIONS, IncidentState
from reports.services import LANGUAGES

PRIORITY_CHOICES = [(p, p) for p in ("P1", "P2", "P3", "P4")]
SEVERITY_CHOICES = [("", _("unchanged")), *((str(s), str(s)) for s in range(7))]
TLP_CHOICES = [(t, f"TLP:{t}") for t in TLP_LABELS]
IMPACT_HELP = {
    "functional": _("NIST SP 800-61 functional impact, e.g. none / low / medium / high"),
    "information": _("information impact, e.g. none / privacy / proprietary / integrity"),
    "recoverability": _("recoverability, e.g. regular / supplemented / extended / not recoverable"),
}


def lines(text: str) -> list[str]:
    """One item per non-empty line."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def field_error(form: forms.Form, field: str, message: str) -> None:
    """A service's error next to the field it names, or at the top of the form when the form has no such field."""
    form.add_error(field if field in form.fields else None, message)


class TransitionForm(forms.Form):
    to = forms.ChoiceField(label=_("New state"))
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required for 'awaiting customer': what the customer is asked for. Shown to the customer."),
    )

    def __init__(self, *args, incident, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = TRANSITIONS.get(incident.state, set())
        self.fields["to"].choices = [(value, label) for value, label in IncidentState.choices if value in allowed]


class PriorityForm(forms.Form):
    priority = forms.ChoiceField(label=_("Priority"), choices=PRIORITY_CHOICES)
    severity_id = forms.TypedChoiceField(
        label=_("Severity (0-6)"), choices=SEVERITY_CHOICES, coerce=int, empty_value=None, required=False
    )
    reason = forms.CharField(label=_("Reason (mandatory)"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, incident, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["priority"].initial = incident.priority


class NoteForm(forms.Form):
    text = forms.CharField(label=_("Note"), max_length=10_000, widget=forms.Textarea(attrs={"rows": 4}))
    customer_visible = forms.BooleanField(
        label=_("Visible to the customer (an update: meets the update cadence)"), required=False
    )

    def __init__(self, *args, incident, **kwargs):
        super().__init__(*args, **kwargs)


class _BriefFields(forms.Form):
    """The analyst's part of a notice (TLP 2.0, NIST impact, actions), turned into the services' ``brief``."""

    impact_functional = forms.CharField(
        label=_("Functional impact"), required=False, max_length=200, help_text=IMPACT_HELP["functional"]
    )
    impact_information = forms.CharField(
        label=_("Information impact"), required=False, max_length=200, help_text=IMPACT_HELP["information"]
    )
    impact_recoverability = forms.CharField(
        label=_("Recoverability"), required=False, max_length=200, help_text=IMPACT_HELP["recoverability"]
    )
    actions_taken = forms.CharField(
        label=_("Actions taken (one per line)"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    recommended_actions = forms.CharField(
        label=_("Recommended actions (one per line)"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def _brief_parts(self) -> dict:
        data = self.cleaned_data
        brief: dict = {}
        impact = {key: data[f"impact_{key}"].strip() for key in IMPACT_KEYS if data.get(f"impact_{key}", "").strip()}
        if impact:
            brief["impact"] = impact
        for key in ("actions_taken", "recommended_actions"):
            if lines(data.get(key, "")):
                brief[key] = lines(data[key])
        return brief


class EscalateForm(_BriefFields):
    tlp = forms.ChoiceField(label=_("TLP"), choices=TLP_CHOICES, initial="AMBER")
    summary = forms.CharField(label=_("Summary"), max_length=10_000, widget=forms.Textarea(attrs={"rows": 4}))
    field_order = ["tlp", "summary"]

    def __init__(self, *args, incident, **kwargs):
        super().__init__(*args, **kwargs)

    def brief(self) -> dict:
        return {"tlp": self.cleaned_data["tlp"], "summary": self.cleaned_data["summary"].strip(), **self._brief_parts()}


class UpdateForm(_BriefFields):
    """A follow-up or the final report to everyone the escalation reached; the text is also the customer-visible
    update on the timeline. Brief fields left empty keep the escalation's."""

    kind = forms.ChoiceField(label=_("Report"), choices=[(k, k.replace("_", "-")) for k in NOTICE_KINDS])
    text = forms.CharField(label=_("Text"), max_length=10_000, widget=forms.Textarea(attrs={"rows": 4}))
    tlp = forms.ChoiceField(label=_("TLP"), choices=[("", _("unchanged")), *TLP_CHOICES], required=False)
    field_order = ["kind", "text", "tlp"]

    def __init__(self, *args, incident, **kwargs):
        super().__init__(*args, **kwargs)

    def brief(self) -> dict:
        brief = self._brief_parts()
        if self.cleaned_data.get("tlp"):
            brief["tlp"] = self.cleaned_data["tlp"]
        return brief


class ReportGenerateForm(forms.Form):
    month = forms.RegexField(
        label=_("Month (YYYY-MM)"),
        regex=r"^\d{4}-(0[1-9]|1[0-2])$",
        max_length=7,
        error_messages={"invalid": _("a month as YYYY-MM, e.g. 2026-10")},
    )
    language = forms.ChoiceField(label=_("Language"), choices=[(code, code) for code in LANGUAGES])
    reason = forms.CharField(
        label=_("Reason for a new version"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Only to generate a month that is already published again."),
    )


class ReportEditForm(forms.Form):
    recommendations = forms.CharField(
        label=_("Recommendations (one per line)"), required=False, widget=forms.Textarea(attrs={"rows": 6})
    )
    customer_actions = forms.CharField(
        label=_("Customer actions (one per line)"), required=False, widget=forms.Textarea(attrs={"rows": 6})
    )


class ApproveForm(forms.Form):
    reason = forms.CharField(label=_("Reason (optional)"), required=False, max_length=2000)


class RejectForm(forms.Form):
    reason = forms.CharField(label=_("Reason (shown to the customer)"), max_length=2000)


TIMEZONE_CHOICES = [
    (tz, tz)
    for tz in (
        "Asia/Tokyo",
        "Asia/Seoul",
        "Asia/Shanghai",
        "Asia/Singapore",
        "Australia/Sydney",
        "Europe/London",
        "Europe/Berlin",
        "America/New_York",
        "America/Los_Angeles",
        "UTC",
    )
]


class OnboardForm(forms.Form):
    name = forms.CharField(label=_("Customer name"), max_length=200)
    slug = forms.CharField(
        label=_("Slug"),
        max_length=40,
        help_text=_("Lowercase letters, digits and '-'; becomes the portal's subdomain and cannot be changed."),
    )
    admin_email = forms.EmailField(label=_("Admin e-mail"), required=False)
    timezone = forms.ChoiceField(label=_("Time zone"), choices=TIMEZONE_CHOICES, initial="Asia/Tokyo")
    language = forms.ChoiceField(label=_("Language"), choices=[("ja", "ja"), ("en", "en")], initial="ja")


class SuspendForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    confirm = forms.BooleanField(
        label=_("I understand the customer's users and keys stop working now"),
        required=True,
    )
