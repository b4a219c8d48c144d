"""``suricata``: Suricata EVE JSON alert records (``event_type: "alert"``), one object per record.

Written from the Suricata EVE JSON output documentation (docs.suricata.io, "Eve JSON Output" / "Eve JSON
Format"). Only alerts are accepted: any other EVE record (flow, dns, http, anomaly, stats, ...) is rejected with
an ``event_type`` error, so a misrouted EVE stream answers clearly instead of "format not recognised".

| EVE field | normalised | notes |
| --- | --- | --- |
| ``event_type`` (required) | | must be ``"alert"`` |
| ``timestamp`` (required) | observed_at | ISO 8601 with the sensor's offset (``-0600``), kept as is |
| ``alert.signature`` (required, or ``signature_id``) | title, rule_name | fallback title ``Suricata signature <gid>:<sid>`` |
| ``alert.signature_id``, ``alert.gid``, ``alert.rev`` | rule_id | rule_id = the signature id (sid) |
| ``alert.severity`` | severity_id, severity_raw | classification priority, 1 = most severe, see below |
| ``alert.category`` | category, description | classtype description |
| ``alert.action`` | description | ``allowed`` / ``blocked`` |
| ``alert.metadata.mitre_tactic_id[]`` / ``mitre_tactic_name[]`` | tactics | ET/ETPro rule metadata; ``_`` -> space |
| ``alert.metadata.mitre_technique_id[]`` | techniques | e.g. T1190 |
| ``src_ip``, ``dest_ip`` | ips | |
| ``src_port``, ``dest_port``, ``proto``, ``app_proto`` | description | |
| ``http.hostname``, ``tls.sni``, ``dns`` query names | hosts | names the flow talked to (an IP there goes to ips) |
| ``host`` | dedup scope | the sensor name (``sensor-name`` in suricata.yaml), when configured |
| ``flow_id`` | external_id, dedup | correlates the alert with the flow's other EVE records |
| ``tx_id`` | dedup | application-layer transaction within the flow |

Severity (``alert.severity``, the classification priority from classification.config, 1 highest):
1 -> 4 High, 2 -> 3 Medium, 3 -> 2 Low, 4 and above -> 1 Informational, absent/invalid -> 0 Unknown.

Dedup: ``dedup_from_id("suricata", host, flow_id, gid, signature_id, tx_id, timestamp)`` - the same signature in
the same flow (and transaction) at the same microsecond is the same alert; the sensor name scopes ``flow_id``.
Without a ``flow_id`` (e.g. some decoder events): ``dedup_from_fields`` over signature, time, addresses, ports.

Detection: a top-level ``event_type`` string and ``timestamp`` plus EVE's flow keys (``flow_id``/``src_ip``/
``dest_ip``) or a known EVE ``event_type``. Wazuh carries decoded EVE under ``data``, never at the top level.
"""

from __future__ import annotations

import ipaddress

from mdr.alerts.adapters.base import (
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
    dig,
    first,
    parse_time,
    register,
)

EVE_EVENT_TYPES = frozenset(
    {
        "alert",
        "anomaly",
        "drop",
        "flow",
        "netflow",
        "http",
        "http2",
        "dns",
        "tls",
        "fileinfo",
        "smtp",
        "ssh",
        "stats",
        "dhcp",
        "krb5",
        "nfs",
        "smb",
        "tftp",
        "ikev2",
        "ike",
        "rdp",
        "sip",
        "snmp",
        "mqtt",
        "quic",
        "pgsql",
        "frame",
        "bittorrent_dht",
        "rfb",
        "dcerpc",
        "ftp",
        "ftp_data",
        "dnp3",
        "modbus",
        "enip",
        "ldap",
        "websocket",
        "arp",
        "pop3",
        "mdns",
        "doh2",
        "email",
    }
)


def suricata_severity(value) -> int:
    """Classification priority (1 = most severe) to OCSF severity_id."""
    if isinstance(value, bool):
        return SEVERITY_UNKNOWN
    try:
        priority = int(value)
    except (TypeError, ValueError):
        return SEVERITY_UNKNOWN
    if priority < 1:
        return SEVERITY_UNKNOWN
    return {1: SEVERITY_HIGH, 2: SEVERITY_MEDIUM, 3: SEVERITY_LOW}.get(priority, SEVERITY_INFO)


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _dns_names(dns) -> list:
    if not isinstance(dns, dict):
        return []
    names = [dns.get("rrname")]
    for key in ("query", "queries"):  # EVE v2 (7.x) "query" list, v3 (8.x) "queries" list
        names += [q.get("rrname") for q in as_list(dns.get(key)) if isinstance(q, dict)]
    return names


