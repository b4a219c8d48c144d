"""``cef``: ArcSight Common Event Format lines (``accepts = "line"``), optionally behind a syslog header.

Written from the ArcSight "Implementing ArcSight CEF" specification (revision 25/26):
``CEF:Version|Device Vendor|Device Product|Device Version|Device Event Class ID|Name|Severity|Extension``.
Header fields escape ``|`` and ``\\`` with a backslash; extension values escape ``=`` and ``\\`` (and encode
newlines as ``\\n`` / ``\\r``); an extension value runs until the whitespace before the next ``key=``. Vendors
that forget to escape ``=`` inside a value are tolerated as long as the ``=`` does not follow a blank.
Repeated keys (Check Point sends some twice) keep every value, as a list, in the raw extension.

| CEF field | normalised | notes |
| --- | --- | --- |
| header Name (required) | title | |
| header Device Event Class ID | rule_id | signature id |
| ``cs<N>`` labelled "Rule Name" (``cs<N>Label``), else header Name | rule_name | |
| header Severity (required) | severity_id, severity_raw | 0-10 or Low/Medium/High/Very-High, see below |
| header Device Vendor / Device Product | source_vendor / source_product | |
| ``rt``, else ``end``, else ``start`` | observed_at | epoch ms, ISO 8601, or ``MMM dd [yyyy] HH:mm:ss[.SSS] [zone]`` |
| vendor ``*eventtime`` (``FTNTFGTeventtime``, ``ad.eventtime``) | observed_at | without rt/end/start; epoch s/ms/us/ns |
| ``dtz``, else vendor ``*tz`` (``FTNTFGTtz``, ``tz``) | observed_at offset | zone for dates without one; epochs shown in it |
| syslog header time (RFC 5424 / RFC 3164) | observed_at | last resort; no time at all: the receive time, ``raw.time_source = "received"`` |
| ``msg`` (else ``reason``) | description | |
| ``cat`` (else ``deviceEventCategory``) | category | |
| ``externalId`` | external_id | the device's event id (FortiGate: session id, so not used for dedup) |
| ``dhost``, ``shost``, ``dvchost``, syslog hostname | hosts | an IP written there goes to ips |
| ``src``, ``dst``, ``dvc`` | ips | a host name written there (FortiGate does) goes to hosts |
| ``suser``, ``duser`` | users | placeholders (``N/A``, ``-``) dropped |

raw = ``{"cef": <the line>, "header": {version, device_vendor, device_product, device_version, signature_id,
name, severity}, "extension": {key: value or [values]}}`` (JSON-serialisable).

Severity (the spec's bands): 0-3 / Low -> 2 Low, 4-6 / Medium -> 3 Medium, 7-8 / High -> 4 High,
9-10 / Very-High -> 5 Critical; ``Unknown``, out of range or unreadable -> 0 Unknown.

Dedup: CEF has no universal event id (``externalId`` is a session id on FortiGate and repeats), so
``dedup_from_fields("cef", vendor, product, device id, signature id, time, name, severity, extension)`` where the
device id is ``deviceExternalId``/``dvchost``/``dvc`` and the extension is the parsed key/value map: the same line
sent twice (even through another syslog relay) gets the same key, two different events never share one.

Detection: a text line with ``CEF:<version>|`` within its first 1024 characters.
"""

from __future__ import annotations

import ipaddress
import json
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mdr.alerts.adapters.base import (
    SEVERITY_CRITICAL,
    SEVERITY_HIGH,
    SEVERITY_LOW,
    SEVERITY_MEDIUM,
    SEVERITY_UNKNOWN,
    Adapter,
    AdapterError,
    NormalizedAlert,
    dedup_from_fields,
    parse_time,
    register,
)

CEF_START = re.compile(r"CEF:\s?(\d+)\|")
EXT_KEY = re.compile(r"(?:^|(?<=\s))([\w.\-\[\]]+)=")
EXT_ESCAPE = re.compile(r"\\([\\=nr|])")
HEADER_KEYS = ("version", "device_vendor", "device_product", "device_version", "signature_id", "name", "severity")
PLACEHOLDERS = frozenset({"", "-", "n/a", "na", "none", "null", "unknown"})
SEVERITY_WORDS = {
    "unknown": SEVERITY_UNKNOWN,
    "low": SEVERITY_LOW,
    "medium": SEVERITY_MEDIUM,
    "high": SEVERITY_HIGH,
    "very-high": SEVERITY_CRITICAL,
}
MONTHS = {
    m: i
    for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)
}
# The spec's formatted dates: MMM dd [yyyy] HH:mm:ss[.SSS] [zzz]
CEF_DATE = re.compile(
    r"^(?P<mon>[A-Za-z]{3})\s+(?P<day>\d{1,2})(?:\s+(?P<year>\d{4}))?\s+(?P<h>\d{1,2}):(?P<m>\d{2}):(?P<s>\d{2})"
    r"(?:\.(?P<frac>\d{1,9}))?(?:\s+(?P<zone>\S+))?$"
)
ZONE_OFFSET = re.compile(r"^(?:GMT|UTC)?([+-])(\d{1,2}):?(\d{2})?$")
ZONE_ABBREVIATIONS = {
    "EST": -300,
    "EDT": -240,
    "CST": -360,
    "CDT": -300,
    "MST": -420,
    "MDT": -360,
    "PST": -480,
    "PDT": -420,
    "CET": 60,
    "CEST": 120,
}
SYSLOG_5424 = re.compile(r"^\s*<\d{1,3}>\d{1,2}\s+(?P<time>\S+)\s+(?P<host>\S+)\s")
SYSLOG_3164 = re.compile(
    r"^\s*(?:<\d{1,3}>)?\s*(?P<time>[A-Z][a-z]{2}\s+\d{1,2}(?:\s+\d{4})?\s+\d{2}:\d{2}:\d{2}|"
    r"\d{4}-\d{2}-\d{2}T\S+)\s+(?P<host>[^\s:]+):?\s"
)


