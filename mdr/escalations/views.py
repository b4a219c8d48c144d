"""The one-time acknowledgement link (customer domain, no login)."""

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from mdr.escalations.services import EscalationError, escalation_acknowledge_token


@require_http_methods(["GET", "POST"])
def acknowledge(request, token: str):
    """GET shows a confirmation button (mail scanners that fetch links must not acknowledge); POST acknowledges."""
    if request.method == "GET":
        return render(request, "escalations/ack.html", {"token": token})
    try:
        escalation = escalation_acknowledge_token(token=token, ip=request.META.get("REMOTE_ADDR"))
    except EscalationError as exc:
        return HttpResponse(render(request, "escalations/ack.html", {"error": exc.message}).content, status=410)
    return render(request, "escalations/ack.html", {"done": escalation})


@require_http_methods(["GET", "POST"])
def verify_contact(request, token: str):
    """GET shows a confirmation button; POST confirms the contact."""
    from mdr.escalations.services import contact_verification_confirm

    if request.method == "GET":
        return render(request, "escalations/verify.html", {"token": token})
    try:
        contact = contact_verification_confirm(token=token, ip=request.META.get("REMOTE_ADDR"))
    except EscalationError as exc:
        return HttpResponse(render(request, "escalations/verify.html", {"error": exc.message}).content, status=410)
    return render(request, "escalations/verify.html", {"done": contact})
