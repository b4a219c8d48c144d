"""One-time links on the customer's domain (no login): escalation acknowledgement and contact verification.

GET only shows what the link is about and a button (mail scanners that fetch links must not act); POST acts once.
"""

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from mdr.escalations.services import (
    EscalationError,
    contact_verification_confirm,
    escalation_acknowledge_token,
    escalation_link_preview,
)


def _one_time_link(request, token: str, template: str, act, preview=None):
    if request.method == "GET":
        try:
            shown = preview(token=token) if preview else None
        except EscalationError as exc:
            return HttpResponse(render(request, template, {"error": exc.message}).content, status=410)
        return render(request, template, {"token": token, "preview": shown})
    try:
        done = act(token=token, ip=request.META.get("REMOTE_ADDR"))
    except EscalationError as exc:
        return HttpResponse(render(request, template, {"error": exc.message}).content, status=410)
    return render(request, template, {"done": done})


@require_http_methods(["GET", "POST"])
def acknowledge(request, token: str):
    return _one_time_link(
        request, token, "escalations/ack.html", escalation_acknowledge_token, preview=escalation_link_preview
    )


@require_http_methods(["GET", "POST"])
def verify_contact(request, token: str):
    return _one_time_link(request, token, "escalations/verify.html", contact_verification_confirm)
