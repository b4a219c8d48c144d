"""``crowdstrike``: CrowdStrike Falcon streaming API (Event Streams / SIEM connector) events.

Written from the Falcon Event Streams documentation: every event is ``{"metadata": {customerIDString, offset,
eventType, eventCreationTime (epoch ms), version}, "event": {...}}``; the ``event`` fields depend on
``metadata.eventType`` (DetectionSummaryEvent, EppDetectionSummaryEvent, IdpDetectionSummaryEvent,
MobileDetectionSummaryEvent, XdrDetectionSummaryEvent, IncidentSummaryEvent, IdentityProtectionEvent,
FirewallMatchEvent, AutomatedLeadSummaryEvent, audit events ...). Any event type is accepted; the title falls
back to the event type.

| Falcon field (under ``event.`` unless noted) | normalised | notes |
| --- | --- | --- |
| ``DetectName``, ``Name``, ``RuleName``, ``OperationName``, ``metadata.eventType`` | title | first present (*) |
| ``DetectDescription``, ``Description``, ``IncidentDescription``, ``RuleDescription`` | description | |
| ``SeverityName`` | severity_id | Informational/INFO, Low, Medium, High, Critical (preferred) |
| ``Severity`` | severity_id, severity_raw | 1-5 (legacy) or 0-100, see below |
| ``FineScore`` (incidents) | severity_id | 0-10 (or 0-100), same bands as 0-100 |
| ``ThreatgraphIndicators[].Severity``, ``Score`` (leads) | severity_id | highest indicator, else the score |
| ``ContextTimeStamp``, ``Timestamp``, ``UTCTimestamp``, ``StartTimeEpoch``, | observed_at | first present and non-zero; |
| ``StartTime``, ``IncidentStartTime``, ``SignalStartTimestamp``, | | epoch s/ms, ISO 8601, or Windows |
| ``metadata.eventCreationTime``, ``ProcessStartTime`` | | FILETIME (IdP events) |
| ``CompositeId``, ``DetectId``, ``IncidentID``, ``IdentityProtectionIncidentId``, | external_id, dedup | first present, |
| ``LeadId`` | | scoped by ``metadata.customerIDString`` |
| ``metadata.eventType`` | category | |
| ``PatternId`` (``RuleId`` for firewall) | rule_id | |
| ``DetectName``/``Name`` (``RuleName`` for firewall) | rule_name | |
| ``Tactic``/``Tactics``, ``TacticId``/``TacticIds``, ``MitreAttack[].Tactic/TacticID`` | tactics | ATT&CK only (**) |
| ``TechniqueId``/``TechniqueIds``, ``MitreAttack[].TechniqueID`` | techniques | ATT&CK ids only (**) |
| ``ComputerName``, ``Hostname``, ``HostName``, ``EndpointName``, | hosts | |
| ``SourceEndpointHostName``, ``TargetEndpointHostName``, ``ThreatgraphIndicators[].Hostname`` | | |
| ``LocalIP``, ``LocalIPv6``, ``ExternalIP``, ``EndpointIp``, ``LocalAddress``, ``RemoteAddress``, | ips | |
| ``Source/TargetEndpointIpAddress``, ``NetworkAccesses[]``, ``MobileNetworkConnections[]`` | | local/remote |
| ``UserName``, ``SourceAccountName`` (``SourceAccountDomain\\`` prefixed), ``TargetAccountName``, | users | |
| ``UserId`` | | |

(*) FirewallMatchEvent: "Firewall rule matched: <RuleName>"; IncidentSummaryEvent: "Falcon incident (score
<FineScore>)"; IdentityProtectionEvent: "Falcon identity incident: <IncidentType>".
(**) Falcon's own tactics and ids (CSTA/CST ids, "Machine Learning", "Malware", "Falcon Intel") are dropped;
comma-separated text lists (``TacticIds: "TA0002,TA0005"``) are split.

Severity: ``SeverityName`` when it is a known name; else numeric ``Severity``: 0-5 is the legacy scale
(1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical, 0 Unknown); above 5 it is Falcon's 0-100 scale
(1-19 Informational, 20-39 Low, 40-59 Medium, 60-79 High, 80-100 Critical). Events without any severity
(firewall matches, audit events) -> 0 Unknown with an empty severity_raw.

Dedup: ``dedup_from_id("crowdstrike", customerIDString, <first id above>)``; events without an id (firewall
matches, audit events) use ``dedup_from_fields`` over customer, event type, stream offset, creation time,
observed time, title, rule id and hosts.

Detection: ``metadata`` with ``eventType`` (text) and ``customerIDString`` or ``eventCreationTime``, plus an
``event`` object.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mdr.alerts.adapters.base import (
    SEVERITY_CRITICAL,
    SEVERITY_HIGH,
    SEVERITY_INFO,
    SEVERITY_LOW,
    SEVERITY_MEDIUM,
    SEVERITY_UNKNOWN,
    TACTIC_ID_RE,
    TECHNIQUE_RE,
    Adapter,
    AdapterError,
    NormalizedAlert,
    as_list,
    dedup_from_fields,
    dedup_from_id,
    first,
    parse_time,
    register,
)

SEVERITY_NAMES = {
    "informational": SEVERITY_INFO,
    "info": SEVERITY_INFO,
    "low": SEVERITY_LOW,
    "medium": SEVERITY_MEDIUM,
    "high": SEVERITY_HIGH,
    "critical": SEVERITY_CRITICAL,
}
LEGACY_SCALE = {
    0: SEVERITY_UNKNOWN,
    1: SEVERITY_INFO,
    2: SEVERITY_LOW,
    3: SEVERITY_MEDIUM,
    4: SEVERITY_HIGH,
    5: SEVERITY_CRITICAL,
}
ATTACK_TACTICS = frozenset(
    {
        "reconnaissance",
        "resource development",
        "initial access",
        "execution",
        "persistence",
        "privilege escalation",
        "defense evasion",
        "credential access",
        "discovery",
        "lateral movement",
        "collection",
        "command and control",
        "exfiltration",
        "impact",
        "network effects",
        "remote service effects",
        "inhibit response function",
        "impair process control",
        "evasion",
    }
)
TIME_FIELDS = (
    "ContextTimeStamp",
    "Timestamp",
    "UTCTimestamp",
    "StartTimeEpoch",
    "StartTime",
    "IncidentStartTime",
    "SignalStartTimestamp",
)
ID_FIELDS = ("CompositeId", "DetectId", "IncidentID", "IdentityProtectionIncidentId", "LeadId")
# Windows FILETIME (100 ns since 1601) as used by Falcon Identity events: 1990..2200 lies in this range, where
# an epoch in s/ms/us/ns would be 1973-1977 (out of range anyway).
FILETIME_MIN, FILETIME_MAX = 1.2e17, 2.5e17
FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


def score_severity(score: float) -> int:
    """Falcon's 0-100 severity scale to OCSF severity_id."""
    if score <= 0:
        return SEVERITY_UNKNOWN
    if score < 20:
        return SEVERITY_INFO
    if score < 40:
        return SEVERITY_LOW
    if score < 60:
        return SEVERITY_MEDIUM
    if score < 80:
        return SEVERITY_HIGH
    return SEVERITY_CRITICAL


