"""Forms of the sign-in, account and staff pages: parse what a person typed; the services own the rules."""

from __future__ import annotations

import logging

from django import forms
from django.contrib.auth.forms import PasswordResetForm
from django.utils.translation import gettext_lazy as _

from mdr.accounts.models import PROVIDER_ROLES, User
from mdr.accounts.services import password_link_send
from mdr.audit.services import Actor

log = logging.getLogger(__name__)
LANGUAGE_CHOICES = [("ja", "日本語"), ("en", "English")]


def field_error(form: forms.Form, field: str, message: str) -> None:
    """A service's error next to the field it names, or at the top of the form naming the field."""
    if field in form.fields:
        form.add_error(field, message)
    else:
        form.add_error(None, f"{field}: {message}")


class TokenForm(forms.Form):
    token = forms.RegexField(
        label=_("6-digit code from your authenticator app"),
        regex=r"^\s*\d{3}\s?\d{3}\s*$",
        max_length=8,
        error_messages={"invalid": _("Enter the 6 digits your authenticator app shows.")},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": r"[0-9 ]*", "autofocus": True}
        ),
    )


class LanguageForm(forms.Form):
    language = forms.ChoiceField(label=_("Language"), choices=LANGUAGE_CHOICES)


class TotpRemoveForm(forms.Form):
    """Removing the second factor needs a current code or the password."""

    token = forms.CharField(label=_("Current 6-digit code"), required=False, max_length=8)
    password = forms.CharField(
        label=_("or your password"),
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def clean(self):
        data = super().clean()
        if not data.get("token") and not data.get("password"):
            raise forms.ValidationError(_("Enter a current code or your password."))
        return data


class TenantPasswordResetForm(PasswordResetForm):
    """Django's reset form, sending our own plain-text mail in the user's language through the schema-bound token.

    Users without a usable password (staff created with a set-password link whose link expired) may ask too."""

    def get_users(self, email):
        return (
            user
            for user in User.objects.filter(email__iexact=email, is_active=True)
            if (user.email or "").casefold() == email.casefold()
        )

    def save(self, *, request=None, base_url: str = "", **kwargs) -> int:  # type: ignore[override]
        sent = 0
        for user in self.get_users(self.cleaned_data["email"]):
            actor = Actor(type="anonymous", name="password-reset", ip_address=request.META.get("REMOTE_ADDR"))
            try:
                sent += password_link_send(actor=actor, user=user, base_url=base_url)
            except OSError as exc:  # mail server down: same answer to the visitor (no hint), logged for operators
                log.warning("accounts.password_reset.mail_failed", extra={"user": user.pk, "error": str(exc)[:200]})
        return sent


class StaffCreateForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("E-mail"), help_text=_("The set-password link is sent here."))
    role = forms.ChoiceField(label=_("Role"), choices=[])
    language = forms.ChoiceField(label=_("Language"), choices=LANGUAGE_CHOICES)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(r.value, r.label) for r in PROVIDER_ROLES]


class StaffRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=[])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(r.value, r.label) for r in PROVIDER_ROLES]
