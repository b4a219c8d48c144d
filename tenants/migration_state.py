"""What a schema's migration state is, read cheaply: the migrations the code defines against the rows in that
schema's ``django_migrations`` table.

``migrate_all`` uses it to skip schemas already at the target (one small query per schema instead of a
``migrate`` run, which costs a Django start-up and a graph check each), so a rerun after a failure resumes with
the schemas that are left. It also names indexes a failed ``CREATE INDEX CONCURRENTLY`` left behind invalid.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.migrations.loader import MigrationLoader


@dataclass(frozen=True)
class MigrationTarget:
    """The migrations the code defines (graph nodes) and the squashed ones with the migrations they replace."""

    nodes: frozenset[tuple[str, str]]
    replaces: dict[tuple[str, str], tuple[tuple[str, str], ...]]

    @classmethod
    def from_code(cls) -> MigrationTarget:
        loader = MigrationLoader(None, ignore_no_migrations=True)
        nodes = frozenset(loader.graph.nodes)
        replaces = {key: tuple(m.replaces) for key, m in loader.replacements.items() if key in nodes}
        return cls(nodes=nodes, replaces=replaces)

    def pending(self, applied: set[tuple[str, str]]) -> list[tuple[str, str]]:
        missing = []
        for key in sorted(self.nodes):
            if key in applied:
                continue
            replaced = self.replaces.get(key)
            if replaced and all(r in applied for r in replaced):
                continue
            missing.append(key)
        return missing


def schema_applied_migrations(schema: str) -> set[tuple[str, str]] | None:
    """The (app, name) rows of the schema's migration table; None when the schema has no such table."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [f'"{schema}".django_migrations'])
        if cursor.fetchone()[0] is None:
            return None
        # a schema name from the Customer table (validated slug) or the template setting, never request input
        cursor.execute(f'SELECT app, name FROM "{schema}".django_migrations')  # noqa: S608
        return {(app, name) for app, name in cursor.fetchall()}


def existing_schemas(names: list[str]) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", [names])
        return {row[0] for row in cursor.fetchall()}


def invalid_indexes(schema: str) -> list[str]:
    """Indexes marked invalid in the schema: what an interrupted ``CREATE INDEX CONCURRENTLY`` leaves behind.
    A rerun of that migration fails with "already exists" until the index is dropped."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND NOT i.indisvalid "
            "ORDER BY c.relname",
            [schema],
        )
        return [row[0] for row in cursor.fetchall()]
