"""``ocsf``: OCSF 1.x events of the Findings category (class_uid 2xxx), e.g. Detection Finding (2004) and the
older Security Finding (2001), as written by AWS Security Hub, Falco, SecurityScorecard and others.

OCSF 1.1+ keeps the finding's details in ``finding_info``; 1.0 Security Finding (and pre-1.0 producers) used
``finding``. Both are read. ``attacks``/``analytic`` are read from ``finding_info`` and from the top level
(1.0 Security Finding and the Security Control profile put them there).

Mapping (OCSF field -> normalised field: notes):

- ``class_uid`` (required, 2000-2999) -> (detection): the Findings category
- ``time_dt``, else ``time`` (one required) -> observed_at: ``time_dt`` is RFC 3339 and its offset is kept;
  ``time`` is epoch ms, shown at ``timezone_offset`` minutes when given, else UTC
- ``finding_info.title`` / ``finding.title``, else ``finding_info.analytic.name``, else ``message`` -> title
  (one required)
- ``finding_info.desc`` / ``finding.desc``, else ``message`` -> description
- ``severity_id`` -> severity_id: already OCSF 0-6 and kept; 99 (Other), absent or out of range: from the
  ``severity`` name (informational, low, medium, high, critical, fatal), else 0 Unknown
- ``severity`` (else ``severity_id``) -> severity_raw: the text as sent, not stripped
- ``finding_info.types[0]`` / ``finding.types[0]``, else ``class_name`` -> category
- ``finding_info.analytic.uid`` / ``.name`` (or top-level ``analytic``; else ``rule.uid``/``.name``)
  -> rule_id, rule_name
- ``finding_info.attacks[]`` and ``attacks[]``: ``tactic.uid`` (else ``.name``), 1.0 ``tactics[]`` -> tactics
- same: ``technique.uid``, ``sub_technique.uid`` (else ``.name``) -> techniques (T1059, T1059.001)
- ``device.hostname``, ``device.name``, ``resources[].hostname``, observables named ``device.hostname``,
  ``device.name`` or ``hostname`` -> hosts. Hostname observables (type_id 1) are not used: producers put the
  remote/C2 domain there.
- ``device.ip``, ``src_endpoint.ip``, ``dst_endpoint.ip``, ``evidences[].src_endpoint.ip`` / ``.dst_endpoint.ip``
  / ``.device.ip``, ``resources[].ip``, observables with type_id 2 (IP Address) -> ips (invalid ones dropped)
- ``actor.user.name``, ``user.name``, ``evidences[].actor.user.name``, observables with type_id 4 (User Name)
  -> users
- ``cloud.provider``, ``cloud.account.uid`` (1.0: ``cloud.account_uid``), ``cloud.region`` -> cloud_*
- ``metadata.product.name``, ``metadata.product.vendor_name`` -> source_product, source_vendor
  (default "OCSF", "Unknown")
- ``finding_info.uid`` / ``finding.uid``, else ``metadata.uid`` -> external_id and the dedup key
  ``dedup_from_id(product name, uid)``: updates of one finding share the key. Without a uid the key hashes
  product, title, rule, time and hosts.

Detection: an object whose ``class_uid`` is an integer 2000-2999 and that has a ``metadata`` object.
"""

from datetime import timedelta, timezone
from typing import Any

from mdr.alerts.adapters.base import (
    Adapter,
    AdapterError,
    NormalizedAlert,
    as_list,
    dedup_from_fields,
    dedup_from_id,
    dig,
    first,
    parse_time,
    register,
    severity_from_name,
)

CLASS_NAMES = {
    2001: "Security Finding",
    2002: "Vulnerability Finding",
    2003: "Compliance Finding",
    2004: "Detection Finding",
    2005: "Incident Finding",
    2006: "Data Security Finding",
}
OBSERVABLE_IP = 2
OBSERVABLE_USER_NAME = 4
HOST_OBSERVABLE_NAMES = {"device.hostname", "device.name", "hostname"}


def _class_uid(item: Any) -> int | None:
    value = item.get("class_uid")
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    return value if isinstance(value, int) else None


def _dicts(value: Any) -> list[dict]:
    return [v for v in as_list(value) if isinstance(v, dict)]


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


