"""URL patterns both the provider domain and customer domains serve."""

from django.conf import settings
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from mdr.accounts import api as accounts_api
from mdr.accounts.views import LoginView, LogoutView
from mdr.alerts import api as alerts_api
from mdr.core.health import readyz

urlpatterns = [
    path("readyz", readyz, name="readyz"),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("", include("mdr.accounts.urls")),
    path("api/v1/whoami", accounts_api.WhoamiApi.as_view(), name="api-whoami"),
    path("api/v1/alerts", alerts_api.AlertCollectionApi.as_view(), name="api-alerts"),
    path("api/v1/alerts/<str:alert_id>", alerts_api.AlertDetailApi.as_view(), name="api-alert"),
]

if settings.MDR_BENCH_INSTRUMENT:
    from mdr.core.instrument import noop

    urlpatterns.append(path("bench/noop", noop, name="bench-noop"))


def api_docs(urlconf: str) -> list:
    """``/api/schema/`` and ``/api/docs/`` describing the API of one domain kind (provider or customer)."""
    return [
        path("api/schema/", SpectacularAPIView.as_view(urlconf=urlconf), name="api-schema"),
        # The split view serves its script from a URL, not inline, so the CSP needs no 'unsafe-inline'.
        path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    ]
