"""Console forms of the operations pages (offboarding): parse only; ``customer_offboard_request`` checks again."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class OffboardForm(forms.Form):
    confirm = forms.CharField(
        label=_("Type the customer's slug to confirm"),
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args, slug: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.slug = slug
        self.fields["confirm"].widget.attrs["placeholder"] = slug

    def clean_confirm(self) -> str:
        value = self.cleaned_data["confirm"].strip()
        if value != self.slug:
            raise forms.ValidationError(_("This is not the customer's slug: nothing was done."))
        return value
