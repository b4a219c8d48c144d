"""``sentinel``: Microsoft security alerts — Sentinel ``SecurityAlert`` rows, Graph security alerts, Defender alerts.

One adapter for the three documented Microsoft alert shapes; ``detect``/``normalize`` tell them apart by keys.

**1. Microsoft Sentinel / Log Analytics ``SecurityAlert`` row** (``SystemAlertId``; or ``Type`` = "SecurityAlert").
``ExtendedProperties``, ``Entities``, ``Techniques``, ``SubTechniques`` arrive as JSON *strings* (as the Log
Analytics API returns them); they are parsed defensively (size cap, malformed JSON ignored, already-parsed accepted).

| SecurityAlert column | normalised | notes |
| --- | --- | --- |
| ``AlertDisplayName`` / ``AlertName`` / ``AlertType`` | title | first non-empty |
| ``Description`` | description | |
| ``Severity`` | severity_id | Informational 1, Low 2, Medium 3, High 4 (see below) |
| ``StartTimeUtc`` / ``EndTimeUtc`` / ``TimeGenerated`` | observed_at | first present: start of the activity |
| ``SystemAlertId`` | external_id, dedup | ``dedup_from_id("sentinel", SystemAlertId)`` |
| ``ExtendedProperties["Analytic Rule Ids"][0]`` / ``AlertType`` | rule_id | analytics rule id when Sentinel gives it |
| ``ExtendedProperties["Analytic Rule Name"]`` / ``AlertName`` | rule_name | |
| ``Tactics`` ("InitialAccess, Persistence") | tactics | ATT&CK names ("Initial Access"); unknown kept as is |
| ``Techniques``, ``SubTechniques`` (JSON arrays) | techniques | ids matching T1234(.567) |
| ``Entities[]`` type host (``HostName``/``NetBiosName``/``FQDN``) | hosts | entities are walked recursively |
| ``Entities[]`` type ip (``Address``), mail-message ``SenderIP`` | ips | (nested in network-connection, dns, …) |
| ``Entities[]`` type account (``NTDomain\\Name`` or ``Name@UPNSuffix``), mailbox | users | |
| ``ExtendedProperties`` "Compromised Host", "Attacker IP", "User Name", … | hosts, ips, users | users only if no entity |
| ``ResourceId`` ``/subscriptions/<id>/…`` or ``arn:aws:…`` | cloud_provider/account(/region) | Azure / AWS |
| ``ExtendedProperties["OccuringDatacenter"]`` | cloud_region | Azure region, when the resource is Azure |
| ``ProductName`` / ``VendorName`` | source_product / source_vendor | default Microsoft Sentinel / Microsoft |

**2. Microsoft Graph security API alert** (``alerts_v2``: ``createdDateTime`` + ``serviceSource`` /
``detectionSource`` / ``evidence`` / ``mitreTechniques`` / ``@odata.type`` microsoft.graph.security.alert).

| Graph field | normalised | notes |
| --- | --- | --- |
| ``title``, ``description`` | title, description | |
| ``severity`` (unknown, informational, low, medium, high, unknownFutureValue) | severity_id | 0, 1, 2, 3, 4, 0 |
| ``firstActivityDateTime`` / ``createdDateTime`` | observed_at | first activity, else alert creation |
| ``id`` | external_id, dedup | ``dedup_from_id("sentinel", id)`` (same id as the Defender API alert id) |
| ``detectorId`` / ``alertPolicyId`` | rule_id | rule_name = title |
| ``category`` | category, tactics | category kept as is; ATT&CK tactic name when it is one |
| ``mitreTechniques[]`` | techniques | |
| ``evidence[]`` deviceEvidence ``deviceDnsName``/``hostName`` | hosts | |
| ``evidence[]`` ``ipAddress``, ``ipInterfaces``, ``senderIp``, ``lastIpAddress``… | ips | walked recursively |
| ``evidence[]`` ``userAccount``/``loggedOnUsers`` (UPN, or domain\\account) | users | |
| ``evidence[]`` azureResourceEvidence ``resourceId`` / amazonResourceEvidence ``amazonAccountId`` | cloud_* | |
| ``productName`` / ``serviceSource`` | source_product | vendor Microsoft |

**3. Defender for Endpoint API alert** (``alertCreationTime``) and **Defender XDR incidents API alert**
(``alertId`` + ``creationTime``): same mapping as Graph with these names:

| Defender field | normalised | notes |
| --- | --- | --- |
| ``id`` (MDE) / ``alertId`` (XDR) | external_id, dedup | |
| ``firstEventTime`` / ``alertCreationTime`` (MDE); ``firstActivity`` / ``creationTime`` (XDR) | observed_at | |
| ``severity`` (UnSpecified, Informational, Low, Medium, High) | severity_id | 0, 1, 2, 3, 4 |
| ``computerDnsName`` (MDE), ``devices[].deviceDnsName`` (XDR) | hosts | |
| ``relatedUser``, ``loggedOnUsers[]``, ``evidence[]``/``entities[]`` (``accountName``, ``ipAddress``…) | users, ips | |
| ``category``, ``mitreTechniques``, ``detectorId`` | category/tactics, techniques, rule_id | |

Severity: Microsoft uses names only; Informational 1, Low 2, Medium 3, High 4, Unknown/UnSpecified/
unknownFutureValue 0, missing 0 (``severity_raw`` keeps the text). "Critical", if ever sent, maps to 5.
Observed time: the first activity time when the source gives it, else the alert creation time; naive
Log Analytics times ("2019-01-11 06:31:40") are UTC.
"""

