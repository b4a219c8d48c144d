"""Sign-in, account and password pages, shared by the console (public schema) and the portal (customer schema).

Sign-in is one step without a second factor, two with one: a correct password only records a *pending* sign-in in
the session (user id, time, where to go next; 5 minutes); ``login()`` happens after a valid TOTP code. Provider staff
without a device enrol one in that second step before they are let in (while ``MDR_PROVIDER_TOTP_REQUIRED``).
Every step is audited in the schema the user lives in.
"""

from __future__ import annotations

import hashlib
import math
import time

import django_otp
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import load_backend, login
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.translation import gettext, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from mdr.accounts import lockout, totp
from mdr.accounts.forms import LanguageForm, TenantPasswordResetForm, TokenForm, TotpRemoveForm, field_error
from mdr.accounts.permissions import capability_required
from mdr.accounts.services import AccountError, user_language_set
from mdr.accounts.tokens import password_reset_token
from mdr.audit.services import Actor, audit_record
from mdr.core.ratelimit import rate_limit_take

PENDING_KEY = "mdr_pending_login"
PENDING_SECONDS = 300


def _ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


def request_base_url(request) -> str:
    """Scheme and host of this request (a customer's subdomain or the provider domain), for mailed links. The host
    passed ALLOWED_HOSTS and the tenant routing, so it is one of our domains."""
    https = request.is_secure() or settings.MDR_PUBLIC_URL_SCHEME == "https"
    return f"{'https' if https else 'http'}://{request.get_host()}"


# ---- sign-in ---------------------------------------------------------------------------------------------------------


def _pending_start(request, user, *, step: str, next_url: str) -> None:
    request.session[PENDING_KEY] = {
        "uid": user.pk,
        "at": time.time(),
        "step": step,
        "next": next_url,
        "backend": user.backend,
    }


def _pending_user(request, step: str):
    """The user whose password was right less than 5 minutes ago, still allowed to log in here; else None."""
    data = request.session.get(PENDING_KEY)
    if not isinstance(data, dict) or data.get("step") != step:
        return None, None
    if time.time() - float(data.get("at", 0)) > PENDING_SECONDS:
        request.session.pop(PENDING_KEY, None)
        return None, None
    try:
        backend = load_backend(data["backend"])
    except (KeyError, ImportError):
        return None, None
    if data["backend"] not in settings.AUTHENTICATION_BACKENDS:
        return None, None
    user = backend.get_user(data["uid"])  # None if inactive, or no longer allowed to log in on this domain
    if user is None:
        request.session.pop(PENDING_KEY, None)
        return None, None
    user.backend = data["backend"]
    return user, data


def _expired(request):
    messages.error(request, gettext("Your sign-in expired or was not started. Please enter your password again."))
    return redirect("login")


def _locked_out(request, locked: lockout.Lockout, *, username: str, step: str) -> str:
    """Audit a refused attempt; the message the page shows (the caller answers 429 with Retry-After)."""
    audit_record(
        actor=Actor(type="anonymous", name="anonymous", ip_address=_ip(request)),
        action="auth.locked_out",
        target_type="user",
        data={"username": username[:150], "by": locked.by, "step": step, "retry_after": locked.retry_after_seconds},
    )
    minutes = max(1, math.ceil(locked.retry_after_seconds / 60))
    return ngettext(
        "Too many failed sign-in attempts. Try again in %(n)d minute.",
        "Too many failed sign-in attempts. Try again in %(n)d minutes.",
        minutes,
    ) % {"n": minutes}


def _code_step_locked(request, user, form: TokenForm, step: str):
    """Before a code is checked: a 429 page if the username or IP is locked out, else None."""
    locked = lockout.login_lockout_get(username=user.username, ip=_ip(request))
    if locked is None:
        return None
    form.add_error("token", _locked_out(request, locked, username=user.username, step=step))
    return locked


