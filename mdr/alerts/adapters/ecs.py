"""``ecs``: Elastic Security alerts (8.x ``kibana.alert.*``, 7.x ``signal.*``) and other ECS 8.x alert documents
(``event.kind`` = ``alert``/``signal``), e.g. NDR sensors shipping ECS.

Every field is read whether the document is nested (``{"kibana": {"alert": {...}}}``), flattened with dotted
keys (``{"kibana.alert.rule.name": ...}``, as Elastic stores alerts) or a mix of both. A search hit
(``{"_id": ..., "_source": {...}}``) is read from ``_source``; ``raw`` is always the item as sent.

Mapping (ECS field -> normalised field: notes):

- ``@timestamp``, else ``timestamp``, else ``event.created`` (one required) -> observed_at (offset kept)
- ``kibana.alert.rule.name``, ``signal.rule.name``, ``rule.name``, else a sensor's signature
  (Gatewatcher ``sigflow.signature``, ``nba.signature``), else ``event.reason``, ``message`` (first line),
  ``event.action``, else "<``observer.vendor``> <``event.module`` or ``event.dataset``> alert" -> title
  (one required)
- ``kibana.alert.reason``, ``signal.reason``, ``kibana.alert.rule.description``, ``signal.rule.description``,
  ``rule.description``, ``event.reason``, ``message``, ``malcore.detail_threat_found`` -> description
- severity_id, first found of:
  1. ``kibana.alert.severity`` / ``signal.rule.severity`` names: low 2, medium 3, high 4, critical 5;
  2. ``event.severity``, a number on the source's own scale (table below);
  3. ``kibana.alert.risk_score`` / ``signal.rule.risk_score`` / ``event.risk_score`` 0-100, Elastic's bands:
     0-21 Low, 22-47 Medium, 48-73 High, 74-100 Critical;
  else 0 Unknown. severity_raw is the value used, as text.
- ``rule.category``, else ``sigflow.category`` / ``nba.category``, else ``event.category[]`` joined with ", "
  -> category
- ``kibana.alert.rule.rule_id`` / ``.uuid``, ``signal.rule.rule_id`` / ``.id``, ``rule.id`` / ``rule.uuid``,
  else ``sigflow.signature_id`` / ``nba.signature_id`` -> rule_id; the title's rule name -> rule_name
- ``kibana.alert.rule.threat[]``, ``signal.rule.threat[]``, ``threat``: ``tactic.id`` (``tactic.name`` when
  there is no id) -> tactics; ``technique.id``, ``technique.subtechnique.id`` -> techniques
- ``host.name``, ``host.hostname`` -> hosts (the observer is the sensor, not an affected host)
- ``host.ip``, ``source.ip``, ``destination.ip``, ``client.ip``, ``server.ip``, ``related.ip`` -> ips
- ``user.name``, ``source.user.name``, ``destination.user.name``, ``related.user`` -> users
- ``cloud.provider``, ``cloud.account.id``, ``cloud.region`` -> cloud_*
- ``observer.product``, ``observer.vendor`` -> source_product, source_vendor (Elastic alerts: "Elastic Security",
  "Elastic"; default "ECS", "Unknown")
- ``kibana.alert.uuid``, else the hit's ``_id``, else ``event.id`` -> external_id and
  ``dedup_from_id`` (``event.id`` scoped by observer vendor and product). An all-zero id is a placeholder and
  counts as none; without an id the key hashes title, rule, time, hosts and IPs.

``event.severity`` is "the numeric severity of the event according to your event source" (ECS), so the scale is
the source's. It is read as (first matching case):

- the document is CEF (a ``cef`` object or ``event.module`` = cef): CEF 0-10, higher is worse:
  0-3 Low, 4-6 Medium, 7-8 High, 9-10 Critical;
- equal to ``log.syslog.severity.code``: syslog 0-7, lower is worse: 0-2 Critical, 3 High, 4 Medium, 5 Low,
  6-7 Informational;
- 0-7: a priority, lower is worse (Suricata via Filebeat, Gatewatcher 0-3, PAN-OS 1-5): 1 High, 2 Medium,
  3 Low, 0 and 4-7 Informational (Gatewatcher sends 0 for "no threat detected");
- 8-100: a risk score (Elastic Defend writes its risk score here): the risk bands above;
- anything else: 0 Unknown.

Detection: a ``kibana.alert`` object or a ``kibana.alert.*`` key, a ``signal.rule``, or ``event.kind`` = alert/signal
together with ``@timestamp`` or ``ecs.version``.
"""

