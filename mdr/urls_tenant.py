"""Customer domain (customer schema): customer portal, customer API, and the ingest endpoint."""

from django.urls import include, path

from mdr.accounts import api as accounts_api
from mdr.escalations import api as escalations_api
from mdr.escalations import views as escalation_views
from mdr.incidents import api as incidents_api
from mdr.portal import views as portal
from mdr.scope import api as scope_api
from mdr.urls_common import api_docs
from mdr.urls_common import urlpatterns as common
from reports import api as reports_api

handler404 = "mdr.core.api.not_found"

urlpatterns = [
    *common,
    *api_docs("mdr.urls_tenant"),
    path("", portal.home, name="home"),
    path("", include("mdr.portal.urls_extra")),
    path("alerts/", portal.alerts, name="portal-alerts"),
    path("alerts/<uuid:alert_id>", portal.alert_detail, name="portal-alert"),
    path("incidents/", portal.incidents, name="portal-incidents"),
    path("incidents/<uuid:incident_id>", portal.incident_detail, name="portal-incident"),
    path("incidents/<uuid:incident_id>/acknowledge", portal.incident_acknowledge, name="portal-incident-ack"),
    path("incidents/<uuid:incident_id>/comment", portal.incident_comment, name="portal-incident-comment"),
    path("escalation/", portal.escalation, name="portal-escalation"),
    path("escalation/propose/add", portal.escalation_propose_add, name="portal-propose-add"),
    path("escalation/propose/change/<int:contact_id>", portal.escalation_propose_change, name="portal-propose-change"),
    path("escalation/propose/archive", portal.escalation_propose_archive, name="portal-propose-archive"),
    path(
        "escalation/proposals/<uuid:proposal_id>/withdraw",
        portal.escalation_proposal_withdraw,
        name="portal-proposal-withdraw",
    ),
    path("users/", portal.users, name="portal-users"),
    path("access-log/", portal.access_log, name="portal-access-log"),
    path("api-keys/", portal.api_keys, name="portal-api-keys"),
    path("api-keys/<str:public_id>/revoke", portal.api_key_revoke, name="portal-api-key-revoke"),
    path("api/v1/users", accounts_api.UserListApi.as_view(), name="api-users"),
    path("api/v1/contract", scope_api.CustomerContractApi.as_view(), name="api-my-contract"),
    path("api/v1/incidents", incidents_api.CustomerIncidentsApi.as_view(), name="api-my-incidents"),
    path("api/v1/incidents/<str:incident_id>", incidents_api.CustomerIncidentsApi.as_view(), name="api-my-incident"),
    path(
        "api/v1/incidents/<str:incident_id>/acknowledge",
        incidents_api.CustomerIncidentAcknowledgeApi.as_view(),
        name="api-my-incident-ack",
    ),
    path("api/v1/contacts", escalations_api.CustomerContactsApi.as_view(), name="api-my-contacts"),
    path("api/v1/contacts/<int:contact_id>", escalations_api.CustomerContactDetailApi.as_view(), name="api-my-contact"),
    path("api/v1/escalation/matrix", escalations_api.CustomerMatrixApi.as_view(), name="api-my-escalation-matrix"),
    path("api/v1/escalation/proposals", escalations_api.CustomerProposalsApi.as_view(), name="api-my-proposals"),
    path(
        "api/v1/escalation/proposals/<uuid:proposal_id>",
        escalations_api.CustomerProposalDetailApi.as_view(),
        name="api-my-proposal",
    ),
    path(
        "api/v1/escalation/proposals/<uuid:proposal_id>/withdraw",
        escalations_api.CustomerProposalWithdrawApi.as_view(),
        name="api-my-proposal-withdraw",
    ),
    path("api/v1/reports", reports_api.CustomerReportsApi.as_view(), name="api-my-reports"),
    path("api/v1/reports/<str:report_id>", reports_api.CustomerReportsApi.as_view(), name="api-my-report"),
    path("api/v1/reports/<str:report_id>/pdf", reports_api.CustomerReportPdfApi.as_view(), name="api-my-report-pdf"),
    path("reports/", portal.reports, name="portal-reports"),
    path("reports/<uuid:report_id>", portal.report_download, name="portal-report"),
    path("contract/", portal.contract, name="portal-contract"),
    path("ack/<str:token>", escalation_views.acknowledge, name="escalation-ack"),
    path("contacts/verify/<str:token>", escalation_views.verify_contact, name="contact-verify"),
]
