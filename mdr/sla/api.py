"""SLA API (provider domain).

- ``GET /api/provider/queue``: every open SLA timer of every customer, nearest breach first, read from the
  public timer index (no customer schema is entered); filters ``customer``, ``priority``, ``metric``.
- ``POST /api/provider/customers/<slug>/sla/policies`` and ``.../sla/calendars``: new policy versions and
  stored calendars (JSON spec, or an ICS file of holidays on top of weekly hours).
- ``POST /api/provider/customers/<slug>/sla/timers/<id>/pause`` / ``resume``: manual pause with a reason.
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from mdr.audit.services import Actor
from mdr.core.provider_api import ProviderCustomerApi
from mdr.sla import services
from mdr.sla.calendar import BusinessCalendar
from mdr.sla.models import SlaTimer
from tenants.models import Customer

MAX_QUEUE = 500


class QueueEntrySerializer(serializers.Serializer):
    customer = serializers.CharField()
    customer_name = serializers.CharField()
    timer_id = serializers.IntegerField()
    subject_type = serializers.CharField()
    subject_id = serializers.CharField()
    metric = serializers.CharField()
    priority = serializers.CharField()
    deadline = serializers.DateTimeField(allow_null=True)
    seconds_left = serializers.IntegerField(allow_null=True, help_text="negative once breached")
    breached = serializers.BooleanField()


class AnalystQueueApi(ProviderCustomerApi):
    read_capability = "alert.read_any"

    @extend_schema(
        parameters=[
            OpenApiParameter("customer", str),
            OpenApiParameter("priority", str, description="comma-separated P1-P4"),
            OpenApiParameter("metric", str),
            OpenApiParameter("limit", int),
        ],
        responses=QueueEntrySerializer(many=True),
    )
    def get(self, request):
        from dataclasses import asdict

        from mdr.sla.selectors import timer_queue_list

        params = request.query_params
        schema = None
        if params.get("customer"):
            schema = Customer.objects.filter(slug=params["customer"]).values_list("schema_name", flat=True).first()
            if schema is None:
                raise NotFound("No such customer.")
        priorities = None
        if params.get("priority"):
            priorities = [p.strip().upper() for p in params["priority"].split(",")]
            if not set(priorities) <= {"P1", "P2", "P3", "P4"}:
                raise ValidationError({"priority": ["P1-P4, comma-separated"]})
        try:
            limit = int(params.get("limit", 100))
        except ValueError:
            raise ValidationError({"limit": ["an integer"]}) from None
        if not 1 <= limit <= MAX_QUEUE:
            raise ValidationError({"limit": [f"between 1 and {MAX_QUEUE}"]})
        entries = timer_queue_list(
            schema_name=schema, priorities=priorities, metric=params.get("metric") or None, limit=limit
        )
        data = [asdict(entry) for entry in entries]
        return Response(QueueEntrySerializer(data, many=True).data)


class PolicyCreateApi(ProviderCustomerApi):
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        warning_thresholds = serializers.ListField(child=serializers.IntegerField(), required=False)
        targets = serializers.ListField(child=serializers.DictField(), min_length=1)

    @extend_schema(request=InputSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, slug: str):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with self.customer(slug):
            try:
                policy = services.policy_create(
                    actor=Actor.from_request(request),
                    name=data.validated_data["name"],
                    targets=data.validated_data["targets"],
                    warning_thresholds=data.validated_data.get("warning_thresholds"),
                )
            except services.SlaError as exc:
                raise ValidationError({exc.field: [exc.message]}) from None
            return Response(
                {"id": policy.pk, "name": policy.name, "version": policy.version}, status=status.HTTP_201_CREATED
            )


class CalendarStoreApi(ProviderCustomerApi):
    """JSON ``{"name", "spec"}``; or ``text/calendar`` (an ICS file) with ``?name=&base=<calendar id>``: the
    base calendar's next version with the file's all-day events added as closed days."""

    @extend_schema(
        request={"application/json": OpenApiTypes.OBJECT, "text/calendar": OpenApiTypes.STR},
        responses={201: OpenApiTypes.OBJECT},
    )
    def post(self, request, slug: str):
        from mdr.sla.models import StoredCalendar

        with self.customer(slug):
            if request.content_type.startswith("text/calendar"):
                base_id = request.query_params.get("base") or "0"
                base = StoredCalendar.objects.filter(pk=base_id).first() if base_id.isdigit() else None
                if base is None:
                    raise ValidationError({"base": ["the id of the stored calendar the holidays are added to"]})
                try:
                    days = BusinessCalendar.holidays_from_ics(request.body)
                except ValueError as exc:
                    raise ValidationError({"file": [str(exc)]}) from None
                spec = dict(base.spec)
                spec["extra_holidays"] = sorted({*spec.get("extra_holidays", []), *(d.isoformat() for d in days)})
                name = request.query_params.get("name") or base.name
            else:
                data = request.data if isinstance(request.data, dict) else {}
                name, spec = data.get("name"), data.get("spec")
                if not name or not isinstance(spec, dict):
                    raise ValidationError({"spec": ['{"name": ..., "spec": BusinessCalendar.to_dict()}']})
            try:
                stored = services.calendar_store(actor=Actor.from_request(request), name=name, spec=spec)
            except services.SlaError as exc:
                raise ValidationError({exc.field: [exc.message]}) from None
            return Response(
                {"id": stored.pk, "name": stored.name, "version": stored.version, "spec": stored.spec},
                status=status.HTTP_201_CREATED,
            )


class TimerPauseApi(ProviderCustomerApi):
    write_capability = "sla.operate"

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=500, required=False, allow_blank=True)

    @extend_schema(request=InputSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request, slug: str, timer_id: int, action: str):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with self.customer(slug):
            timer = SlaTimer.objects.filter(pk=timer_id).first()
            if timer is None:
                raise NotFound("No such timer.")
            actor, now = Actor.from_request(request), timezone.now()
            try:
                if action == "pause":
                    timer = services.timer_pause(
                        timer=timer, at=now, reason=data.validated_data.get("reason", ""), actor=actor
                    )
                else:
                    timer = services.timer_resume(timer=timer, at=now, actor=actor)
            except services.SlaError as exc:
                raise ValidationError({exc.field: [exc.message]}) from None
            return Response({"id": timer.pk, "state": timer.state, "deadline": timer.deadline})
