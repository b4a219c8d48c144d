"""Incident API.

Provider domain (``/api/provider/customers/<slug>/incidents``): analysts list, read (full timeline), create by
hand, and act: ``transition``, ``priority``, ``note``, ``merge``, ``split``. Customer domain
(``/api/v1/incidents``): the customer's incidents with the customer-visible part of the timeline only, and their
recommended actions (``/api/v1/incidents/<id>/actions``): any customer role or a ``read`` key reads them; setting a
status (``PATCH .../actions/<action_id>``) needs a signed-in customer admin or CSIRT member: an API key never
speaks for a person, and the status tells the SOC what someone at the customer did.
"""

from __future__ import annotations

import uuid

from django.db import connection
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from mdr.accounts.permissions import HasCapability, has_capability
from mdr.alerts.models import Alert
from mdr.audit.services import Actor
from mdr.core.provider_api import ProviderCustomerApi
from mdr.escalations import services as escalation_services
from mdr.incidents import selectors, services
from mdr.incidents.models import OPEN_STATES, ActionStatus, Incident, Visibility


class EventSerializer(serializers.Serializer):
    kind = serializers.CharField()
    at = serializers.DateTimeField()
    actor = serializers.CharField()
    visibility = serializers.CharField()
    text = serializers.CharField()
    data = serializers.JSONField()


class IncidentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    state = serializers.CharField()
    severity_id = serializers.IntegerField()
    priority = serializers.CharField()
    alert_count = serializers.IntegerField()
    first_alert_at = serializers.DateTimeField(allow_null=True)
    last_alert_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    merged_into = serializers.UUIDField(allow_null=True)
    notified_at = serializers.DateTimeField(allow_null=True)
    customer_acknowledged_at = serializers.DateTimeField(allow_null=True)
    customer_unreachable_at = serializers.DateTimeField(allow_null=True)


class RecommendedActionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    position = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ActionStatus.choices)
    note = serializers.CharField()
    status_by = serializers.CharField()
    status_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


def _get(incident_id: str) -> Incident:
    try:
        pk = uuid.UUID(str(incident_id))
    except ValueError:
        raise NotFound("No such incident.") from None
    incident = Incident.objects.filter(pk=pk).first()
    if incident is None:
        raise NotFound("No such incident.")
    return incident


def _detail(incident: Incident, *, customer_view: bool) -> dict:
    from mdr.escalations.selectors import escalation_list_for_incident

    timeline = incident.timeline.order_by("at", "id")
    if customer_view:
        timeline = timeline.filter(visibility=Visibility.CUSTOMER)
    return IncidentSerializer(incident).data | {
        "timeline": EventSerializer(timeline, many=True).data,
        "alert_ids": [str(pk) for pk in Alert.objects.filter(incident_id=incident.pk).values_list("pk", flat=True)],
        "escalations": escalation_list_for_incident(incident_id=incident.pk, with_attempts=not customer_view),
        "recommended_actions": RecommendedActionSerializer(
            selectors.recommended_action_list(incident=incident), many=True
        ).data,
    }


class ProviderIncidentsApi(ProviderCustomerApi):
    write_capability = "alert.triage"
    read_capability = "alert.read_any"

    class CreateSerializer(serializers.Serializer):
        title = serializers.CharField(max_length=500)
        alert_ids = serializers.ListField(child=serializers.UUIDField(), min_length=1)

    @extend_schema(responses=IncidentSerializer(many=True))
    def get(self, request, slug: str):
        with self.customer(slug, view_action="provider.incidents.list"):
            qs = Incident.objects.order_by("-created_at")
            if request.query_params.get("open") == "1":
                qs = qs.filter(state__in=OPEN_STATES)
            return Response(IncidentSerializer(qs[:200], many=True).data)

    @extend_schema(request=CreateSerializer, responses={201: IncidentSerializer})
    def post(self, request, slug: str):
        data = self.CreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with self.customer(slug):
            alerts = list(Alert.objects.filter(pk__in=data.validated_data["alert_ids"]))
            if len(alerts) != len(set(data.validated_data["alert_ids"])):
                raise ValidationError({"alert_ids": ["unknown alert id(s)"]})
            try:
                incident = services.incident_create(
                    actor=Actor.from_request(request), title=data.validated_data["title"], alerts=alerts
                )
            except services.IncidentError as exc:
                raise ValidationError({exc.field: [exc.message]}) from None
            return Response(_detail(incident, customer_view=False), status=201)


