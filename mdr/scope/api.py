"""Contract and scope API.

Provider domain (``/api/provider/customers/<slug>/...``): provider admins create and publish contract versions,
import scope items and assets (CSV or JSON, per-row errors), set entitlements, reclassify; provider staff read.
Every request enters the customer's schema explicitly, and the services audit into that schema, so the customer
sees who changed what. Customer domain (``/api/v1/contract``): the customer's own contract, read-only.
"""

from __future__ import annotations

from datetime import date

from django.db import connection
from django.http import Http404
from django.utils import timezone as dj_timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from mdr.accounts.permissions import HasCapability
from mdr.audit.services import Actor
from mdr.core.provider_api import ProviderCustomerApi
from mdr.scope import selectors, services
from mdr.scope.models import ContractVersion


class ScopeItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    value = serializers.CharField()
    provider = serializers.CharField()
    region = serializers.CharField()
    criticality = serializers.CharField()
    included = serializers.BooleanField()
    remediation_allowed = serializers.BooleanField()
    label = serializers.CharField()
    heartbeat_hours = serializers.IntegerField(allow_null=True)


class EntitlementSerializer(serializers.Serializer):
    metric = serializers.CharField()
    limit = serializers.DecimalField(max_digits=14, decimal_places=3)
    tolerance_pct = serializers.DecimalField(max_digits=5, decimal_places=2)
    measurement = serializers.CharField()
    over_limit_policy = serializers.CharField()


class VersionSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    status = serializers.CharField()
    valid_from = serializers.DateTimeField(allow_null=True)
    valid_to = serializers.DateTimeField(allow_null=True)
    service_tier = serializers.CharField()
    response_mode = serializers.CharField()
    timezone = serializers.CharField()
    coverage = serializers.JSONField()
    priority_matrix = serializers.JSONField()
    sla_policy_id = serializers.IntegerField(allow_null=True)
    report_recipients = serializers.ListField(child=serializers.CharField())
    report_language = serializers.CharField()
    change_note = serializers.CharField()
    created_by = serializers.CharField()
    published_by = serializers.CharField()
    published_at = serializers.DateTimeField(allow_null=True)


class VersionDetailSerializer(VersionSerializer):
    scope_items = ScopeItemSerializer(many=True)
    entitlements = EntitlementSerializer(many=True)


class TermsSerializer(serializers.Serializer):
    service_tier = serializers.CharField(required=False, max_length=50)
    priority_matrix = serializers.JSONField(required=False)
    sla_policy_id = serializers.IntegerField(required=False, allow_null=True)
    response_mode = serializers.CharField(required=False)
    timezone = serializers.CharField(required=False)
    coverage = serializers.JSONField(required=False)
    report_recipients = serializers.ListField(child=serializers.EmailField(), required=False)
    report_language = serializers.CharField(required=False)
    change_note = serializers.CharField(required=False, allow_blank=True)


def _errors(exc: services.ScopeError) -> ValidationError:
    return ValidationError({exc.field: [exc.message]})


class _ScopeApi(ProviderCustomerApi):
    def version(self, number: int) -> ContractVersion:
        contract = selectors.contract_current()
        version = contract and contract.versions.filter(number=number).first()
        if version is None:
            raise Http404("No such contract version.")
        return version


class ContractApi(_ScopeApi):
    """The customer's contract and all its versions (newest last)."""

    @extend_schema(
        responses=inline_serializer(
            "Contract",
            {"name": serializers.CharField(allow_null=True), "versions": VersionSerializer(many=True)},
        )
    )
    def get(self, request, slug: str):
        with self.customer(slug, view_action="provider.contract.view"):
            contract = selectors.contract_current()
            versions = list(selectors.version_list(contract=contract)) if contract else []
            return Response(
                {"name": contract.name if contract else None, "versions": VersionSerializer(versions, many=True).data}
            )


class VersionCreateApi(_ScopeApi):
    """Start a draft version (copies the latest version's terms, scope and entitlements), then change it."""

    class InputSerializer(TermsSerializer):
        copy_from = serializers.IntegerField(required=False, help_text="version number to copy (default: latest)")

    @extend_schema(request=InputSerializer, responses={201: VersionSerializer})
    def post(self, request, slug: str):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        terms = {k: v for k, v in data.validated_data.items() if k != "copy_from"}
        with self.customer(slug):
            contract = selectors.contract_current()
            base = self.version(data.validated_data["copy_from"]) if "copy_from" in data.validated_data else None
            try:
                draft = services.version_draft_create(
                    actor=Actor.from_request(request), contract=contract, copy_from=base, terms=terms
                )
            except services.ScopeError as exc:
                raise _errors(exc) from None
            return Response(VersionSerializer(draft).data, status=status.HTTP_201_CREATED)


class VersionDetailApi(_ScopeApi):
    @extend_schema(responses=VersionDetailSerializer)
    def get(self, request, slug: str, number: int):
        with self.customer(slug, view_action="provider.contract.view"):
            version = self.version(number)
            return Response(VersionDetailSerializer(version).data)

    @extend_schema(request=TermsSerializer, responses=VersionSerializer)
    def patch(self, request, slug: str, number: int):
        data = TermsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with self.customer(slug):
            try:
                version = services.version_draft_update(
                    actor=Actor.from_request(request), version=self.version(number), terms=data.validated_data
                )
            except services.ScopeError as exc:
                raise _errors(exc) from None
            return Response(VersionSerializer(version).data)


