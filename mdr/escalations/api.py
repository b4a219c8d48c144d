"""Escalation API.

Provider domain (``/api/provider/customers/<slug>/...``): a customer's contacts (list, create, change, archive,
rotate the webhook secret), matrix versions, contact verification, and the customer's change proposals (list,
approve, reject). Customer domain (``/api/v1/...``): the customer's contacts and current matrix (read), and change
proposals (list, propose, withdraw). Secrets are returned once, by the call that generated them, and never listed.
"""

from __future__ import annotations

from contextlib import contextmanager

from django.db import connection
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from mdr.accounts.permissions import HasCapability
from mdr.audit.services import Actor
from mdr.core.provider_api import ProviderCustomerApi
from mdr.escalations import contacts, proposals, services
from mdr.escalations.models import ChangeProposal, Contact, EscalationMatrix, ProposalKind, ProposalState


@contextmanager
def _field_errors():
    """A service's ``EscalationError`` is a 400 naming the field."""
    try:
        yield
    except services.EscalationError as exc:
        raise ValidationError({exc.field: [exc.message]}) from None


def _contact(contact_id: int) -> Contact:
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        raise NotFound("No such contact.")
    return contact


def _proposal(proposal_id) -> ChangeProposal:
    proposal = ChangeProposal.objects.filter(pk=proposal_id).first()
    if proposal is None:
        raise NotFound("No such proposal.")
    return proposal


def _state_filter(request) -> str | None:
    state = request.query_params.get("state") or None
    if state is not None and state not in ProposalState.values:
        raise ValidationError({"state": [f"one of {', '.join(ProposalState.values)}"]})
    return state


def _customer_domain() -> None:
    if connection.schema_name == "public":
        raise PermissionDenied("Use your customer domain.")


# --- serializers -------------------------------------------------------------------------------------------------


class ContactSerializer(serializers.ModelSerializer):
    """A contact as provider staff see it (never its secrets or key material)."""

    has_webhook_secret = serializers.SerializerMethodField()

    class Meta:
        model = Contact
        fields = [
            "id",
            "name",
            "role",
            "email",
            "phone",
            "language",
            "webhook_url",
            "slack_webhook_url",
            "teams_webhook_url",
            "pgp_fingerprint",
            "valid_until",
            "expiry_reminded_days",
            "verified_at",
            "archived_at",
            "created_at",
            "has_webhook_secret",
            "webhook_secret_previous_until",
        ]
        read_only_fields = fields

    def get_has_webhook_secret(self, contact: Contact) -> bool:
        return bool(contact.webhook_secret)


class ContactInputSerializer(serializers.Serializer):
    """Parses types only; the rules (required name, reachability, dates, PGP key) are ``contact_validate``'s."""

    name = serializers.CharField(required=False, allow_blank=True)
    role = serializers.CharField(required=False, allow_blank=True)
    email = serializers.CharField(required=False, allow_blank=True)
    phone = serializers.CharField(required=False, allow_blank=True)
    language = serializers.CharField(required=False)
    webhook_url = serializers.CharField(required=False, allow_blank=True)
    slack_webhook_url = serializers.CharField(required=False, allow_blank=True)
    teams_webhook_url = serializers.CharField(required=False, allow_blank=True)
    pgp_public_key = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    valid_until = serializers.DateField(required=False, allow_null=True)


class ContactCreatedSerializer(ContactSerializer):
    webhook_secret = serializers.CharField(required=False, help_text="only in the response that generated it")

    class Meta(ContactSerializer.Meta):
        fields = [*ContactSerializer.Meta.fields, "webhook_secret"]
        read_only_fields = fields