@register
class OcsfAdapter(Adapter):
    name = "ocsf"
    product = "OCSF"
    vendor = "Unknown"
    detect_priority = 20

    def detect(self, item) -> bool:
        try:
            uid = _class_uid(item)
            return uid is not None and 2000 <= uid <= 2999 and isinstance(item.get("metadata"), dict)
        except Exception:  # detect must never raise
            return False

    def normalize(self, item) -> NormalizedAlert:
        errors: dict[str, list[str] | str] = {}
        uid = _class_uid(item)
        if uid is None or not 2000 <= uid <= 2999:
            errors["class_uid"] = f"required: an OCSF Findings class (2000-2999), got {item.get('class_uid')!r}"
        info = item.get("finding_info") if isinstance(item.get("finding_info"), dict) else {}
        legacy = item.get("finding") if isinstance(item.get("finding"), dict) else {}
        analytic = first(info.get("analytic"), item.get("analytic"), default={})
        analytic = analytic if isinstance(analytic, dict) else {}

        title = first(
            _text(info.get("title")),
            _text(legacy.get("title")),
            _text(analytic.get("name")),
            _text(item.get("message")),
        )
        if not title:
            errors["finding_info.title"] = "required: no finding title (finding_info.title, finding.title or message)"
        try:
            observed_at = self._time(item)
        except AdapterError as exc:
            errors.update(exc.errors)
        if errors:
            raise AdapterError(errors)

        severity_id, severity_raw = self._severity(item)
        product = _text(dig(item, "metadata.product.name")) or self.product
        vendor = _text(dig(item, "metadata.product.vendor_name")) or self.vendor
        external_id = str(first(info.get("uid"), legacy.get("uid"), dig(item, "metadata.uid"), default=""))
        rule_id = str(first(analytic.get("uid"), dig(item, "rule.uid"), default=""))
        rule_name = str(first(analytic.get("name"), dig(item, "rule.name"), default=""))
        tactics, techniques = self._attacks(item, info)
        hosts = self._hosts(item)
        dedup = (
            dedup_from_id(self.name, product, external_id)
            if external_id
            else dedup_from_fields(self.name, product, title, rule_id, observed_at.isoformat(), *sorted(hosts))
        )
        types = first(as_list(info.get("types")), as_list(legacy.get("types")), default=[])
        category = first(types[0] if types else None, item.get("class_name"), CLASS_NAMES.get(uid), default="")
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
            description=str(first(info.get("desc"), legacy.get("desc"), item.get("message"), default="")),
            category=str(category),
            rule_id=rule_id,
            rule_name=rule_name,
            tactics=tactics,
            techniques=techniques,
            hosts=hosts,
            ips=self._ips(item),
            users=self._users(item),
            cloud_provider=str(dig(item, "cloud.provider") or ""),
            cloud_account=str(first(dig(item, "cloud.account.uid"), dig(item, "cloud.account_uid"), default="")),
            cloud_region=str(dig(item, "cloud.region") or ""),
        )

    # ---- parts -----------------------------------------------------------------------------------------

    @staticmethod
    def _time(item):
        if item.get("time_dt") not in (None, ""):
            return parse_time(item["time_dt"], "time_dt")
        observed_at = parse_time(item.get("time"), "time")
        offset = item.get("timezone_offset")
        if isinstance(offset, int) and not isinstance(offset, bool) and -1080 <= offset <= 1080:
            observed_at = observed_at.astimezone(timezone(timedelta(minutes=offset)))
        return observed_at

    @staticmethod
    def _severity(item) -> tuple[int, str]:
        raw_name = item.get("severity")
        value = item.get("severity_id")
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
            severity_id = value
        else:  # absent, 99 (Other) or out of range: the name is the source's own label
            severity_id = severity_from_name(raw_name) or 0
        raw = raw_name if isinstance(raw_name, str) and raw_name != "" else value
        return severity_id, "" if raw is None else str(raw)

    @staticmethod
    def _attacks(item, info) -> tuple[list, list]:
        tactics: list = []
        techniques: list = []
        for attack in _dicts(info.get("attacks")) + _dicts(item.get("attacks")):
            for tactic in _dicts(attack.get("tactic")) + _dicts(attack.get("tactics")):
                tactics.append(first(tactic.get("uid"), tactic.get("name")))
            for key in ("technique", "sub_technique"):
                for technique in _dicts(attack.get(key)):
                    techniques.append(first(technique.get("uid"), technique.get("name")))
        return tactics, techniques

    @staticmethod
    def _observables(item, type_id=None, names=None) -> list:
        out = []
        for obs in _dicts(item.get("observables")):
            if (type_id is not None and obs.get("type_id") == type_id) or (names and obs.get("name") in names):
                out.append(obs.get("value"))
        return out

    def _hosts(self, item) -> list[str]:
        hosts = [dig(item, "device.hostname"), dig(item, "device.name")]
        hosts += [r.get("hostname") for r in _dicts(item.get("resources"))]
        hosts += self._observables(item, names=HOST_OBSERVABLE_NAMES)
        out: list[str] = []
        for host in hosts:
            if isinstance(host, str) and host.strip() and host.strip().lower() not in out:
                out.append(host.strip().lower())
        return out

    def _ips(self, item) -> list:
        ips = [*as_list(dig(item, "device.ip")), dig(item, "src_endpoint.ip"), dig(item, "dst_endpoint.ip")]
        for evidence in _dicts(item.get("evidences")):
            ips += [dig(evidence, "src_endpoint.ip"), dig(evidence, "dst_endpoint.ip"), dig(evidence, "device.ip")]
        ips += [r.get("ip") for r in _dicts(item.get("resources"))]
        ips += self._observables(item, type_id=OBSERVABLE_IP)
        return ips

    def _users(self, item) -> list:
        users = [dig(item, "actor.user.name"), dig(item, "user.name")]
        users += [dig(e, "actor.user.name") for e in _dicts(item.get("evidences"))]
        users += self._observables(item, type_id=OBSERVABLE_USER_NAME)
        return users
