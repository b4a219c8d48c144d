"""``guardduty``: Amazon GuardDuty findings.

Accepted shapes (same fields, two spellings): the ``Finding`` object of the GetFindings API as the SDKs return it
(``Id``, ``AccountId``, ``Severity``, …, PascalCase), the lowerCamelCase JSON of the REST API / EventBridge
``detail`` (``id``, ``accountId``, …), and the EventBridge event itself
(``{"detail-type": "GuardDuty Finding", "source": "aws.guardduty", "detail": {...}}``, unwrapped; ``raw`` keeps
the whole event). Paths below are written lowerCamelCase; each step also matches its PascalCase spelling.

| GuardDuty field | normalised | notes |
| --- | --- | --- |
| ``title`` / ``type`` | title | the type when there is no title |
| ``description`` | description | |
| ``severity`` (number 0-10) | severity_id | see below; ``severity_raw`` = the number as sent |
| ``service.eventFirstSeen`` / ``createdAt`` | observed_at | first activity, else finding creation (ISO 8601) |
| ``id`` + ``accountId`` | external_id = id, dedup | ``dedup_from_id("guardduty", accountId, id)``: updates of the same finding (count, updatedAt) are duplicates |
| ``type`` ("Recon:EC2/PortProbeUnprotectedPort") | rule_id, rule_name | the finding type is GuardDuty's detection |
| threat purpose of ``type`` ("Recon") | category | also a tactic when it is an ATT&CK tactic name (e.g. "DefenseEvasion") |
| ``service.detection`` indicators ``ATTACK_TACTIC`` / ``ATTACK_TECHNIQUE`` | tactics, techniques | attack sequences |
| ``resource.instanceDetails.instanceId``, ``networkInterfaces[].privateDnsName`` | hosts | |
| ``networkInterfaces[]`` ``privateIpAddress(es)``, ``publicIp``, ``ipv6Addresses`` | ips | |
| ``service.action`` / ``service.detection`` ``ipAddressV4``, ``ipAddressV6``, ``sourceIps``, ``ip`` | ips | remote and local IPs, walked recursively |
| ``resource.accessKeyDetails.userName``, ``kubernetesDetails.kubernetesUserDetails.username``, ``rdsDbUserDetails.user``, ``service.runtimeDetails.process.user`` | users | |
| "AWS", ``accountId``, ``region`` | cloud_provider, cloud_account, cloud_region | |

Severity (GuardDuty documented levels): 0 or missing -> 0 Unknown; 0 < s < 4 (Low, 1.0-3.9) -> 2 Low;
4 <= s < 7 (Medium) -> 3 Medium; 7 <= s < 9 (High) -> 4 High; 9 <= s <= 10 (Critical) -> 5 Critical. A level name
("High") is also accepted. Anything else (negative, above 10, not a number) is rejected.

Detection: the EventBridge envelope (``detail-type`` "GuardDuty Finding" or ``source`` "aws.guardduty"), or an object
with id, type and severity plus a GuardDuty ARN or ``service.serviceName`` = "guardduty".
"""

from __future__ import annotations

import math
from typing import Any

from mdr.alerts.adapters.base import (
    Adapter,
    AdapterError,
    NormalizedAlert,
    as_list,
    attack_tactic,
    dedup_from_id,
    first,
    parse_time,
    register,
    severity_from_name,
    technique_ids,
    walk_objects,
)

_IP_KEYS = {"ipaddressv4", "ipaddressv6", "sourceips", "ip"}
_MAX_NODES = 2_000
_MAX_DEPTH = 12  # nesting levels walked in service.action / service.detection


def _get(obj: Any, name: str) -> Any:
    """``obj[name]``, also matching the PascalCase spelling (``accountId`` / ``AccountId``)."""
    if not isinstance(obj, dict):
        return None
    if name in obj:
        return obj[name]
    return obj.get(name[:1].upper() + name[1:])


