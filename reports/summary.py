"""Words for the monthly report's figures, per report language (the contract's, not the viewer's): how numbers,
percentages, durations and local times are written, the health status and its reasons, and the executive-summary
bullets generated from the metrics (docs/reports.md, schema_version 1).

Everything here returns plain text; the template escapes it (source names and other data end up in bullets).
Only figures present in the metrics are stated, never derived estimates, so every number in the summary can be
found again in the report's tables and in the attached metrics.json.
"""

# ruff: noqa: RUF001 -- Japanese text uses full-width punctuation (commas, colons, parentheses) on purpose.

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

LANGUAGES = ("ja", "en")
NONE = "\u2014"  # shown for null figures (no sample)

# Thresholds above which a month-over-month change is called out as notable.
NOTABLE_ALERTS_PCT = 20.0
NOTABLE_INCIDENTS_PCT = 20.0
NOTABLE_SLA_POINTS = 1.0

HEALTH_STATUS = {
    "ja": {"ok": "良好", "at_risk": "要注意"},
    "en": {"ok": "OK", "at_risk": "At risk"},
}
HEALTH_HEADLINE = {
    "ja": {
        "ok": "今月、サービスの健全性に問題は検出されませんでした。",
        "at_risk": "今月は次の点に注意が必要です。",
    },
    "en": {
        "ok": "No service health issue was detected this month.",
        "at_risk": "This month needs your attention on the following points.",
    },
}
HEALTH_REASONS = {
    "ja": {
        "sla_breaches": "SLA違反が発生しました",
        "silent_sources": "ログが途絶しているログソースがあります",
        "open_critical_incidents": "未解決の重大インシデント（優先度P1・P2）があります",
        "customer_unreachable": "エスカレーション時にお客様と連絡が取れない事象がありました",
    },
    "en": {
        "sla_breaches": "SLA breaches occurred",
        "silent_sources": "One or more log sources are silent",
        "open_critical_incidents": "Critical incidents (priority P1 or P2) are still open",
        "customer_unreachable": "Your contacts could not be reached during an escalation",
    },
}


def _lang(language: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"report language must be one of {LANGUAGES}, not {language!r}")
    return language


# --- formats -------------------------------------------------------------------------------------------------


def fmt_int(value: float | None) -> str:
    if value is None:
        return NONE
    return f"{round(value):,}"


def fmt_number(value: float | None) -> str:
    """An amount that may be fractional (entitlement usage such as GB per day)."""
    if value is None:
        return NONE
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.1f}"


def fmt_pct(value: float | None) -> str:
    return NONE if value is None else f"{value:.1f}%"


def fmt_change_pct(value: float | None) -> str:
    return NONE if value is None else f"{value:+.1f}%"


def fmt_points(value: float | None, language: str) -> str:
    if value is None:
        return NONE
    return f"{value:+.1f}ポイント" if _lang(language) == "ja" else f"{value:+.1f} pt"


def fmt_duration(seconds: float | None, language: str) -> str:
    """Whole seconds, shown in the two largest units, truncated: 45s, 12m 05s, 3h 04m, 2d 03h."""
    if seconds is None:
        return NONE
    total = int(seconds)
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if _lang(language) == "ja":
        if days:
            text = f"{days}日{hours}時間"
        elif hours:
            text = f"{hours}時間{minutes}分"
        elif minutes:
            text = f"{minutes}分{secs}秒"
        else:
            text = f"{secs}秒"
    elif days:
        text = f"{days}d {hours:02d}h"
    elif hours:
        text = f"{hours}h {minutes:02d}m"
    elif minutes:
        text = f"{minutes}m {secs:02d}s"
    else:
        text = f"{secs}s"
    return sign + text


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"time without an offset in the metrics: {value!r}")
    return parsed


def fmt_time(value: str | None, tz: ZoneInfo, *, with_zone: bool = False, seconds: bool = False) -> str:
    """An instant from the metrics in the report's time zone: ``2026-10-03 14:05`` (``with_zone`` adds the
    abbreviation, needed when the zone changes offset inside the month)."""
    parsed = parse_time(value)
    if parsed is None:
        return NONE
    local = parsed.astimezone(tz)
    text = local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{text} {local.strftime('%Z')}" if with_zone else text


def month_label(month: str, language: str) -> str:
    """``2026-10`` as the report writes a month."""
    year, number = month.split("-")
    return f"{int(year)}年{int(number)}月" if _lang(language) == "ja" else f"{month}"


# --- health ----------------------------------------------------------------------------------------------------


def health_wording(health: dict, language: str) -> dict:
    """Status label, headline and one sentence per reason code (unknown codes are shown as the code)."""
    language = _lang(language)
    status = health.get("status") or "ok"
    reasons = [HEALTH_REASONS[language].get(code, str(code)) for code in health.get("reasons") or []]
    return {
        "status": status,
        "label": HEALTH_STATUS[language].get(status, str(status)),
        "headline": HEALTH_HEADLINE[language].get(status, ""),
        "reasons": reasons,
    }