@register
class SuricataAdapter(Adapter):
    name = "suricata"
    product = "Suricata"
    vendor = "OISF"
    detect_priority = 30

    def detect(self, item) -> bool:
        event_type = item.get("event_type")
        if not isinstance(event_type, str) or "timestamp" not in item:
            return False
        return event_type in EVE_EVENT_TYPES or any(k in item for k in ("flow_id", "src_ip", "dest_ip"))

    def normalize(self, item) -> NormalizedAlert:
        event_type = item.get("event_type")
        if event_type != "alert":
            raise AdapterError(
                {"event_type": f"EVE event_type {event_type!r} is not an alert; only event_type 'alert' is accepted"}
            )
        alert = item.get("alert")
        if not isinstance(alert, dict):
            raise AdapterError({"alert": "an EVE alert record needs an 'alert' object"})
        timestamp = item.get("timestamp")
        observed_at = parse_time(timestamp, "timestamp")
        sid = alert.get("signature_id")
        gid = alert.get("gid", 1)
        signature = alert.get("signature")
        if isinstance(signature, str) and signature.strip():
            title = signature.strip()
        elif sid is not None:
            title = f"Suricata signature {gid}:{sid}"
        else:
            raise AdapterError({"alert.signature": "required (or alert.signature_id)"})

        metadata = alert.get("metadata") if isinstance(alert.get("metadata"), dict) else {}
        tactics = [t for t in as_list(metadata.get("mitre_tactic_id")) if isinstance(t, str) and TACTIC_ID_RE.match(t)]
        tactics += [t.replace("_", " ") for t in as_list(metadata.get("mitre_tactic_name")) if isinstance(t, str)]
        techniques = [
            t for t in as_list(metadata.get("mitre_technique_id")) if isinstance(t, str) and TECHNIQUE_RE.match(t)
        ]

        src_ip, dest_ip = item.get("src_ip"), item.get("dest_ip")
        flow_id = item.get("flow_id")
        names = [dig(item, "http.hostname"), dig(item, "tls.sni"), *_dns_names(item.get("dns"))]
        names = [n.strip() for n in names if isinstance(n, str) and n.strip()]
        hosts = [n for n in names if not is_ip(n)]
        proto = first(
            item.get("app_proto") if item.get("app_proto") not in (None, "failed") else None,
            item.get("proto"),
            default="",
        )
        endpoints = f"{src_ip}:{item.get('src_port', '')} -> {dest_ip}:{item.get('dest_port', '')}"
        description = " ".join(
            part
            for part in (
                f"{alert.get('category')}." if alert.get("category") else "",
                f"{proto} {endpoints}".strip() if src_ip or dest_ip else "",
                f"(action: {alert.get('action')})" if alert.get("action") else "",
            )
            if part
        )
        if flow_id is not None:
            dedup = dedup_from_id(
                self.name, item.get("host") or "", flow_id, gid, sid, item.get("tx_id", ""), timestamp
            )
        else:
            dedup = dedup_from_fields(
                self.name,
                item.get("host") or "",
                gid,
                sid,
                title,
                observed_at.isoformat(),
                src_ip,
                item.get("src_port"),
                dest_ip,
                item.get("dest_port"),
                item.get("proto"),
            )
        return NormalizedAlert(
            source_format=self.name,
            source_product=self.product,
            source_vendor=self.vendor,
            title=title,
            severity_id=suricata_severity(alert.get("severity")),
            severity_raw="" if alert.get("severity") is None else str(alert.get("severity")),
            observed_at=observed_at,
            dedup_key=dedup,
            raw=item,
            external_id="" if flow_id is None else str(flow_id),
            description=description,
            category=str(alert.get("category") or ""),
            rule_id="" if sid is None else str(sid),
            rule_name=title,
            tactics=tactics,
            techniques=techniques,
            hosts=hosts,
            ips=[ip for ip in (src_ip, dest_ip, *names) if isinstance(ip, str) and is_ip(ip)],
        )
