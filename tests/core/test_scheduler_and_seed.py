import json
from io import StringIO

from django.core.management import call_command
from django_tenants.utils import schema_context

from mdr.accounts.models import User
from mdr.scheduler import Job, Scheduler
from tenants.models import ApiKey, Customer


def test_only_one_scheduler_fires(db):
    # given: two schedulers sharing Redis
    fired = []
    a = Scheduler([Job("j", 60, lambda: fired.append("a"))], interval=0.1)
    b = Scheduler([Job("j", 60, lambda: fired.append("b"))], interval=0.1)
    # when
    a.tick(now=0)
    b.tick(now=0)
    a.tick(now=30)
    a.tick(now=61)
    # then: the leader fires on schedule, the other never
    assert fired == ["a", "a"]


def test_a_failing_job_does_not_stop_the_others(db):
    def broken():
        raise ConnectionError("redis down")

    fired = []
    s = Scheduler([Job("bad", 1, broken), Job("good", 1, lambda: fired.append(1))], interval=0.1)
    assert s.tick(now=0) == ["good"]
    assert s.jobs[0].next_run == 0  # retried on the next tick


def _footprint():
    from mdr.escalations.models import Contact, EscalationMatrix

    users = User.objects.count()
    with schema_context("acme"):
        acme_users = User.objects.count()
        escalation = Contact.objects.count(), EscalationMatrix.objects.count()
    assert escalation == (1, 1)  # the demo's fire drill has somewhere to go
    return Customer.objects.count(), ApiKey.objects.count(), users, acme_users, escalation


def test_seed_demo_is_idempotent(tenants_ab, db, settings, tmp_path):
    # given
    settings.MDR_DATA_DIR = tmp_path
    call_command("seed_demo", stdout=StringIO())
    first = _footprint()
    creds = json.loads((tmp_path / "demo-credentials.json").read_text())
    # when
    out = StringIO()
    call_command("seed_demo", stdout=out)
    # then: nothing new, and the same credentials printed
    assert _footprint() == first
    assert json.loads((tmp_path / "demo-credentials.json").read_text()) == creds
    assert creds["customers"]["globex"]["api_key"] in out.getvalue()
    assert {"provider-admin", "analyst", "account-manager"} <= set(creds["staff"])
    assert (tmp_path / "demo-credentials.json").stat().st_mode & 0o777 == 0o600