def _code_failed(request, user, result: totp.VerifyResult) -> None:
    if result.outcome in (totp.VerifyOutcome.WRONG, totp.VerifyOutcome.THROTTLED):
        lockout.login_failure_record(username=user.username, ip=_ip(request))


def _complete_login(request, user, data: dict, device, *, enrolled: bool = False):
    lockout.login_success_record(username=user.username, ip=_ip(request))
    login(request, user, backend=data["backend"])
    django_otp.login(request, device)
    request.session.pop(PENDING_KEY, None)
    audit_record(
        actor=Actor.from_request(request),
        action="auth.login",
        target_type="user",
        target_id=user.pk,
        data={"second_factor": "totp", "enrolled": enrolled},
    )
    return redirect(data.get("next") or settings.LOGIN_REDIRECT_URL)


def _token_error(form: TokenForm, result: totp.VerifyResult) -> int:
    if result.outcome is totp.VerifyOutcome.THROTTLED:
        form.add_error(
            "token",
            gettext("Too many wrong codes. Wait %(seconds)s seconds, then enter the current code.")
            % {"seconds": result.retry_in_seconds},
        )
        return 429
    form.add_error("token", gettext("This code is not valid (wrong, expired or already used)."))
    return 400


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        # A locked-out username or IP is refused before the password is checked (a guess then tells nothing).
        username = (request.POST.get("username") or "")[:150]
        locked = lockout.login_lockout_get(username=username, ip=_ip(request))
        if locked is None:
            return super().post(request, *args, **kwargs)
        messages.error(request, _locked_out(request, locked, username=username, step="password"))
        response = self.render_to_response(self.get_context_data(form=self.get_form_class()(request)))
        response.status_code = 429
        response["Retry-After"] = str(locked.retry_after_seconds)
        return response

    def form_valid(self, form):
        user = form.get_user()
        device = totp.totp_device_get(user)
        actor = Actor.from_principal(user, ip_address=_ip(self.request))
        if device is None and not totp.totp_required_for(user):
            lockout.login_success_record(username=user.username, ip=_ip(self.request))
            response = super().form_valid(form)
            audit_record(
                actor=actor, action="auth.login", target_type="user", target_id=user.pk, data={"second_factor": None}
            )
            return response
        step = "verify" if device is not None else "enrol"
        _pending_start(self.request, user, step=step, next_url=self.get_success_url())
        audit_record(
            actor=actor, action="auth.password_ok", target_type="user", target_id=user.pk, data={"next_step": step}
        )
        return redirect("login-verify" if step == "verify" else "login-enrol")

    def form_invalid(self, form):
        username = (form.data.get("username") or "")[:150]
        audit_record(
            actor=Actor(type="anonymous", name="anonymous", ip_address=_ip(self.request)),
            action="auth.login_failed",
            target_type="user",
            data={"username": username},
        )
        lockout.login_failure_record(username=username, ip=_ip(self.request))
        return super().form_invalid(form)