class CustomerContactSerializer(serializers.Serializer):
    """A contact as the customer sees it: how it is reached, not the addresses' secrets."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    role = serializers.CharField()
    email = serializers.EmailField()
    phone = serializers.CharField()
    language = serializers.CharField()
    webhook_url = serializers.CharField()
    channels = serializers.SerializerMethodField()
    pgp_fingerprint = serializers.CharField()
    valid_until = serializers.DateField(allow_null=True)
    days_to_expiry = serializers.SerializerMethodField()
    verified_at = serializers.DateTimeField(allow_null=True)

    def get_channels(self, contact: Contact) -> list[str]:
        return contacts.contact_channels(contact)

    def get_days_to_expiry(self, contact: Contact) -> int | None:
        return contacts.contact_days_to_expiry(contact=contact, today=self.context["today"])


class ProposalSerializer(serializers.ModelSerializer):
    class Meta:
        model = ChangeProposal
        fields = [
            "id",
            "kind",
            "contact",
            "payload",
            "state",
            "proposed_by",
            "proposed_at",
            "comment",
            "decided_by",
            "decided_at",
            "decision_reason",
            "result",
        ]
        read_only_fields = fields


class CustomerProposalSerializer(ProposalSerializer):
    """Chat webhook URLs carry their own bearer secret: customers' readers (viewers, read keys) see that one is set."""

    payload = serializers.SerializerMethodField()

    def get_payload(self, proposal: ChangeProposal) -> dict:
        return {
            key: ("(set)" if value else "") if key in ("slack_webhook_url", "teams_webhook_url") else value
            for key, value in proposal.payload.items()
        }


class MatrixSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    rules = serializers.JSONField()
    created_at = serializers.DateTimeField()


# --- provider domain ---------------------------------------------------------------------------------------------


class ContactsApi(ProviderCustomerApi):
    write_capability = "contract.manage"

    @extend_schema(
        parameters=[OpenApiParameter("archived", bool, description="1: include archived contacts")],
        responses=ContactSerializer(many=True),
    )
    def get(self, request, slug: str):
        with self.customer(slug, view_action="provider.contacts.view"):
            include_archived = request.query_params.get("archived") == "1"
            return Response(ContactSerializer(contacts.contact_list(include_archived=include_archived), many=True).data)

    @extend_schema(request=ContactInputSerializer, responses={201: ContactCreatedSerializer})
    def post(self, request, slug: str):
        data = ContactInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with self.customer(slug), _field_errors():
            contact, secret = contacts.contact_create(actor=Actor.from_request(request), data=data.validated_data)
        body = ContactSerializer(contact).data
        if secret:
            body["webhook_secret"] = secret  # shown once, for the customer's receiver
        return Response(body, status=status.HTTP_201_CREATED)


class ContactDetailApi(ProviderCustomerApi):
    write_capability = "contract.manage"

    @extend_schema(responses=ContactSerializer)
    def get(self, request, slug: str, contact_id: int):
        with self.customer(slug, view_action="provider.contacts.view"):
            return Response(ContactSerializer(_contact(contact_id)).data)

    @extend_schema(request=ContactInputSerializer, responses=ContactCreatedSerializer)
    def patch(self, request, slug: str, contact_id: int):
        data = ContactInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        with self.customer(slug), _field_errors():
            before = _contact(contact_id)
            contact = contacts.contact_update(
                actor=Actor.from_request(request), contact=before, data=data.validated_data
            )
        body = ContactSerializer(contact).data
        if contact.webhook_secret and contact.webhook_secret != before.webhook_secret:
            body["webhook_secret"] = contact.webhook_secret  # a webhook was added: its secret, shown once
        return Response(body)


class ContactArchiveApi(ProviderCustomerApi):
    write_capability = "contract.manage"

    @extend_schema(request=None, responses=ContactSerializer)
    def post(self, request, slug: str, contact_id: int):
        with self.customer(slug), _field_errors():
            contact = contacts.contact_archive(actor=Actor.from_request(request), contact=_contact(contact_id))
        return Response(ContactSerializer(contact).data)