def cef_severity(value: str) -> int:
    text = value.strip().lower().replace(" ", "-").replace("_", "-")
    if text in SEVERITY_WORDS:
        return SEVERITY_WORDS[text]
    try:
        number = float(text)
    except ValueError:
        return SEVERITY_UNKNOWN
    if not 0 <= number <= 10:
        return SEVERITY_UNKNOWN
    if number <= 3:
        return SEVERITY_LOW
    if number <= 6:
        return SEVERITY_MEDIUM
    if number <= 8:
        return SEVERITY_HIGH
    return SEVERITY_CRITICAL


def split_header(text: str) -> tuple[list[str], str]:
    """The 7 header fields after ``CEF:`` (``\\|`` and ``\\\\`` unescaped) and the extension text."""
    fields: list[str] = []
    buf: list[str] = []
    i = 0
    while i < len(text) and len(fields) < 7:
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            buf.append(nxt if nxt in "|\\" else char + nxt)
            i += 2
            continue
        if char == "|":
            fields.append("".join(buf).strip())
            buf = []
        else:
            buf.append(char)
        i += 1
    if len(fields) == 6 and "".join(buf).strip():  # tolerated: no '|' after Severity and no extension
        return [*fields, "".join(buf).strip()], ""
    if len(fields) < 7:
        raise AdapterError(
            {"header": f"a CEF header has 7 '|'-terminated fields (Version to Severity); found {len(fields)}"}
        )
    return fields, text[i:]


def unescape_value(value: str) -> str:
    return EXT_ESCAPE.sub(lambda m: {"n": "\n", "r": "\r"}.get(m[1], m[1]), value)


