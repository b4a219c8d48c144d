"""Customer API: who am I, and the customer's users."""

from django.db import connection
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from mdr.accounts.permissions import HasCapability, KeyPrincipal
from mdr.accounts.selectors import user_list


class WhoamiApi(APIView):
    """Which principal and tenant a credential resolves to: lets a customer check a key before using it."""

    permission_classes = [HasCapability]
    required_capability = "whoami"

    class OutputSerializer(serializers.Serializer):
        principal = serializers.CharField()
        kind = serializers.ChoiceField(choices=["api_key", "user"])
        tenant = serializers.CharField()
        scopes = serializers.ListField(child=serializers.CharField())
        role = serializers.CharField()

    @extend_schema(responses=OutputSerializer)
    def get(self, request):
        principal = request.user
        is_key = isinstance(principal, KeyPrincipal)
        data = {
            "principal": str(principal) if is_key else principal.username,
            "kind": "api_key" if is_key else "user",
            "tenant": connection.schema_name,
            "scopes": list(principal.scopes) if is_key else [],
            "role": "" if is_key else principal.role,
        }
        return Response(self.OutputSerializer(data).data)


class UserListApi(APIView):
    """The users of this customer (never another customer's)."""

    permission_classes = [HasCapability]
    required_capability = "user.list"

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        username = serializers.CharField()
        email = serializers.CharField(help_text="may be empty")
        role = serializers.CharField()
        is_active = serializers.BooleanField()

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request):
        return Response(self.OutputSerializer(user_list(), many=True).data)
