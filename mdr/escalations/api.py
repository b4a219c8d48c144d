"""Escalation API (provider domain): a customer's contacts and escalation matrix versions."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from mdr.audit.services import Actor, audit_record
from mdr.core.provider_api import ProviderCustomerApi
from mdr.escalations import services
from mdr.escalations.models import Contact, EscalationMatrix


class ContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ["id", "name", "role", "email", "phone", "language", "webhook_url", "valid_until", "verified_at"]
        read_only_fields = ["id", "verified_at"]


class ContactsApi(ProviderCustomerApi):
    write_capability = "contract.manage"

    @extend_schema(responses=ContactSerializer(many=True))
    def get(self, request, slug: str):
        with self.customer(slug, view_action="provider.contacts.view"):
            return Response(ContactSerializer(Contact.objects.order_by("pk"), many=True).data)

    @extend_schema(request=ContactSerializer, responses={201: ContactSerializer})
    def post(self, request, slug: str):
        data = ContactSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data.get("language", "ja") not in ("ja", "en"):
            raise ValidationError({"language": ["ja or en"]})
        with self.customer(slug):
            contact = data.save()
            if contact.webhook_url and not contact.webhook_secret:
                from mdr.escalations.webhook import secret_generate

                contact.webhook_secret = secret_generate()
                contact.save(update_fields=["webhook_secret"])
            audit_record(
                actor=Actor.from_request(request),
                action="escalation.contact.create",
                target_type="contact",
                target_id=contact.pk,
                data={"name": contact.name},
            )
            body = ContactSerializer(contact).data
            if contact.webhook_secret:
                body["webhook_secret"] = contact.webhook_secret  # shown once, for the customer's receiver
            return Response(body, status=status.HTTP_201_CREATED)


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
        with self.customer(slug):
            try:
                matrix = services.matrix_publish(actor=Actor.from_request(request), rules=data.validated_data["rules"])
            except services.EscalationError as exc:
                raise ValidationError({exc.field: [exc.message]}) from None
            return Response({"version": matrix.version, "rules": matrix.rules}, status=status.HTTP_201_CREATED)


class ContactVerifyApi(ProviderCustomerApi):
    """Send the contact a test message with a confirmation link."""

    write_capability = "contract.manage"

    @extend_schema(request=None, responses={202: serializers.DictField()})
    def post(self, request, slug: str, contact_id: int):
        from rest_framework.exceptions import NotFound

        with self.customer(slug):
            contact = Contact.objects.filter(pk=contact_id).first()
            if contact is None:
                raise NotFound("No such contact.")
            try:
                message_id = services.contact_verification_send(actor=Actor.from_request(request), contact=contact)
            except services.EscalationError as exc:
                raise ValidationError({exc.field: [exc.message]}) from None
            return Response({"sent": True, "message_id": message_id}, status=status.HTTP_202_ACCEPTED)
