"""Template context every page gets."""

from django.conf import settings


def tenant(request):
    current = getattr(request, "tenant", None)
    is_portal = current is not None and current.schema_name != "public"
    return {
        "current_tenant": current if is_portal else None,
        "is_portal": is_portal,
        "base_domain": settings.MDR_BASE_DOMAIN,
    }
