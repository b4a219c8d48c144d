"""Portal form for the status of a recommended action: parse and present only (``recommended_action_set_status``
holds the rules; its errors come back next to the field they name)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from mdr.incidents.models import ActionStatus
from mdr.incidents.services import ACTION_NOTE_MAX


class ActionStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=ActionStatus.choices)
    note = forms.CharField(
        label=_("Note (optional)"),
        required=False,
        max_length=ACTION_NOTE_MAX,
        widget=forms.TextInput(attrs={"placeholder": _("What was done, or what you need")}),
    )

    @classmethod
    def for_action(cls, action, data=None) -> ActionStatusForm:
        """The form of one action on the incident page (its own prefix, so every row's fields have unique ids)."""
        return cls(data, prefix=f"action-{action.pk}", initial={"status": action.status, "note": action.note})
