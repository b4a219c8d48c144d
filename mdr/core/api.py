"""API plumbing shared by every endpoint: the error shape and field-named validation errors."""

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
