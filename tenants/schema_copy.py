"""A new customer's schema as a copy of the migrated template, made by replaying the template's SQL.

django-tenants' ``clone_schema`` (a PL/pgSQL port of pg-clone-schema) asks the catalog many questions per table, so
its time grows with the size of the whole catalog: 1.9 s per customer at 10 customers, 13.2 s at 2,000
(docs/performance.md "Capacity"). Replaying the template's own definition does one schema's worth of work whatever
the number of customers: ``pg_dump --schema-only`` and ``--data-only --inserts`` of the template (its tables,
indexes, constraints, functions, triggers and rows, ``django_migrations`` included, so no fake migrate is needed),
the template's name replaced by the new schema's, run inside the onboarding transaction.

The script is rendered once per process and template state (the template's applied migrations), so a deploy that
migrates the template makes the next onboarding render it again. Where ``pg_dump`` is missing or fails (an embedded
server without client tools, a version mismatch), onboarding falls back to ``clone_schema`` and says so in the log.
``MDR_SCHEMA_COPY=clone`` forces the fallback.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import threading

from django.conf import settings
from django.db import connection
from django_tenants.postgresql_backend.base import _check_schema_name
from django_tenants.utils import schema_exists

log = logging.getLogger(__name__)

_lock = threading.Lock()
_cache: dict[tuple, str] = {}


def _template_state(template: str) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*), max(id) FROM "{template}".django_migrations')  # noqa: S608 -- a setting
        return (template, *cursor.fetchone())


def _pg_dump(template: str, *extra: str) -> str:
    db = settings.DATABASES["default"]
    env = dict(os.environ, PGPASSWORD=str(db.get("PASSWORD") or ""), PGCONNECT_TIMEOUT="10")
    cmd = [
        shutil.which("pg_dump") or "pg_dump",
        "--host",
        str(db.get("HOST") or "127.0.0.1"),
        "--port",
        str(db.get("PORT") or 5432),
        "--username",
        str(db.get("USER") or "postgres"),
        "--no-owner",
        "--no-privileges",
        "--schema",
        template,
        *extra,
        str(db["NAME"]),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120, env=env).stdout


def _script(template: str) -> str:
    """The template as one script: session settings made local to the transaction, no psql meta-commands, the
    search path left alone."""
    lines = []
    for line in (_pg_dump(template, "--schema-only") + _pg_dump(template, "--data-only", "--inserts")).splitlines():
        if line.startswith("\\") or "set_config('search_path'" in line:
            continue
        lines.append("SET LOCAL " + line[4:] if line.startswith("SET ") else line)
    return "\n".join(lines)


def template_script() -> str | None:
    """The current template's script (rendered on first use per template state), or None if it cannot be made."""
    template = settings.TENANT_BASE_SCHEMA
    if settings.MDR_SCHEMA_COPY != "replay" or shutil.which("pg_dump") is None or not schema_exists(template):
        return None
    state = _template_state(template)
    with _lock:
        if state not in _cache:
            try:
                _cache.clear()
                _cache[state] = _script(template)
            except (OSError, subprocess.SubprocessError) as exc:
                detail = getattr(exc, "stderr", "") or str(exc)
                log.warning("tenants.schema_copy.unavailable", extra={"error": str(detail)[:300]})
                return None
        return _cache[state]


def schema_copy_from_template(schema_name: str) -> bool:
    """Create ``schema_name`` as a copy of the template in the current transaction; False if the replay is not
    available here (the caller clones instead)."""
    _check_schema_name(schema_name)  # a valid, unreserved identifier before it goes into SQL text
    script = template_script()
    if script is None:
        return False
    template = re.escape(settings.TENANT_BASE_SCHEMA)
    with connection.cursor() as cursor:
        cursor.execute(re.sub(rf"\b{template}\b", schema_name, script))
    return True