import math
from typing import Any

from mdr.alerts.adapters.base import (
    SEVERITY_CRITICAL,
    SEVERITY_HIGH,
    SEVERITY_INFO,
    SEVERITY_LOW,
    SEVERITY_MEDIUM,
    SEVERITY_UNKNOWN,
    Adapter,
    AdapterError,
    NormalizedAlert,
    dedup_from_fields,
    dedup_from_id,
    first,
    parse_time,
    register,
    severity_from_name,
)

ALERT_KINDS = {"alert", "signal"}
SENSOR_OBJECTS = ("sigflow", "nba")  # Gatewatcher: Suricata-based signature alerts in vendor objects
TITLE_PATHS = ("kibana.alert.rule.name", "signal.rule.name", "rule.name")
DESCRIPTION_PATHS = (
    "kibana.alert.reason",
    "signal.reason",
    "kibana.alert.rule.description",
    "signal.rule.description",
    "rule.description",
    "event.reason",
    "message",
    "malcore.detail_threat_found",
)
SEVERITY_NAME_PATHS = ("kibana.alert.severity", "signal.rule.severity", "kibana.alert.rule.parameters.severity")
RISK_SCORE_PATHS = (
    "kibana.alert.risk_score",
    "signal.rule.risk_score",
    "kibana.alert.rule.parameters.risk_score",
    "event.risk_score",
)
RULE_ID_PATHS = (
    "kibana.alert.rule.rule_id",
    "kibana.alert.rule.uuid",
    "signal.rule.rule_id",
    "signal.rule.id",
    "rule.id",
    "rule.uuid",
)
THREAT_ROOTS = ("kibana.alert.rule.threat", "signal.rule.threat", "threat")
TIME_PATHS = ("@timestamp", "timestamp", "event.created")
HOST_PATHS = ("host.name", "host.hostname")
IP_PATHS = ("host.ip", "source.ip", "destination.ip", "client.ip", "server.ip", "related.ip")
USER_PATHS = ("user.name", "source.user.name", "destination.user.name", "related.user")
# syslog 0 emergency, 1 alert, 2 critical, 3 error, 4 warning, 5 notice, 6 informational, 7 debug
SYSLOG_SEVERITY = {
    0: SEVERITY_CRITICAL,
    1: SEVERITY_CRITICAL,
    2: SEVERITY_CRITICAL,
    3: SEVERITY_HIGH,
    4: SEVERITY_MEDIUM,
    5: SEVERITY_LOW,
    6: SEVERITY_INFO,
    7: SEVERITY_INFO,
}
# IDS priority (Suricata/Snort classification priority, Gatewatcher): 1 is the most severe
PRIORITY_SEVERITY = {1: SEVERITY_HIGH, 2: SEVERITY_MEDIUM, 3: SEVERITY_LOW}


# ---- nested / dotted access -------------------------------------------------------------------------------


def _collect(node: Any, parts: list[str], out: list, depth: int = 0) -> None:
    if depth > 32:  # arrays nested this deep are not ECS; stop rather than recurse without bound
        return
    if isinstance(node, list):
        for element in node:
            _collect(element, parts, out, depth + 1)
        return
    if not parts:
        if node is not None and node != "":
            out.append(node)
        return
    if not isinstance(node, dict):
        return
    for i in range(len(parts), 0, -1):  # "a.b.c" may be stored as a.b.c, {"a.b": {"c"}}, {"a": {"b.c"}}, ...
        key = ".".join(parts[:i])
        if key in node:
            _collect(node[key], parts[i:], out, depth + 1)


def values(doc: Any, path: str) -> list:
    """Every value at ``path`` (nested, dotted or mixed keys; lists flattened), in document order."""
    out: list = []
    _collect(doc, path.split("."), out)
    return out


def value(doc: Any, *paths: str) -> Any:
    """The first scalar value found at any of ``paths``, else None."""
    for path in paths:
        for found in values(doc, path):
            if not isinstance(found, dict):
                return found
    return None


