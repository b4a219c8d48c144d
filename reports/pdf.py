"""Rendering of the monthly report: metrics (docs/reports.md, schema_version 1) -> HTML (Django template
``reports/monthly.html``) -> PDF/A-3b (WeasyPrint) with the metrics JSON and the alert and incident CSVs attached.

What belongs here: the report's labels per language (the contract's language, not the viewer's, hence a dict and
not gettext), the view model the template displays (every figure formatted in the report's language and time
zone), branding (``settings.MDR_REPORT_BRANDING`` merged over defaults, validated), the Japanese-font guard, and
the WeasyPrint call. Rendering is deterministic: the PDF's dates are the metrics' ``as_of`` and nothing reads the
clock, so the same input gives the same bytes (tests/reports/test_pdf.py checks it).

Trust boundaries: titles, rule names, hosts, users, reasons and the analyst's texts are data (often
attacker-influenced). The template autoescapes them; charts escape their own text; nothing from data reaches the
CSS (page-margin texts come from ``string-set``); WeasyPrint may only load ``data:`` URLs (the logo is inlined),
so no file or network access follows from the document.
"""

# ruff: noqa: RUF001 -- Japanese labels use full-width punctuation on purpose.

from __future__ import annotations

import base64
import functools
import json
import logging
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.template.loader import render_to_string

from reports import charts
from reports.summary import (
    METRIC_NAMES,
    NONE,
    executive_summary,
    fmt_change_pct,
    fmt_duration,
    fmt_int,
    fmt_number,
    fmt_pct,
    fmt_points,
    fmt_time,
    health_wording,
    month_label,
    parse_time,
)

log = logging.getLogger(__name__)

LANGUAGES = ("ja", "en")
SCHEMA_VERSION = 1
JP_FONT_FAMILY = "Noto Sans CJK JP"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"  # the project's static/ (STATICFILES_DIRS)
STYLESHEET = STATIC_DIR / "reports" / "report.css"
GENERATOR = "MDR monthly report (WeasyPrint)"

# settings.MDR_REPORT_BRANDING uses the same keys; a key it does not set keeps its default here.
DEFAULT_BRANDING = {
    "name": "MDR Service",  # the provider's name: cover, page footer, PDF author
    "logo": "",  # a path under static/ (.svg or .png) or a data:image/(svg+xml|png);base64 URI; "" = text wordmark
    "color": "#1f4e79",  # primary colour, #rrggbb: headings, table headers, charts
}

_HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_DATA_URI = re.compile(r"^data:image/(svg\+xml|png);base64,[A-Za-z0-9+/]+={0,2}$")
_CJK = re.compile(r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


class ReportRenderError(Exception):
    """The report cannot be rendered as a trustworthy PDF (bad input, bad branding, missing Japanese font)."""


LABELS: dict[str, dict[str, str]] = {
    "en": {
        "report_title": "Monthly Security Report",
        "draft": "DRAFT",
        "draft_note": "Draft for review, not the published report",
        "period": "Reporting period",
        "period_range": "{start} to {end} (end excluded)",
        "timezone": "Time zone",
        "as_of": "Data as of",
        "report_version": "Report version",
        "provider": "Provided by",
        "health": "Service health",
        "times_note": "All times in this report are in",
        "kpi_alerts": "Alerts received",
        "kpi_incidents": "Incidents created",
        "kpi_sla": "SLA compliance",
        "kpi_escalations": "Escalations",
        "s_summary": "1. Executive summary",
        "s_coverage": "2. Service coverage",
        "s_funnel": "3. Alert funnel",
        "s_breakdowns": "4. Breakdowns",
        "s_incidents": "5. Incidents",
        "s_sla": "6. SLA compliance",
        "s_escalations": "7. Escalations",
        "s_trends": "8. Trends",
        "s_recommendations": "9. Recommendations and open customer actions",
        "s_appendix": "10. Appendix: definitions and data",
        "contract_versions": "Contract versions in force during the month",
        "cv_number": "Version",
        "cv_valid": "Valid",
        "cv_tier": "Service tier",
        "cv_mode": "Response mode",
        "cv_coverage": "Coverage hours",
        "cv_policy": "SLA policy",
        "cv_open_end": "open",
        "no_contract": "No published contract version was in force during the month.",
        "coverage_24x7": "24x7",
        "holidays": "holidays",
        "closed_days": "closed days",
        "scope_outcomes": "Alerts by scope outcome",
        "scope_status": "Scope outcome",
        "alerts": "Alerts",
        "incidents": "Incidents",
        "total": "Total",
        "assets": "Assets",
        "item": "Item",
        "value": "Value",
        "count": "Count",
        "in_scope_assets": "In-scope assets (distinct hosts in in-scope alerts)",
        "inventory_assets": "Assets in the inventory",
        "entitlements": "Entitlement usage",
        "ent_metric": "Entitlement",
        "ent_measurement": "Measurement",
        "ent_used": "Used",
        "ent_limit": "Limit",
        "ent_pct": "Usage",
        "log_sources": "Log sources",
        "ls_name": "Source",
        "ls_last_seen": "Last heard",
        "ls_status": "Status",
        "ls_silent": "Silent",
        "ls_ok": "Receiving",
        "degraded": "Degraded coverage periods",
        "dg_source": "Source",
        "dg_start": "Start",
        "dg_end": "End",
        "dg_ongoing": "ongoing",
        "dg_duration": "Duration",
        "no_degraded": "No degraded coverage period.",
        "reason": "Reason",
        "none": "None.",
        "funnel_chart": "From alerts received to incidents",
        "step": "Step",
        "classification": "Classification",
        "fp_rate": "False positive rate",
        "f_received": "Alerts received",
        "f_occurrences": "Occurrences (duplicates folded in)",
        "f_worked": "Worked (in scope + unknown asset)",
        "f_triaged": "Triaged",
        "f_in_incidents": "Alerts in incidents",
        "f_incidents": "Incidents created",
        "by_severity": "Alerts by severity",
        "by_priority": "Worked alerts by priority",
        "by_category": "Alerts by category (top 10)",
        "by_tactic": "Alerts by ATT&CK tactic (top 10)",
        "by_technique": "ATT&CK techniques (top 10)",
        "by_source": "Sources (top 10)",
        "top_rules": "Detection rules (top 10)",
        "top_hosts": "Hosts (top 10)",
        "top_users": "Users (top 10)",
        "technique": "Technique",
        "source": "Source",
        "rule": "Rule",
        "rule_id": "ID",
        "host": "Host",
        "user": "User",
        "more_csv": "and {n} more ({total} in all) \u2014 see the attached {file}",
        "more_listed": "and {n} more not listed here ({total} in all)",
        "inc_created": "Incidents created",
        "inc_open_at_end": "Open at month end",
        "inc_priority": "Priority {p}",
        "inc_state": "State",
        "inc_list": "Incidents created this month",
        "inc_id": "Incident",
        "inc_title": "Title",
        "priority": "Priority",
        "severity": "Severity",
        "no_incidents": "No incident was created this month.",
        "timeline_note": "Timeline: times in the report's time zone; (+) is the time elapsed since detection.",
        "t_detected": "Detected",
        "t_acknowledged": "Acknowledged",
        "t_notified": "Notified",
        "t_customer_acknowledged": "Customer acknowledged",
        "t_contained": "Contained",
        "t_resolved": "Resolved",
        "t_closed": "Closed",
        "sla_overall": "Overall SLA compliance",
        "sla_by_metric": "By metric and priority",
        "subject": "Subject",
        "metric": "Metric",
        "goal": "Goal",
        "met": "Met",
        "breached": "Breached",
        "open": "Open",
        "compliance": "Compliance",
        "no_timers": "No SLA timer started this month.",
        "mtt": "Response times (MTTA / MTTN / MTTR)",
        "business_time": "Business time",
        "wall_time": "Wall-clock time",
        "mean": "Mean",
        "median": "Median",
        "p90": "90th pct.",
        "mtta": "MTTA (acknowledge)",
        "mttn": "MTTN (notify)",
        "mttr": "MTTR (resolve)",
        "breaches": "SLA breaches",
        "deadline": "Deadline",
        "breached_at": "Breached at",
        "late_by": "Late by",
        "paused": "Paused",
        "pauses": "pauses",
        "no_breaches": "No SLA breach this month.",
        "paused_by_reason": "Paused time by reason",
        "timers": "Timers",
        "paused_total": "Paused time",
        "subject_alert": "Alert",
        "subject_incident": "Incident",
        "escalations": "Escalations",
        "deliveries": "Deliveries",
        "esc_count": "Escalations started",
        "esc_acknowledged": "Acknowledged",
        "esc_unanswered": "Unanswered",
        "esc_unreachable": "Unreachable",
        "esc_ack_n": "Acknowledged (n)",
        "esc_ack_mean": "Time to acknowledge, mean",
        "esc_ack_median": "Time to acknowledge, median",
        "esc_ack_p90": "Time to acknowledge, 90th pct.",
        "esc_sent": "Deliveries sent",
        "esc_failed": "Deliveries failed",
        "esc_cancelled": "Deliveries cancelled",
        "esc_level_reached": "Level reached",
        "esc_level_n": "Level {n}",
        "esc_channel": "Channel",
        "esc_list": "Escalations started this month",
        "esc_started": "Started",
        "esc_first_delivery": "First notice",
        "esc_state": "State",
        "esc_level": "Level",
        "esc_acknowledged_at": "Acknowledged at",
        "esc_acknowledged_by": "By",
        "esc_ack_time": "Time to ack.",
        "no_escalations": "No escalation this month.",
        "trend_alerts": "Alerts received (6 months)",
        "trend_incidents": "Incidents (6 months)",
        "trend_sla": "SLA compliance % (6 months)",
        "trend_fp": "False positive rate % (6 months)",
        "month": "Month",
        "critical_incidents": "Critical incidents",
        "mom": "Change vs last month",
        "recommendations": "Our recommendations",
        "customer_actions": "Open actions on your side",
        "no_recommendations": "No recommendation this month.",
        "no_customer_actions": "No open action.",
        "schema_version": "Metrics schema version",
        "attachments": "Attached files",
        "attachments_text": "metrics.json (every figure of this report, exact), alerts.csv (every alert received in "
        "the month), incidents.csv (every incident created in the month).",
        "no_data": "no data",
        "description": "Monthly managed detection and response report for {customer}, {month}.",
    },
    "ja": {
        "report_title": "月次セキュリティレポート",
        "draft": "下書き",
        "draft_note": "レビュー用の下書きです（公開版ではありません）",
        "period": "対象期間",
        "period_range": "{start} 〜 {end}（終了時刻を含まない）",
        "timezone": "タイムゾーン",
        "as_of": "データ時点",
        "report_version": "レポートの版",
        "provider": "提供",
        "health": "サービスの健全性",
        "times_note": "本レポートの時刻はすべて次のタイムゾーンです:",
        "kpi_alerts": "受信アラート",
        "kpi_incidents": "起票インシデント",
        "kpi_sla": "SLA遵守率",
        "kpi_escalations": "エスカレーション",
        "s_summary": "1. エグゼクティブサマリー",
        "s_coverage": "2. 監視の対象範囲",
        "s_funnel": "3. アラート処理の流れ",
        "s_breakdowns": "4. 内訳",
        "s_incidents": "5. インシデント",
        "s_sla": "6. SLA遵守状況",
        "s_escalations": "7. エスカレーション",
        "s_trends": "8. 傾向",
        "s_recommendations": "9. 推奨事項とお客様の対応事項",
        "s_appendix": "10. 付録: 定義とデータ",
        "contract_versions": "対象月に有効だった契約バージョン",
        "cv_number": "版",
        "cv_valid": "有効期間",
        "cv_tier": "サービスレベル",
        "cv_mode": "対応モード",
        "cv_coverage": "対応時間帯",
        "cv_policy": "SLAポリシー",
        "cv_open_end": "継続中",
        "no_contract": "対象月に有効な公開済みの契約バージョンはありません。",
        "coverage_24x7": "24時間365日",
        "holidays": "祝日",
        "closed_days": "休業日",
        "scope_outcomes": "スコープ判定別のアラート",
        "scope_status": "スコープ判定",
        "alerts": "アラート",
        "incidents": "インシデント",
        "total": "合計",
        "assets": "資産",
        "item": "項目",
        "value": "値",
        "count": "件数",
        "in_scope_assets": "対象資産（対象アラートに現れたホスト数）",
        "inventory_assets": "資産台帳の資産数",
        "entitlements": "契約数量の使用状況",
        "ent_metric": "契約数量",
        "ent_measurement": "計測方法",
        "ent_used": "使用量",
        "ent_limit": "上限",
        "ent_pct": "使用率",
        "log_sources": "ログソース",
        "ls_name": "ソース",
        "ls_last_seen": "最終受信",
        "ls_status": "状態",
        "ls_silent": "途絶",
        "ls_ok": "受信中",
        "degraded": "監視の劣化期間",
        "dg_source": "ソース",
        "dg_start": "開始",
        "dg_end": "終了",
        "dg_ongoing": "継続中",
        "dg_duration": "期間",
        "no_degraded": "監視の劣化期間はありません。",
        "reason": "理由",
        "none": "なし",
        "funnel_chart": "受信アラートからインシデントまで",
        "step": "段階",
        "classification": "分類",
        "fp_rate": "誤検知率",
        "f_received": "受信アラート",
        "f_occurrences": "発生回数（重複を含む）",
        "f_worked": "対応対象（対象 + 未登録資産）",
        "f_triaged": "トリアージ済み",
        "f_in_incidents": "インシデント化したアラート",
        "f_incidents": "起票インシデント",
        "by_severity": "重大度別のアラート",
        "by_priority": "優先度別の対応対象アラート",
        "by_category": "カテゴリ別のアラート（上位10件）",
        "by_tactic": "ATT&CK戦術別のアラート（上位10件）",
        "by_technique": "ATT&CK手法（上位10件）",
        "by_source": "ソース（上位10件）",
        "top_rules": "検知ルール（上位10件）",
        "top_hosts": "ホスト（上位10件）",
        "top_users": "ユーザー（上位10件）",
        "technique": "手法",
        "source": "ソース",
        "rule": "ルール",
        "rule_id": "ID",
        "host": "ホスト",
        "user": "ユーザー",
        "more_csv": "ほか{n}件（全{total}件）: 添付の{file}を参照してください",
        "more_listed": "ほか{n}件はここに記載していません（全{total}件）",
        "inc_created": "起票インシデント",
        "inc_open_at_end": "月末時点の未解決",
        "inc_priority": "優先度 {p}",
        "inc_state": "状態",
        "inc_list": "今月起票したインシデント",
        "inc_id": "インシデント",
        "inc_title": "件名",
        "priority": "優先度",
        "severity": "重大度",
        "no_incidents": "今月起票したインシデントはありません。",
        "timeline_note": "タイムライン: 時刻はレポートのタイムゾーン、(+) は検知からの経過時間です。",
        "t_detected": "検知",
        "t_acknowledged": "受付",
        "t_notified": "通知",
        "t_customer_acknowledged": "お客様受領確認",
        "t_contained": "封じ込め",
        "t_resolved": "解決",
        "t_closed": "クローズ",
        "sla_overall": "SLA遵守率（全体）",
        "sla_by_metric": "指標・優先度別",
        "subject": "対象",
        "metric": "指標",
        "goal": "目標時間",
        "met": "達成",
        "breached": "違反",
        "open": "未確定",
        "compliance": "遵守率",
        "no_timers": "今月開始したSLAタイマーはありません。",
        "mtt": "対応時間（MTTA / MTTN / MTTR）",
        "business_time": "営業時間ベース",
        "wall_time": "実時間ベース",
        "mean": "平均",
        "median": "中央値",
        "p90": "90パーセンタイル",
        "mtta": "MTTA（受付）",
        "mttn": "MTTN（通知）",
        "mttr": "MTTR（解決）",
        "breaches": "SLA違反",
        "deadline": "期限",
        "breached_at": "違反時刻",
        "late_by": "超過時間",
        "paused": "一時停止",
        "pauses": "一時停止",
        "no_breaches": "今月のSLA違反はありません。",
        "paused_by_reason": "理由別の一時停止時間",
        "timers": "タイマー数",
        "paused_total": "一時停止時間",
        "subject_alert": "アラート",
        "subject_incident": "インシデント",
        "escalations": "エスカレーション",
        "deliveries": "配信",
        "esc_count": "開始したエスカレーション",
        "esc_acknowledged": "受領確認済み",
        "esc_unanswered": "応答なし",
        "esc_unreachable": "連絡不能",
        "esc_ack_n": "受領確認（n）",
        "esc_ack_mean": "受領確認までの時間（平均）",
        "esc_ack_median": "受領確認までの時間（中央値）",
        "esc_ack_p90": "受領確認までの時間（90パーセンタイル）",
        "esc_sent": "送信済みの配信",
        "esc_failed": "失敗した配信",
        "esc_cancelled": "取り消された配信",
        "esc_level_reached": "到達段階",
        "esc_level_n": "第{n}段階",
        "esc_channel": "チャネル",
        "esc_list": "今月開始したエスカレーション",
        "esc_started": "開始",
        "esc_first_delivery": "最初の通知",
        "esc_state": "状態",
        "esc_level": "段階",
        "esc_acknowledged_at": "受領確認",
        "esc_acknowledged_by": "確認者",
        "esc_ack_time": "確認までの時間",
        "no_escalations": "今月のエスカレーションはありません。",
        "trend_alerts": "受信アラート（6か月）",
        "trend_incidents": "インシデント（6か月）",
        "trend_sla": "SLA遵守率 %（6か月）",
        "trend_fp": "誤検知率 %（6か月）",
        "month": "月",
        "critical_incidents": "重大インシデント",
        "mom": "前月比",
        "recommendations": "推奨事項",
        "customer_actions": "お客様の未完了の対応事項",
        "no_recommendations": "今月の推奨事項はありません。",
        "no_customer_actions": "未完了の対応事項はありません。",
        "schema_version": "集計データのスキーマバージョン",
        "attachments": "添付ファイル",
        "attachments_text": "metrics.json（本レポートの全数値の正確な値）、alerts.csv（対象月に受信した全アラート）、"
        "incidents.csv（対象月に起票した全インシデント）。",
        "no_data": "データなし",
        "description": "{customer} 様 {month} の月次MDRレポート",
    },
}

CHOICES: dict[str, dict[str, dict[str, str]]] = {
    "en": {
        "severity": {
            "0": "Unknown",
            "1": "Informational",
            "2": "Low",
            "3": "Medium",
            "4": "High",
            "5": "Critical",
            "6": "Fatal",
        },
        "scope": {
            "in_scope": "In scope",
            "out_of_scope": "Out of scope",
            "excluded": "Excluded",
            "unknown_asset": "Unknown asset",
            "unsupported_source": "Unsupported source",
            "over_quota": "Over quota",
        },
        "classified": {
            "true_positive": "True positive",
            "benign_true_positive": "Benign true positive",
            "false_positive": "False positive",
            "duplicate": "Duplicate",
        },
        "incident_state": {
            "new": "New",
            "investigating": "Investigating",
            "escalated": "Escalated to you",
            "awaiting_customer": "Awaiting your reply",
            "contained": "Contained",
            "resolved": "Resolved",
            "closed": "Closed",
        },
        "escalation_state": {
            "running": "Unanswered",
            "acknowledged": "Acknowledged",
            "unreachable": "Unreachable",
        },
        "tier": {"standard": "Standard", "premium": "Premium", "basic": "Basic"},
        "response_mode": {
            "notify_only": "Notify only",
            "collaborate": "Collaborate",
            "authorize": "Authorized to act",
        },
        "entitlement": {
            "endpoints": "Endpoints",
            "servers": "Servers",
            "log_sources": "Log sources",
            "eps_avg": "Events per second (average)",
            "eps_peak": "Events per second (peak)",
            "gb_per_day": "GB per day",
        },
        "measurement": {
            "daily_max": "Daily maximum",
            "unique_in_month": "Unique in month",
            "avg_24h": "24 h average",
            "peak_24h": "24 h peak",
        },
        "channel": {
            "email": "E-mail",
            "phone": "Phone",
            "sms": "SMS",
            "slack": "Slack",
            "teams": "Teams",
            "webhook": "Webhook",
        },
        "weekday": {"0": "Mon", "1": "Tue", "2": "Wed", "3": "Thu", "4": "Fri", "5": "Sat", "6": "Sun"},
    },
    "ja": {
        "severity": {
            "0": "不明",
            "1": "情報",
            "2": "低",
            "3": "中",
            "4": "高",
            "5": "重大",
            "6": "致命的",
        },
        "scope": {
            "in_scope": "対象",
            "out_of_scope": "対象外",
            "excluded": "除外",
            "unknown_asset": "未登録資産",
            "unsupported_source": "未対応ソース",
            "over_quota": "数量超過",
        },
        "classified": {
            "true_positive": "真陽性",
            "benign_true_positive": "無害な真陽性",
            "false_positive": "誤検知",
            "duplicate": "重複",
        },
        "incident_state": {
            "new": "新規",
            "investigating": "調査中",
            "escalated": "お客様へエスカレーション済み",
            "awaiting_customer": "お客様の回答待ち",
            "contained": "封じ込め済み",
            "resolved": "解決済み",
            "closed": "クローズ",
        },
        "escalation_state": {
            "running": "応答なし",
            "acknowledged": "受領確認済み",
            "unreachable": "連絡不能",
        },
        "tier": {"standard": "スタンダード", "premium": "プレミアム", "basic": "ベーシック"},
        "response_mode": {
            "notify_only": "通知のみ",
            "collaborate": "協働対応",
            "authorize": "対処権限あり",
        },
        "entitlement": {
            "endpoints": "エンドポイント",
            "servers": "サーバー",
            "log_sources": "ログソース",
            "eps_avg": "毎秒イベント数（平均）",
            "eps_peak": "毎秒イベント数（ピーク）",
            "gb_per_day": "1日あたりGB",
        },
        "measurement": {
            "daily_max": "日次最大",
            "unique_in_month": "月内のユニーク数",
            "avg_24h": "24時間平均",
            "peak_24h": "24時間ピーク",
        },
        "channel": {
            "email": "メール",
            "phone": "電話",
            "sms": "SMS",
            "slack": "Slack",
            "teams": "Teams",
            "webhook": "Webhook",
        },
        "weekday": {"0": "月", "1": "火", "2": "水", "3": "木", "4": "金", "5": "土", "6": "日"},
    },
}

METRIC_ORDER = ("acknowledge", "notify", "update", "resolve")
MTT_LABEL_KEYS = (("acknowledge", "mtta"), ("notify", "mttn"), ("resolve", "mttr"))


# --- Japanese font guard -----------------------------------------------------------------------------------------


def japanese_font_available(family: str = JP_FONT_FAMILY) -> bool:
    """Whether fontconfig (the one WeasyPrint renders with) has ``family`` with Japanese coverage.

    Asks the library WeasyPrint itself loaded (``FcFontMatch`` for family + ``lang=ja``, then compares the matched
    family), so the answer is the renderer's; falls back to ``fc-list :lang=ja family`` if those bindings move.
    """
    try:
        from weasyprint.text.ffi import ffi, fontconfig
    except ImportError:  # pragma: no cover - WeasyPrint internals moved; ask the command line instead
        return _fc_list_has(family)
    pattern = fontconfig.FcPatternCreate()
    try:
        fontconfig.FcPatternAddString(pattern, b"family", family.encode())
        fontconfig.FcPatternAddString(pattern, b"lang", b"ja")
        fontconfig.FcConfigSubstitute(ffi.NULL, pattern, 0)  # FcMatchPattern
        fontconfig.FcDefaultSubstitute(pattern)
        result = ffi.new("FcResult *")
        match = fontconfig.FcFontMatch(ffi.NULL, pattern, result)
        if match == ffi.NULL:
            return False
        try:
            value = ffi.new("FcChar8 **")
            index = 0
            while fontconfig.FcPatternGetString(match, b"family", index, value) == 0:  # FcResultMatch
                if ffi.string(value[0]).decode("utf-8", "replace").casefold() == family.casefold():
                    return True
                index += 1
            return False
        finally:
            fontconfig.FcPatternDestroy(match)
    finally:
        fontconfig.FcPatternDestroy(pattern)


def _fc_list_has(family: str) -> bool:  # pragma: no cover - fallback only
    import subprocess

    try:
        out = subprocess.run(["fc-list", ":lang=ja", "family"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return any(family.casefold() in line.casefold() for line in out.splitlines())


def _require_japanese_font() -> None:
    if not japanese_font_available():
        raise ReportRenderError("no Japanese font installed (fonts-noto-cjk)")


# --- branding ----------------------------------------------------------------------------------------------------


def report_branding(branding: dict | None = None) -> dict:
    """Defaults, then ``settings.MDR_REPORT_BRANDING``, then ``branding`` (keys ``name``, ``logo``, ``color``);
    validated, so a bad setting fails the render instead of producing an odd PDF. The logo becomes a data URI (the
    document then needs no file access, and the HTML preview shows it too). Returns ``provider_name``,
    ``logo_uri`` and ``primary_color``."""
    configured = getattr(settings, "MDR_REPORT_BRANDING", {}) or {}
    merged = {**DEFAULT_BRANDING, **configured, **(branding or {})}
    unknown = set(merged) - set(DEFAULT_BRANDING)
    if unknown:
        raise ReportRenderError(f"branding: unknown keys {sorted(unknown)} (expected {sorted(DEFAULT_BRANDING)})")
    color = str(merged["color"] or DEFAULT_BRANDING["color"])
    if not _HEX_COLOR.match(color):
        raise ReportRenderError(f"branding: color must be #rrggbb, not {color!r}")
    name = str(merged["name"] or "").strip()
    if not name:
        raise ReportRenderError("branding: name is empty")
    return {"provider_name": name, "primary_color": color.lower(), "logo_uri": _logo_uri(str(merged["logo"] or ""))}


def _logo_uri(logo: str) -> str:
    if not logo:
        return ""
    if logo.startswith("data:"):
        if not _DATA_URI.match(logo):
            raise ReportRenderError("branding: logo data URI must be data:image/(svg+xml|png);base64,...")
        return logo
    relative = logo.removeprefix("/").removeprefix("static/")
    path = (STATIC_DIR / relative).resolve()
    if not path.is_relative_to(STATIC_DIR.resolve()) or path.suffix.lower() not in (".svg", ".png"):
        raise ReportRenderError(f"branding: logo must be an .svg or .png under static/, not {logo!r}")
    if not path.is_file():
        raise ReportRenderError(f"branding: logo file not found: {logo!r}")
    mime = "image/svg+xml" if path.suffix.lower() == ".svg" else "image/png"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


# --- view model --------------------------------------------------------------------------------------------------


def _choice(language: str, group: str, key: object) -> str:
    return CHOICES[language][group].get(str(key), str(key))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ReportRenderError(f"metrics: unknown time zone {name!r}") from exc


def _offset_label(tz: ZoneInfo, when: datetime) -> str:
    offset = when.astimezone(tz).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _utc(value: str) -> str:
    parsed = parse_time(value)
    assert parsed is not None
    return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _more(L: dict, shown: int, total: int | None, file: str | None) -> str:
    if total is None or total <= shown:
        return ""
    if file:
        return L["more_csv"].format(n=fmt_int(total - shown), total=fmt_int(total), file=file)
    return L["more_listed"].format(n=fmt_int(total - shown), total=fmt_int(total))


def _coverage_text(coverage: object, language: str) -> str:
    L = LABELS[language]
    if coverage == "24x7" or (isinstance(coverage, dict) and coverage.get("type") == "24x7"):
        return L["coverage_24x7"]
    if not isinstance(coverage, dict):
        return str(coverage)
    days = []
    for day, intervals in sorted((coverage.get("weekly_hours") or {}).items(), key=lambda kv: int(kv[0])):
        hours = ", ".join(f"{a}-{b}" for a, b in intervals)
        days.append((_choice(language, "weekday", day), hours))
    # Consecutive days with the same hours are written as a range (Mon-Fri 09:00-18:00).
    groups: list[tuple[str, str, str]] = []
    for name, hours in days:
        if groups and groups[-1][2] == hours:
            groups[-1] = (groups[-1][0], name, hours)
        else:
            groups.append((name, name, hours))
    parts = [f"{a}-{b} {h}" if a != b else f"{a} {h}" for a, b, h in groups]
    sep = "、" if language == "ja" else "; "
    if coverage.get("holidays"):
        parts.append(f"{L['holidays']}: {', '.join(coverage['holidays'])}")
    if coverage.get("extra_holidays"):
        parts.append(f"{L['closed_days']}: {', '.join(coverage['extra_holidays'])}")
    return sep.join(parts)


def _check_metrics(metrics: dict) -> None:
    if not isinstance(metrics, dict) or metrics.get("schema_version") != SCHEMA_VERSION:
        found = metrics.get("schema_version") if isinstance(metrics, dict) else type(metrics).__name__
        raise ReportRenderError(f"metrics: schema_version {SCHEMA_VERSION} expected, got {found!r}")
    missing = [
        key
        for key in (
            "period",
            "contract",
            "health",
            "coverage",
            "funnel",
            "breakdowns",
            "incidents",
            "sla",
            "escalations",
            "trends",
        )
        if key not in metrics
    ]
    if missing:
        raise ReportRenderError(f"metrics: missing sections {missing}")


def build_context(
    *,
    metrics: dict,
    language: str,
    customer_name: str,
    recommendations: list[str],
    customer_actions: list[str],
    branding: dict | None = None,
    version: int = 1,
    draft: bool = False,
) -> dict:
    """Everything the template shows, formatted; charts as escaped SVG strings."""
    if language not in LANGUAGES:
        raise ReportRenderError(f"report language must be one of {LANGUAGES}, not {language!r}")
    _check_metrics(metrics)
    L = LABELS[language]
    brand = report_branding(branding)
    color = brand["primary_color"]
    period = metrics["period"]
    tz = _zone(period["timezone"])
    start, end = parse_time(period["start"]), parse_time(period["end"])
    if start is None or end is None or not period.get("as_of"):
        raise ReportRenderError("metrics: period start, end and as_of are required")
    # A zone that changes offset inside the month (DST) gets the abbreviation on every time: 01:30 twice otherwise.
    with_zone = start.astimezone(tz).utcoffset() != (end - timedelta(microseconds=1)).astimezone(tz).utcoffset()

    def t(value: str | None) -> str:
        return fmt_time(value, tz, with_zone=with_zone)

    def d(seconds: float | None) -> str:
        return fmt_duration(seconds, language)

    month = month_label(period["month"], language)
    draft_suffix = f" ({L['draft']})" if draft else ""
    title = f"{L['report_title']} {month} \u2014 {customer_name} v{version}{draft_suffix}"

    funnel = metrics["funnel"]
    incidents = metrics["incidents"]
    sla = metrics["sla"]
    esc = metrics["escalations"]
    coverage = metrics["coverage"]
    breakdowns = metrics["breakdowns"]
    trends = metrics["trends"]

    # Coverage
    contract_versions = []
    for v in metrics["contract"].get("versions") or []:
        policy = v.get("sla_policy")
        valid_to = fmt_time(v["valid_to"], tz) if v.get("valid_to") else L["cv_open_end"]
        contract_versions.append(
            {
                "number": v.get("number"),
                "valid": f"{fmt_time(v.get('valid_from'), tz)} \u2013 {valid_to}",
                "tier": _choice(language, "tier", v.get("service_tier")),
                "mode": _choice(language, "response_mode", v.get("response_mode")),
                "coverage": _coverage_text(v.get("coverage"), language),
                "policy": f"{policy['name']} v{policy['version']}" if policy else NONE,
            }
        )
    scope_counts = [
        {"label": _choice(language, "scope", key), "value": fmt_int(value)}
        for key, value in coverage["scope_counts"].items()
    ]
    entitlements = [
        {
            "metric": _choice(language, "entitlement", e.get("metric")),
            "measurement": _choice(language, "measurement", e.get("measurement")),
            "used": fmt_number(e.get("used")),
            "limit": fmt_number(e.get("limit")),
            "pct": fmt_pct(e.get("pct")),
            "high": (e.get("pct") or 0) >= 90,
        }
        for e in coverage.get("entitlements") or []
    ]
    log_sources = [
        {
            "name": s.get("name"),
            "last_seen": t(s.get("last_seen_at")),
            "alerts": fmt_int(s.get("alerts")),
            "silent": bool(s.get("silent")),
            "status": L["ls_silent"] if s.get("silent") else L["ls_ok"],
        }
        for s in coverage.get("log_sources") or []
    ]
    degraded = [
        {
            "source": p.get("source"),
            "start": t(p.get("start")),
            "end": t(p.get("end")) if p.get("end") else L["dg_ongoing"],
            "duration": d(p.get("seconds")),
            "reason": p.get("reason") or NONE,
        }
        for p in coverage.get("degraded_periods") or []
    ]

    # Funnel
    funnel_steps = [
        ("f_received", funnel["received"]),
        ("f_occurrences", funnel["occurrences"]),
        ("f_worked", funnel["worked"]),
        ("f_triaged", funnel["triaged"]),
        ("f_in_incidents", funnel["in_incidents"]),
        ("f_incidents", funnel["incidents"]),
    ]
    classified = [
        {"label": _choice(language, "classified", key), "value": fmt_int(value)}
        for key, value in funnel["classified"].items()
    ]

    # Breakdowns
    def pairs(rows: list[dict], label=lambda key: key) -> list[tuple[str, float]]:
        return [(label(r["key"]), r["count"]) for r in rows]

    totals = breakdowns.get("totals") or {}
    more = {
        "categories": _more(L, len(breakdowns.get("by_category") or []), totals.get("categories"), "alerts.csv"),
    }
    breakdown_tables = [
        {
            "title": L["by_technique"],
            "heads": [L["technique"], L["alerts"]],
            "rows": [[r["key"], fmt_int(r["count"])] for r in breakdowns.get("by_technique") or []],
            "more": "",
        },
        {
            "title": L["by_source"],
            "heads": [L["source"], L["alerts"]],
            "rows": [[r["key"], fmt_int(r["count"])] for r in breakdowns.get("by_source") or []],
            "more": "",
        },
        {
            "title": L["top_hosts"],
            "heads": [L["host"], L["alerts"]],
            "rows": [[r["key"], fmt_int(r["count"])] for r in breakdowns.get("top_hosts") or []],
            "more": _more(L, len(breakdowns.get("top_hosts") or []), totals.get("hosts"), "alerts.csv"),
        },
        {
            "title": L["top_users"],
            "heads": [L["user"], L["alerts"]],
            "rows": [[r["key"], fmt_int(r["count"])] for r in breakdowns.get("top_users") or []],
            "more": _more(L, len(breakdowns.get("top_users") or []), totals.get("users"), "alerts.csv"),
        },
    ]
    rules_table = {
        "title": L["top_rules"],
        "heads": [L["rule_id"], L["rule"], L["alerts"]],
        "rows": [[r["key"], r.get("name") or "", fmt_int(r["count"])] for r in breakdowns.get("top_rules") or []],
        "id_first": True,
        "more": _more(L, len(breakdowns.get("top_rules") or []), totals.get("rules"), "alerts.csv"),
    }
    breakdown_pairs = [breakdown_tables[0:2], breakdown_tables[2:4], [rules_table]]

    # Incidents
    steps = [
        ("detected_at", "t_detected"),
        ("acknowledged_at", "t_acknowledged"),
        ("notified_at", "t_notified"),
        ("customer_acknowledged_at", "t_customer_acknowledged"),
        ("contained_at", "t_contained"),
        ("resolved_at", "t_resolved"),
        ("closed_at", "t_closed"),
    ]
    incident_rows = []
    for i in incidents.get("list") or []:
        detected = parse_time(i.get("detected_at"))
        timeline = []
        for field, key in steps:
            at = parse_time(i.get(field))
            if at is None:
                continue
            delta = d((at - detected).total_seconds()) if detected and field != "detected_at" else ""
            timeline.append({"label": L[key], "time": t(i.get(field)), "delta": delta})
        incident_rows.append(
            {
                "id": i.get("id"),
                "title": i.get("title"),
                "priority": i.get("priority"),
                "priority_class": i.get("priority") if i.get("priority") in ("P1", "P2", "P3", "P4") else "",
                "severity": _choice(language, "severity", i.get("severity_id")),
                "state": _choice(language, "incident_state", i.get("state")),
                "alert_count": fmt_int(i.get("alert_count")),
                "timeline": timeline,
            }
        )
    incidents_view = {
        "created": fmt_int(incidents["created"]),
        "open_at_end": fmt_int(incidents["open_at_end"]),
        "by_priority": [
            {"label": L["inc_priority"].format(p=p), "value": fmt_int((incidents.get("by_priority") or {}).get(p, 0))}
            for p in ("P1", "P2", "P3", "P4")
        ],
        "by_state": [
            {"label": _choice(language, "incident_state", key), "value": fmt_int(value)}
            for key, value in (incidents.get("by_state") or {}).items()
        ],
        "list": incident_rows,
        "more": _more(L, len(incident_rows), incidents.get("list_total"), "incidents.csv"),
    }

    # SLA
    def metric_name(metric: str) -> str:
        name = METRIC_NAMES[language].get(metric, metric)
        return name[:1].upper() + name[1:]

    sla_rows = [
        {
            "subject": L.get(f"subject_{r.get('subject')}", str(r.get("subject"))),
            "metric": metric_name(r["metric"]),
            "priority": r["priority"],
            "goal": d(r.get("goal_seconds")),
            "met": fmt_int(r["met"]),
            "breached": fmt_int(r["breached"]),
            "open": fmt_int(r.get("open")),
            "n": fmt_int(r["met"] + r["breached"]),
            "pct": fmt_pct(r.get("compliance_pct")),
            "breached_any": bool(r["breached"]),
        }
        for r in sla.get("rows") or []
    ]
    mtt = []
    for metric, key in MTT_LABEL_KEYS:
        stats = (sla.get("mtt") or {}).get(metric) or {"n": 0, "business": {}, "wall": {}}
        business, wall = stats.get("business") or {}, stats.get("wall") or {}
        mtt.append(
            {
                "label": L[key],
                "n": fmt_int(stats.get("n", 0)),
                "b_mean": d(business.get("mean")),
                "b_median": d(business.get("median")),
                "b_p90": d(business.get("p90")),
                "w_mean": d(wall.get("mean")),
                "w_median": d(wall.get("median")),
                "w_p90": d(wall.get("p90")),
            }
        )
    breaches = [
        {
            "subject": L.get(f"subject_{b.get('subject')}", str(b.get("subject"))),
            "subject_id": b.get("subject_id"),
            "metric": metric_name(b.get("metric", "")),
            "priority": b.get("priority"),
            "goal": d(b.get("goal_seconds")),
            "deadline": t(b.get("deadline")),
            "breached_at": t(b.get("breached_at")),
            "late": d(b.get("late_seconds")) if b.get("late_seconds") is not None else "",
            "paused": d(b.get("paused_seconds")) if b.get("paused_seconds") else "",
            "reason": b.get("reason") or NONE,
            "pauses": [{"reason": p.get("reason"), "duration": d(p.get("seconds"))} for p in b.get("pauses") or []],
        }
        for b in sla.get("breaches") or []
    ]
    overall = sla["overall"]
    sla_view = {
        "overall": {
            "pct": fmt_pct(overall.get("compliance_pct")),
            "met": fmt_int(overall["met"]),
            "breached": fmt_int(overall["breached"]),
            "n": fmt_int(overall["met"] + overall["breached"]),
        },
        "rows": sla_rows,
        "mtt": mtt,
        "breaches": breaches,
        "breaches_total": fmt_int(sla.get("breaches_total", len(breaches))),
        "more": _more(L, len(breaches), sla.get("breaches_total"), None),
        "paused_by_reason": [
            {"reason": p.get("reason"), "count": fmt_int(p.get("count")), "duration": d(p.get("seconds"))}
            for p in sla.get("paused_by_reason") or []
        ],
    }

    # Escalations
    ack = esc.get("customer_ack_seconds") or {}
    deliveries = esc.get("deliveries") or {}
    esc_view = {
        "stats": [
            {"label": L["esc_count"], "value": fmt_int(esc["count"])},
            {"label": L["esc_acknowledged"], "value": fmt_int(esc["acknowledged"])},
            {"label": L["esc_unanswered"], "value": fmt_int(esc["unanswered"])},
            {"label": L["esc_unreachable"], "value": fmt_int(esc["unreachable"])},
            {"label": L["esc_ack_mean"], "value": d(ack.get("mean"))},
            {"label": L["esc_ack_median"], "value": d(ack.get("median"))},
            {"label": L["esc_ack_p90"], "value": d(ack.get("p90"))},
            {"label": L["esc_sent"], "value": fmt_int(deliveries.get("sent", 0))},
            {"label": L["esc_failed"], "value": fmt_int(deliveries.get("failed", 0))},
            {"label": L["esc_cancelled"], "value": fmt_int(deliveries.get("cancelled", 0))},
        ],
        "levels": [
            {"label": L["esc_level_n"].format(n=row.get("level")), "value": fmt_int(row.get("count"))}
            for row in esc.get("by_level_reached") or []
        ],
        "channels": [
            {"label": _choice(language, "channel", row.get("key")), "value": fmt_int(row.get("count"))}
            for row in deliveries.get("by_channel") or []
        ],
        "list": [
            {
                "incident_id": e.get("incident_id"),
                "started": t(e.get("started_at")),
                "first_delivery": t(e.get("first_delivery_at")),
                "state": _choice(language, "escalation_state", e.get("state")),
                "alarm": e.get("state") != "acknowledged",
                "level": fmt_int(e.get("level_reached")),
                "acknowledged_at": t(e.get("acknowledged_at")),
                "acknowledged_by": e.get("acknowledged_by") or "",
                "ack": d(e.get("ack_seconds")),
            }
            for e in esc.get("list") or []
        ],
        "more": _more(L, len(esc.get("list") or []), esc.get("count"), None),
    }

    # Trends
    months = trends.get("months") or []
    month_labels = [m["month"] for m in months]
    mom = trends.get("mom") or {}
    trends_view = {
        "months": [
            {
                "month": month_label(m["month"], language),
                "alerts": fmt_int(m.get("alerts")),
                "incidents": fmt_int(m.get("incidents")),
                "critical": fmt_int(m.get("critical_incidents")),
                "sla": fmt_pct(m.get("sla_compliance_pct")),
                "fp": fmt_pct(m.get("false_positive_rate")),
            }
            for m in months
        ],
        "mom": {
            "alerts": fmt_change_pct(mom.get("alerts_pct")),
            "incidents": fmt_change_pct(mom.get("incidents_pct")),
            "sla": fmt_points(mom.get("sla_points"), language),
        },
    }

    def pct_format(value: float) -> str:
        return f"{value:.1f}"

    def pct_tick(value: float) -> str:
        return f"{value:g}"

    # Every chart shares the colour and the "no data" wording; the trends also share their size.
    bar = functools.partial(charts.bar_chart, color=color, empty_label=L["no_data"])
    trend = functools.partial(charts.line_chart, labels=month_labels, width=330, height=190, empty_label=L["no_data"])
    chart_charts = {
        "funnel": bar(
            [(L[key], value) for key, value in funnel_steps if key != "f_occurrences"],  # not a funnel step
            width=680,
            height=150,
            horizontal=True,
            title=L["funnel_chart"],
        ),
        "severity": bar(
            pairs(breakdowns.get("by_severity") or [], lambda k: _choice(language, "severity", k)),
            width=330,
            height=190,
            title=L["by_severity"],
        ),
        "priority": bar(pairs(breakdowns.get("by_priority") or []), width=330, height=190, title=L["by_priority"]),
        "category": bar(
            pairs(breakdowns.get("by_category") or []), width=330, height=200, horizontal=True, title=L["by_category"]
        ),
        "tactic": bar(
            pairs(breakdowns.get("by_tactic") or []), width=330, height=200, horizontal=True, title=L["by_tactic"]
        ),
        "trend_alerts": trend(
            {L["alerts"]: [m.get("alerts") for m in months]}, colors=[color], title=L["trend_alerts"]
        ),
        "trend_incidents": trend(
            {
                L["incidents"]: [m.get("incidents") for m in months],
                L["critical_incidents"]: [m.get("critical_incidents") for m in months],
            },
            colors=[color, "#c0504d"],
            title=L["trend_incidents"],
        ),
        "trend_sla": trend(
            {L["compliance"]: [m.get("sla_compliance_pct") for m in months]},
            colors=[color],
            y_min=None,
            y_max=100,
            value_format=pct_format,
            tick_format=pct_tick,
            title=L["trend_sla"],
        ),
        "trend_fp": trend(
            {L["fp_rate"]: [m.get("false_positive_rate") for m in months]},
            colors=[color],
            y_max=100,
            value_format=pct_format,
            tick_format=pct_tick,
            title=L["trend_fp"],
        ),
    }

    as_of = parse_time(period["as_of"])
    assert as_of is not None
    range_text = L["period_range"].format(start=fmt_time(period["start"], tz), end=fmt_time(period["end"], tz))
    return {
        "lang": language,
        "L": L,
        "title": title,
        "description": L["description"].format(customer=customer_name, month=month),
        "keywords": f"MDR, {period['month']}, v{version}",
        "generator": GENERATOR,
        "created": as_of.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "stylesheet": STYLESHEET.read_text(encoding="utf-8"),
        "page_css": _page_css(language, color),
        "customer_name": customer_name,
        "branding": brand,
        "version": version,
        "draft": draft,
        "schema_version": metrics["schema_version"],
        "period": {
            "month_label": month,
            "range": range_text,
            "timezone": period["timezone"],
            "offset": _offset_label(tz, start),
            "as_of": fmt_time(period["as_of"], tz, with_zone=with_zone),
            "as_of_seconds": fmt_time(period["as_of"], tz, with_zone=with_zone, seconds=True),
            "as_of_utc": _utc(period["as_of"]),
            "start_utc": _utc(period["start"]),
            "end_utc": _utc(period["end"]),
        },
        "health": health_wording(metrics["health"], language),
        "kpis": [
            {"label": L["kpi_alerts"], "value": fmt_int(funnel["received"])},
            {"label": L["kpi_incidents"], "value": fmt_int(incidents["created"])},
            {"label": L["kpi_sla"], "value": fmt_pct(overall.get("compliance_pct"))},
            {"label": L["kpi_escalations"], "value": fmt_int(esc["count"])},
        ],
        "summary": executive_summary(metrics, language),
        "contract_versions": contract_versions,
        "scope_counts": scope_counts,
        "scope_total": fmt_int(sum(coverage["scope_counts"].values())),
        "assets": {
            "in_scope": fmt_int(coverage.get("in_scope_assets")),
            "inventory": fmt_int(coverage.get("inventory_assets")),
        },
        "entitlements": entitlements,
        "log_sources": log_sources,
        "degraded": degraded,
        "funnel": [{"label": L[key], "value": fmt_int(value)} for key, value in funnel_steps],
        "classified": classified,
        "fp_rate": fmt_pct(funnel.get("false_positive_rate")),
        "more": more,
        "breakdown_pairs": breakdown_pairs,
        "incidents": incidents_view,
        "sla": sla_view,
        "escalations": esc_view,
        "trends": trends_view,
        "charts": chart_charts,
        "recommendations": [str(text) for text in recommendations if str(text).strip()],
        "customer_actions": [str(text) for text in customer_actions if str(text).strip()],
    }


def _css_string(text: str) -> str:
    """A CSS string literal; quotes, backslashes and newlines escaped (labels only, never data)."""
    out = []
    for ch in text:
        if ch in ('"', "\\") or ord(ch) < 0x20 or ch in "<>":
            out.append(f"\\{ord(ch):x} ")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _page_css(language: str, color: str) -> str:
    """The parts of the stylesheet that depend on the language and the brand colour (validated hex)."""
    if language == "ja":
        counter = f"counter(page) {_css_string(' / ')} counter(pages) {_css_string(' ページ')}"
    else:
        counter = f"{_css_string('Page ')} counter(page) {_css_string(' of ')} counter(pages)"
    return (
        f"@page {{ @bottom-right {{ content: {counter}; }} }}\n"
        f"h1, h2, .cover .wordmark {{ color: {color}; }}\n"
        f"h2 {{ border-bottom-color: {color}; }}\n"
        f"table.data th {{ background: {color}; }}\n"
    )


# --- rendering ---------------------------------------------------------------------------------------------------


def render_report_html(
    *,
    metrics: dict,
    language: str,
    customer_name: str,
    recommendations: list[str],
    customer_actions: list[str],
    branding: dict | None = None,
    version: int = 1,
    draft: bool = False,
) -> str:
    """The report as one self-contained HTML document (stylesheet inlined, logo as a data URI)."""
    context = build_context(
        metrics=metrics,
        language=language,
        customer_name=customer_name,
        recommendations=recommendations,
        customer_actions=customer_actions,
        branding=branding,
        version=version,
        draft=draft,
    )
    return render_to_string("reports/monthly.html", context)


class _GlyphWarnings(logging.Handler):
    """Collects WeasyPrint's missing-glyph (.notdef) warnings of this thread's render only (workers are threaded)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread and ".notdef" in record.getMessage():
            self.messages.append(record.getMessage())


def _dedupe_associated_files(_document: object, pdf: object) -> None:
    """WeasyPrint 70 lists every PDF/A-3 associated file twice in the catalog's /AF array (once from the
    EmbeddedFiles name tree, once from the scan for /Filespec objects); keep each once, in order."""
    files = pdf.catalog.get("AF")  # type: ignore[attr-defined]
    if files:
        unique = list(dict.fromkeys(files))
        files.clear()
        files.extend(unique)


def render_report_pdf(
    *,
    metrics: dict,
    language: str,
    customer_name: str,
    recommendations: list[str],
    customer_actions: list[str],
    alerts_csv: bytes,
    incidents_csv: bytes,
    branding: dict | None = None,
    version: int = 1,
    draft: bool = False,
) -> bytes:
    """The report as PDF/A-3b bytes with ``metrics.json``, ``alerts.csv`` and ``incidents.csv`` embedded.

    Raises ``ReportRenderError`` for bad input or branding, and when the text needs a Japanese font (a Japanese
    report, or Japanese in the data of an English one) that fontconfig does not have.
    """
    from weasyprint import HTML, Attachment, URLFetcher

    if language == "ja":
        _require_japanese_font()  # before the work, not after a silent tofu render
    html = render_report_html(
        metrics=metrics,
        language=language,
        customer_name=customer_name,
        recommendations=recommendations,
        customer_actions=customer_actions,
        branding=branding,
        version=version,
        draft=draft,
    )
    if language != "ja" and _CJK.search(html):
        _require_japanese_font()
    as_of = parse_time(metrics["period"]["as_of"])
    assert as_of is not None
    stamp = as_of.astimezone(UTC)
    metrics_json = json.dumps(metrics, ensure_ascii=False, sort_keys=True, indent=2).encode()
    attachments = [
        # AFRelationship (PDF/A-3): the report is rendered from the metrics (Source); the CSVs are the data
        # behind its tables (Data).
        Attachment(
            string=metrics_json,
            name="metrics.json",
            description="Report metrics (schema_version 1)",
            created=stamp,
            modified=stamp,
            relationship="Source",
        ),
        Attachment(
            string=bytes(alerts_csv),
            name="alerts.csv",
            description="Alerts received in the month",
            created=stamp,
            modified=stamp,
            relationship="Data",
        ),
        Attachment(
            string=bytes(incidents_csv),
            name="incidents.csv",
            description="Incidents created in the month",
            created=stamp,
            modified=stamp,
            relationship="Data",
        ),
    ]
    weasy_logger = logging.getLogger("weasyprint")
    glyphs = _GlyphWarnings()
    weasy_logger.addHandler(glyphs)
    try:
        document = HTML(
            string=html,
            base_url=STATIC_DIR.as_uri() + "/",
            url_fetcher=URLFetcher(allowed_protocols={"data"}),
        ).render()
        pdf = document.write_pdf(pdf_variant="pdf/a-3b", attachments=attachments, finisher=_dedupe_associated_files)
    finally:
        weasy_logger.removeHandler(glyphs)
    if glyphs.messages:
        # Not fatal: data (titles, hosts) may carry characters no installed font has; the labels never do.
        log.warning(
            "reports.pdf.missing_glyphs",
            extra={"count": len(glyphs.messages), "first": glyphs.messages[0][:200], "language": language},
        )
    log.info(
        "reports.pdf.rendered",
        extra={"language": language, "pages": len(document.pages), "bytes": len(pdf), "draft": draft},
    )
    return pdf
