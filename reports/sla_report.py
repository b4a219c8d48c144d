"""The account managers' SLA report: per customer, for a month or a quarter, SLA compliance per metric and
priority, breaches, MTTA/MTTN/MTTR, alert and incident volumes, the change against the previous period, and which
customers are at risk. Provider staff only.

Each customer's figures are read inside that customer's own schema (``reports.metrics.sla_summary``), one
customer after the other, and each read is audited in that customer's schema (the customer's access log shows it).
This loops over customers on purpose and is named so: it is an explicit request of an account manager, never a hot
path. Exports: CSV (one row per customer, metric and priority) and PDF.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.utils.translation import gettext
from django_tenants.utils import schema_context

from mdr.audit.services import Actor, audit_record
from reports.services import ReportError, _next_month

PERIOD_RE = re.compile(r"^(\d{4})-(?:(0[1-9]|1[0-2])|Q([1-4]))$")


@dataclass(frozen=True)
class Period:
    label: str
    months: tuple[date, ...]

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        months: list[date] = []
        cursor = self.months[0]
        for _ in self.months:
            cursor = (cursor - timedelta(days=1)).replace(day=1)
            months.insert(0, cursor)
        if len(months) == 3:
            return Period(label=f"{months[0].year}-Q{(months[0].month - 1) // 3 + 1}", months=tuple(months))
        return Period(label=f"{months[0]:%Y-%m}", months=tuple(months))


def period_parse(value: str) -> Period:
    """``2026-10`` (a month) or ``2026-Q3`` (a quarter)."""
    match = PERIOD_RE.match(str(value or "").strip())
    if not match:
        raise ReportError("period", gettext("a month (YYYY-MM) or a quarter (YYYY-Qn), e.g. 2026-10 or 2026-Q3"))
    year = int(match.group(1))
    if match.group(2):
        return Period(label=match.group(0), months=(date(year, int(match.group(2)), 1),))
    first = date(year, 3 * (int(match.group(3)) - 1) + 1, 1)
    return Period(label=match.group(0), months=(first, _next_month(first), _next_month(_next_month(first))))


def period_last_month(now: datetime) -> Period:
    first = (now.date().replace(day=1) - timedelta(days=1)).replace(day=1)
    return Period(label=f"{first:%Y-%m}", months=(first,))


@dataclass
class CustomerSla:
    slug: str
    name: str
    rows: list[dict]
    overall: dict
    mtt: dict
    breaches_total: int
    alerts: int
    incidents: int
    previous_compliance_pct: float | None
    previous_alerts: int
    previous_incidents: int
    at_risk: bool
    reasons: list[str] = field(default_factory=list)

    @property
    def compliance_points(self) -> float | None:
        now, before = self.overall.get("compliance_pct"), self.previous_compliance_pct
        return None if now is None or before is None else round(now - before, 1)


def _bounds(period: Period) -> tuple[datetime, datetime]:
    from reports.metrics import month_bounds

    start, _, _ = month_bounds(month=period.months[0])
    _, end, _ = month_bounds(month=period.months[-1])
    return start, end


def _volumes(start: datetime, end: datetime) -> tuple[int, int]:
    from mdr.alerts.models import Alert
    from mdr.incidents.models import Incident

    alerts = Alert.objects.filter(received_at__gte=start, received_at__lt=end).count()
    incidents = Incident.objects.filter(created_at__gte=start, created_at__lt=end).count()
    return alerts, incidents


def sla_report_dangerously_all_tenants(*, period: Period, actor: Actor) -> list[CustomerSla]:
    """Every active customer's SLA figures for ``period``, each read inside its schema and audited there."""
    from reports.metrics import sla_summary
    from tenants.selectors import customer_list

    threshold = settings.MDR_SLA_AT_RISK_PCT
    previous = period.previous()
    out = []
    for customer in customer_list().filter(status="active").order_by("name"):
        with schema_context(customer.schema_name):
            start, end = _bounds(period)
            sla = sla_summary(start=start, end=end)
            alerts, incidents = _volumes(start, end)
            prev_start, prev_end = _bounds(previous)
            prev_sla = sla_summary(start=prev_start, end=prev_end)
            prev_alerts, prev_incidents = _volumes(prev_start, prev_end)
            audit_record(
                actor=actor, action="provider.sla_report.view", target_type="sla_report", target_id=period.label
            )
        compliance = sla["overall"].get("compliance_pct")
        reasons = []
        if compliance is not None and compliance < threshold:
            reasons.append(f"compliance below {threshold:g} %")
        if any(r["priority"] == "P1" and r["breached"] for r in sla["rows"]):
            reasons.append("P1 breach")
        out.append(
            CustomerSla(
                slug=customer.slug,
                name=customer.name,
                rows=sla["rows"],
                overall=sla["overall"],
                mtt=sla["mtt"],
                breaches_total=sla["breaches_total"],
                alerts=alerts,
                incidents=incidents,
                previous_compliance_pct=prev_sla["overall"].get("compliance_pct"),
                previous_alerts=prev_alerts,
                previous_incidents=prev_incidents,
                at_risk=bool(reasons),
                reasons=reasons,
            )
        )
    return out


CSV_HEADER = [
    "period",
    "customer",
    "subject",
    "metric",
    "priority",
    "met",
    "breached",
    "open",
    "compliance_pct",
    "goal_seconds",
    "customer_compliance_pct",
    "previous_compliance_pct",
    "compliance_change_points",
    "breaches_total",
    "mtta_mean_business_s",
    "mttn_mean_business_s",
    "mttr_mean_business_s",
    "alerts",
    "previous_alerts",
    "incidents",
    "previous_incidents",
    "at_risk",
    "at_risk_reasons",
]


def _mean(block: dict, metric: str):
    value = (block.get(metric) or {}).get("business") or {}
    return value.get("mean")


def sla_report_csv(*, period: Period, customers: list[CustomerSla]) -> bytes:
    """One row per customer, subject, metric and priority (a customer without timers gets one row of totals)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for c in customers:
        common = [
            c.overall.get("compliance_pct"),
            c.previous_compliance_pct,
            c.compliance_points,
            c.breaches_total,
            _mean(c.mtt, "acknowledge"),
            _mean(c.mtt, "notify"),
            _mean(c.mtt, "resolve"),
            c.alerts,
            c.previous_alerts,
            c.incidents,
            c.previous_incidents,
            "yes" if c.at_risk else "no",
            "; ".join(c.reasons),
        ]
        rows = c.rows or [{"subject": "", "metric": "", "priority": "", "met": 0, "breached": 0, "open": 0}]
        for r in rows:
            writer.writerow(
                [
                    period.label,
                    c.slug,
                    r.get("subject", ""),
                    r.get("metric", ""),
                    r.get("priority", ""),
                    r.get("met", 0),
                    r.get("breached", 0),
                    r.get("open", 0),
                    r.get("compliance_pct"),
                    r.get("goal_seconds"),
                    *common,
                ]
            )
    return out.getvalue().encode("utf-8")


def sla_report_pdf(*, period: Period, customers: list[CustomerSla], generated_at: datetime) -> bytes:
    """The same figures as a PDF (A4 landscape, header repeated on every page)."""
    from django.template.loader import render_to_string
    from weasyprint import HTML

    html = render_to_string(
        "reports/sla_overview.html",
        {
            "period": period,
            "customers": customers,
            "generated_at": generated_at,
            "threshold": settings.MDR_SLA_AT_RISK_PCT,
        },
    )
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()
