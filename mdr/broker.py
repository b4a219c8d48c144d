"""Tenant context for background work (DESIGN.md §3).

Every message carries the schema it was sent from in ``message.options["tenant_schema"]``. Before the actor
runs, the worker enters that schema; afterwards (and after a skipped message) it goes back to public, so a
forgotten context fails closed instead of running in the previous message's tenant.

- A tenant-scoped actor (the default) sent from the public schema raises ``TenantContextError`` at ``send()``.
- Actors that work across customers declare ``tenant_scope="public"`` and run in public.
- A message with no schema, or with a schema that no longer exists, is refused: failed (dead-lettered), never run.
"""

import logging

import dramatiq
from dramatiq.middleware import MiddlewareError, SkipMessage

log = logging.getLogger(__name__)

OPTION = "tenant_schema"
PUBLIC = "public"
# A schema that never exists, searched alone: while a message's tenant is being checked (and if checking it
# fails unexpectedly, e.g. the database is down) every table lookup fails, so the actor errors and is retried
# instead of running anywhere.
NOWHERE = "mdr_no_tenant"


class TenantContextError(MiddlewareError):
    """A tenant-scoped actor was enqueued without a tenant. (A MiddlewareError, so dramatiq does not swallow it.)"""


class TenantMiddleware(dramatiq.Middleware):
    actor_options = {"tenant_scope"}

    @staticmethod
    def _scope(broker, message) -> str:
        try:
            return broker.get_actor(message.actor_name).options.get("tenant_scope", "tenant")
        except dramatiq.errors.ActorNotFound:
            return "tenant"

    def before_enqueue(self, broker, message, delay):
        from django.db import connection

        if message.options.get(OPTION):
            return  # a retry or an explicit stamp keeps its tenant
        schema = connection.schema_name
        if self._scope(broker, message) == "public":
            message.options[OPTION] = PUBLIC
            return
        if not schema or schema == PUBLIC:
            raise TenantContextError(
                f"actor {message.actor_name!r} is tenant-scoped and was sent from the public schema"
            )
        message.options[OPTION] = schema

    def before_process_message(self, broker, message):
        from django.db import connection
        from django_tenants.utils import schema_exists

        schema = message.options.get(OPTION)
        scope = self._scope(broker, message)
        connection.set_schema(NOWHERE, include_public=False)
        refused = None
        if not schema:
            refused = "message has no tenant"
        elif scope == "public" and schema != PUBLIC:
            refused = f"public actor stamped with tenant {schema!r}"
        elif scope != "public" and schema == PUBLIC:
            refused = "tenant-scoped actor stamped with the public schema"
        elif schema != PUBLIC and not schema_exists(schema):
            refused = f"tenant schema {schema!r} does not exist"
        if refused:
            log.error(
                "broker.tenant.refused",
                extra={"actor": message.actor_name, "reason": refused, "message_id": message.message_id},
            )
            message.fail()
            raise SkipMessage(refused)
        if schema == PUBLIC:
            connection.set_schema_to_public()
        else:
            connection.set_schema(schema)

    def _reset(self):
        from django.db import connection

        connection.set_schema_to_public()

    def after_process_message(self, broker, message, *, result=None, exception=None):
        self._reset()

    def after_skip_message(self, broker, message):
        self._reset()
