"""Provider domain (public schema): provider console, provider API, and the ingest endpoint (tenant from key)."""

from django.urls import include, path

from mdr.alerts import api as alerts_api
from mdr.console import views as console
from mdr.escalations import api as escalations_api
from mdr.incidents import api as incidents_api
from mdr.scope import api as scope_api
from mdr.sla import api as sla_api
from mdr.urls_common import api_docs
from mdr.urls_common import urlpatterns as common
from reports import api as reports_api
from tenants import api as tenants_api

handler404 = "mdr.core.api.not_found"

urlpatterns = [
    *common,
    *api_docs("mdr.urls_public"),
    path("", console.home, name="home"),
    path("", include("mdr.console.urls_config")),
    path("", include("mdr.console.urls_ops")),
    path("", include("mdr.console.urls_staff")),
    path("customers/new", console.customer_new, name="console-customer-new"),
    path("customers/<slug:slug>/status", console.customer_status, name="console-customer-status"),
    path("customers/<slug:slug>/suspend", console.customer_status_suspend, name="console-customer-suspend"),
    path("customers/<slug:slug>/resume", console.customer_status_resume, name="console-customer-resume"),
    path("customers/<slug:slug>/fire-drill", console.fire_drill, name="console-fire-drill"),
    path("reports/sla", console.sla_report, name="console-sla-report"),
    path("queue/", console.queue, name="console-queue"),
    path("customers/<slug:slug>/incidents/", console.incident_list, name="console-incidents"),
    path("customers/<slug:slug>/incidents/<uuid:incident_id>", console.incident_detail, name="console-incident"),
    path(
        "customers/<slug:slug>/incidents/<uuid:incident_id>/<str:action>",
        console.incident_action,
        name="console-incident-action",
    ),
    path("customers/<slug:slug>/reports/", console.report_list, name="console-reports"),
    path("customers/<slug:slug>/reports/generate", console.report_generate, name="console-report-generate"),
    path("customers/<slug:slug>/reports/<uuid:report_id>", console.report_detail, name="console-report"),
    path(
        "customers/<slug:slug>/reports/<uuid:report_id>/<str:action>",
        console.report_action,
        name="console-report-action",
    ),
    path("customers/<slug:slug>/proposals/", console.proposal_list, name="console-proposals"),
    path(
        "customers/<slug:slug>/proposals/<uuid:proposal_id>/<str:action>",
        console.proposal_decide,
        name="console-proposal-action",
    ),
    path("api/provider/customers/<slug:slug>/reports", reports_api.ProviderReportsApi.as_view(), name="api-reports"),
    path(
        "api/provider/customers/<slug:slug>/reports/<str:report_id>",
        reports_api.ProviderReportApi.as_view(),
        name="api-report",
    ),
    path(
        "api/provider/customers/<slug:slug>/reports/<str:report_id>/pdf",
        reports_api.ProviderReportPdfApi.as_view(),
        name="api-report-pdf",
    ),
    path(
        "api/provider/customers/<slug:slug>/reports/<str:report_id>/<str:action>",
        reports_api.ProviderReportApi.as_view(),
        name="api-report-action",
    ),
    path("api/provider/customers/", tenants_api.CustomerListCreateApi.as_view(), name="api-customers"),
    path(
        "api/provider/customers/<slug:slug>/suspend",
        tenants_api.CustomerSuspendApi.as_view(),
        name="api-customer-suspend",
    ),
    path(
        "api/provider/customers/<slug:slug>/resume",
        tenants_api.CustomerResumeApi.as_view(),
        name="api-customer-resume",
    ),
    path(
        "api/provider/customers/<slug:slug>/keys",
        tenants_api.CustomerApiKeyCreateApi.as_view(),
        name="api-customer-keys",
    ),
    path(
        "api/provider/customers/<slug:slug>/keys/<str:public_id>/revoke",
        tenants_api.CustomerApiKeyRevokeApi.as_view(),
        name="api-customer-key-revoke",
    ),
    path("api/provider/customers/<slug:slug>/contract", scope_api.ContractApi.as_view(), name="api-contract"),
    path(
        "api/provider/customers/<slug:slug>/contract/usage",
        scope_api.ProviderUsageApi.as_view(),
        name="api-contract-usage",
    ),
    path(
        "api/provider/customers/<slug:slug>/contract/versions",
        scope_api.VersionCreateApi.as_view(),
        name="api-contract-versions",
    ),
    path(
        "api/provider/customers/<slug:slug>/contract/versions/<int:number>",
        scope_api.VersionDetailApi.as_view(),
        name="api-contract-version",
    ),
    path(
        "api/provider/customers/<slug:slug>/contract/versions/<int:number>/publish",
        scope_api.VersionPublishApi.as_view(),
        name="api-contract-version-publish",
    ),
    path(
        "api/provider/customers/<slug:slug>/contract/versions/<int:number>/scope-items",
        scope_api.ScopeItemsImportApi.as_view(),
        name="api-contract-scope-items",
    ),
    path(
        "api/provider/customers/<slug:slug>/contract/versions/<int:number>/entitlements",
        scope_api.EntitlementsApi.as_view(),
        name="api-contract-entitlements",
    ),
    path("api/provider/customers/<slug:slug>/assets", scope_api.AssetsImportApi.as_view(), name="api-assets"),
    path("api/provider/customers/<slug:slug>/drift", scope_api.DriftListApi.as_view(), name="api-drift"),
    path(
        "api/provider/customers/<slug:slug>/alerts/reclassify",
        scope_api.ReclassifyApi.as_view(),
        name="api-alerts-reclassify",
    ),
    path("api/provider/queue", sla_api.AnalystQueueApi.as_view(), name="api-queue"),
    path("api/provider/customers/<slug:slug>/sla/policies", sla_api.PolicyCreateApi.as_view(), name="api-sla-policies"),
    path(
        "api/provider/customers/<slug:slug>/sla/calendars", sla_api.CalendarStoreApi.as_view(), name="api-sla-calendars"
    ),
    path(
        "api/provider/customers/<slug:slug>/sla/timers/<int:timer_id>/<str:action>",
        sla_api.TimerPauseApi.as_view(),
        name="api-sla-timer-action",
    ),
    path(
        "api/provider/customers/<slug:slug>/alerts/<str:alert_id>/<str:action>",
        alerts_api.AlertTriageApi.as_view(),
        name="api-alert-triage",
    ),
    path(
        "api/provider/customers/<slug:slug>/incidents",
        incidents_api.ProviderIncidentsApi.as_view(),
        name="api-incidents",
    ),
    path(
        "api/provider/customers/<slug:slug>/incidents/<str:incident_id>",
        incidents_api.ProviderIncidentApi.as_view(),
        name="api-incident",
    ),
    path(
        "api/provider/customers/<slug:slug>/incidents/<str:incident_id>/<str:action>",
        incidents_api.ProviderIncidentApi.as_view(),
        name="api-incident-action",
    ),
    path("api/provider/customers/<slug:slug>/contacts", escalations_api.ContactsApi.as_view(), name="api-contacts"),
    path(
        "api/provider/customers/<slug:slug>/escalation-matrix",
        escalations_api.MatrixApi.as_view(),
        name="api-escalation-matrix",
    ),
    path(
        "api/provider/customers/<slug:slug>/contacts/<int:contact_id>/verify",
        escalations_api.ContactVerifyApi.as_view(),
        name="api-contact-verify",
    ),
    path(
        "api/provider/customers/<slug:slug>/contacts/<int:contact_id>",
        escalations_api.ContactDetailApi.as_view(),
        name="api-contact",
    ),
    path(
        "api/provider/customers/<slug:slug>/contacts/<int:contact_id>/archive",
        escalations_api.ContactArchiveApi.as_view(),
        name="api-contact-archive",
    ),
    path(
        "api/provider/customers/<slug:slug>/contacts/<int:contact_id>/rotate-secret",
        escalations_api.ContactSecretRotateApi.as_view(),
        name="api-contact-rotate-secret",
    ),
    path(
        "api/provider/customers/<slug:slug>/escalation/proposals",
        escalations_api.ProviderProposalsApi.as_view(),
        name="api-escalation-proposals",
    ),
    path(
        "api/provider/customers/<slug:slug>/escalation/proposals/<uuid:proposal_id>/approve",
        escalations_api.ProposalApproveApi.as_view(),
        name="api-escalation-proposal-approve",
    ),
    path(
        "api/provider/customers/<slug:slug>/escalation/proposals/<uuid:proposal_id>/reject",
        escalations_api.ProposalRejectApi.as_view(),
        name="api-escalation-proposal-reject",
    ),
]