def _dig(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = _get(obj, part)
        if obj is None:
            return None
    return obj


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _unwrap(item: Any) -> tuple[dict | None, str]:
    """(the finding, the path prefix for error messages): the EventBridge ``detail`` or the item itself."""
    if not isinstance(item, dict):
        return None, ""
    detail = item.get("detail")
    if isinstance(detail, dict) and (
        item.get("detail-type") == "GuardDuty Finding" or item.get("source") == "aws.guardduty"
    ):
        return detail, "detail."
    return item, ""


def guardduty_severity(value: Any, field: str) -> int:
    """OCSF severity_id from GuardDuty's 0-10 number (or level name); AdapterError naming ``field`` otherwise."""
    if value is None or value == "":
        return 0
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        named = severity_from_name(value)
        if named is not None:
            return named
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or not 0 <= number <= 10:
        raise AdapterError({field: f"expected a number from 0 to 10 (GuardDuty severity), got {str(value)[:32]!r}"})
    if number == 0:
        return 0
    if number < 4:
        return 2
    if number < 7:
        return 3
    if number < 9:
        return 4
    return 5


@register
class GuardDutyAdapter(Adapter):
    name = "guardduty"
    product = "Amazon GuardDuty"
    vendor = "AWS"
    detect_priority = 30

    def detect(self, item) -> bool:
        try:
            finding, prefix = _unwrap(item)
            if finding is None:
                return False
            if prefix:
                return True
            if _get(finding, "id") is None or _get(finding, "type") is None or _get(finding, "severity") is None:
                return False
            arn = _get(finding, "arn")
            if isinstance(arn, str) and ":guardduty:" in arn:
                return True
            return _dig(finding, "service.serviceName") == "guardduty"
        except Exception:  # detect must never raise
            return False

    def normalize(self, item) -> NormalizedAlert:
        finding, prefix = _unwrap(item)
        if finding is None:
            raise AdapterError({"item": "expected a GuardDuty finding object"})
        pascal = "Id" in finding or "AccountId" in finding

        def path(name: str) -> str:
            return prefix + ".".join(p[:1].upper() + p[1:] if pascal else p for p in name.split("."))

        finding_type = _text(_get(finding, "type"))
        title = first(_text(_get(finding, "title")), finding_type, default="")
        time_name = next(
            (n for n in ("service.eventFirstSeen", "createdAt") if _dig(finding, n) not in (None, "")), None
        )
        finding_id = _text(_get(finding, "id"))
        errors: dict[str, Any] = {}
        if not finding_id:
            errors[path("id")] = "required: the finding id"
        if not title:
            errors[path("title")] = "required: a title or a finding type"
        if time_name is None:
            errors[path("createdAt")] = "time is missing (no createdAt, no service.eventFirstSeen)"
        if errors:
            raise AdapterError(errors)
        observed_at = parse_time(_dig(finding, time_name), path(time_name))
        severity = _get(finding, "severity")
        severity_id = guardduty_severity(severity, path("severity"))

        instance = _dig(finding, "resource.instanceDetails")
        hosts: list[str] = [_text(_get(instance, "instanceId"))]
        ips: list[str] = []
        for nic in as_list(_get(instance, "networkInterfaces")):
            hosts.append(_text(_get(nic, "privateDnsName")))
            ips += [_text(_get(nic, "privateIpAddress")), _text(_get(nic, "publicIp"))]
            ips += [_text(_get(p, "privateIpAddress")) for p in as_list(_get(nic, "privateIpAddresses"))]
            ips += [_text(v) for v in as_list(_get(nic, "ipv6Addresses"))]

        tactics: list[str] = []
        techniques: list[str] = []

        def visit(node: dict) -> None:
            for key, value in node.items():
                if isinstance(key, str) and key.lower() in _IP_KEYS:
                    ips.extend(_text(v) for v in as_list(value))
            key = _text(_get(node, "key"))
            if key == "ATTACK_TACTIC":
                tactics.extend(attack_tactic(v) or _text(v) for v in as_list(_get(node, "values")))
            elif key == "ATTACK_TECHNIQUE":
                techniques.extend(technique_ids(_get(node, "values")))

        walk_objects(_dig(finding, "service.action"), visit, max_depth=_MAX_DEPTH, max_nodes=_MAX_NODES)
        walk_objects(_dig(finding, "service.detection"), visit, max_depth=_MAX_DEPTH, max_nodes=_MAX_NODES)

        users = [
            _text(_dig(finding, "resource.accessKeyDetails.userName")),
            _text(_dig(finding, "resource.kubernetesDetails.kubernetesUserDetails.username")),
            _text(_dig(finding, "resource.rdsDbUserDetails.user")),
            _text(_dig(finding, "service.runtimeDetails.process.user")),
        ]
        threat_purpose = finding_type.split(":", 1)[0] if ":" in finding_type else ""
        purpose_tactic = attack_tactic(threat_purpose)
        if purpose_tactic:
            tactics.insert(0, purpose_tactic)

        account = first(_text(_get(finding, "accountId")), _text(item.get("account")) if prefix else "", default="")
        region = first(_text(_get(finding, "region")), _text(item.get("region")) if prefix else "", default="")
        return NormalizedAlert(
            source_format=self.name,
            source_product=self.product,
            source_vendor=self.vendor,
            title=title,
            severity_id=severity_id,
            severity_raw="" if severity is None else str(severity),
            observed_at=observed_at,
            dedup_key=dedup_from_id(self.name, account, finding_id),
            raw=item,
            external_id=finding_id,
            description=_text(_get(finding, "description")),
            category=threat_purpose,
            rule_id=finding_type,
            rule_name=finding_type,
            tactics=[t for t in tactics if t],
            techniques=techniques,
            hosts=[h for h in hosts if h],
            ips=[i for i in ips if i],
            users=[u for u in users if u],
            cloud_provider="AWS",
            cloud_account=account,
            cloud_region=region,
        )
