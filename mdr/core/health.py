"""Readiness probe. (Liveness, ``/healthz``, is answered by ``TenantRoutingMiddleware`` before any database
access, so it stays up while PostgreSQL is down.)"""

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from mdr.core.redis import redis_client


@never_cache
def readyz(request):
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        redis_client().ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503)