# --- executive summary ---------------------------------------------------------------------------------------


def _prev_month(metrics: dict) -> str | None:
    months = metrics.get("trends", {}).get("months") or []
    return months[-2]["month"] if len(months) >= 2 else None


def _this_month_trend(metrics: dict) -> dict | None:
    months = metrics.get("trends", {}).get("months") or []
    if months and months[-1].get("month") == metrics["period"]["month"]:
        return months[-1]
    return None


def executive_summary(metrics: dict, language: str) -> list[str]:
    """The summary bullets, in this order: alerts, incidents, critical incidents, SLA, changes vs last month,
    coverage problems, escalations, false positives. Figures are the metrics', formatted as in the tables."""
    language = _lang(language)
    ja = language == "ja"
    bullets: list[str] = []
    funnel = metrics["funnel"]
    incidents = metrics["incidents"]
    sla = metrics["sla"]
    esc = metrics["escalations"]
    coverage = metrics["coverage"]

    received, occurrences = funnel["received"], funnel["occurrences"]
    if received:
        bullets.append(
            f"今月の受信アラートは{fmt_int(received)}件（重複を含む発生回数{fmt_int(occurrences)}回）、"
            f"SOCの対応対象は{fmt_int(funnel['worked'])}件、うちトリアージ済みは{fmt_int(funnel['triaged'])}件でした。"
            if ja
            else f"{fmt_int(received)} alerts were received this month ({fmt_int(occurrences)} occurrences including "
            f"folded duplicates); {fmt_int(funnel['worked'])} were worked by the SOC and "
            f"{fmt_int(funnel['triaged'])} of them triaged."
        )
    else:
        bullets.append("今月の受信アラートはありませんでした。" if ja else "No alerts were received this month.")

    created = incidents["created"]
    by_priority = incidents.get("by_priority") or {}
    split = ", ".join(f"{p}: {fmt_int(by_priority.get(p, 0))}" for p in ("P1", "P2", "P3", "P4"))
    if created:
        bullets.append(
            f"インシデントを{fmt_int(created)}件起票しました（{split}）。月末時点で未解決のインシデントは"
            f"{fmt_int(incidents['open_at_end'])}件です。"
            if ja
            else f"{fmt_int(created)} incidents were opened ({split}); {fmt_int(incidents['open_at_end'])} "
            f"{'was' if incidents['open_at_end'] == 1 else 'were'} open at month end."
        )
    else:
        bullets.append(
            f"今月起票したインシデントはありません。月末時点で未解決のインシデントは{fmt_int(incidents['open_at_end'])}件です。"
            if ja
            else f"No incidents were opened this month; {fmt_int(incidents['open_at_end'])} open at month end."
        )

    trend = _this_month_trend(metrics)
    if trend is not None:
        critical = trend.get("critical_incidents") or 0
        if ja:
            bullets.append(
                f"重大インシデント（優先度P1・P2）は{fmt_int(critical)}件でした。"
                if critical
                else "重大インシデント（優先度P1・P2）はありませんでした。"
            )
        else:
            bullets.append(
                f"{fmt_int(critical)} critical incident{'s' if critical != 1 else ''} (priority P1 or P2)."
                if critical
                else "No critical incidents (priority P1 or P2)."
            )

    overall = sla["overall"]
    if overall.get("compliance_pct") is None:
        bullets.append(
            "今月開始したSLAタイマーで結果（達成または違反）が確定したものはなく、SLA遵守率は算出されません。"
            if ja
            else "No SLA timer started this month has an outcome yet (met or breached), so there is no compliance "
            "figure."
        )
    else:
        worst = min(
            (r for r in sla.get("rows") or [] if r.get("compliance_pct") is not None and r.get("breached")),
            key=lambda r: (r["compliance_pct"], r["metric"], r["priority"]),
            default=None,
        )
        text = (
            f"SLA遵守率は{fmt_pct(overall['compliance_pct'])}（達成{fmt_int(overall['met'])}件、"
            f"違反{fmt_int(overall['breached'])}件）でした。"
            if ja
            else f"SLA compliance was {fmt_pct(overall['compliance_pct'])} ({fmt_int(overall['met'])} met, "
            f"{fmt_int(overall['breached'])} breached)."
        )
        if worst is not None:
            text += (
                f"最も低かったのは{METRIC_NAMES[language].get(worst['metric'], worst['metric'])} "
                f"{worst['priority']}の{fmt_pct(worst['compliance_pct'])}です。"
                if ja
                else f" Lowest: {METRIC_NAMES[language].get(worst['metric'], worst['metric'])} "
                f"{worst['priority']} at {fmt_pct(worst['compliance_pct'])}."
            )
        bullets.append(text)

    bullets.extend(_changes(metrics, language))

    silent = [s["name"] for s in coverage.get("log_sources") or [] if s.get("silent")]
    if silent:
        names = "、".join(silent) if ja else ", ".join(silent)
        bullets.append(
            f"データ時点でログが途絶しているログソース: {names}。"
            if ja
            else f"Silent log source{'s' if len(silent) > 1 else ''} at the data cut-off: {names}."
        )
    degraded = coverage.get("degraded_periods") or []
    if degraded:
        seconds = sum(d.get("seconds") or 0 for d in degraded)
        bullets.append(
            f"監視の劣化期間が{len(degraded)}件、合計{fmt_duration(seconds, language)}ありました。"
            if ja
            else f"{len(degraded)} degraded coverage period{'s' if len(degraded) > 1 else ''} "
            f"totalling {fmt_duration(seconds, language)}."
        )
    over_quota = coverage.get("scope_counts", {}).get("over_quota") or 0
    if over_quota:
        bullets.append(
            f"契約数量の上限を超えたため対応対象外（over quota）となったアラートが{fmt_int(over_quota)}件あります。"
            if ja
            else f"{fmt_int(over_quota)} alerts were over quota (beyond the contracted entitlement, not worked)."
        )

    if esc["count"]:
        median = esc.get("customer_ack_seconds", {}).get("median")
        bullets.append(
            f"お客様へのエスカレーションは{fmt_int(esc['count'])}件（受領確認{fmt_int(esc['acknowledged'])}件、"
            f"応答なし{fmt_int(esc['unanswered'])}件、連絡不能{fmt_int(esc['unreachable'])}件）、"
            f"受領確認までの時間の中央値は{fmt_duration(median, language)}でした。"
            if ja
            else f"{fmt_int(esc['count'])} escalations to your contacts: {fmt_int(esc['acknowledged'])} acknowledged, "
            f"{fmt_int(esc['unanswered'])} unanswered, {fmt_int(esc['unreachable'])} unreachable; median time to "
            f"acknowledge {fmt_duration(median, language)}."
        )

    fp_rate = funnel.get("false_positive_rate")
    if fp_rate is not None:
        bullets.append(
            f"分類済みアラートに占める誤検知の割合は{fmt_pct(fp_rate)}でした。"
            if ja
            else f"False positives were {fmt_pct(fp_rate)} of classified alerts."
        )
    return bullets