from __future__ import annotations

import json
import re
from typing import Any

from mdr.alerts.adapters.base import (
    Adapter,
    AdapterError,
    NormalizedAlert,
    as_list,
    attack_tactic,
    dedup_from_fields,
    dedup_from_id,
    first,
    parse_time,
    register,
    severity_from_name,
    technique_ids,
    walk_objects,
)

_MS_SEVERITY = {"unspecified": 0, "unknownfuturevalue": 0, "none": 0}
_NO_TACTIC = {"", "unknown", "none", "null"}
_MAX_JSON = 2_000_000  # characters of an embedded JSON string we are willing to parse
_MAX_NODES = 2_000  # objects visited when walking entities/evidence
_MAX_DEPTH = 10  # nesting levels walked when looking for entities/evidence objects
_SPLIT_RE = re.compile(r"[,;\s]+")


def parse_json(value: Any) -> Any:
    """A JSON string parsed, an already-parsed dict/list as is, anything else (or malformed JSON) -> None."""
    if isinstance(value, dict | list):
        return value
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_JSON:
        return None
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        return None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _values(value: Any) -> list[str]:
    """Strings from a list, a JSON-array string or a comma/space-separated string."""
    if isinstance(value, str):
        parsed = parse_json(value) if value.strip().startswith("[") else None
        value = parsed if isinstance(parsed, list) else _SPLIT_RE.split(value)
    return [v.strip() for v in as_list(value) if isinstance(v, str) and v.strip()]


def _user(name: Any, domain: Any = None, upn: Any = None, upn_suffix: Any = None) -> str:
    name, domain, upn, upn_suffix = _text(name), _text(domain), _text(upn), _text(upn_suffix)
    if upn:
        return upn
    if not name:
        return ""
    if upn_suffix and "@" not in name:
        return f"{name}@{upn_suffix}"
    if domain and "\\" not in name:
        return f"{domain}\\{name}"
    return name


def _cloud_from_resource_id(resource_id: Any) -> tuple[str, str, str]:
    """(provider, account, region) from an Azure resource id or an AWS ARN."""
    text = _text(resource_id)
    match = re.match(r"^/subscriptions/([^/]+)", text, re.IGNORECASE)
    if match:
        return "Azure", match.group(1), ""
    parts = text.split(":")
    if len(parts) >= 5 and parts[0] == "arn" and parts[1].startswith("aws"):
        return "AWS", parts[4], parts[3]
    return "", "", ""


def _severity(value: Any) -> int:
    if not isinstance(value, str):
        return 0
    found = severity_from_name(value)
    if found is None:
        found = _MS_SEVERITY.get(value.strip().lower(), 0)
    return found