class ProviderIncidentApi(ProviderCustomerApi):
    write_capability = "alert.triage"
    read_capability = "alert.read_any"
    ACTIONS = ("transition", "priority", "note", "merge", "split", "escalate", "follow_up", "final")

    class ActionSerializer(serializers.Serializer):
        to = serializers.CharField(required=False)
        reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)
        priority = serializers.CharField(required=False)
        severity_id = serializers.IntegerField(required=False, allow_null=True)
        text = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
        customer_visible = serializers.BooleanField(required=False, default=False)
        target = serializers.UUIDField(required=False)
        alert_ids = serializers.ListField(child=serializers.UUIDField(), required=False)
        title = serializers.CharField(required=False, max_length=500)
        brief = serializers.DictField(
            required=False,
            help_text="escalate / follow_up / final: tlp, summary, impact {functional, information, recoverability}, "
            "actions_taken, recommended_actions, indicators",
        )

    @extend_schema(responses={200: IncidentSerializer})
    def get(self, request, slug: str, incident_id: str, action: str = ""):
        if action:
            raise NotFound()
        with self.customer(slug, view_action="provider.incident.view"):
            return Response(_detail(_get(incident_id), customer_view=False))

    @extend_schema(request=ActionSerializer, responses={200: IncidentSerializer})
    def post(self, request, slug: str, incident_id: str, action: str = ""):
        if action not in self.ACTIONS:
            raise NotFound(f"Unknown action; one of {', '.join(self.ACTIONS)}.")
        data = self.ActionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        args, actor = data.validated_data, Actor.from_request(request)
        with self.customer(slug):
            incident = _get(incident_id)
            try:
                if action == "transition":
                    incident = services.incident_transition(
                        incident=incident, to=args.get("to", ""), reason=args.get("reason", ""), actor=actor
                    )
                elif action == "priority":
                    incident = services.incident_set_priority(
                        incident=incident,
                        priority=args.get("priority", ""),
                        severity_id=args.get("severity_id"),
                        reason=args.get("reason", ""),
                        actor=actor,
                    )
                elif action == "note":
                    services.incident_note(
                        incident=incident,
                        text=args.get("text", ""),
                        actor=actor,
                        customer_visible=args["customer_visible"],
                    )
                elif action == "merge":
                    incident = services.incident_merge(
                        source=incident, target=_get(args.get("target", "")), reason=args.get("reason", ""), actor=actor
                    )
                elif action == "escalate":
                    incident = escalation_services.incident_escalate(
                        incident=incident, actor=actor, brief=args.get("brief")
                    )
                elif action in ("follow_up", "final"):
                    escalation_services.escalation_update_send(
                        incident=incident, kind=action, text=args.get("text", ""), actor=actor, brief=args.get("brief")
                    )
                else:
                    alerts = list(Alert.objects.filter(pk__in=args.get("alert_ids") or []))
                    incident = services.incident_split(
                        incident=incident,
                        alerts=alerts,
                        actor=actor,
                        title=args.get("title", ""),
                        reason=args.get("reason", ""),
                    )
            except (services.IncidentError, escalation_services.EscalationError) as exc:
                raise ValidationError({exc.field: [exc.message]}) from None
            incident.refresh_from_db()
            return Response(_detail(incident, customer_view=False))


class CustomerIncidentsApi(APIView):
    """The customer's incidents; each with the customer-visible timeline only."""

    permission_classes = [HasCapability]
    required_capability = "alert.read"

    @extend_schema(responses=IncidentSerializer(many=True))
    def get(self, request, incident_id: str | None = None):
        if connection.schema_name == "public":
            raise PermissionDenied("Use your customer domain.")
        if incident_id:
            return Response(_detail(_get(incident_id), customer_view=True))
        return Response(IncidentSerializer(Incident.objects.order_by("-created_at")[:200], many=True).data)


class CustomerIncidentAcknowledgeApi(APIView):
    """The customer acknowledges an escalated incident (CSIRT/admin users, or a key with scope ``read``)."""

    permission_classes = [HasCapability]
    required_capability = "incident.acknowledge"

    @extend_schema(request=None, responses={200: IncidentSerializer})
    def post(self, request, incident_id: str):
        from mdr.escalations.services import EscalationError, escalation_acknowledge_incident

        if connection.schema_name == "public":
            raise PermissionDenied("Use your customer domain.")
        incident = _get(incident_id)
        who = str(request.user) if not hasattr(request.user, "username") else request.user.username
        try:
            escalation_acknowledge_incident(
                incident_id=incident.pk, by=who, channel="api", ip=request.META.get("REMOTE_ADDR")
            )
        except EscalationError as exc:
            raise ValidationError({exc.field: [exc.message]}) from None
        return Response(_detail(incident, customer_view=True))


class CustomerIncidentActionsApi(APIView):
    """The recommended actions of one of the customer's incidents; a customer admin or CSIRT member sets their
    status (``PATCH .../actions/<action_id>`` with ``status`` and an optional ``note``)."""

    permission_classes = [HasCapability]
    required_capability = "alert.read"
    item_only_methods = ("PATCH",)  # the collection path answers PATCH with 404: not in the schema

    class InputSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=ActionStatus.choices)
        note = serializers.CharField(required=False, allow_blank=True, max_length=services.ACTION_NOTE_MAX)

    def _action(self, incident: Incident, action_id: str):
        action = selectors.recommended_action_get(incident=incident, action_id=action_id)
        if action is None:
            raise NotFound("No such recommended action.")
        return action

    @extend_schema(responses=RecommendedActionSerializer(many=True))
    def get(self, request, incident_id: str, action_id: str | None = None):
        if connection.schema_name == "public":
            raise PermissionDenied("Use your customer domain.")
        incident = _get(incident_id)
        if action_id is not None:
            return Response(RecommendedActionSerializer(self._action(incident, action_id)).data)
        return Response(
            RecommendedActionSerializer(selectors.recommended_action_list(incident=incident), many=True).data
        )

    @extend_schema(request=InputSerializer, responses={200: RecommendedActionSerializer})
    def patch(self, request, incident_id: str, action_id: str | None = None):
        if connection.schema_name == "public":
            raise PermissionDenied("Use your customer domain.")
        if not has_capability(request.user, "incident.action_status"):
            raise PermissionDenied("Setting an action's status needs a signed-in customer admin or CSIRT member.")
        if action_id is None:
            raise NotFound("Name the action: /actions/<action_id>.")
        action = self._action(_get(incident_id), action_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            action = services.recommended_action_set_status(
                actor=Actor.from_request(request),
                action=action,
                status=data.validated_data["status"],
                note=data.validated_data.get("note", ""),
            )
        except services.IncidentError as exc:
            raise ValidationError({exc.field: [exc.message]}) from None
        return Response(RecommendedActionSerializer(action).data)