class ContactSecretRotateApi(ProviderCustomerApi):
    """A new webhook signing secret, returned once; the old one keeps signing for ``overlap_hours`` (default 24)."""

    write_capability = "contract.manage"

    class InputSerializer(serializers.Serializer):
        overlap_hours = serializers.IntegerField(required=False, default=24)

    class OutputSerializer(serializers.Serializer):
        webhook_secret = serializers.CharField()
        previous_valid_until = serializers.DateTimeField(allow_null=True)

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request, slug: str, contact_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with self.customer(slug), _field_errors():
            contact = _contact(contact_id)
            secret = contacts.contact_webhook_secret_rotate(
                actor=Actor.from_request(request), contact=contact, overlap_hours=data.validated_data["overlap_hours"]
            )
            contact.refresh_from_db(fields=["webhook_secret_previous_until"])
        return Response(
            self.OutputSerializer(
                {"webhook_secret": secret, "previous_valid_until": contact.webhook_secret_previous_until}
            ).data
        )


class MatrixApi(ProviderCustomerApi):
    write_capability = "contract.manage"

    class InputSerializer(serializers.Serializer):
        rules = serializers.ListField(child=serializers.DictField())

    @extend_schema(responses={200: serializers.DictField()})
    def get(self, request, slug: str):
        with self.customer(slug, view_action="provider.matrix.view"):
            matrix = EscalationMatrix.objects.order_by("-version").first()
            return Response({"version": matrix.version, "rules": matrix.rules} if matrix else {"version": None})

    @extend_schema(request=InputSerializer, responses={201: serializers.DictField()})
    def post(self, request, slug: str):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with self.customer(slug), _field_errors():
            matrix = services.matrix_publish(actor=Actor.from_request(request), rules=data.validated_data["rules"])
        return Response({"version": matrix.version, "rules": matrix.rules}, status=status.HTTP_201_CREATED)


class ContactVerifyApi(ProviderCustomerApi):
    """Send the contact a test message with a confirmation link."""

    write_capability = "contract.manage"

    @extend_schema(request=None, responses={202: serializers.DictField()})
    def post(self, request, slug: str, contact_id: int):
        with self.customer(slug), _field_errors():
            message_id = services.contact_verification_send(
                actor=Actor.from_request(request), contact=_contact(contact_id)
            )
        return Response({"sent": True, "message_id": message_id}, status=status.HTTP_202_ACCEPTED)


class ProviderProposalsApi(ProviderCustomerApi):
    """The customer's change proposals, newest first (``?state=pending`` for the ones waiting for a decision)."""

    @extend_schema(
        parameters=[OpenApiParameter("state", str, enum=ProposalState.values)],
        responses=ProposalSerializer(many=True),
    )
    def get(self, request, slug: str):
        state = _state_filter(request)
        with self.customer(slug, view_action="provider.proposals.view"):
            return Response(ProposalSerializer(proposals.proposal_list(state=state)[:200], many=True).data)


class DecisionSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class ApproveOutputSerializer(ProposalSerializer):
    webhook_secret = serializers.CharField(required=False, help_text="when approval generated one; shown once")

    class Meta(ProposalSerializer.Meta):
        fields = [*ProposalSerializer.Meta.fields, "webhook_secret"]
        read_only_fields = fields


class ProposalApproveApi(ProviderCustomerApi):
    """Approve a pending proposal: the change is applied now, or refused (400) if it became stale or invalid."""

    write_capability = "contract.manage"

    @extend_schema(request=DecisionSerializer, responses=ApproveOutputSerializer)
    def post(self, request, slug: str, proposal_id):
        data = DecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with self.customer(slug), _field_errors():
            proposal = _proposal(proposal_id)
            before = proposal.contact.webhook_secret if proposal.contact else ""
            proposal = proposals.proposal_approve(
                actor=Actor.from_request(request), proposal=proposal, reason=data.validated_data["reason"]
            )
            body = ProposalSerializer(proposal).data
            contact = Contact.objects.filter(pk=proposal.result.get("contact_id")).first()
            if contact is not None and contact.webhook_secret and contact.webhook_secret != before:
                body["webhook_secret"] = contact.webhook_secret  # generated by this approval: shown once
        return Response(body)


class ProposalRejectApi(ProviderCustomerApi):
    """Reject a pending proposal; the reason is required and shown to the customer."""

    write_capability = "contract.manage"

    @extend_schema(request=DecisionSerializer, responses=ProposalSerializer)
    def post(self, request, slug: str, proposal_id):
        data = DecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with self.customer(slug), _field_errors():
            proposal = proposals.proposal_reject(
                actor=Actor.from_request(request), proposal=_proposal(proposal_id), reason=data.validated_data["reason"]
            )
        return Response(ProposalSerializer(proposal).data)


