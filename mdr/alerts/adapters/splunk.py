"""``splunk``: Splunk alert-action webhooks and Splunk Enterprise Security notable events.

Accepted shapes:
- the webhook alert action's POST body: ``{"sid", "search_name", "app", "owner", "results_link", "result": {...}}``
  where ``result`` is the first result row of the triggering search (a notable's fields when the search is an ES
  correlation search or a ``| `notable` `` search);
- a search-export row ``{"preview": false, "result": {...}}`` (``/services/search/jobs/export?output_mode=json``);
- a bare result/notable object with ``_time`` and ES fields (``rule_name``, ``rule_title``, ``orig_sid``, …).

Field values may be multivalue (JSON lists); the first value is used for single fields, all values for entities.
"Fields" below means ``result`` (webhook, export) or the object itself (bare notable).

| Splunk field | normalised | notes |
| --- | --- | --- |
| ``rule_title`` / ``rule_name`` / ``search_name`` (webhook, then field) | title | ``$field$`` tokens in ``rule_title`` are filled from the fields |
| ``rule_description`` / ``description`` / ``signature`` / ``_raw`` | description | tokens filled as for the title |
| ``urgency`` then ``severity`` | severity_id | informational 1, low 2, medium 3, high 4, critical 5, unknown/other 0 |
| ``_time`` (epoch seconds or ISO 8601 with offset) | observed_at | else the trigger time in a scheduler ``sid`` (``…_at_<epoch>_…``) |
| ``event_id`` (notable) / ``sid`` (webhook) | external_id | |
| dedup | | notable: ``event_id``; else ``orig_sid`` + ``orig_rid`` + ``_time``; else webhook ``sid`` + the row (``_cd``, else ``_serial``, else ``_time`` + ``_raw``); else hashed title, rule, time, entities |
| ``search_name`` | rule_id | the saved/correlation search name is Splunk's rule id |
| ``rule_name`` / ``search_name`` | rule_name | |
| ``security_domain`` / ``category`` | category | ES: access, endpoint, network, threat, identity, audit |
| ``annotations.mitre_attack`` (+ ``.mitre_technique_id``) | techniques | flat dotted keys or nested ``annotations`` object |
| ``annotations.mitre_attack.mitre_tactic`` / ``.mitre_tactic_id`` | tactics | ATT&CK names ("Credential Access"), else TA ids |
| ``src``, ``dest``, ``dvc``, ``*_host``, ``*_nt_host``, ``orig_host``, ``host`` (not for notables) | hosts or ips | an IP value goes to ips, a name to hosts |
| ``src_ip``, ``dest_ip``, ``dvc_ip``, ``ip`` | ips | |
| ``user``, ``src_user``, ``dest_user`` | users | CIM "unknown" dropped |

In a notable event ``host`` is the ES search head that wrote it, so only ``orig_host`` is taken there.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from mdr.alerts.adapters.base import (
    Adapter,
    AdapterError,
    NormalizedAlert,
    attack_tactic,
    dedup_from_fields,
    dedup_from_id,
    first,
    parse_time,
    register,
    severity_from_name,
    technique_ids,
)

_NOTABLE_KEYS = ("rule_name", "rule_title", "orig_sid", "event_id", "security_domain", "urgency")
_ENTITY_KEYS = ("src", "dest", "dvc", "orig_host", "src_host", "dest_host", "dvc_host", "src_nt_host", "dest_nt_host")
_IP_KEYS = ("src_ip", "dest_ip", "dvc_ip", "ip")
_USER_KEYS = ("user", "src_user", "dest_user")
_NULLS = {"", "unknown", "-", "n/a", "null", "none"}
_SCHEDULER_SID = re.compile(r"scheduler__.*_at_(\d{9,11})_")
_TOKEN = re.compile(r"\$([\w.:-]+)\$")


def _many(fields: dict, name: str) -> list[str]:
    """All non-empty string values of a (possibly multivalue) field."""
    value = fields.get(name)
    out: list[str] = []
    for entry in value if isinstance(value, list) else [value]:
        if isinstance(entry, str | int | float) and not isinstance(entry, bool) and str(entry).strip():
            out.append(str(entry).strip())
    return out


def _one(fields: dict, name: str) -> str:
    values = _many(fields, name)
    return values[0] if values else ""


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _fill(template: str, fields: dict) -> str:
    """ES title/description tokens: ``$dest$`` -> the field's value (left as is when the field is absent)."""
    return _TOKEN.sub(lambda m: _one(fields, m.group(1)) or m.group(0), template)


def _unwrap(item: Any) -> tuple[dict | None, str]:
    """(the fields, the error-path prefix)."""
    if not isinstance(item, dict):
        return None, ""
    result = item.get("result")
    if isinstance(result, dict) and ("sid" in item or "preview" in item):
        return result, "result."
    return item, ""