class VersionPublishApi(_ScopeApi):
    class InputSerializer(serializers.Serializer):
        effective_date = serializers.DateField(help_text="in the version's time zone; today or later")

    @extend_schema(request=InputSerializer, responses=VersionSerializer)
    def post(self, request, slug: str, number: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with self.customer(slug):
            try:
                version = services.version_publish(
                    actor=Actor.from_request(request),
                    version=self.version(number),
                    effective_date=data.validated_data["effective_date"],
                )
            except services.ScopeError as exc:
                raise _errors(exc) from None
            return Response(VersionSerializer(version).data)


class ImportResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.DictField())


def _upload_rows(request) -> list[dict]:
    if request.content_type.split(";")[0].strip() == "application/json":
        data = request.data
        rows = data if isinstance(data, list) else data.get("rows") if isinstance(data, dict) else None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ValidationError({"rows": ["a JSON list of objects (or {'rows': [...]})"]})
        return rows
    try:
        return services.rows_from_upload(content=request.body, content_type=request.content_type)
    except services.ScopeError as exc:
        raise _errors(exc) from None


class ScopeItemsImportApi(_ScopeApi):
    """Add scope items to a draft: CSV (header: kind,value,provider,region,criticality,included,
    remediation_allowed,label,heartbeat_hours) or JSON. ``?replace=1`` replaces the draft's items."""

    @extend_schema(
        request={"text/csv": OpenApiTypes.STR, "application/json": OpenApiTypes.OBJECT},
        responses=ImportResultSerializer,
    )
    def post(self, request, slug: str, number: int):
        rows = _upload_rows(request)
        with self.customer(slug):
            try:
                result = services.scope_items_import(
                    actor=Actor.from_request(request),
                    version=self.version(number),
                    rows=rows,
                    replace=request.query_params.get("replace") == "1",
                )
            except services.ScopeError as exc:
                raise _errors(exc) from None
        return Response(result.as_dict(), status=status.HTTP_200_OK)


class EntitlementsApi(_ScopeApi):
    @extend_schema(request=EntitlementSerializer(many=True), responses=EntitlementSerializer(many=True))
    def put(self, request, slug: str, number: int):
        if not isinstance(request.data, list):
            raise ValidationError({"entitlements": ["a JSON list"]})
        with self.customer(slug):
            try:
                built = services.entitlements_set(
                    actor=Actor.from_request(request), version=self.version(number), entitlements=request.data
                )
            except services.ScopeError as exc:
                raise _errors(exc) from None
            return Response(EntitlementSerializer(built, many=True).data)


class AssetsImportApi(ProviderCustomerApi):
    """Inventory import: CSV (header: hostname,ips,kind,criticality,groups,owner; ips space/semicolon
    separated, groups semicolon separated) or JSON; upsert by host name."""

    @extend_schema(
        request={"text/csv": OpenApiTypes.STR, "application/json": OpenApiTypes.OBJECT},
        responses=ImportResultSerializer,
    )
    def post(self, request, slug: str):
        rows = _upload_rows(request)
        with self.customer(slug):
            result = services.assets_import(actor=Actor.from_request(request), rows=rows)
        return Response(result.as_dict())


class DriftSerializer(serializers.Serializer):
    identifier = serializers.CharField()
    kind = serializers.CharField()
    first_seen_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField()
    occurrences = serializers.IntegerField()
    status = serializers.CharField()
    drift_opened_at = serializers.DateTimeField(allow_null=True)


class DegradationSerializer(serializers.Serializer):
    display_name = serializers.CharField()
    started_at = serializers.DateTimeField()
    detected_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    heartbeat_hours = serializers.IntegerField()
    reason = serializers.CharField()


class DriftListApi(ProviderCustomerApi):
    @extend_schema(responses=DriftSerializer(many=True))
    def get(self, request, slug: str):
        with self.customer(slug, view_action="provider.drift.view"):
            items = selectors.drift_list(status=request.query_params.get("status") or None)[:500]
            return Response(DriftSerializer(items, many=True).data)


class ReclassifyApi(ProviderCustomerApi):
    class InputSerializer(serializers.Serializer):
        since = serializers.DateTimeField(required=False, help_text="only alerts observed since then")

    @extend_schema(request=InputSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request, slug: str):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with self.customer(slug):
            count = services.alerts_reclassify(
                actor=Actor.from_request(request), since=data.validated_data.get("since")
            )
        return Response({"reclassified": count})


class UsageSerializer(serializers.Serializer):
    metric = serializers.CharField()
    measurement = serializers.CharField()
    limit = serializers.DecimalField(max_digits=14, decimal_places=3)
    tolerance_pct = serializers.DecimalField(max_digits=5, decimal_places=2)
    policy = serializers.CharField()
    used = serializers.DecimalField(max_digits=20, decimal_places=3)
    over = serializers.BooleanField()


def _overview(month: date | None = None) -> dict:
    overview = selectors.contract_overview(at=dj_timezone.now(), month=month)
    return {
        "version": VersionDetailSerializer(overview.version).data if overview.version else None,
        "month": overview.month.isoformat() if overview.month else None,
        "usage": UsageSerializer(overview.usage, many=True).data,
        "degraded": DegradationSerializer(overview.degraded, many=True).data,
    }


class CustomerContractApi(APIView):
    """The customer's own contract, read-only: terms, scope, usage against entitlements, degraded sources."""

    permission_classes = [HasCapability]
    required_capability = "contract.read"

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        if connection.schema_name == "public":
            raise PermissionDenied("Use your customer domain.")
        return Response(_overview())


class ProviderUsageApi(ProviderCustomerApi):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, slug: str):
        month = request.query_params.get("month")
        try:
            month_date = date.fromisoformat(f"{month}-01") if month else None
        except ValueError:
            raise ValidationError({"month": ["YYYY-MM"]}) from None
        with self.customer(slug, view_action="provider.contract.view"):
            return Response(_overview(month=month_date))
