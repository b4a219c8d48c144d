"""``wazuh``: Wazuh (and OSSEC-compatible) alerts, one ``alerts.json`` record per object.

Written from the Wazuh documentation (documentation.wazuh.com: "Alerts" output, "Rules classification",
"MITRE ATT&CK framework", decoders' static/dynamic fields). Records read back from the Wazuh indexer
(``@timestamp``) are accepted too.

| Wazuh field | normalised | notes |
| --- | --- | --- |
| ``timestamp`` (required; else ``@timestamp``) | observed_at | ``2020-03-04T13:55:05.224+0000``; offset kept |
| ``rule.description`` (required) | title, rule_name | |
| ``rule.id`` | rule_id | |
| ``rule.level`` | severity_id, severity_raw | 0-15, see below |
| ``rule.groups[]`` | category | joined with ``, `` |
| ``rule.mitre.id[]`` | techniques | ATT&CK technique ids |
| ``rule.mitre.tactic[]`` (4.x; ``tactics`` accepted) | tactics | tactic names, e.g. "Credential Access" |
| ``full_log`` | description | the original log line |
| ``id`` | external_id, dedup | ``<epoch>.<offset>``, unique per manager |
| ``agent.id``, ``manager.name`` | dedup scope | |
| ``agent.name``, ``predecoder.hostname``, ``data.hostname``, ``data.win.system.computer`` | hosts | |
| ``agent.ip``, ``data.srcip``, ``data.dstip``, ``data.src_ip``, ``data.dest_ip``, | ips | ``ip:port`` is |
| ``data.win.eventdata.ipAddress``, ``data.aws.sourceIPAddress`` | | reduced to the ip |
| ``data.srcuser``, ``data.dstuser``, ``data.user``, ``data.win.eventdata.targetUserName``, | users | |
| ``data.win.eventdata.subjectUserName``, ``data.aws.userIdentity.userName`` | | |
| ``data.aws.accountId``/``aws_account_id``, ``data.aws.region``/``awsRegion`` | cloud_* | AWS module alerts |
| ``data.gcp.resource.labels.project_id`` | cloud_* | GCP module alerts |

Severity (``rule.level``; Wazuh's rule classification and its dashboard's Low 0-6 / Medium 7-11 / High 12-14 /
Critical 15 bands, with the notification levels split off as informational):
0-3 (ignored, low-priority notifications, successful events) -> 1 Informational, 4-6 -> 2 Low,
7-11 -> 3 Medium, 12-14 -> 4 High, 15 (severe attack) -> 5 Critical; absent/invalid -> 0 Unknown.

Dedup: ``dedup_from_id("wazuh", manager.name, agent.id, id)``; without ``id``: ``dedup_from_fields`` over
rule id, time, agent and the full log.

Detection: ``rule`` object with ``level``, an ``agent`` object, and one of Wazuh's own top-level keys
(``manager``, ``decoder``, ``location``, ``full_log``).
"""

from __future__ import annotations

from mdr.alerts.adapters.base import (
    SEVERITY_CRITICAL,
    SEVERITY_HIGH,
    SEVERITY_INFO,
    SEVERITY_LOW,
    SEVERITY_MEDIUM,
    SEVERITY_UNKNOWN,
    TECHNIQUE_RE,
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
)


def wazuh_severity(level) -> int:
    """Wazuh rule level (0-15) to OCSF severity_id."""
    if isinstance(level, bool):
        return SEVERITY_UNKNOWN
    try:
        level = int(level)
    except (TypeError, ValueError):
        return SEVERITY_UNKNOWN
    if level < 0:
        return SEVERITY_UNKNOWN
    if level <= 3:
        return SEVERITY_INFO
    if level <= 6:
        return SEVERITY_LOW
    if level <= 11:
        return SEVERITY_MEDIUM
    if level <= 14:
        return SEVERITY_HIGH
    return SEVERITY_CRITICAL


def strip_port(value):
    """``192.168.10.21:80`` -> ``192.168.10.21`` (Wazuh's snort/fast.log decoder keeps the port); IPv6 untouched."""
    if isinstance(value, str) and value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


