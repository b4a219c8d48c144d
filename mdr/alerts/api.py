"""Alert API: ``POST /api/v1/alerts`` (ingest, key scope ``ingest``) and reading alerts (``read`` keys, users).

On the provider domain a key's request runs in the key's customer schema (authentication moves it there);
provider staff read a customer's alerts with ``?customer=<slug>``, which enters that schema explicitly and
writes an audit record the customer can see in its access log.
"""

from __future__ import annotations

from datetime import timedelta, timezone

import orjson
from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.utils import timezone as dj_timezone
from django_tenants.utils import schema_context
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from mdr.accounts.permissions import HasCapability, KeyPrincipal, has_capability
from mdr.alerts.adapters import FORMATS
from mdr.alerts.parsing import BodyError, Limits, parse_body, read_body
from mdr.alerts.selectors import DEFAULT_PAGE, MAX_PAGE, FilterError, alert_filters_from_params, alert_get, alert_list
from mdr.alerts.services import IdempotencyConflict, IdempotencyRequest, alert_ingest
from mdr.audit.services import Actor, audit_record
from mdr.core.api import ERROR_BODY
from mdr.core.provider_api import ProviderCustomerApi
from mdr.core.ratelimit import rate_limit_take
from tenants.selectors import customer_get

SEVERITY_LABELS = ["unknown", "informational", "low", "medium", "high", "critical", "fatal"]


def _json(body, status: int, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(orjson.dumps(body), status=status, content_type="application/json")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _limits() -> Limits:
    return Limits(
        max_body_bytes=settings.MDR_INGEST_MAX_BODY_BYTES,
        max_item_bytes=settings.MDR_INGEST_MAX_ITEM_BYTES,
        max_items=settings.MDR_INGEST_MAX_ITEMS,
        max_depth=settings.MDR_INGEST_MAX_DEPTH,
    )


class AlertListSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    severity_id = serializers.IntegerField(help_text="OCSF: 0 unknown, 1 informational ... 5 critical, 6 fatal")
    severity = serializers.SerializerMethodField()
    severity_raw = serializers.CharField()
    source_format = serializers.CharField()
    source_product = serializers.CharField()
    source_vendor = serializers.CharField()
    category = serializers.CharField()
    rule_id = serializers.CharField()
    rule_name = serializers.CharField()
    tactics = serializers.ListField(child=serializers.CharField())
    techniques = serializers.ListField(child=serializers.CharField())
    observed_at = serializers.SerializerMethodField(help_text="the source's time, in the source's UTC offset")
    received_at = serializers.DateTimeField()
    hosts = serializers.ListField(child=serializers.CharField())
    ips = serializers.ListField(child=serializers.CharField())
    users = serializers.ListField(child=serializers.CharField())
    cloud_provider = serializers.CharField()
    cloud_account = serializers.CharField()
    cloud_region = serializers.CharField()
    occurrence_count = serializers.IntegerField()
    first_seen_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField()
    status = serializers.CharField()
    scope_status = serializers.CharField()
    scope_reason = serializers.CharField()
    priority = serializers.CharField()
    incident_id = serializers.UUIDField(allow_null=True)
    assignee = serializers.CharField()
    classification = serializers.CharField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)

    def get_severity(self, alert) -> str:
        return SEVERITY_LABELS[alert.severity_id]

    def get_observed_at(self, alert) -> str:
        when = alert.observed_at
        if alert.observed_offset_minutes is not None:
            when = when.astimezone(timezone(timedelta(minutes=alert.observed_offset_minutes)))
        return when.isoformat()


class AlertDetailSerializer(AlertListSerializer):
    description = serializers.CharField()
    external_id = serializers.CharField()
    dedup_key = serializers.CharField()
    raw = serializers.JSONField()


class _TenantReadMixin:
    """Reading alerts: in the current customer schema, or (provider staff) in ``?customer=``'s schema."""

    def enter_customer(self, request):
        if connection.schema_name != "public":
            if not has_capability(request.user, "alert.read"):
                raise PermissionDenied("Reading alerts needs a 'read' API key or a customer login.")
            return None
        if isinstance(request.user, KeyPrincipal) or not has_capability(request.user, "alert.read_any"):
            raise PermissionDenied("Not allowed to read alerts.")
        slug = request.query_params.get("customer")
        if not slug:
            raise ValidationError({"customer": ["required on the provider domain: the customer's slug"]})
        return customer_get(slug=slug)


