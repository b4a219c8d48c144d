"""Request middleware that every page and API call passes through."""

import logging

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils import translation
from django_tenants.middleware.main import TenantMainMiddleware

log = logging.getLogger(__name__)


class UserLanguageMiddleware:
    """A signed-in user sees the pages in the language of their profile (``User.language``); anonymous visitors
    keep what ``LocaleMiddleware`` chose from Accept-Language. Sits right after ``AuthenticationMiddleware``."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.supported = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request):
        user = getattr(request, "user", None)
        language = getattr(user, "language", None) if user is not None and user.is_authenticated else None
        if language in self.supported:
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)


class CustomerStatusMiddleware:
    """A suspended or offboarded customer's domain serves nothing but a 403 page: sessions stop at once.

    (API keys are refused by the key authentication, which reads the same status.)
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tenant = getattr(request, "tenant", None)
        if tenant is not None and tenant.schema_name != "public" and tenant.status != "active":
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"detail": "This customer account is suspended.", "code": "customer_suspended"},
                    status=403,
                )
            return HttpResponse(render_to_string("suspended.html", {"tenant": tenant}), status=403)
        return self.get_response(request)


def _is_unavailable(exception: BaseException) -> bool:
    return isinstance(exception, OperationalError | InterfaceError) or (
        isinstance(exception, DatabaseError) and "server closed the connection" in str(exception)
    )


def _unavailable(request, exception) -> JsonResponse:
    log.warning("db.unavailable", extra={"path": request.path, "error": str(exception)[:200]})
    response = JsonResponse({"detail": "Database temporarily unavailable.", "code": "unavailable"}, status=503)
    response["Retry-After"] = "5"
    return response


class TenantRoutingMiddleware(TenantMainMiddleware):
    """django-tenants' host-to-schema routing, answering 503 (not 500) when the domain lookup cannot reach
    the database."""

    def process_request(self, request):
        if request.path == "/healthz":  # liveness never depends on the database (or on the host name)
            return JsonResponse({"status": "ok"})
        try:
            return super().process_request(request)
        except DatabaseError as exc:
            if _is_unavailable(exc):
                return _unavailable(request, exc)
            raise

    def process_response(self, request, response):
        # Leave the thread's connection in public: nothing after a request may run in its tenant by accident.
        connection.set_schema_to_public()
        return response


class DatabaseUnavailableMiddleware:
    """While PostgreSQL is unreachable, answer 503 with Retry-After instead of a 500, and recover by itself."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        return _unavailable(request, exception) if _is_unavailable(exception) else None


class SecurityHeadersMiddleware:
    """The Content-Security-Policy header (``MDR_CSP``) on every response that has none yet. The one exception is
    the vendored Swagger UI at ``/api/docs/``, whose script sets inline styles: there styles may be inline (scripts
    still may not)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = settings.MDR_CSP
        if request.path.startswith("/api/docs/"):
            policy = policy.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
        response.headers.setdefault("Content-Security-Policy", policy)
        return response