@never_cache
@require_http_methods(["GET", "POST"])
def login_verify(request):
    """Step 2: the code from the user's authenticator app."""
    user, data = _pending_user(request, "verify")
    if user is None:
        return _expired(request)
    form = TokenForm(request.POST if request.method == "POST" else None)
    status = 200
    locked = _code_step_locked(request, user, form, "totp") if form.is_bound else None
    if locked is not None:
        status = 429
    elif form.is_bound:
        status = 400
        if form.is_valid():
            result = totp.totp_verify(
                actor=Actor.from_principal(user, ip_address=_ip(request)), user=user, token=form.cleaned_data["token"]
            )
            if result.ok:
                return _complete_login(request, user, data, result.device)
            if result.outcome is totp.VerifyOutcome.NO_DEVICE:
                return _expired(request)
            _code_failed(request, user, result)
            status = _token_error(form, result)
    response = render(request, "registration/login_verify.html", {"form": form, "pending_user": user}, status=status)
    if locked is not None:
        response["Retry-After"] = str(locked.retry_after_seconds)
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def login_enrol(request):
    """Step 2 for provider staff without a device: scan, confirm a code, then they are in."""
    user, data = _pending_user(request, "enrol")
    if user is None or totp.totp_device_get(user) is not None:
        # Someone with a device never enrols here: replacing a device needs the old one (or an admin's reset).
        return _expired(request)
    device = totp.totp_enrolment_device(user)
    form = TokenForm(request.POST if request.method == "POST" else None)
    status = 200
    locked = _code_step_locked(request, user, form, "totp_enrol") if form.is_bound else None
    if locked is not None:
        status = 429
    elif form.is_bound:
        status = 400
        if form.is_valid():
            result = totp.totp_enrol_confirm(
                actor=Actor.from_principal(user, ip_address=_ip(request)), user=user, token=form.cleaned_data["token"]
            )
            if result.ok:
                return _complete_login(request, user, data, result.device, enrolled=True)
            _code_failed(request, user, result)
            status = _token_error(form, result)
    response = render(request, "registration/login_enrol.html", _enrol_context(device, form), status=status)
    response["Cache-Control"] = "private, no-store"
    if locked is not None:
        response["Retry-After"] = str(locked.retry_after_seconds)
    return response


def _enrol_context(device, form) -> dict:
    return {
        "form": form,
        "qr_data_uri": totp.totp_qr_data_uri(device),
        "secret": totp.totp_secret_base32(device),
    }