def number(value) -> float | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def falcon_time(value, field_name: str) -> datetime:
    num = number(value)
    if num is not None and FILETIME_MIN <= num < FILETIME_MAX:
        moment = FILETIME_EPOCH + timedelta(microseconds=num // 10)
        return parse_time(moment.isoformat(), field_name)
    return parse_time(value, field_name)


def split_text(value) -> list:
    """Falcon sends some lists as comma-separated text (``TacticIds: "TA0002,TA0005"``)."""
    out = []
    for part in as_list(value):
        if isinstance(part, str):
            out += [p.strip() for p in part.split(",") if p.strip()]
    return out


@register
class CrowdStrikeAdapter(Adapter):
    name = "crowdstrike"
    product = "Falcon"
    vendor = "CrowdStrike"
    detect_priority = 20

    def detect(self, item) -> bool:
        metadata = item.get("metadata")
        return (
            isinstance(metadata, dict)
            and isinstance(metadata.get("eventType"), str)
            and ("customerIDString" in metadata or "eventCreationTime" in metadata)
            and isinstance(item.get("event"), dict)
        )

    def _severity(self, event: dict) -> tuple[int, str]:
        name = event.get("SeverityName")
        raw = event.get("Severity")
        if isinstance(name, str) and name.strip().lower() in SEVERITY_NAMES:
            return SEVERITY_NAMES[name.strip().lower()], name.strip() if raw is None else str(raw)
        value = number(raw)
        if value is not None:
            if value <= 5 and value == int(value):
                return LEGACY_SCALE.get(int(value), SEVERITY_UNKNOWN), str(raw)
            return score_severity(value), str(raw)
        fine = number(event.get("FineScore"))
        if fine is not None:
            return score_severity(fine * 10 if fine <= 10 else fine), str(event.get("FineScore"))
        indicators = [
            number(i.get("Severity")) for i in as_list(event.get("ThreatgraphIndicators")) if isinstance(i, dict)
        ]
        indicators = [i for i in indicators if i is not None]
        if indicators:
            return score_severity(max(indicators)), str(int(max(indicators)))
        score = number(event.get("Score"))
        if score is not None:
            return score_severity(score), str(event.get("Score"))
        return SEVERITY_UNKNOWN, ""

    def normalize(self, item) -> NormalizedAlert:
        metadata = item["metadata"] if isinstance(item.get("metadata"), dict) else {}
        event = item["event"] if isinstance(item.get("event"), dict) else {}
        event_type = metadata.get("eventType")
        if not isinstance(event_type, str) or not event_type.strip():
            raise AdapterError({"metadata.eventType": "required: the Falcon event type"})

        time_field = next((f"event.{k}" for k in TIME_FIELDS if number(event.get(k)) != 0 and event.get(k)), None)
        if time_field is None and metadata.get("eventCreationTime"):
            time_field = "metadata.eventCreationTime"
        if time_field is None and number(event.get("ProcessStartTime")):
            time_field = "event.ProcessStartTime"
        if time_field is None:
            raise AdapterError(
                {"metadata.eventCreationTime": "time is missing (no event timestamp and no eventCreationTime)"}
            )
        source = metadata if time_field.startswith("metadata.") else event
        observed_at = falcon_time(source.get(time_field.split(".", 1)[1]), time_field)

        firewall = event_type == "FirewallMatchEvent"
        detect_name = first(event.get("DetectName"), event.get("Name"))
        if firewall and event.get("RuleName"):
            title = f"Firewall rule matched: {event['RuleName']}"
        else:
            incident_type = event.get("IncidentType")
            incident = f"Falcon identity incident: {incident_type}" if incident_type else None
            if event_type == "IncidentSummaryEvent" and event.get("FineScore") is not None:
                incident = f"Falcon incident (score {event['FineScore']})"
            title = first(detect_name, incident, event.get("RuleName"), event.get("OperationName"), event_type)
        description = first(
            event.get("DetectDescription"),
            event.get("Description"),
            event.get("IncidentDescription"),
            event.get("RuleDescription"),
            default="",
        )
        severity_id, severity_raw = self._severity(event)

        mitre = [m for m in as_list(event.get("MitreAttack")) if isinstance(m, dict)]
        tactic_ids = split_text(event.get("TacticId")) + split_text(event.get("TacticIds"))
        tactic_ids += [m.get("TacticID") for m in mitre if isinstance(m.get("TacticID"), str)]
        tactic_names = split_text(event.get("Tactic")) + split_text(event.get("Tactics"))
        tactic_names += [m.get("Tactic") for m in mitre if isinstance(m.get("Tactic"), str)]
        technique_ids = split_text(event.get("TechniqueId")) + split_text(event.get("TechniqueIds"))
        technique_ids += [m.get("TechniqueID") for m in mitre if isinstance(m.get("TechniqueID"), str)]
        tactics = [t for t in tactic_names if t.lower() in ATTACK_TACTICS] + [
            t for t in tactic_ids if TACTIC_ID_RE.match(t)
        ]
        techniques = [t for t in technique_ids if TECHNIQUE_RE.match(t)]

        indicators = [i for i in as_list(event.get("ThreatgraphIndicators")) if isinstance(i, dict)]
        hosts = [
            event.get(k)
            for k in (
                "ComputerName",
                "Hostname",
                "HostName",
                "EndpointName",
                "SourceEndpointHostName",
                "TargetEndpointHostName",
            )
        ]
        hosts += [i.get("Hostname") for i in indicators]
        ips = [
            event.get(k)
            for k in (
                "LocalIP",
                "LocalIPv6",
                "ExternalIP",
                "EndpointIp",
                "LocalAddress",
                "RemoteAddress",
                "SourceEndpointIpAddress",
                "TargetEndpointIpAddress",
            )
        ]
        for key in ("NetworkAccesses", "MobileNetworkConnections"):
            for access in as_list(event.get(key)):
                if isinstance(access, dict):
                    ips += [access.get("LocalAddress"), access.get("RemoteAddress")]
        account = event.get("SourceAccountName")
        domain = event.get("SourceAccountDomain")
        if isinstance(account, str) and account and isinstance(domain, str) and domain and "\\" not in account:
            account = f"{domain}\\{account}"
        users = [event.get("UserName"), account, event.get("TargetAccountName"), event.get("UserId")]

        customer = metadata.get("customerIDString") or event.get("CustomerId") or ""
        id_field = next((k for k in ID_FIELDS if event.get(k)), None)
        external_id = str(event[id_field]) if id_field else ""
        rule_id = str(first(event.get("RuleId") if firewall else None, event.get("PatternId"), default=""))
        hosts = [h for h in hosts if isinstance(h, str) and h.strip()]
        if external_id:
            dedup = dedup_from_id(self.name, customer, external_id)
        else:
            dedup = dedup_from_fields(
                self.name,
                customer,
                event_type,
                metadata.get("offset", ""),
                metadata.get("eventCreationTime", ""),
                observed_at.isoformat(),
                title,
                rule_id,
                *sorted(h.lower() for h in hosts),
            )
        return NormalizedAlert(
            source_format=self.name,
            source_product=str(first(event.get("SourceProducts"), default=self.product)),
            source_vendor=str(first(event.get("SourceVendors"), default=self.vendor)),
            title=str(title),
            severity_id=severity_id,
            severity_raw=severity_raw,
            observed_at=observed_at,
            dedup_key=dedup,
            raw=item,
            external_id=external_id,
            description=str(description),
            category=event_type,
            rule_id=rule_id,
            rule_name=str(event.get("RuleName") if firewall else first(detect_name, default="")),
            tactics=tactics,
            techniques=techniques,
            hosts=hosts,
            ips=[ip for ip in ips if isinstance(ip, str)],
            users=[u for u in users if isinstance(u, str) and u.strip()],
        )
