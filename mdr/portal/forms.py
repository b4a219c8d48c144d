"""Customer portal forms: parse and present input only. The rules live in the services (``contact_validate``,
``proposal_create``, ``alert_filters_from_params``); their errors are put back next to the field they name."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from mdr.alerts.models import AlertStatus, ScopeStatus
from mdr.escalations.contacts import LANGUAGES

SEVERITY_CHOICES = [
    ("", _("any")),
    ("1", _("informational")),
    ("2", _("low")),
    ("3", _("medium")),
    ("4", _("high")),
    ("5", _("critical")),
    ("6", _("fatal")),
    ("0", _("unknown")),
]
LOCAL_INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"]


class _LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self):
        super().__init__(format="%Y-%m-%dT%H:%M")


def add_service_error(form: forms.Form, field: str, message: str) -> None:
    """A service error next to the field it names, or above the form naming it (e.g. ``rules[0].contacts``)."""
    if field in form.fields:
        form.add_error(field, message)
    else:
        form.add_error(None, f"{field}: {message}")


class AlertFilterForm(forms.Form):
    """The list filters; times are read in the customer's time zone (activated per request)."""

    since = forms.DateTimeField(
        required=False, label=_("From"), input_formats=LOCAL_INPUT_FORMATS, widget=_LocalDateTimeInput()
    )
    until = forms.DateTimeField(
        required=False, label=_("Until"), input_formats=LOCAL_INPUT_FORMATS, widget=_LocalDateTimeInput()
    )
    severity = forms.ChoiceField(required=False, label=_("Severity"), choices=SEVERITY_CHOICES)
    status = forms.ChoiceField(required=False, label=_("Status"), choices=[("", _("any")), *AlertStatus.choices])
    scope_status = forms.ChoiceField(required=False, label=_("Scope"), choices=[("", _("any")), *ScopeStatus.choices])
    source = forms.CharField(required=False, label=_("Source (format or product)"), max_length=255)
    host = forms.CharField(required=False, label=_("Host"), max_length=255)
    q = forms.CharField(required=False, label=_("Text (title, rule)"), max_length=200)

    def as_params(self) -> dict[str, str]:
        """The cleaned filters as the API's query parameters (``alert_filters_from_params`` checks them)."""
        data = self.cleaned_data
        params = {key: data[key] for key in ("severity", "status", "scope_status", "source", "host", "q") if data[key]}
        for key in ("since", "until"):
            if data[key]:
                params[key] = data[key].isoformat()
        return params


class IncidentCommentForm(forms.Form):
    text = forms.CharField(label=_("Comment"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))


class ContactForm(forms.Form):
    """The fields of a contact a customer may propose (never webhook secrets)."""

    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    role = forms.CharField(label=_("Role"), max_length=100, required=False)
    email = forms.CharField(label=_("E-mail"), max_length=254, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=50, required=False)
    language = forms.ChoiceField(label=_("Language"), choices=[(code, code) for code in LANGUAGES], initial="ja")
    webhook_url = forms.CharField(label=_("Webhook URL"), max_length=200, required=False)
    slack_webhook_url = forms.CharField(label=_("Slack webhook URL"), max_length=200, required=False)
    teams_webhook_url = forms.CharField(label=_("Teams webhook URL"), max_length=200, required=False)
    valid_until = forms.CharField(
        label=_("Valid until (last day)"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    pgp_public_key = forms.CharField(
        label=_("PGP public key (ASCII-armoured)"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    comment = forms.CharField(
        label=_("Comment for the provider"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    CONTACT_FIELDS = (
        "name",
        "role",
        "email",
        "phone",
        "language",
        "webhook_url",
        "slack_webhook_url",
        "teams_webhook_url",
        "valid_until",
        "pgp_public_key",
    )
    # Chat webhook URLs carry their own bearer secret: never shown back, left blank to keep the current one.
    KEEP_IF_BLANK = ("slack_webhook_url", "teams_webhook_url")

    def create_payload(self) -> dict:
        data = self.cleaned_data
        return {field: data[field] for field in self.CONTACT_FIELDS if data[field] not in ("", None)}

    def update_payload(self) -> dict:
        """Every field as it should be (blank clears), except chat webhooks left blank (kept)."""
        data = self.cleaned_data
        payload = {
            field: data[field] for field in self.CONTACT_FIELDS if not (field in self.KEEP_IF_BLANK and not data[field])
        }
        if not payload.get("valid_until"):
            payload["valid_until"] = None
        return payload


class ContactArchiveForm(forms.Form):
    contact = forms.IntegerField(label=_("Contact"), widget=forms.HiddenInput)
    comment = forms.CharField(label=_("Reason"), max_length=2000, required=False)


class ApiKeyForm(forms.Form):
    """A new API key: a name and its scopes (``apikey_create`` checks them again)."""

    name = forms.CharField(label=_("Key name"), max_length=100)
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"),
        choices=[("ingest", _("ingest: push alerts")), ("read", _("read: read alerts, incidents and reports"))],
        widget=forms.CheckboxSelectMultiple,
    )
