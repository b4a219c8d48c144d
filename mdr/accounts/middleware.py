"""Defence in depth for the provider's second factor: whatever view let it happen, a provider staff session that
did not pass TOTP does not survive a request while ``MDR_PROVIDER_TOTP_REQUIRED`` is on."""

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse

from mdr.audit.services import Actor, audit_record


class ProviderTotpMiddleware:
    """On the provider domain, log out an authenticated session whose user is not ``is_verified()`` (set by
    django-otp's OTPMiddleware, which sits before this one): pages go to the login page, the API answers 403.
    A request with an API key is not a session: it goes on and the key authenticates it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.MDR_PROVIDER_TOTP_REQUIRED and self._unverified_staff(request):
            user = request.user
            audit_record(
                actor=Actor.from_request(request),
                action="auth.session_unverified",
                target_type="user",
                target_id=user.pk,
                data={"path": request.path[:200]},
            )
            logout(request)
            if request.path.startswith("/api/"):
                if request.headers.get("Authorization"):
                    return self.get_response(request)
                return JsonResponse(
                    {"detail": "A second factor is required for provider staff.", "code": "otp_required"},
                    status=403,
                )
            return redirect_to_login(request.get_full_path())
        return self.get_response(request)

    @staticmethod
    def _unverified_staff(request) -> bool:
        tenant = getattr(request, "tenant", None)
        user = getattr(request, "user", None)
        if tenant is None or tenant.schema_name != "public" or user is None or not user.is_authenticated:
            return False
        is_verified = getattr(user, "is_verified", None)
        return not (is_verified is not None and is_verified())