class LogoutView(auth_views.LogoutView):
    def post(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            audit_record(
                actor=Actor.from_request(request),
                action="auth.logout",
                target_type="user",
                target_id=request.user.pk,
            )
        return super().post(request, *args, **kwargs)


# ---- account page ----------------------------------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
@capability_required("account.manage")
def account(request):
    """Language, password and second factor of the signed-in user."""
    user = request.user
    language_form = LanguageForm(request.POST or None, initial={"language": user.language})
    status = 200
    if request.method == "POST":
        if language_form.is_valid():
            try:
                user_language_set(
                    actor=Actor.from_request(request), user=user, language=language_form.cleaned_data["language"]
                )
            except AccountError as exc:
                field_error(language_form, exc.field, exc.message)
            else:
                messages.success(request, gettext("Language saved."))
                return redirect("account")
        status = 400
    return _account_page(request, language_form=language_form, status=status)


def _account_page(request, *, language_form=None, remove_form=None, status=200):
    user = request.user
    device = totp.totp_device_get(user)
    context = {
        "language_form": language_form or LanguageForm(initial={"language": user.language}),
        "remove_form": remove_form or TotpRemoveForm(),
        "device": device,
        "totp_required": totp.totp_required_for(user),
    }
    return render(request, "accounts/account.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
@capability_required("account.manage")
def account_totp_enrol(request):
    user = request.user
    if totp.totp_device_get(user) is not None:
        messages.info(request, gettext("You already have an authenticator app set up. Remove it first to replace it."))
        return redirect("account")
    device = totp.totp_enrolment_device(user)
    form = TokenForm(request.POST if request.method == "POST" else None)
    status = 200
    if form.is_bound:
        status = 400
        if form.is_valid():
            result = totp.totp_enrol_confirm(
                actor=Actor.from_request(request), user=user, token=form.cleaned_data["token"]
            )
            if result.ok:
                django_otp.login(request, result.device)
                messages.success(request, gettext("Two-step sign-in is on: you will be asked for a code at sign-in."))
                return redirect("account")
            status = _token_error(form, result)
    response = render(request, "accounts/totp_enrol.html", _enrol_context(device, form), status=status)
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
@capability_required("account.manage")
def account_totp_remove(request):
    user = request.user
    form = TotpRemoveForm(request.POST)
    actor = Actor.from_request(request)
    if form.is_valid():
        token, password = form.cleaned_data["token"], form.cleaned_data["password"]
        proven = False
        if token:
            result = totp.totp_verify(actor=actor, user=user, token=token)
            proven = result.ok
            if not proven:
                field = "token"
                message = (
                    gettext("Too many wrong codes. Wait %(seconds)s seconds, then enter the current code.")
                    % {"seconds": result.retry_in_seconds}
                    if result.outcome is totp.VerifyOutcome.THROTTLED
                    else gettext("This code is not valid (wrong, expired or already used).")
                )
        else:
            proven = user.check_password(password)
            if not proven:
                field, message = "password", gettext("The password is not correct.")
                audit_record(
                    actor=actor,
                    action="auth.otp_remove_refused",
                    target_type="user",
                    target_id=user.pk,
                    data={"reason": "password"},
                )
        if proven:
            try:
                totp.totp_remove(actor=actor, user=user)
            except AccountError as exc:
                field_error(form, exc.field, gettext("Provider staff cannot remove their second factor."))
            else:
                messages.success(request, gettext("Two-step sign-in is off."))
                return redirect("account")
        else:
            form.add_error(field, message)
    return _account_page(request, remove_form=form, status=400)


# ---- passwords -------------------------------------------------------------------------------------------------------


@method_decorator(capability_required("account.manage"), name="dispatch")
class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("password_change_done")

    def form_valid(self, form):
        response = super().form_valid(form)
        audit_record(
            actor=Actor.from_request(self.request),
            action="auth.password_changed",
            target_type="user",
            target_id=self.request.user.pk,
        )
        return response


@method_decorator(capability_required("account.manage"), name="dispatch")
class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "registration/password_change_done.html"


class PasswordResetView(auth_views.PasswordResetView):
    """Ask for a reset link. The answer is the same whether or not the address exists."""

    template_name = "registration/password_reset_form.html"
    form_class = TenantPasswordResetForm
    token_generator = password_reset_token
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form):
        actor = Actor(type="anonymous", name="anonymous", ip_address=_ip(self.request))
        # Per network: too many requests get a 429 (nothing about any address is revealed by it).
        per_ip = rate_limit_take(
            name=f"password-reset:ip:{_ip(self.request)}",
            rate=settings.MDR_PASSWORD_RESET_PER_HOUR_IP / 3600,
            burst=settings.MDR_PASSWORD_RESET_PER_HOUR_IP,
        )
        if per_ip is not None and not per_ip.allowed:
            audit_record(actor=actor, action="auth.password_reset_throttled", target_type="user", data={"by": "ip"})
            minutes = max(1, round(per_ip.retry_after_seconds / 60))
            form.add_error(
                None, gettext("Too many requests from your network. Try again in %(n)d minutes.") % {"n": minutes}
            )
            response = self.form_invalid(form)
            response.status_code = 429
            response["Retry-After"] = str(per_ip.retry_after_seconds)
            return response
        # Per address: beyond the limit the answer is the same but no mail goes out (no mailbox flooding, no hint).
        address = hashlib.sha256(form.cleaned_data["email"].casefold().encode()).hexdigest()[:32]
        per_address = rate_limit_take(
            name=f"password-reset:address:{address}",
            rate=settings.MDR_PASSWORD_RESET_PER_HOUR_ADDRESS / 3600,
            burst=settings.MDR_PASSWORD_RESET_PER_HOUR_ADDRESS,
        )
        if per_address is not None and not per_address.allowed:
            audit_record(
                actor=actor, action="auth.password_reset_throttled", target_type="user", data={"by": "address"}
            )
        else:
            form.save(request=self.request, base_url=request_base_url(self.request))
            audit_record(actor=actor, action="auth.password_reset_requested", target_type="user")
        return redirect(self.get_success_url())


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    token_generator = password_reset_token
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        audit_record(
            actor=Actor.from_principal(form.user, ip_address=_ip(self.request)),
            action="auth.password_reset",
            target_type="user",
            target_id=form.user.pk,
        )
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["login_url"] = reverse("login")
        return context
