"""API plumbing shared by every endpoint: the error shape and field-named validation errors."""

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    """DRF's handler, plus domain errors with a ``field`` attribute answered as 400 naming the field."""
    field = getattr(exc, "field", None)
    message = getattr(exc, "message", None)
    if field is not None and message is not None and isinstance(exc, ValueError):
        return Response({"errors": {field: [message]}}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)


class AutoSchema(openapi.AutoSchema):
    """Names nested ``InputSerializer``/``OutputSerializer`` components after their API class (``WhoamiOutput``)."""

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
