"""The deploy-time migration step: public schema, then the template, then every customer schema.

Order: public first (shared tables the code of every process reads), then ``tenant_template`` (new customers are
cloned from it, so it must never lag the code), then the customer schemas, in parallel with
``--executor subprocess --parallel N`` (a fresh ``manage.py migrate_schemas --schema X`` per customer, as
django-tenants' subprocess executor does, so memory stays flat over thousands of schemas).

Resumable: before running anything, each schema's ``django_migrations`` rows are compared with the migrations the
code defines (``tenants.migration_state``); schemas already at the target are skipped, so a rerun after a failure
only touches the schemas that are left. A customer that fails does not stop the others; the command ends with a
non-zero exit code naming every failed schema. Progress: one line per migrated schema with n/N, elapsed time and
an ETA.

Lock safety: ``--lock-timeout 5s`` sets PostgreSQL's ``lock_timeout`` on every migration connection (through
``PGOPTIONS``, so subprocess children get it too). A migration statement that would wait longer than that for a
lock held by web traffic gives up instead of queueing every later query behind its own lock request; the schema
is retried (``--lock-retries``) and otherwise reported as failed, to be resumed by a rerun. See docs/scaling.md.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from tenants.constants import CustomerStatus
from tenants.migration_state import (
    MigrationTarget,
    existing_schemas,
    invalid_indexes,
    schema_applied_migrations,
)
from tenants.services import provider_ensure, template_schema_ensure

LOCK_TIMEOUT_RE = re.compile(r"^\d+(ms|s|min)?$")


@dataclass
class Outcome:
    schema: str
    ok: bool
    seconds: float
    attempts: int
    error: str = ""


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _is_lock_timeout(error: str) -> bool:
    return "lock timeout" in error or "LockNotAvailable" in error


@contextlib.contextmanager
def _pg_options(lock_timeout: str | None):
    """Every connection opened inside gets ``lock_timeout`` (libpq reads ``PGOPTIONS`` when it connects; Django
    passes no ``options`` of its own here). The current connection is closed so the next one picks it up."""
    if not lock_timeout:
        yield
        return
    before = os.environ.get("PGOPTIONS")
    os.environ["PGOPTIONS"] = f"{before or ''} -c lock_timeout={lock_timeout}".strip()
    connection.close()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PGOPTIONS", None)
        else:
            os.environ["PGOPTIONS"] = before
        connection.close()


class Command(BaseCommand):
    help = (
        "Migrate public, the template schema and every customer schema, in that order; skip schemas already "
        "at the target, go on past a failed customer and exit non-zero naming it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--executor",
            default="standard",
            choices=["standard", "subprocess", "multiprocessing"],
            help="standard: customers one after another in this process; subprocess: one child process per "
            "customer, --parallel at a time (multiprocessing is accepted as a synonym of subprocess: "
            "django-tenants' multiprocessing executor grows without bound over many schemas)",
        )
        parser.add_argument("--parallel", type=int, default=None, help="children at a time (subprocess executor)")
        parser.add_argument(
            "--lock-timeout",
            default=None,
            help="PostgreSQL lock_timeout for the migration connections, e.g. 5s or 500ms",
        )
        parser.add_argument(
            "--lock-retries", type=int, default=2, help="retries of a schema that failed on the lock timeout"
        )
        parser.add_argument("--lock-retry-wait", type=float, default=2.0, help="seconds before the first retry")
        parser.add_argument(
            "--schema",
            action="append",
            dest="schemas",
            default=None,
            help="only these customer schemas (repeatable), e.g. the ones a previous run named",
        )
        parser.add_argument("--customers-only", action="store_true", help="skip public and the template")

    def handle(self, *args, **options):
        verbosity = options["verbosity"]
        lock_timeout = options["lock_timeout"]
        if lock_timeout and not LOCK_TIMEOUT_RE.match(lock_timeout):
            raise CommandError(f"--lock-timeout {lock_timeout!r}: expected a number with ms, s or min")
        executor = "subprocess" if options["executor"] == "multiprocessing" else options["executor"]
        parallel = max(1, options["parallel"] or settings.TENANT_SUBPROCESS_PARALLEL)
        self.inner_verbosity = max(0, verbosity - 1)
        self.options_ = options
        started = time.monotonic()
        target = MigrationTarget.from_code()
        with _pg_options(lock_timeout):
            if lock_timeout:
                self.stdout.write(f"migrate_all: lock_timeout {lock_timeout} on every migration connection")
            if not options["customers_only"]:
                self._public(target)
                self._template(target)
            failed = self._customers(target, executor=executor, parallel=parallel, started=started)
        connection.set_schema_to_public()
        self.stdout.write(f"migrate_all: done in {_duration(time.monotonic() - started)}")
        if failed:
            names = ", ".join(o.schema for o in failed)
            raise CommandError(
                f"migrate_all: {len(failed)} customer schema(s) failed: {names}. "
                "Fix the cause and run migrate_all again: schemas already at the target are skipped."
            )

    # -- public and template: in order, and a failure stops the run ------------------------------------------

    def _public(self, target: MigrationTarget) -> None:
        connection.set_schema_to_public()
        if not target.pending(schema_applied_migrations("public") or set()):
            self.stdout.write("migrate_all: public schema at target, skipped")
        else:
            self.stdout.write("migrate_all: public schema")
            try:
                self._with_lock_retries(
                    lambda: call_command(
                        "migrate_schemas", shared=True, interactive=False, verbosity=self.inner_verbosity
                    ),
                    "public",
                )
            except Exception as exc:
                raise CommandError(f"migrate_all: public schema failed: {exc}. Nothing else was migrated.") from exc
        provider_ensure()

    def _template(self, target: MigrationTarget) -> None:
        name = settings.TENANT_BASE_SCHEMA
        connection.set_schema_to_public()
        if name in existing_schemas([name]) and not target.pending(schema_applied_migrations(name) or set()):
            self.stdout.write(f"migrate_all: template schema {name} at target, skipped")
            return
        self.stdout.write(f"migrate_all: template schema {name}")
        try:
            self._with_lock_retries(lambda: template_schema_ensure(verbosity=self.inner_verbosity), name)
        except Exception as exc:
            connection.close()
            raise CommandError(
                f"migrate_all: template schema {name} failed: {exc}. Customers were not migrated."
            ) from exc

    def _with_lock_retries(self, run, schema: str) -> int:
        attempts = 0
        while True:
            attempts += 1
            try:
                run()
                return attempts
            except Exception as exc:
                connection.close()  # a failed migration can leave the connection in an aborted transaction
                if not _is_lock_timeout(f"{type(exc).__name__}: {exc}") or attempts > self.options_["lock_retries"]:
                    raise
                wait = self.options_["lock_retry_wait"] * 2 ** (attempts - 1)
                self.stdout.write(f"migrate_all: {schema}: lock timeout, retry {attempts} in {wait:.1f}s")
                time.sleep(wait)

    # -- customers: skip the ones at target, run the rest, go on past failures -----------------------------

    def _customer_schemas(self) -> tuple[list[str], list[Outcome]]:
        from tenants.models import Customer

        connection.set_schema_to_public()
        rows = list(
            Customer.objects.exclude(schema_name="public").order_by("schema_name").values_list("schema_name", "status")
        )
        wanted = self.options_["schemas"]
        if wanted:
            unknown = sorted(set(wanted) - {s for s, _ in rows})
            if unknown:
                raise CommandError(f"migrate_all: no customer with schema {', '.join(unknown)}")
            rows = [(s, status) for s, status in rows if s in set(wanted)]
        present = existing_schemas([s for s, _ in rows])
        schemas, missing = [], []
        for schema, status in rows:
            if schema in present:
                schemas.append(schema)
            elif status != CustomerStatus.OFFBOARDED:  # an offboarded customer's schema is dropped on purpose
                missing.append(Outcome(schema, ok=False, seconds=0, attempts=0, error="schema does not exist"))
        return schemas, missing

    def _customers(self, target: MigrationTarget, *, executor: str, parallel: int, started: float) -> list[Outcome]:
        schemas, failed = self._customer_schemas()
        for outcome in failed:
            self.stderr.write(f"migrate_all: {outcome.schema} FAILED: {outcome.error}")
        pending = [s for s in schemas if target.pending(schema_applied_migrations(s) or set())]
        how = f"{executor}, {parallel} at a time" if executor == "subprocess" else executor
        self.stdout.write(
            f"migrate_all: customer schemas: {len(schemas)}, {len(schemas) - len(pending)} at target (skipped), "
            f"{len(pending)} to migrate ({how})"
        )
        if not pending:
            return failed
        phase_started = time.monotonic()
        if executor == "subprocess":
            outcomes = self._run_parallel(pending, parallel, phase_started, started)
        else:
            outcomes = []
            for schema in pending:
                outcomes.append(self._run_in_process(schema))
                self._progress(outcomes[-1], len(outcomes), len(pending), phase_started, started)
        return failed + [o for o in outcomes if not o.ok]

    def _progress(self, outcome: Outcome, done: int, total: int, phase_started: float, started: float) -> None:
        elapsed = time.monotonic() - phase_started
        eta = elapsed / done * (total - done)
        state = "ok" if outcome.ok else "FAILED"
        retried = f", {outcome.attempts} attempts" if outcome.attempts > 1 else ""
        self.stdout.write(
            f"migrate_all: [{done}/{total}] {outcome.schema} {state} in {outcome.seconds:.1f}s{retried}; "
            f"elapsed {_duration(time.monotonic() - started)}, ETA {_duration(eta)}"
        )
        if not outcome.ok:
            self.stderr.write(f"migrate_all: {outcome.schema} FAILED: {outcome.error}")
            with contextlib.suppress(Exception):
                connection.set_schema_to_public()
                for index in invalid_indexes(outcome.schema):
                    self.stderr.write(
                        f"migrate_all: {outcome.schema}: invalid index {index} (left by an interrupted "
                        f'CREATE INDEX CONCURRENTLY): DROP INDEX CONCURRENTLY "{outcome.schema}"."{index}" '
                        "before the rerun"
                    )

    def _run_in_process(self, schema: str) -> Outcome:
        began = time.monotonic()
        attempts = 0

        def run():
            nonlocal attempts
            attempts += 1
            call_command(
                "migrate_schemas",
                tenant=True,
                schema_name=schema,
                interactive=False,
                verbosity=self.inner_verbosity,
            )

        try:
            self._with_lock_retries(run, schema)
        except Exception as exc:
            return Outcome(schema, False, time.monotonic() - began, attempts, f"{type(exc).__name__}: {exc}".strip())
        finally:
            connection.set_schema_to_public()
        return Outcome(schema, True, time.monotonic() - began, attempts)

    def _child(self, schema: str) -> Outcome:
        cmd = [
            sys.executable,
            str(settings.BASE_DIR / "manage.py"),
            "migrate_schemas",
            "--executor=standard",
            "--schema",
            schema,
            "--noinput",
            "--verbosity",
            str(self.inner_verbosity),
        ]
        if self.options_.get("settings"):
            cmd += ["--settings", self.options_["settings"]]
        began = time.monotonic()
        attempts = 0
        while True:
            attempts += 1
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=settings.BASE_DIR)
            if done.returncode == 0:
                if done.stdout and self.inner_verbosity:
                    self.stdout.write(done.stdout.rstrip())
                return Outcome(schema, True, time.monotonic() - began, attempts)
            lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
            error = lines[-1].strip() if lines else f"exit code {done.returncode}"
            if not _is_lock_timeout(done.stderr) or attempts > self.options_["lock_retries"]:
                return Outcome(schema, False, time.monotonic() - began, attempts, error)
            time.sleep(self.options_["lock_retry_wait"] * 2 ** (attempts - 1))

    def _run_parallel(self, schemas: list[str], parallel: int, phase_started: float, started: float) -> list[Outcome]:
        connection.close()  # children open their own; this process only reads the invalid-index hint on failure
        outcomes: list[Outcome] = []
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            futures = [pool.submit(self._child, schema) for schema in schemas]
            for future in as_completed(futures):
                outcomes.append(future.result())
                self._progress(outcomes[-1], len(outcomes), len(schemas), phase_started, started)
        return outcomes
