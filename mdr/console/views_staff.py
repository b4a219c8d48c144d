"""Provider staff pages: list, create (a set-password link by mail, never a password on screen), change role,
deactivate/reactivate, reset a second factor. Provider admins only (``staff.manage``); the rules (nobody demotes or
deactivates themselves, at least one active provider admin remains) live in ``mdr.accounts.services``."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from mdr.accounts import totp
from mdr.accounts.forms import StaffCreateForm, StaffRoleForm, field_error
from mdr.accounts.permissions import capability_required
from mdr.accounts.selectors import staff_list as staff_list_select
from mdr.accounts.services import (
    AccountError,
    password_link_send,
    staff_role_change,
    staff_set_active,
    user_create,
)
from mdr.accounts.views import request_base_url
from mdr.audit.services import Actor

log = logging.getLogger(__name__)
ACTIONS = ("role", "deactivate", "activate", "reset-totp", "send-link")


def _staff_get(user_id: int):
    user = staff_list_select().filter(pk=user_id).first()
    if user is None:
        raise Http404("No such staff member.")
    return user


def _send_link(request, user, *, invite: bool) -> None:
    try:
        sent = password_link_send(
            actor=Actor.from_request(request), user=user, base_url=request_base_url(request), invite=invite
        )
    except OSError as exc:  # SMTP down: the account exists, the link can be sent again from its page
        log.warning("accounts.staff.link_failed", extra={"user": user.pk, "error": str(exc)[:200]})
        sent = False
    if sent:
        messages.success(request, _("A set-password link was sent to %(email)s.") % {"email": user.email})
    else:
        messages.warning(request, _("The set-password link could not be sent. Try again from the staff page."))


@require_http_methods(["GET"])
@capability_required("staff.manage")
def staff_list(request):
    return render(request, "console/staff.html", {"staff": staff_list_select()})


@require_http_methods(["GET", "POST"])
@capability_required("staff.manage")
def staff_new(request):
    form = StaffCreateForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                user, _password = user_create(
                    actor=Actor.from_request(request),
                    username=data["username"],
                    email=data["email"],
                    role=data["role"],
                    language=data["language"],
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                    set_password_by_link=True,
                )
            except AccountError as exc:
                field_error(form, exc.field, exc.message)
            else:
                messages.success(request, _("Staff member %(username)s created.") % {"username": user.username})
                _send_link(request, user, invite=True)
                return redirect("console-staff-detail", user_id=user.pk)
        return render(request, "console/staff_new.html", {"form": form}, status=400)
    return render(request, "console/staff_new.html", {"form": form})


def _detail_page(request, member, *, role_form=None, error: str = "", status: int = 200):
    context = {
        "member": member,
        "role_form": role_form or StaffRoleForm(initial={"role": member.role}),
        "error": error,
        "is_self": member.pk == request.user.pk,
    }
    return render(request, "console/staff_detail.html", context, status=status)


@require_http_methods(["GET"])
@capability_required("staff.manage")
def staff_detail(request, user_id: int):
    return _detail_page(request, _staff_get(user_id))


@require_POST
@capability_required("staff.manage")
def staff_action(request, user_id: int, action: str):
    if action not in ACTIONS:
        raise Http404("No such action.")
    member = _staff_get(user_id)
    actor = Actor.from_request(request)
    role_form = None
    try:
        if action == "role":
            role_form = StaffRoleForm(request.POST)
            if not role_form.is_valid():
                return _detail_page(request, member, role_form=role_form, status=400)
            staff_role_change(actor=actor, actor_user=request.user, user=member, role=role_form.cleaned_data["role"])
            messages.success(request, _("Role changed."))
        elif action in ("deactivate", "activate"):
            staff_set_active(actor=actor, actor_user=request.user, user=member, active=action == "activate")
            done = _("Account deactivated.") if action == "deactivate" else _("Account reactivated.")
            messages.success(request, done)
        elif action == "reset-totp":
            totp.totp_reset(actor=actor, user=member)
            messages.success(
                request,
                _("Second factor reset: %(username)s sets up a new one at the next sign-in.")
                % {"username": member.username},
            )
        else:
            _send_link(request, member, invite=not member.has_usable_password())
    except AccountError as exc:
        if role_form is not None:
            field_error(role_form, exc.field, exc.message)
            return _detail_page(request, member, role_form=role_form, status=400)
        return _detail_page(request, member, error=f"{exc.field}: {exc.message}", status=400)
    return redirect("console-staff-detail", user_id=member.pk)