def _words(camel: str) -> str:
    """ "microsoftDefenderForEndpoint" -> "Microsoft Defender For Endpoint"."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", camel.strip())
    return spaced[:1].upper() + spaced[1:]


@register
class SentinelAdapter(Adapter):
    name = "sentinel"
    product = "Microsoft Sentinel"
    vendor = "Microsoft"
    detect_priority = 30

    # ---- detection ---------------------------------------------------------------------------------------

    @staticmethod
    def _shape(item: Any) -> str | None:
        if not isinstance(item, dict):
            return None
        if "SystemAlertId" in item or (item.get("Type") == "SecurityAlert" and "AlertName" in item):
            return "securityalert"
        if "alertCreationTime" in item and ("id" in item or "alertId" in item):
            return "mde"
        if "alertId" in item and "creationTime" in item and "title" in item:
            return "xdr"
        if "createdDateTime" in item and "title" in item:
            odata = item.get("@odata.type")
            if (isinstance(odata, str) and odata.lower().endswith("microsoft.graph.security.alert")) or any(
                key in item for key in ("serviceSource", "detectionSource", "evidence", "mitreTechniques")
            ):
                return "graph"
        return None

    def detect(self, item) -> bool:
        try:
            return self._shape(item) is not None
        except Exception:  # detect must never raise
            return False

    def normalize(self, item) -> NormalizedAlert:
        shape = self._shape(item)
        if shape == "securityalert":
            return self._security_alert(item)
        if shape is None:
            raise AdapterError(
                {
                    "item": "not a Microsoft alert: expected SystemAlertId (Sentinel SecurityAlert), "
                    "createdDateTime (Graph alerts_v2), alertCreationTime (Defender for Endpoint) or "
                    "alertId + creationTime (Defender XDR)"
                }
            )
        return self._defender(item, shape)

    # ---- Sentinel SecurityAlert ----------------------------------------------------------------------------

    def _security_alert(self, item: dict) -> NormalizedAlert:
        title = first(_text(item.get("AlertDisplayName")), _text(item.get("AlertName")), _text(item.get("AlertType")))
        time_value = first(item.get("StartTimeUtc"), item.get("EndTimeUtc"), item.get("TimeGenerated"))
        errors: dict[str, Any] = {}
        if not title:
            errors["AlertDisplayName"] = "required: AlertDisplayName, AlertName or AlertType gives the title"
        if time_value is None:
            errors["StartTimeUtc"] = "time is missing (no StartTimeUtc, EndTimeUtc or TimeGenerated)"
        if errors:
            raise AdapterError(errors)
        time_field = next(f for f in ("StartTimeUtc", "EndTimeUtc", "TimeGenerated") if item.get(f) == time_value)
        observed_at = parse_time(time_value, time_field)

        extended = parse_json(item.get("ExtendedProperties"))
        extended = extended if isinstance(extended, dict) else {}
        ext = {str(k).strip().lower(): v for k, v in extended.items()}
        hosts: list[str] = []
        ips: list[str] = []
        users: list[str] = []

        def visit(entity: dict) -> None:
            kind = _text(entity.get("Type")).lower()
            if kind == "host":
                hosts.append(
                    first(
                        _text(entity.get("HostName")),
                        _text(entity.get("NetBiosName")),
                        _text(entity.get("FQDN")),
                        default="",
                    )
                )
            elif kind == "ip":
                ips.append(_text(entity.get("Address")))
            elif kind == "account":
                users.append(_user(entity.get("Name"), entity.get("NTDomain"), None, entity.get("UPNSuffix")))
            elif kind == "mailbox":
                users.append(first(_text(entity.get("Upn")), _text(entity.get("MailboxPrimaryAddress")), default=""))
            elif kind == "mail-message":
                ips.append(_text(entity.get("SenderIP")))

        walk_objects(parse_json(item.get("Entities")), visit, max_depth=_MAX_DEPTH, max_nodes=_MAX_NODES)
        for key in ("compromised host", "machine name", "host name", "hostname"):
            hosts.append(_text(ext.get(key)))
        for key in (
            "attacker ip",
            "victim ip",
            "machine ip",
            "ip address",
            "source ips",
            "source ip",
            "client ip address",
            "client ip",
            "destination ip",
        ):
            ips.extend(_values(ext.get(key)))
        if not any(users):
            for key in ("user name", "username", "account name", "suspicious account name", "created account"):
                users.append(_text(ext.get(key)))

        tactics_value = item.get("Tactics")
        tactics_list = parse_json(tactics_value) if _text(tactics_value).startswith("[") else None
        if not isinstance(tactics_list, list):
            tactics_list = _text(tactics_value).split(",")
        tactics = [attack_tactic(t) or _text(t) for t in tactics_list if _text(t).lower() not in _NO_TACTIC]

        rule_ids = parse_json(ext.get("analytic rule ids"))
        rule_id = first(*(str(r) for r in as_list(rule_ids) if r), _text(item.get("AlertType")), default="")
        provider, account, region = _cloud_from_resource_id(item.get("ResourceId"))
        if provider == "Azure":
            region = _text(ext.get("occuringdatacenter"))

        external_id = _text(item.get("SystemAlertId"))
        if external_id:
            dedup = dedup_from_id(self.name, external_id)
        elif _text(item.get("ProviderAlertId")):
            dedup = dedup_from_id(self.name, _text(item.get("ProviderName")), _text(item.get("ProviderAlertId")))
        else:
            dedup = dedup_from_fields(self.name, title, rule_id, observed_at.isoformat(), *sorted(filter(None, hosts)))
        severity = item.get("Severity")
        return NormalizedAlert(
            source_format=self.name,
            source_product=first(_text(item.get("ProductName")), default=self.product),
            source_vendor=first(_text(item.get("VendorName")), default=self.vendor),
            title=title,
            severity_id=_severity(severity),
            severity_raw="" if severity is None else str(severity),
            observed_at=observed_at,
            dedup_key=dedup,
            raw=item,
            external_id=external_id,
            description=_text(item.get("Description")),
            category="",
            rule_id=rule_id,
            rule_name=first(_text(ext.get("analytic rule name")), _text(item.get("AlertName")), title),
            tactics=tactics,
            techniques=technique_ids(item.get("Techniques"), item.get("SubTechniques")),
            hosts=[h for h in hosts if h],
            ips=[i for i in ips if i],
            users=[u for u in users if u],
            cloud_provider=provider,
            cloud_account=account,
            cloud_region=region,
        )

    # ---- Graph alerts_v2, Defender for Endpoint, Defender XDR ----------------------------------------------

    def _defender(self, item: dict, shape: str) -> NormalizedAlert:
        id_field, time_fields = {
            "graph": ("id", ("firstActivityDateTime", "createdDateTime")),
            "mde": ("id" if "id" in item else "alertId", ("firstEventTime", "alertCreationTime")),
            "xdr": ("alertId", ("firstActivity", "creationTime")),
        }[shape]
        title = _text(item.get("title"))
        time_field = next((f for f in time_fields if item.get(f) not in (None, "")), None)
        errors: dict[str, Any] = {}
        if not title:
            errors["title"] = "required, a non-empty string"
        if time_field is None:
            errors[time_fields[-1]] = f"time is missing (no {' or '.join(time_fields)})"
        if errors:
            raise AdapterError(errors)
        observed_at = parse_time(item[time_field], time_field)

        hosts: list[str] = [_text(item.get("computerDnsName"))]
        ips: list[str] = []
        users: list[str] = []
        clouds: list[tuple[str, str, str]] = []

        def visit(node: dict) -> None:
            odata = _text(node.get("@odata.type")).lower()
            if "deviceDnsName" in node or odata.endswith("deviceevidence"):
                hosts.append(first(_text(node.get("deviceDnsName")), _text(node.get("hostName")), default=""))
            for key in ("ipAddress", "senderIp", "lastIpAddress", "lastExternalIpAddress", "publicIP"):
                ips.append(_text(node.get(key)))
            ips.extend(_text(i) for i in as_list(node.get("ipInterfaces")))
            if "accountName" in node or "userPrincipalName" in node or "userName" in node:
                users.append(
                    _user(
                        first(node.get("accountName"), node.get("userName")),
                        node.get("domainName"),
                        node.get("userPrincipalName"),
                    )
                )
            if odata.endswith("azureresourceevidence"):
                clouds.append(_cloud_from_resource_id(node.get("resourceId")))
            elif odata.endswith("amazonresourceevidence") and _text(node.get("amazonAccountId")):
                clouds.append(("AWS", _text(node.get("amazonAccountId")), ""))

        for key in ("evidence", "entities", "devices", "relatedUser", "loggedOnUsers"):
            walk_objects(item.get(key), visit, max_depth=_MAX_DEPTH, max_nodes=_MAX_NODES)
        provider, account, region = next((c for c in clouds if c[0]), ("", "", ""))

        category = _text(item.get("category"))
        tactic = attack_tactic(category)
        external_id = _text(str(item.get(id_field) or ""))
        rule_id = first(_text(item.get("detectorId")), _text(item.get("alertPolicyId")), default="")
        if external_id:
            dedup = dedup_from_id(self.name, external_id)
        else:
            dedup = dedup_from_fields(self.name, title, rule_id, observed_at.isoformat(), *sorted(filter(None, hosts)))
        severity = item.get("severity")
        product = first(
            _text(item.get("productName")),
            _words(_text(item.get("serviceSource"))) if _text(item.get("serviceSource")) else "",
            "Microsoft Defender for Endpoint" if shape == "mde" else "Microsoft Defender XDR",
        )
        return NormalizedAlert(
            source_format=self.name,
            source_product=product,
            source_vendor=self.vendor,
            title=title,
            severity_id=_severity(severity),
            severity_raw="" if severity is None else str(severity),
            observed_at=observed_at,
            dedup_key=dedup,
            raw=item,
            external_id=external_id,
            description=_text(item.get("description")),
            category=category,
            rule_id=rule_id,
            rule_name=title,
            tactics=[tactic] if tactic else [],
            techniques=technique_ids(item.get("mitreTechniques")),
            hosts=[h for h in hosts if h],
            ips=[i for i in ips if i],
            users=[u for u in users if u],
            cloud_provider=provider,
            cloud_account=account,
            cloud_region=region,
        )
