"""Report API.

Provider domain (``/api/provider/customers/<slug>/reports``): list, generate a month (idempotent; a reason makes a
new version of a published month), read with metrics, edit a draft's recommendations and customer actions,
refresh a draft's figures, preview a draft's PDF, request publication (rendered in the ``reports`` queue), and
download a published PDF. Customer domain (``/api/v1/reports``): the customer's published reports and their PDFs.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager

from django.db import connection
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from mdr.accounts.permissions import HasCapability
from mdr.audit.services import Actor
from mdr.core.provider_api import ProviderCustomerApi
from reports import services
from reports.models import MonthlyReport, ReportState


class ReportSerializer(serializers.ModelSerializer):
    month = serializers.DateField(format="%Y-%m")

    class Meta:
        model = MonthlyReport
        fields = [
            "id",
            "month",
            "language",
            "version",
            "state",
            "timezone",
            "period_start",
            "period_end",
            "as_of",
            "reason",
            "generated_at",
            "generated_by",
            "published_at",
            "published_by",
            "pdf_sha256",
            "pdf_size",
        ]


class ReportDetailSerializer(ReportSerializer):
    class Meta(ReportSerializer.Meta):
        fields = [*ReportSerializer.Meta.fields, "recommendations", "customer_actions", "metrics"]


def _get(report_id, **filters) -> MonthlyReport:
    try:
        pk = uuid.UUID(str(report_id))
    except ValueError:
        raise NotFound("No such report.") from None
    report = MonthlyReport.objects.filter(pk=pk, **filters).first()
    if report is None:
        raise NotFound("No such report.")
    return report


def _pdf_response(pdf: bytes, report: MonthlyReport, *, draft: bool = False) -> HttpResponse:
    name = f"mdr-report-{report.month:%Y-%m}-{report.language}-v{report.version}{'-draft' if draft else ''}.pdf"
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    if not draft:
        response["X-Content-SHA256"] = report.pdf_sha256
    return response


@contextmanager
def _errors():
    """A service's ``ReportError`` is a 400 naming the field."""
    try:
        yield
    except services.ReportError as exc:
        raise ValidationError({exc.field: [exc.message]}) from None


class ProviderReportsApi(ProviderCustomerApi):
    read_capability = "alert.read_any"
    write_capability = "report.manage"

    class GenerateSerializer(serializers.Serializer):
        month = serializers.CharField(help_text="YYYY-MM")
        language = serializers.ChoiceField(choices=["ja", "en"], required=False)
        reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)

    @extend_schema(responses=ReportSerializer(many=True))
    def get(self, request, slug: str):
        with self.customer(slug, view_action="provider.reports.view"):
            return Response(ReportSerializer(MonthlyReport.objects.all()[:120], many=True).data)

    @extend_schema(request=GenerateSerializer, responses={201: ReportDetailSerializer, 200: ReportDetailSerializer})
    def post(self, request, slug: str):
        data = self.GenerateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        args = data.validated_data
        with self.customer(slug), _errors():
            report, created = services.report_generate_monthly(
                month=services.month_parse(args["month"]),
                actor=Actor.from_request(request),
                language=args.get("language"),
                reason=args.get("reason", ""),
            )
            return Response(
                ReportDetailSerializer(report).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
            )


class ProviderReportApi(ProviderCustomerApi):
    read_capability = "alert.read_any"
    write_capability = "report.manage"
    ACTIONS = ("refresh", "publish")

    class EditSerializer(serializers.Serializer):
        recommendations = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False)
        customer_actions = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False)

    @extend_schema(responses=ReportDetailSerializer)
    def get(self, request, slug: str, report_id: str, action: str = ""):
        if action:  # the action URL shares this view; actions are POSTs
            raise NotFound("Actions are POST requests.")
        with self.customer(slug, view_action="provider.report.view"):
            return Response(ReportDetailSerializer(_get(report_id)).data)

    @extend_schema(request=EditSerializer, responses=ReportDetailSerializer)
    def patch(self, request, slug: str, report_id: str, action: str = ""):
        if action:
            raise NotFound("Actions are POST requests.")
        data = self.EditSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with self.customer(slug), _errors():
            report = services.report_update_draft(
                report=_get(report_id), actor=Actor.from_request(request), **data.validated_data
            )
            return Response(ReportDetailSerializer(report).data)

    @extend_schema(request=None, responses={200: ReportDetailSerializer, 202: ReportDetailSerializer})
    def post(self, request, slug: str, report_id: str, action: str = ""):
        if action not in self.ACTIONS:
            raise NotFound(f"Unknown action; one of {', '.join(self.ACTIONS)}.")
        with self.customer(slug), _errors():
            report, actor = _get(report_id), Actor.from_request(request)
            if action == "refresh":
                return Response(ReportDetailSerializer(services.report_refresh_draft(report=report, actor=actor)).data)
            report = services.report_publish_request(report=report, actor=actor)
            return Response(ReportDetailSerializer(report).data, status=status.HTTP_202_ACCEPTED)


class ProviderReportPdfApi(ProviderCustomerApi):
    """A published report's PDF, or a draft's preview (rendered now, marked DRAFT, not stored)."""

    read_capability = "alert.read_any"

    @extend_schema(responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY)})
    def get(self, request, slug: str, report_id: str):
        with self.customer(slug), _errors():
            report = _get(report_id)
            actor = Actor.from_request(request)
            if report.state == ReportState.PUBLISHED:
                return _pdf_response(services.report_pdf(report=report, actor=actor), report)
            from mdr.audit.services import audit_record

            audit_record(actor=actor, action="report.preview", target_type="report", target_id=report.pk)
            return _pdf_response(services.report_preview_pdf(report=report), report, draft=True)


class CustomerReportsApi(APIView):
    """The customer's published reports (drafts are the provider's until published)."""

    permission_classes = [HasCapability]
    required_capability = "report.read"

    @extend_schema(responses=ReportSerializer(many=True))
    def get(self, request, report_id: str | None = None):
        if connection.schema_name == "public":
            raise PermissionDenied("Use your customer domain.")
        published = MonthlyReport.objects.filter(state=ReportState.PUBLISHED)
        if report_id:
            return Response(ReportDetailSerializer(_get(report_id, state=ReportState.PUBLISHED)).data)
        return Response(ReportSerializer(published[:120], many=True).data)


class CustomerReportPdfApi(APIView):
    permission_classes = [HasCapability]
    required_capability = "report.read"

    @extend_schema(responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY)})
    def get(self, request, report_id: str):
        if connection.schema_name == "public":
            raise PermissionDenied("Use your customer domain.")
        report = _get(report_id, state=ReportState.PUBLISHED)
        return _pdf_response(services.report_pdf(report=report, actor=Actor.from_request(request)), report)