# --- customer domain ---------------------------------------------------------------------------------------------


class CustomerContactsApi(APIView):
    """The customer's active escalation contacts: verification, validity and days left (no secrets)."""

    permission_classes = [HasCapability]
    required_capability = "escalation.read"

    @extend_schema(responses=CustomerContactSerializer(many=True))
    def get(self, request):
        _customer_domain()
        context = {"today": contacts.customer_today()}
        return Response(CustomerContactSerializer(contacts.contact_list(), many=True, context=context).data)


class CustomerContactDetailApi(APIView):
    permission_classes = [HasCapability]
    required_capability = "escalation.read"

    @extend_schema(responses=CustomerContactSerializer)
    def get(self, request, contact_id: int):
        _customer_domain()
        contact = _contact(contact_id)
        if contact.archived_at is not None:
            raise NotFound("No such contact.")
        return Response(CustomerContactSerializer(contact, context={"today": contacts.customer_today()}).data)


class CustomerMatrixApi(APIView):
    """The escalation matrix version in force."""

    permission_classes = [HasCapability]
    required_capability = "escalation.read"

    @extend_schema(responses={200: MatrixSerializer})
    def get(self, request):
        _customer_domain()
        matrix = EscalationMatrix.objects.order_by("-version").first()
        if matrix is None:
            raise NotFound("No escalation matrix has been published yet.")
        return Response(MatrixSerializer(matrix).data)


class CustomerProposalsApi(APIView):
    """The customer's change proposals (any customer role or a read key); customer admins propose."""

    permission_classes = [HasCapability]

    class InputSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=ProposalKind.choices)
        contact = serializers.IntegerField(required=False, allow_null=True, help_text="for contact_update/archive")
        payload = serializers.JSONField(
            required=False,
            default=dict,
            help_text="contact fields (no secrets), or {rules, base_version} for a matrix",
        )
        comment = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")

    @property
    def required_capability(self) -> str:
        return "escalation.read" if self.request.method == "GET" else "escalation.propose"

    @extend_schema(
        parameters=[OpenApiParameter("state", str, enum=ProposalState.values)],
        responses=CustomerProposalSerializer(many=True),
    )
    def get(self, request):
        _customer_domain()
        state = _state_filter(request)
        return Response(CustomerProposalSerializer(proposals.proposal_list(state=state)[:200], many=True).data)

    @extend_schema(request=InputSerializer, responses={201: CustomerProposalSerializer})
    def post(self, request):
        _customer_domain()
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        args = data.validated_data
        contact = None
        if args.get("contact") is not None:
            contact = Contact.objects.filter(pk=args["contact"]).first()
            if contact is None:
                raise ValidationError({"contact": ["no such contact"]})
        with _field_errors():
            proposal = proposals.proposal_create(
                actor=Actor.from_request(request),
                kind=args["kind"],
                payload=args["payload"],
                contact=contact,
                comment=args["comment"],
            )
        return Response(CustomerProposalSerializer(proposal).data, status=status.HTTP_201_CREATED)


class CustomerProposalDetailApi(APIView):
    permission_classes = [HasCapability]
    required_capability = "escalation.read"

    @extend_schema(responses=CustomerProposalSerializer)
    def get(self, request, proposal_id):
        _customer_domain()
        return Response(CustomerProposalSerializer(_proposal(proposal_id)).data)


class CustomerProposalWithdrawApi(APIView):
    permission_classes = [HasCapability]
    required_capability = "escalation.propose"

    @extend_schema(request=None, responses=CustomerProposalSerializer)
    def post(self, request, proposal_id):
        _customer_domain()
        with _field_errors():
            proposal = proposals.proposal_withdraw(actor=Actor.from_request(request), proposal=_proposal(proposal_id))
        return Response(CustomerProposalSerializer(proposal).data)
