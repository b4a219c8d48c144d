"""Provider API (provider domain only): onboard, list, suspend and resume customers; issue and revoke keys."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from mdr.accounts.permissions import HasCapability
from mdr.accounts.services import apikey_create, apikey_revoke
from mdr.audit.services import Actor
from tenants.models import ApiKeyScope
from tenants.selectors import customer_get, customer_list
from tenants.services import customer_onboard, customer_resume, customer_suspend


class CustomerOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    schema = serializers.CharField(source="schema_name")
    status = serializers.CharField()
    timezone = serializers.CharField()
    language = serializers.CharField()
    created_at = serializers.DateTimeField()


class CustomerListCreateApi(APIView):
    permission_classes = [HasCapability]

    @property
    def required_capability(self):
        return "customer.onboard" if self.request.method == "POST" else "customer.list"

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        slug = serializers.CharField(max_length=40)
        admin_email = serializers.EmailField(required=False, default="")
        timezone = serializers.CharField(required=False, default="Asia/Tokyo", max_length=64)
        language = serializers.ChoiceField(choices=["ja", "en"], required=False, default="ja")

    class OnboardOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        name = serializers.CharField()
        slug = serializers.CharField()
        schema = serializers.CharField()
        domain = serializers.CharField()
        url = serializers.CharField()
        admin_username = serializers.CharField()
        admin_password = serializers.CharField()
        api_key = serializers.CharField()

    @extend_schema(responses=CustomerOutputSerializer(many=True))
    def get(self, request):
        return Response(CustomerOutputSerializer(customer_list(), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: OnboardOutputSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = customer_onboard(
            actor=Actor.from_request(request),
            name=data.validated_data["name"],
            slug=data.validated_data["slug"],
            admin_email=data.validated_data["admin_email"],
            timezone_name=data.validated_data["timezone"],
            language=data.validated_data["language"],
        )
        return Response(self.OnboardOutputSerializer(result.as_dict()).data, status=status.HTTP_201_CREATED)


class CustomerSuspendApi(APIView):
    permission_classes = [HasCapability]
    required_capability = "customer.suspend"

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=500)

    @extend_schema(request=InputSerializer, responses=CustomerOutputSerializer)
    def post(self, request, slug: str):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        customer = customer_suspend(
            actor=Actor.from_request(request),
            customer=customer_get(slug=slug),
            reason=data.validated_data["reason"],
        )
        return Response(CustomerOutputSerializer(customer).data)


class CustomerResumeApi(APIView):
    permission_classes = [HasCapability]
    required_capability = "customer.suspend"

    @extend_schema(request=None, responses=CustomerOutputSerializer)
    def post(self, request, slug: str):
        customer = customer_resume(actor=Actor.from_request(request), customer=customer_get(slug=slug))
        return Response(CustomerOutputSerializer(customer).data)


class ApiKeyOutputSerializer(serializers.Serializer):
    public_id = serializers.CharField()
    name = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class CustomerApiKeyCreateApi(APIView):
    permission_classes = [HasCapability]
    required_capability = "apikey.manage_any"

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100)
        scopes = serializers.ListField(child=serializers.ChoiceField(choices=ApiKeyScope.choices), min_length=1)

    class OutputSerializer(ApiKeyOutputSerializer):
        api_key = serializers.CharField(help_text="Shown once; only its digest is stored.")

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request, slug: str):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issued = apikey_create(
            actor=Actor.from_request(request),
            customer=customer_get(slug=slug),
            name=data.validated_data["name"],
            scopes=data.validated_data["scopes"],
        )
        payload = ApiKeyOutputSerializer(issued.key).data | {"api_key": issued.plaintext}
        return Response(payload, status=status.HTTP_201_CREATED)


class CustomerApiKeyRevokeApi(APIView):
    permission_classes = [HasCapability]
    required_capability = "apikey.manage_any"

    @extend_schema(request=None, responses=ApiKeyOutputSerializer)
    def post(self, request, slug: str, public_id: str):
        customer = customer_get(slug=slug)
        key = customer.api_keys.filter(public_id=public_id).first()
        if key is None:
            return Response({"detail": "No such API key."}, status=status.HTTP_404_NOT_FOUND)
        key = apikey_revoke(actor=Actor.from_request(request), key=key)
        return Response(ApiKeyOutputSerializer(key).data)