class _IgnoreFormatParam(DefaultContentNegotiation):
    """``?format=`` names the alert format here, not DRF's renderer override."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class AlertCollectionApi(_TenantReadMixin, APIView):
    """POST: ingest alerts. GET: list alerts (filters, cursor pagination)."""

    permission_classes = [HasCapability]
    content_negotiation_class = _IgnoreFormatParam

    @property
    def required_capability(self) -> str:
        return "alert.ingest" if self.request.method == "POST" else "whoami"

    @extend_schema(
        operation_id="alerts_ingest",
        parameters=[
            OpenApiParameter("format", str, enum=list(FORMATS), description="omit to detect the format per item"),
            OpenApiParameter("Idempotency-Key", str, location=OpenApiParameter.HEADER, required=False),
        ],
        request={
            "application/json": OpenApiTypes.OBJECT,
            "application/x-ndjson": OpenApiTypes.STR,
            "text/plain": OpenApiTypes.STR,
        },
        responses={
            202: inline_serializer(
                "IngestResult",
                {
                    "accepted": serializers.IntegerField(help_text="new alerts created"),
                    "duplicates": serializers.IntegerField(help_text="items that matched an existing alert"),
                    "rejected": serializers.ListField(child=serializers.DictField()),
                    "alerts": serializers.ListField(child=serializers.DictField()),
                },
            ),
            409: OpenApiResponse(ERROR_BODY, description="Idempotency-Key used before with a different body"),
            413: OpenApiResponse(ERROR_BODY, description="body, item or item count over the limit"),
            415: OpenApiResponse(ERROR_BODY, description="Content-Type or Content-Encoding not accepted"),
            429: OpenApiResponse(ERROR_BODY, description="rate limit exceeded; see Retry-After"),
        },
    )
    def post(self, request):
        principal: KeyPrincipal = request.user
        fmt = request.query_params.get("format") or None
        if fmt is not None and fmt not in FORMATS:
            return _json({"errors": {"format": [f"unknown format {fmt!r}; one of {', '.join(FORMATS)}"]}}, 400)
        customer = connection.tenant
        decision = rate_limit_take(
            name=f"apikey:{principal.public_id}",
            rate=getattr(customer, "ingest_rate_per_second", None) or settings.MDR_INGEST_RATE_PER_SECOND,
            burst=getattr(customer, "ingest_burst", None) or settings.MDR_INGEST_BURST,
        )
        headers = decision.headers() if decision else {}
        if decision and not decision.allowed:
            return _json(
                {"detail": f"rate limit exceeded; retry in {decision.retry_after_seconds}s", "code": "rate_limited"},
                429,
                headers,
            )
        idempotency_key = request.headers.get("Idempotency-Key")
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= 255:
            return _json({"errors": {"Idempotency-Key": ["must be 1-255 characters"]}}, 400, headers)
        limits = _limits()
        try:
            body = read_body(
                request._request, content_encoding=request.headers.get("Content-Encoding", ""), limits=limits
            )
            parsed = parse_body(body, content_type=request.content_type, limits=limits)
        except BodyError as exc:
            return _json({"detail": exc.message, "code": exc.code}, exc.status, headers)
        if parsed.single and parsed.items[0].error:
            return _json({"detail": "; ".join(parsed.items[0].error["item"]), "code": "invalid_item"}, 400, headers)
        idempotency = (
            IdempotencyRequest.for_request(idempotency_key, body=body, fmt=fmt, content_type=request.content_type)
            if idempotency_key
            else None
        )
        try:
            result = alert_ingest(
                items=parsed.items,
                fmt=fmt,
                received_at=dj_timezone.now(),
                api_key_public_id=principal.public_id,
                idempotency=idempotency,
            )
        except IdempotencyConflict:
            return _json(
                {"detail": "Idempotency-Key was already used with a different request body", "code": "conflict"},
                409,
                headers,
            )
        if result.replayed:
            headers["Idempotent-Replayed"] = "true"
        return _json(result.body, result.status_code, headers)

    @extend_schema(
        operation_id="alerts_list",
        parameters=[
            OpenApiParameter("since", OpenApiTypes.DATETIME),
            OpenApiParameter("until", OpenApiTypes.DATETIME),
            OpenApiParameter("severity", str, description="comma-separated 0-6 or names"),
            OpenApiParameter("status", str),
            OpenApiParameter("scope_status", str),
            OpenApiParameter("source", str, description="format or product"),
            OpenApiParameter("host", str),
            OpenApiParameter("q", str, description="text in title or rule"),
            OpenApiParameter("cursor", str),
            OpenApiParameter("limit", int),
            OpenApiParameter("customer", str, description="provider domain only: the customer's slug"),
        ],
        responses=inline_serializer(
            "AlertPage",
            {"results": AlertListSerializer(many=True), "next_cursor": serializers.CharField(allow_null=True)},
        ),
    )
    def get(self, request):
        customer = self.enter_customer(request)
        try:
            filters = alert_filters_from_params(request.query_params)
            limit = int(request.query_params.get("limit", DEFAULT_PAGE))
        except FilterError as exc:
            raise ValidationError({exc.field: [exc.message]}) from None
        except ValueError:
            raise ValidationError({"limit": ["must be an integer"]}) from None
        if not 1 <= limit <= MAX_PAGE:
            raise ValidationError({"limit": [f"must be between 1 and {MAX_PAGE}"]})
        cursor = request.query_params.get("cursor")

        def page():
            try:
                alerts, next_cursor = alert_list(filters=filters, cursor=cursor, limit=limit)
            except FilterError as exc:
                raise ValidationError({exc.field: [exc.message]}) from None
            return {"results": AlertListSerializer(alerts, many=True).data, "next_cursor": next_cursor}

        if customer is None:
            return Response(page())
        with schema_context(customer.schema_name):
            audit_record(
                actor=Actor.from_request(request),
                action="provider.alerts.list",
                target_type="alert",
                data={"filters": dict(request.query_params.lists())},
            )
            return Response(page())


class AlertDetailApi(_TenantReadMixin, APIView):
    """One alert with its normalised fields and the raw payload as received."""

    permission_classes = [HasCapability]
    required_capability = "whoami"

    @extend_schema(
        operation_id="alerts_retrieve", responses=AlertDetailSerializer, parameters=[OpenApiParameter("customer", str)]
    )
    def get(self, request, alert_id: str):
        customer = self.enter_customer(request)
        schema = customer.schema_name if customer else connection.schema_name
        with schema_context(schema):
            alert = alert_get(alert_id=alert_id)
            if alert is None:
                raise NotFound("No such alert.")
            if customer is not None:
                audit_record(
                    actor=Actor.from_request(request),
                    action="provider.alert.view",
                    target_type="alert",
                    target_id=alert.pk,
                )
            return Response(AlertDetailSerializer(alert).data)


class AlertTriageApi(ProviderCustomerApi):
    """Provider analysts act on one alert of a customer: acknowledge, assign, classify, comment, reopen."""

    write_capability = "alert.triage"
    ACTIONS = ("acknowledge", "assign", "classify", "comment", "reopen")

    class InputSerializer(serializers.Serializer):
        assignee = serializers.CharField(required=False, allow_blank=True, max_length=200)
        classification = serializers.CharField(required=False)
        reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)
        text = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
        close = serializers.BooleanField(required=False, default=True)

    @extend_schema(request=InputSerializer, responses=AlertDetailSerializer)
    def post(self, request, slug: str, alert_id: str, action: str):
        from mdr.alerts import triage

        if action not in self.ACTIONS:
            raise NotFound(f"Unknown action; one of {', '.join(self.ACTIONS)}.")
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        args = data.validated_data
        actor = Actor.from_request(request)
        with self.customer(slug):
            alert = alert_get(alert_id=alert_id)
            if alert is None:
                raise NotFound("No such alert.")
            try:
                if action == "acknowledge":
                    alert = triage.alert_acknowledge(alert=alert, actor=actor)
                elif action == "assign":
                    alert = triage.alert_assign(alert=alert, assignee=args.get("assignee", ""), actor=actor)
                elif action == "classify":
                    alert = triage.alert_classify(
                        alert=alert,
                        classification=args.get("classification", ""),
                        reason=args.get("reason", ""),
                        close=args["close"],
                        actor=actor,
                    )
                elif action == "comment":
                    triage.alert_comment(alert=alert, text=args.get("text", ""), actor=actor)
                    alert.refresh_from_db()
                else:
                    alert = triage.alert_reopen(alert=alert, reason=args.get("reason", ""), actor=actor)
            except triage.TriageError as exc:
                raise ValidationError({exc.field: [exc.message]}) from None
            return Response(AlertDetailSerializer(alert).data)
