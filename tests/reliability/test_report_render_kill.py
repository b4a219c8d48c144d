"""A worker killed (SIGKILL) while it renders a monthly report: after a new worker starts, the publication
completes through its due-work lease, and there is exactly one published version with its PDF stored once.

Real processes: a dramatiq worker (killed in the middle of the render, detected by its ``reports.publish.rendering``
log line) and the scheduler (its due-work sweep hands the lost publication over again), against the test database.
"""

import signal
import time
from datetime import date

from django_tenants.utils import schema_context

from mdr.audit.models import AuditEvent
from mdr.audit.services import Actor
from mdr.jobs.models import DueWork
from reports import services
from reports.models import MonthlyReport, ReportFile
from tests.live import process_env, start_scheduler, start_worker

ACTOR = Actor(type="provider_staff", name="am#1")


def _wait_log(proc, text: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in proc.output():
            return True
        if proc.popen.poll() is not None:
            return False
        time.sleep(0.02)
    return False


def test_a_report_render_interrupted_by_a_killed_worker_publishes_once(committed_customer, tmp_path, django_db_blocker):
    env = process_env(MDR_REPORT_PUBLISH_LEASE_SECONDS="3", MDR_SCHEDULER_INTERVAL_SECONDS="0.5")
    today = date.today()
    last_month = date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)
    procs = {"worker": start_worker(env, tmp_path), "scheduler": start_scheduler(env, tmp_path)}
    try:
        with django_db_blocker.unblock(), schema_context(committed_customer.schema):
            report, _ = services.report_generate_monthly(month=last_month, actor=ACTOR, language="en")
            services.report_update_draft(report=report, actor=ACTOR, recommendations=["Patch the VPN gateway"])
            services.report_publish_request(report=report, actor=ACTOR)
        # when: the worker is killed while it renders
        assert _wait_log(procs["worker"], "reports.publish.rendering", 60), procs["worker"].output()
        procs["worker"].stop(sig=signal.SIGKILL)
        with django_db_blocker.unblock(), schema_context(committed_customer.schema):
            # the kill interrupted the render: nothing stored, still publishing, the lease armed
            assert MonthlyReport.objects.get(pk=report.pk).state == "publishing"
            assert not ReportFile.objects.exists()
            assert DueWork.objects.filter(schema_name=committed_customer.schema, ref=str(report.pk)).exists()
        procs["worker"] = start_worker(env, tmp_path)
        # then: the lease runs out, the sweep hands the publication over again, the new worker renders it
        deadline = time.monotonic() + 90
        state = None
        while time.monotonic() < deadline:
            with django_db_blocker.unblock(), schema_context(committed_customer.schema):
                state = MonthlyReport.objects.get(pk=report.pk).state
            if state == "published":
                break
            time.sleep(0.3)
        logs = "\n".join(f"--- {n}\n{p.output()[-2000:]}" for n, p in procs.items())
        assert state == "published", logs
        time.sleep(2)  # a doubled message (the lease, a redelivery) would have rendered again by now
        with django_db_blocker.unblock(), schema_context(committed_customer.schema):
            versions = list(MonthlyReport.objects.filter(month=last_month, language="en"))
            assert [(r.version, r.state) for r in versions] == [(1, "published")]
            files = list(ReportFile.objects.all())
            assert len(files) == 1 and files[0].report_id == report.pk
            published = MonthlyReport.objects.get(pk=report.pk)
            assert published.pdf_size == len(bytes(files[0].pdf)) > 0
            assert AuditEvent.objects.filter(action="report.publish", target_id=str(report.pk)).count() == 1
            assert not DueWork.objects.filter(schema_name=committed_customer.schema, ref=str(report.pk)).exists()
        assert procs["worker"].output().count("reports.publish.done") == 1
    finally:
        for proc in procs.values():
            proc.stop()
