"""Provider domain (public schema): provider console, provider API, and the ingest endpoint (tenant from key)."""

from django.urls import path

from mdr.console import views as console
from mdr.urls_common import api_docs
from mdr.urls_common import urlpatterns as common
from tenants import api as tenants_api

urlpatterns = [
    *common,
    *api_docs("mdr.urls_public"),
    path("", console.home, name="home"),
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
]
