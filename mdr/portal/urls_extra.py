"""Customer domain: recommended actions of an incident (portal form and customer API)."""

from django.urls import path

from mdr.incidents import api as incidents_api
from mdr.portal import views as portal

urlpatterns = [
    path(
        "incidents/<uuid:incident_id>/actions/<int:action_id>",
        portal.incident_action_status,
        name="portal-incident-action-status",
    ),
    path(
        "api/v1/incidents/<str:incident_id>/actions",
        incidents_api.CustomerIncidentActionsApi.as_view(),
        name="api-my-incident-actions",
    ),
    path(
        "api/v1/incidents/<str:incident_id>/actions/<str:action_id>",
        incidents_api.CustomerIncidentActionsApi.as_view(),
        name="api-my-incident-action",
    ),
]
