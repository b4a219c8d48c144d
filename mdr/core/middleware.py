"""Request middleware that every page and API call passes through."""

import logging

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

log = logging.getLogger(__name__)


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


class DatabaseUnavailableMiddleware:
    """While PostgreSQL is unreachable, answer 503 with Retry-After instead of a 500, and recover by itself."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, OperationalError | InterfaceError) or (
            isinstance(exception, DatabaseError) and "server closed the connection" in str(exception)
        ):
            log.warning("db.unavailable", extra={"path": request.path, "error": str(exception)[:200]})
            response = JsonResponse({"detail": "Database temporarily unavailable.", "code": "unavailable"}, status=503)
            response["Retry-After"] = "5"
            return response
        return None