def _annotation(fields: dict, key: str) -> list[str]:
    """``annotations.<key>`` from a flat dotted field or a nested ``annotations`` object."""
    values = _many(fields, f"annotations.{key}")
    node: Any = fields.get("annotations")
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, list | str):
        values += [v.strip() for v in (node if isinstance(node, list) else [node]) if isinstance(v, str)]
    return values


@register
class SplunkAdapter(Adapter):
    name = "splunk"
    product = "Splunk"
    vendor = "Splunk"
    detect_priority = 40

    def detect(self, item) -> bool:
        try:
            if not isinstance(item, dict):
                return False
            if isinstance(item.get("result"), dict):
                return ("sid" in item and ("search_name" in item or "results_link" in item)) or (
                    "preview" in item and "_time" in item["result"]
                )
            return "_time" in item and any(key in item for key in ("rule_name", "rule_title", "orig_sid"))
        except Exception:  # detect must never raise
            return False

    def normalize(self, item) -> NormalizedAlert:
        fields, prefix = _unwrap(item)
        if fields is None:
            raise AdapterError({"item": "expected a Splunk webhook payload or result object"})
        notable = any(key in fields for key in _NOTABLE_KEYS)
        sid = item.get("sid") if isinstance(item.get("sid"), str) else ""
        search_name = first(
            item.get("search_name") if isinstance(item.get("search_name"), str) else "",
            _one(fields, "search_name"),
            default="",
        ).strip()

        title = first(_fill(_one(fields, "rule_title"), fields), _one(fields, "rule_name"), search_name, default="")
        time_value: Any = _one(fields, "_time")
        time_field = prefix + "_time"
        if not time_value and sid and _SCHEDULER_SID.search(sid):
            time_value, time_field = int(_SCHEDULER_SID.search(sid).group(1)), "sid"
        errors: dict[str, Any] = {}
        if not title:
            errors["search_name"] = "required: search_name (webhook) or rule_title/rule_name (notable) gives the title"
        if not time_value:
            errors[time_field] = "time is missing (no _time in the result, and the sid carries no trigger time)"
        if errors:
            raise AdapterError(errors)
        observed_at = parse_time(time_value, time_field)

        severity_raw = first(_one(fields, "urgency"), _one(fields, "severity"), default="")
        severity_id = severity_from_name(severity_raw) or 0

        hosts: list[str] = []
        ips: list[str] = [v for key in _IP_KEYS for v in _many(fields, key)]
        for key in (*_ENTITY_KEYS, *(() if notable else ("host",))):
            for value in _many(fields, key):
                if value.lower() in _NULLS:
                    continue
                (ips if _is_ip(value) else hosts).append(value)
        users = [v for key in _USER_KEYS for v in _many(fields, key) if v.lower() not in _NULLS]

        tactic_names = [attack_tactic(v) or v for v in _annotation(fields, "mitre_attack.mitre_tactic")]
        tactics = tactic_names or [v.upper() for v in _annotation(fields, "mitre_attack.mitre_tactic_id")]
        techniques = technique_ids(
            _annotation(fields, "mitre_attack"), _annotation(fields, "mitre_attack.mitre_technique_id")
        )

        event_id = _one(fields, "event_id")
        rule_id = search_name
        if event_id:
            dedup = dedup_from_id(self.name, event_id)
        elif _one(fields, "orig_sid"):
            dedup = dedup_from_id(self.name, _one(fields, "orig_sid"), _one(fields, "orig_rid"), _one(fields, "_time"))
        elif sid:
            if _one(fields, "_cd"):
                row: tuple = ("cd", _one(fields, "_cd"))
            elif _one(fields, "_serial"):
                row = ("serial", _one(fields, "_serial"))
            else:
                row = ("row", _one(fields, "_time"), _one(fields, "_raw"))
            dedup = dedup_from_id(self.name, sid, *row)
        else:
            dedup = dedup_from_fields(
                self.name, title, rule_id, observed_at.isoformat(), *sorted(hosts), *sorted(ips), *sorted(users)
            )
        return NormalizedAlert(
            source_format=self.name,
            source_product="Splunk Enterprise Security" if notable else self.product,
            source_vendor=self.vendor,
            title=title,
            severity_id=severity_id,
            severity_raw=severity_raw,
            observed_at=observed_at,
            dedup_key=dedup,
            raw=item,
            external_id=event_id or sid,
            description=first(
                _fill(_one(fields, "rule_description"), fields),
                _one(fields, "description"),
                _one(fields, "signature"),
                _one(fields, "_raw"),
                default="",
            ),
            category=first(_one(fields, "security_domain"), _one(fields, "category"), default=""),
            rule_id=rule_id,
            rule_name=first(_one(fields, "rule_name"), search_name, default=""),
            tactics=tactics,
            techniques=techniques,
            hosts=hosts,
            ips=ips,
            users=users,
        )
