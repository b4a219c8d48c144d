"""The fire drill: a synthetic, clearly marked test incident through the real path, each step timed.

ingest (the real ``alert_ingest``) -> processing (the real pipeline: scope, priority, SLA, correlation) ->
incident -> escalation (the customer's matrix) -> delivery (by the workers of the notifications queue, as for a real
incident; the drill waits for them, or with ``inline`` makes the attempts itself when no worker runs) ->
acknowledgement (optional here: with ``auto_ack`` the drill acknowledges itself, to prove the path end to end;
otherwise the customer acknowledges the notice as they would a real one).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from django.utils import timezone

from mdr.alerts.models import Alert
from mdr.alerts.parsing import RawItem
from mdr.alerts.services import alert_batch_process, alert_ingest
from mdr.audit.services import Actor, audit_record
from mdr.escalations.models import AckToken, Delivery, DeliveryState
from mdr.escalations.services import _acknowledge, delivery_attempt, escalation_start
from mdr.incidents.models import Incident, IncidentEvent
from mdr.incidents.services import incident_create

DRILL_MARK = "[FIRE DRILL / 訓練]"


@dataclass
class DrillReport:
    steps: list[tuple[str, float, str]] = field(default_factory=list)  # (step, ms since start, detail)
    ok: bool = True

    def add(self, step: str, started: float, detail: str) -> None:
        self.steps.append((step, round((time.perf_counter() - started) * 1000, 1), detail))


def _wait_for_deliveries(escalation, *, inline: bool, wait_seconds: float) -> list[Delivery]:
    deadline = time.monotonic() + wait_seconds
    while True:
        open_ = list(Delivery.objects.filter(escalation=escalation, state=DeliveryState.PENDING).order_by("pk"))
        if not open_ or time.monotonic() > deadline:
            break
        if inline:
            for delivery in open_:
                delivery_attempt(delivery_id=delivery.pk)
            if not Delivery.objects.filter(escalation=escalation, state=DeliveryState.SENT).exists():
                break  # retries are minutes away: report what happened rather than wait for them
        else:
            time.sleep(0.2)
    return list(Delivery.objects.filter(escalation=escalation).order_by("pk"))


def fire_drill(*, actor: Actor, auto_ack: bool = False, inline: bool = False, wait_seconds: float = 60) -> DrillReport:
    """Run the drill in the current customer schema."""
    report = DrillReport()
    started = time.perf_counter()
    drill_id = uuid.uuid4().hex[:12]
    item = {
        "title": f"{DRILL_MARK} synthetic incident {drill_id}",
        "severity": "critical",
        "observed_at": timezone.now().isoformat(),
        "id": f"fire-drill-{drill_id}",
        "description": "Synthetic alert sent by the MDR provider's fire drill. No action is needed beyond "
        "acknowledging the notice.",
        "source": {"product": "MDR fire drill", "vendor": "MDR provider"},
        "hosts": [f"fire-drill-{drill_id}"],
    }
    result = alert_ingest(items=[RawItem(index=0, value=item)], fmt="native", received_at=timezone.now())
    if result.outbox_id is None:
        report.ok = False
        report.add("ingest", started, f"not accepted: {result.body['rejected']}")
        return report
    report.add("ingest", started, f"alert {result.created_ids[0]} accepted")
    alert_batch_process(outbox_id=result.outbox_id)
    alert = Alert.objects.get(pk=result.created_ids[0])
    report.add("processing", started, f"scope {alert.scope_status}, priority {alert.priority}")
    incident = (
        Incident.objects.get(pk=alert.incident_id)
        if alert.incident_id
        else incident_create(actor=actor, title=item["title"], alerts=[alert])
    )
    report.add("incident", started, f"incident {incident.pk}")
    brief = {"tlp": "CLEAR", "summary": f"{DRILL_MARK} This is a test of the escalation path. No action needed."}
    escalation = escalation_start(incident=incident, actor=actor, brief=brief)
    if escalation is None:
        report.ok = False
        report.add("escalation", started, f"no matrix rule covers priority {incident.priority}")
        return report
    report.add("escalation", started, f"matrix v{escalation.matrix.version}, rule {escalation.rule_index}")
    deliveries = _wait_for_deliveries(escalation, inline=inline, wait_seconds=wait_seconds)
    delivered = [d for d in deliveries if d.state == DeliveryState.SENT]
    report.ok = bool(delivered)
    report.add(
        "delivery",
        started,
        f"{len(delivered)}/{len(deliveries)} deliveries succeeded: "
        + ", ".join(f"{d.channel}->{d.target} {d.state} {d.last_error}".strip() for d in deliveries)
        + ("" if deliveries and all(d.state != DeliveryState.PENDING for d in deliveries) else " (still pending)"),
    )
    if auto_ack and delivered:
        token = AckToken.objects.filter(escalation=escalation).first()
        token.used_at = timezone.now()
        token.save(update_fields=["used_at"])
        _acknowledge(
            escalation.pk, by=f"fire drill ({token.contact.name})", channel="drill", ip=None, now=timezone.now()
        )
        report.add("acknowledgement", started, "acknowledged by the drill itself (--auto-ack)")
    else:
        report.add("acknowledgement", started, "waiting for the customer to acknowledge the notice")
    audit_record(
        actor=actor,
        action="escalation.fire_drill",
        target_type="incident",
        target_id=incident.pk,
        data={"ok": report.ok, "steps": [s for s, _, _ in report.steps]},
    )
    # The report stays with the drill's incident, where the SOC looks (the console button gets no reply).
    IncidentEvent.objects.create(
        incident=incident,
        kind="fire_drill_report",
        at=timezone.now(),
        actor=actor.name,
        text=("OK" if report.ok else "FAILED") + "\n" + "\n".join(f"{s}: {ms} ms, {d}" for s, ms, d in report.steps),
        data={"ok": report.ok, "steps": report.steps},
    )
    return report


def fire_drill_request(*, actor: Actor, schema_name: str) -> None:
    """The console's button: audit the request in the customer's schema and run the drill in a worker (the
    deliveries go through the notifications queue like a real incident's)."""
    from django.db import transaction
    from django_tenants.utils import schema_context

    from mdr.escalations.tasks import fire_drill_task

    with schema_context(schema_name), transaction.atomic():
        audit_record(actor=actor, action="escalation.fire_drill.requested", target_type="customer", target_id=0)
        transaction.on_commit(lambda: fire_drill_task.send(actor.name))