def _changes(metrics: dict, language: str) -> list[str]:
    """Changes vs the previous month; the ones past the NOTABLE_* thresholds are called out first."""
    ja = language == "ja"
    mom = metrics.get("trends", {}).get("mom") or {}
    prev = _prev_month(metrics)
    alerts_pct, incidents_pct, sla_points = mom.get("alerts_pct"), mom.get("incidents_pct"), mom.get("sla_points")
    if prev is None or (alerts_pct is None and incidents_pct is None and sla_points is None):
        return ["前月との比較データはありません。" if ja else "No comparison with the previous month is available."]
    parts = []
    if alerts_pct is not None:
        parts.append(f"アラート {fmt_change_pct(alerts_pct)}" if ja else f"alerts {fmt_change_pct(alerts_pct)}")
    if incidents_pct is not None:
        parts.append(
            f"インシデント {fmt_change_pct(incidents_pct)}" if ja else f"incidents {fmt_change_pct(incidents_pct)}"
        )
    if sla_points is not None:
        parts.append(
            f"SLA遵守率 {fmt_points(sla_points, language)}"
            if ja
            else f"SLA compliance {fmt_points(sla_points, language)}"
        )
    notable = (
        (alerts_pct is not None and abs(alerts_pct) >= NOTABLE_ALERTS_PCT)
        or (incidents_pct is not None and abs(incidents_pct) >= NOTABLE_INCIDENTS_PCT)
        or (sla_points is not None and abs(sla_points) >= NOTABLE_SLA_POINTS)
    )
    prev_label = month_label(prev, language)
    if ja:
        text = f"前月（{prev_label}）比: " + "、".join(parts) + "。"
        if notable:
            text = "【注目】" + text
    else:
        text = f"Compared with {prev_label}: " + ", ".join(parts) + "."
        if notable:
            text = "Notable change. " + text
    return [text]


METRIC_NAMES = {
    "ja": {
        "acknowledge": "受付時間",
        "notify": "通知時間",
        "update": "続報間隔",
        "resolve": "解決時間",
    },
    "en": {
        "acknowledge": "time to acknowledge",
        "notify": "time to notify",
        "update": "update cadence",
        "resolve": "time to resolve",
    },
}
