"""API plumbing shared by every endpoint: the error shape and field-named validation errors."""

from django.http import JsonResponse
from django.views import defaults
from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def not_found(request, exception=None):
    """Django's 404 for an unmatched URL: JSON under ``/api/`` (the API speaks JSON only), the page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def exception_handler(exc, context):
    """DRF's handler, plus domain errors with a ``field`` attribute answered as 400 naming the field."""
    field = getattr(exc, "field", None)
    message = getattr(exc, "message", None)
    if field is not None and message is not None and isinstance(exc, ValueError):
        return Response({"errors": {field: [message]}}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)


ERROR_BODY = inline_serializer(
    "Error",
    {
        "detail": serializers.CharField(required=False, help_text="what is wrong, for a person"),
        "code": serializers.CharField(required=False, help_text="machine-readable reason"),
        "errors": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            required=False,
            help_text="field name -> messages",
        ),
    },
)
# Answers any operation can give (invalid input, no or wrong credentials, not allowed, not found or another
# customer's, database unavailable); an operation documents its others itself. A validation error's body may
# also name fields at the top level (DRF's ``{"field": ["message"]}``), which the open object allows.
COMMON_ERRORS = {
    "400": "Invalid input; the body names the field and the reason.",
    "401": "No or invalid credentials.",
    "403": "Not allowed for these credentials.",
    "404": "No such object (or one of another customer).",
    "503": "Database temporarily unavailable; retry after the Retry-After header's seconds.",
}


class AutoSchema(openapi.AutoSchema):
    """Names nested ``InputSerializer``/``OutputSerializer`` components after their API class (``WhoamiOutput``),
    and documents the common error answers (COMMON_ERRORS) of every operation."""

    def _get_response_bodies(self, direction="response"):
        bodies = super()._get_response_bodies(direction)
        if direction != "response":
            return bodies
        errors = dict(COMMON_ERRORS)
        if self.method in ("POST", "PUT", "PATCH"):
            errors["415"] = "The request body's Content-Type is not accepted."
        for code, description in errors.items():
            if code not in bodies:
                response = self._get_response_for_code(ERROR_BODY, code, direction=direction)
                bodies[code] = {**response, "description": description}
        return bodies

    def _get_serializer_name(self, serializer, direction, bypass_extensions=False):
        name = super()._get_serializer_name(serializer, direction, bypass_extensions)
        qualname = type(serializer).__qualname__
        if "." in qualname:
            return qualname.split(".")[0].removesuffix("Api") + name
        return name

    def get_operation_id(self):
        # A view serving both the collection and ``.../{id}``: its item GET is a retrieve, not a second list.
        operation_id = super().get_operation_id()
        if self.method == "GET" and self.path.rstrip("/").endswith("}") and operation_id.endswith("_list"):
            operation_id = operation_id.removesuffix("_list") + "_retrieve"
        return operation_id

    def is_excluded(self):
        # Methods a view answers only on its item path (``item_only_methods``) are not offered on the collection.
        if self.method in getattr(self.view, "item_only_methods", ()) and not self.path.rstrip("/").endswith("}"):
            return True
        return super().is_excluded()


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "mdr.accounts.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "mdr_<public id>_<secret><checksum>"}