@register
class WazuhAdapter(Adapter):
    name = "wazuh"
    product = "Wazuh"
    vendor = "Wazuh"
    detect_priority = 25

    def detect(self, item) -> bool:
        rule = item.get("rule")
        return (
            isinstance(rule, dict)
            and "level" in rule
            and isinstance(item.get("agent"), dict)
            and any(key in item for key in ("manager", "decoder", "location", "full_log"))
        )

    def normalize(self, item) -> NormalizedAlert:
        errors = {}
        rule = item.get("rule") if isinstance(item.get("rule"), dict) else {}
        title = rule.get("description")
        if not isinstance(title, str) or not title.strip():
            errors["rule.description"] = ["required: the rule description is the alert title"]
        time_field = "@timestamp" if item.get("timestamp") in (None, "") and item.get("@timestamp") else "timestamp"
        if item.get(time_field) in (None, ""):
            errors["timestamp"] = ["time is missing (timestamp, or @timestamp from the Wazuh indexer)"]
        else:
            try:
                observed_at = parse_time(item.get(time_field), time_field)
            except AdapterError as exc:
                errors.update(exc.errors)
        if errors:
            raise AdapterError(errors)

        agent = item.get("agent") if isinstance(item.get("agent"), dict) else {}
        data = item.get("data") if isinstance(item.get("data"), dict) else {}
        mitre = rule.get("mitre") if isinstance(rule.get("mitre"), dict) else {}
        level = rule.get("level")
        external_id = str(item.get("id") or "")
        rule_id = str(rule.get("id") or "")

        hosts = [
            agent.get("name"),
            dig(item, "predecoder.hostname"),
            data.get("hostname"),
            dig(data, "win.system.computer"),
        ]
        ips = [
            agent.get("ip"),
            data.get("srcip"),
            data.get("dstip"),
            data.get("src_ip"),
            data.get("dest_ip"),
            dig(data, "win.eventdata.ipAddress"),
            dig(data, "aws.sourceIPAddress"),
        ]
        users = [
            data.get("srcuser"),
            data.get("dstuser"),
            data.get("user"),
            dig(data, "win.eventdata.targetUserName"),
            dig(data, "win.eventdata.subjectUserName"),
            dig(data, "aws.userIdentity.userName"),
        ]

        cloud_provider = cloud_account = cloud_region = ""
        if isinstance(data.get("aws"), dict):
            cloud_provider = "aws"
            cloud_account = str(first(dig(data, "aws.accountId"), dig(data, "aws.aws_account_id"), default=""))
            cloud_region = str(first(dig(data, "aws.region"), dig(data, "aws.awsRegion"), default=""))
        elif isinstance(data.get("gcp"), dict):
            cloud_provider = "gcp"
            cloud_account = str(dig(data, "gcp.resource.labels.project_id") or "")

        if external_id:
            dedup = dedup_from_id(self.name, dig(item, "manager.name") or "", agent.get("id") or "", external_id)
        else:
            dedup = dedup_from_fields(
                self.name,
                rule_id,
                observed_at.isoformat(),
                agent.get("id") or agent.get("name") or "",
                item.get("full_log") or title,
            )
        return NormalizedAlert(
            source_format=self.name,
            source_product=self.product,
            source_vendor=self.vendor,
            title=title.strip(),
            severity_id=wazuh_severity(level),
            severity_raw="" if level is None else str(level),
            observed_at=observed_at,
            dedup_key=dedup,
            raw=item,
            external_id=external_id,
            description=str(item.get("full_log") or ""),
            category=", ".join(g for g in as_list(rule.get("groups")) if isinstance(g, str)),
            rule_id=rule_id,
            rule_name=title.strip(),
            tactics=as_list(first(mitre.get("tactic"), mitre.get("tactics"))),
            techniques=[t for t in as_list(mitre.get("id")) if isinstance(t, str) and TECHNIQUE_RE.match(t)],
            hosts=[h for h in hosts if isinstance(h, str)],
            ips=[strip_port(ip) for ip in ips if isinstance(ip, str)],
            users=[u for u in users if isinstance(u, str)],
            cloud_provider=cloud_provider,
            cloud_account=cloud_account,
            cloud_region=cloud_region,
        )