def _number(raw: Any) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        number = float(raw)
    elif isinstance(raw, str):
        try:
            number = float(raw.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _is_placeholder_id(raw: Any) -> bool:
    text = str(raw).strip()
    return not text or set(text) <= set("0-")


def risk_band(score: float) -> int:
    if score < 0 or score > 100:
        return SEVERITY_UNKNOWN
    if score <= 21:
        return SEVERITY_LOW
    if score <= 47:
        return SEVERITY_MEDIUM
    if score <= 73:
        return SEVERITY_HIGH
    return SEVERITY_CRITICAL


def cef_band(level: int) -> int:
    if level <= 3:
        return SEVERITY_LOW
    if level <= 6:
        return SEVERITY_MEDIUM
    if level <= 8:
        return SEVERITY_HIGH
    return SEVERITY_CRITICAL


def event_severity(doc: Any, number: float) -> int:
    """``event.severity`` on the OCSF scale; the scale is the source's (see the module docstring)."""
    if number != int(number):
        return risk_band(number) if 0 <= number <= 100 else SEVERITY_UNKNOWN
    level = int(number)
    module = str(value(doc, "event.module") or "").lower()
    if (values(doc, "cef") or module == "cef") and 0 <= level <= 10:
        return (
            SEVERITY_LOW
            if level <= 3
            else SEVERITY_MEDIUM
            if level <= 6
            else SEVERITY_HIGH
            if level <= 8
            else (SEVERITY_CRITICAL)
        )
    syslog = _number(value(doc, "log.syslog.severity.code"))
    if syslog is not None and syslog == level and 0 <= level <= 7:
        return SYSLOG_SEVERITY[level]
    if 0 <= level <= 7:
        return PRIORITY_SEVERITY.get(level, SEVERITY_INFO)
    if 8 <= level <= 100:
        return risk_band(level)
    return SEVERITY_UNKNOWN


@register
class EcsAdapter(Adapter):
    name = "ecs"
    product = "ECS"
    vendor = "Unknown"
    detect_priority = 40

    @staticmethod
    def _doc(item: Any) -> Any:
        source = item.get("_source") if isinstance(item, dict) else None
        return source if isinstance(source, dict) else item

    def detect(self, item) -> bool:
        try:
            doc = self._doc(item)
            if not isinstance(doc, dict):
                return False
            if self._is_elastic_alert(doc):
                return True
            kind = value(doc, "event.kind")
            return (
                isinstance(kind, str)
                and kind.lower() in ALERT_KINDS
                and ("@timestamp" in doc or value(doc, "ecs.version") is not None)
            )
        except Exception:  # detect must never raise
            return False

    @staticmethod
    def _is_elastic_alert(doc: dict) -> bool:
        kibana = doc.get("kibana")
        if isinstance(kibana, dict) and (
            isinstance(kibana.get("alert"), dict) or any(isinstance(k, str) and k.startswith("alert.") for k in kibana)
        ):
            return True
        signal = doc.get("signal")
        if isinstance(signal, dict) and isinstance(signal.get("rule"), dict):
            return True
        return any(isinstance(k, str) and k.startswith(("kibana.alert.", "signal.rule.")) for k in doc)

    def normalize(self, item) -> NormalizedAlert:
        doc = self._doc(item)
        errors: dict[str, list[str] | str] = {}
        title = self._title(doc)
        if not title:
            errors["rule.name"] = (
                "required: no title source (kibana.alert.rule.name, rule.name, event.reason, message, event.module)"
            )
        try:
            observed_at = self._time(doc)
        except AdapterError as exc:
            errors.update(exc.errors)
        if errors:
            raise AdapterError(errors)

        severity_id, severity_raw = self._severity(doc)
        elastic = self._is_elastic_alert(doc)
        product = str(value(doc, "observer.product") or ("Elastic Security" if elastic else self.product))
        vendor = str(value(doc, "observer.vendor") or ("Elastic" if elastic else self.vendor))
        rule_id = str(first(value(doc, *RULE_ID_PATHS), *self._sensor(doc, "signature_id"), default=""))
        rule_name = str(first(value(doc, *TITLE_PATHS), *self._sensor(doc, "signature"), default=""))
        hosts = [str(h) for path in HOST_PATHS for h in values(doc, path)]
        ips = [str(i) for path in IP_PATHS for i in values(doc, path)]
        external_id, dedup = self._identity(item, doc, product, vendor)
        if not dedup:
            dedup = dedup_from_fields(
                self.name, title, rule_id, observed_at.isoformat(), *sorted(h.lower() for h in hosts), *sorted(ips)
            )
        tactics, techniques = self._threat(doc)
        categories = [str(c) for c in values(doc, "event.category")]
        return NormalizedAlert(
            source_format=self.name,
            source_product=product,
            source_vendor=vendor,
            title=title,
            severity_id=severity_id,
            severity_raw=severity_raw,
            observed_at=observed_at,
            dedup_key=dedup,
            raw=item,
            external_id=external_id,
            description=str(value(doc, *DESCRIPTION_PATHS) or ""),
            category=str(
                first(value(doc, "rule.category"), *self._sensor(doc, "category"), ", ".join(categories), default="")
            ),
            rule_id=rule_id,
            rule_name=rule_name,
            tactics=tactics,
            techniques=techniques,
            hosts=hosts,
            ips=ips,
            users=[str(u) for path in USER_PATHS for u in values(doc, path)],
            cloud_provider=str(value(doc, "cloud.provider") or ""),
            cloud_account=str(value(doc, "cloud.account.id") or ""),
            cloud_region=str(value(doc, "cloud.region") or ""),
        )

    # ---- parts -----------------------------------------------------------------------------------------

    @staticmethod
    def _sensor(doc, key: str) -> list:
        return [value(doc, f"{obj}.{key}") for obj in SENSOR_OBJECTS]

    def _title(self, doc) -> str:
        message = value(doc, "message")
        message = message.strip().splitlines()[0] if isinstance(message, str) and message.strip() else None
        fallback = None
        module = first(value(doc, "event.module"), value(doc, "event.dataset"))
        if module:
            fallback = f"{value(doc, 'observer.vendor') or ''} {module} alert".strip()
        candidates = [
            value(doc, *TITLE_PATHS),
            *self._sensor(doc, "signature"),
            value(doc, "event.reason"),
            message,
            value(doc, "event.action"),
            fallback,
        ]
        for candidate in candidates:
            if candidate is not None and not isinstance(candidate, dict | list) and str(candidate).strip():
                return str(candidate).strip()
        return ""

    @staticmethod
    def _time(doc):
        for path in TIME_PATHS:
            raw = value(doc, path)
            if raw is not None and raw != "":
                return parse_time(raw, path)
        raise AdapterError({"@timestamp": "time is missing (@timestamp, timestamp or event.created)"})

    @staticmethod
    def _severity(doc) -> tuple[int, str]:
        name = value(doc, *SEVERITY_NAME_PATHS)
        if name is not None:
            by_name = severity_from_name(str(name))
            if by_name is not None:
                return by_name, str(name)
        raw = value(doc, "event.severity")
        number = _number(raw)
        if number is not None:
            return event_severity(doc, number), str(raw)
        raw = value(doc, *RISK_SCORE_PATHS)
        number = _number(raw)
        if number is not None:
            return risk_band(number), str(raw)
        return SEVERITY_UNKNOWN, "" if name is None else str(name)

    @staticmethod
    def _threat(doc) -> tuple[list, list]:
        tactics: list = []
        techniques: list = []
        for root in THREAT_ROOTS:
            ids = values(doc, f"{root}.tactic.id")
            tactics += ids or values(doc, f"{root}.tactic.name")
            techniques += values(doc, f"{root}.technique.id") + values(doc, f"{root}.technique.subtechnique.id")
        return tactics, techniques

    def _identity(self, item, doc, product: str, vendor: str) -> tuple[str, str]:
        """(external_id, dedup key from the source's id), or ("", "") when the document has no usable id."""
        uuid = value(doc, "kibana.alert.uuid")
        if uuid is not None and not _is_placeholder_id(uuid):
            return str(uuid), dedup_from_id(self.name, "kibana.alert.uuid", uuid)
        hit_id = item.get("_id") if isinstance(item, dict) else None
        if hit_id is not None and not _is_placeholder_id(hit_id):
            return str(hit_id), dedup_from_id(self.name, "_id", hit_id)
        event_id = value(doc, "event.id")
        if event_id is not None and not _is_placeholder_id(event_id):
            return str(event_id), dedup_from_id(self.name, vendor, product, event_id)
        return "", ""
