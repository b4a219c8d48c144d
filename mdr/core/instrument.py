"""Request instrumentation for benchmarks (``MDR_BENCH_INSTRUMENT=1`` only; off in production).

Adds ``X-MDR-Queries`` (SQL statements run through Django's cursor wrapper, django-tenants' ``SET search_path``
included; not COPY, which runs on the raw psycopg cursor) and ``X-MDR-Search-Path-Sets`` (the ``SET search_path``
statements alone) to every response, and serves
``/bench/noop``: a plain Django view answering 201, the baseline the ingest benchmark compares against.
"""

from __future__ import annotations

import threading

from django.db import connection
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django_tenants.postgresql_backend.base import DatabaseWrapper
from django_tenants.utils import get_limit_set_calls

_counts = threading.local()


def _count_search_path(original):
    def wrapper(self, cursor=None):
        if not self._setting_search_path and not (get_limit_set_calls() and self.search_path_set_schemas):
            _counts.search_path = getattr(_counts, "search_path", 0) + 1
        return original(self, cursor)

    return wrapper


def install() -> None:
    if not getattr(DatabaseWrapper, "_mdr_instrumented", False):
        DatabaseWrapper._handle_search_path = _count_search_path(DatabaseWrapper._handle_search_path)
        DatabaseWrapper._mdr_instrumented = True


class InstrumentMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        install()

    def __call__(self, request):
        _counts.search_path = 0
        queries = 0

        def count(execute, sql, params, many, context):
            nonlocal queries
            queries += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            response = self.get_response(request)
        response["X-MDR-Queries"] = str(queries)
        response["X-MDR-Search-Path-Sets"] = str(_counts.search_path)
        return response


@csrf_exempt
def noop(request):
    """The baseline: a plain Django view, no auth, no database."""
    return HttpResponse(b'{"ok": true}', status=201, content_type="application/json")
