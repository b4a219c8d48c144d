"""Console pages that change a customer's configuration by new versions: contract, SLA policies, escalation matrix,
stored calendars (views in ``views_config``)."""

from django.urls import path

from mdr.console import views_config as views

urlpatterns = [
    path("customers/<slug:slug>/contract/", views.contract_versions, name="console-contract"),
    path("customers/<slug:slug>/contract/new", views.contract_new, name="console-contract-new"),
    path("customers/<slug:slug>/contract/<int:number>/", views.contract_version, name="console-contract-version"),
    path("customers/<slug:slug>/contract/<int:number>/edit", views.contract_edit, name="console-contract-edit"),
    path(
        "customers/<slug:slug>/contract/<int:number>/publish", views.contract_publish, name="console-contract-publish"
    ),
    path("customers/<slug:slug>/sla/", views.sla_policies, name="console-sla"),
    path("customers/<slug:slug>/sla/new", views.sla_policy_new, name="console-sla-new"),
    path("customers/<slug:slug>/sla/<int:policy_id>/", views.sla_policy, name="console-sla-policy"),
    path(
        "customers/<slug:slug>/sla/<int:policy_id>/retarget",
        views.sla_policy_retarget,
        name="console-sla-policy-retarget",
    ),
    path("customers/<slug:slug>/escalation/", views.escalation, name="console-escalation"),
    path("customers/<slug:slug>/escalation/new", views.matrix_new, name="console-matrix-new"),
    path("customers/<slug:slug>/escalation/<int:version>/", views.matrix_version, name="console-matrix-version"),
    path("customers/<slug:slug>/calendars/", views.calendars, name="console-calendars"),
    path("customers/<slug:slug>/calendars/new", views.calendar_new, name="console-calendar-new"),
    path("customers/<slug:slug>/calendars/<int:calendar_id>/", views.calendar_detail, name="console-calendar"),
]