def parse_extension(text: str) -> dict[str, str | list[str]]:
    out: dict[str, str | list[str]] = {}
    matches = list(EXT_KEY.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        key, value = match[1], unescape_value(text[match.end() : end].strip())
        if key in out:
            previous = out[key]
            out[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            out[key] = value
    return out


def parse_zone(text: str | None) -> tzinfo | None:
    if not text:
        return None
    text = text.strip().strip('"').strip()
    if text.upper() in ("UTC", "GMT", "Z", "UT"):
        return UTC
    match = ZONE_OFFSET.match(text)
    if match:
        minutes = int(match[2]) * 60 + int(match[3] or 0)
        return timezone(timedelta(minutes=-minutes if match[1] == "-" else minutes))
    if text.upper() in ZONE_ABBREVIATIONS:
        return timezone(timedelta(minutes=ZONE_ABBREVIATIONS[text.upper()]))
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def fixed(moment: datetime) -> datetime:
    """The same instant with a fixed UTC offset (IANA zones resolved), as parse_time produces."""
    offset = moment.utcoffset() or timedelta(0)
    return moment.replace(tzinfo=timezone(offset))


def parse_cef_time(value: str, field_name: str, zone: tzinfo | None) -> datetime:
    """Epoch (s/ms/...), ISO 8601 or the spec's formatted date; dates without a zone are in ``zone`` (else UTC)."""
    text = value.strip().strip('"').strip()
    match = CEF_DATE.match(text)
    if not match:
        result = parse_time(text, field_name)
        if zone is not None and re.fullmatch(r"\d+(\.\d+)?", text):  # epoch: show it in the device's zone
            result = fixed(result.astimezone(zone))
        return result
    month = MONTHS.get(match["mon"].lower())
    if month is None:
        raise AdapterError({field_name: f"not a valid time: {text[:64]!r} (unknown month)"})
    if match["zone"]:
        zone = parse_zone(match["zone"])
        if zone is None:
            raise AdapterError({field_name: f"not a valid time: {text[:64]!r} (unknown time zone)"})
    zone = zone or UTC
    micro = int((match["frac"] or "0").ljust(6, "0")[:6])
    now = datetime.now(tz=UTC)
    year = int(match["year"]) if match["year"] else now.year
    try:
        day, hour, minute, second = int(match["day"]), int(match["h"]), int(match["m"]), int(match["s"])
        moment = datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)
        if not match["year"] and moment > now + timedelta(days=1):  # "MMM dd" without a year: the last one
            moment = moment.replace(year=year - 1)
    except ValueError as exc:
        raise AdapterError({field_name: f"not a valid time: {text[:64]!r} ({exc})"}) from None
    return parse_time(fixed(moment).isoformat(), field_name)


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return False
    return True


@register
class CefAdapter(Adapter):
    name = "cef"
    product = "CEF"
    vendor = ""
    accepts = "line"
    detect_priority = 30

    def detect(self, item) -> bool:
        return isinstance(item, str) and CEF_START.search(item, 0, 1024) is not None

    def normalize(self, item) -> NormalizedAlert:
        line = item.rstrip("\r\n")
        start = CEF_START.search(line)
        if start is None:
            raise AdapterError({"cef": "not a CEF line: 'CEF:<version>|' not found"})
        prefix = line[: start.start()]
        header_values, extension_text = split_header(line[line.index(":", start.start()) + 1 :])
        header = dict(zip(HEADER_KEYS, header_values, strict=True))
        extension = parse_extension(extension_text)
        lower = {}
        for key in extension:
            lower.setdefault(key.lower(), key)

        def get_all(key: str) -> list[str]:
            real = lower.get(key.lower())
            values = extension.get(real) if real else None
            return [v.strip() for v in (values if isinstance(values, list) else [values]) if isinstance(v, str)]

        def get(key: str) -> str:
            return next(iter(get_all(key)), "")

        errors = {}
        title = header["name"]
        if not title:
            errors["header.name"] = ["required: the CEF Name field is the alert title"]
        if not header["severity"]:
            errors["header.severity"] = ["required: 0-10 or Low, Medium, High, Very-High"]

        syslog_time = syslog_host = ""
        if prefix.strip():
            match = SYSLOG_5424.match(prefix) or SYSLOG_3164.match(prefix)
            if match:
                syslog_time = match["time"] if match["time"] != "-" else ""
                syslog_host = match["host"] if match["host"] != "-" else ""

        zone_key = next((k for k in extension if k.lower() == "dtz"), None) or next(
            (k for k in extension if k.lower().endswith("tz") and k.lower() != "dtz"), None
        )
        zone = parse_zone(get(zone_key)) if zone_key else None
        candidates = [(k, get(k)) for k in ("rt", "end", "start")]
        candidates += [(k, get(k)) for k in extension if k.lower().endswith("eventtime")]
        candidates.append(("syslog header", syslog_time))
        time_field, time_value = next(((k, v) for k, v in candidates if v), (None, None))
        observed_at = None
        time_source = "event"
        if time_field is None:
            # CEF makes every time field optional (some FortiGate events carry none): the time we received the
            # line is the best there is. It is marked in the raw payload, and left out of the dedup key, so the
            # same line re-sent is a duplicate rather than a new alert.
            observed_at = datetime.now(tz=UTC)
            time_source = "received"
        else:
            try:
                observed_at = parse_cef_time(time_value, time_field, zone)
            except AdapterError as exc:
                errors.update(exc.errors)
        if errors:
            raise AdapterError(errors)

        hosts, ips = [], []
        for key in ("dhost", "shost", "dvchost", "src", "dst", "dvc"):
            for value in get_all(key):
                (ips if is_ip(value) or key == "dvc" else hosts).append(value)
        if syslog_host:
            (ips if is_ip(syslog_host) else hosts).append(syslog_host)
        hosts = [h for h in hosts if h.lower() not in PLACEHOLDERS]
        users = [u for u in get_all("suser") + get_all("duser") if u.lower() not in PLACEHOLDERS]

        labels = {}
        for n in range(1, 7):
            label = get(f"cs{n}Label")
            if label and get(f"cs{n}"):
                labels[label.lower().replace(" ", "")] = get(f"cs{n}")
        rule_name = labels.get("rulename") or title

        device_id = get("deviceExternalId") or get("dvchost") or get("dvc") or syslog_host
        dedup = dedup_from_fields(
            self.name,
            header["device_vendor"],
            header["device_product"],
            device_id,
            header["signature_id"],
            observed_at.isoformat() if time_source == "event" else "",
            title,
            header["severity"],
            json.dumps(extension, sort_keys=True),
        )
        return NormalizedAlert(
            source_format=self.name,
            source_product=header["device_product"] or self.product,
            source_vendor=header["device_vendor"],
            title=title,
            severity_id=cef_severity(header["severity"]),
            severity_raw=header["severity"],
            observed_at=observed_at,
            dedup_key=dedup,
            raw={"cef": line, "header": header, "extension": extension, "time_source": time_source},
            external_id=get("externalId"),
            description=get("msg") or get("reason"),
            category=get("cat") or get("deviceEventCategory"),
            rule_id=header["signature_id"],
            rule_name=rule_name,
            hosts=hosts,
            ips=ips,
            users=users,
        )
