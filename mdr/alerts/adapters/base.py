"""The contract every format adapter fulfils, and the helpers they share.

An adapter turns one raw item (a parsed JSON object, or one text line for line formats such as CEF) into a
``NormalizedAlert`` or raises ``AdapterError`` naming the fields at fault. Adapters never know how an item
arrived (REST, batch, NDJSON, later syslog or HEC): transport and format are separate (DESIGN.md §6).

Writing an adapter (``adapters/<format>.py``):
- subclass ``Adapter``, set ``name`` (the ``?format=`` value), ``product``/``vendor`` defaults, ``accepts``
  (``"object"`` for JSON objects, ``"line"`` for text lines) and ``detect_priority`` (lower is tried first);
- ``detect(item)`` is a cheap structural check on keys that only this format has; it must not raise;
- ``normalize(item)`` maps the vendor's documented fields (keep the mapping table in the module docstring),
  sets ``severity_id`` (OCSF 0-6) and ``severity_raw`` (the vendor's value as text), and builds the dedup key
  with ``dedup_from_id`` when the source has its own id, else ``dedup_from_fields``;
- decorate the class with ``@register``. Modules in this package are discovered automatically.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar

# OCSF severity_id
SEVERITY_UNKNOWN, SEVERITY_INFO, SEVERITY_LOW, SEVERITY_MEDIUM, SEVERITY_HIGH, SEVERITY_CRITICAL, SEVERITY_FATAL = (
    range(7)
)
SEVERITY_NAMES = {
    "unknown": 0,
    "informational": 1,
    "information": 1,
    "info": 1,
    "low": 2,
    "medium": 3,
    "moderate": 3,
    "med": 3,
    "high": 4,
    "critical": 5,
    "fatal": 6,
}

# Sanity window for event times: anything outside is a broken clock or a broken payload, not an alert.
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
LATEST_AHEAD = timedelta(days=1)
MAX_UTC_OFFSET = timedelta(hours=15, minutes=59)

MAX_TITLE = 500
MAX_TEXT = 10_000
MAX_SHORT = 255
MAX_LIST = 100

TECHNIQUE_RE = re.compile(r"^T\d{4}(?:\.\d{3})?$")
TACTIC_ID_RE = re.compile(r"^TA\d{4}$")


class AdapterError(ValueError):
    """An item that cannot be normalised. ``errors`` maps field paths to messages, like DRF's errors."""

    def __init__(self, errors: dict[str, list[str] | str]):
        self.errors = {k: (v if isinstance(v, list) else [v]) for k, v in errors.items()}
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in self.errors.items()))


@dataclass
class NormalizedAlert:
    """The common alert shape (OCSF-inspired). Times are timezone-aware; lists hold plain strings."""

    source_format: str
    source_product: str
    source_vendor: str
    title: str
    severity_id: int
    severity_raw: str
    observed_at: datetime
    dedup_key: str
    raw: Any
    external_id: str = ""
    description: str = ""
    category: str = ""
    rule_id: str = ""
    rule_name: str = ""
    tactics: list[str] = field(default_factory=list)
    techniques: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    ips: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    cloud_provider: str = ""
    cloud_account: str = ""
    cloud_region: str = ""

    @property
    def observed_offset_minutes(self) -> int | None:
        """The source's UTC offset (time zone preserved), in minutes."""
        offset = self.observed_at.utcoffset()
        return None if offset is None else int(offset.total_seconds() // 60)

    def finalize(self) -> NormalizedAlert:
        """Enforce the invariants the database relies on; called by the registry after ``normalize``."""
        errors: dict[str, list[str]] = {}
        if not isinstance(self.severity_id, int) or not 0 <= self.severity_id <= 6:
            errors["severity"] = [f"severity_id must be 0-6, got {self.severity_id!r}"]
        if not isinstance(self.observed_at, datetime) or self.observed_at.tzinfo is None:
            errors["observed_at"] = ["time must be timezone-aware"]
        elif abs(self.observed_at.utcoffset()) > MAX_UTC_OFFSET:
            # Python takes offsets up to 24 h; PostgreSQL (and every real time zone) stays within 15:59.
            errors["observed_at"] = [f"UTC offset of {self.observed_at.isoformat()} is out of range (up to 15:59)"]
        if not self.title or not str(self.title).strip():
            errors["title"] = ["title is empty"]
        if errors:
            raise AdapterError(errors)
        self.title = clip(self.title, MAX_TITLE)
        self.description = clip(self.description, MAX_TEXT)
        for name in (
            "source_product",
            "source_vendor",
            "external_id",
            "category",
            "rule_id",
            "rule_name",
            "cloud_provider",
            "cloud_account",
            "cloud_region",
            "severity_raw",
        ):
            setattr(self, name, clip(getattr(self, name), MAX_SHORT))
        self.tactics = unique_strings(self.tactics)
        self.techniques = unique_strings(self.techniques)
        self.hosts = unique_strings(h.lower() for h in self.hosts if isinstance(h, str))
        self.users = unique_strings(self.users)
        self.ips = clean_ips(self.ips)
        return self


class Adapter:
    name: ClassVar[str]
    product: ClassVar[str] = ""
    vendor: ClassVar[str] = ""
    accepts: ClassVar[str] = "object"  # or "line"
    detect_priority: ClassVar[int] = 100

    def detect(self, item: Any) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def normalize(self, item: Any) -> NormalizedAlert:  # pragma: no cover - abstract
        raise NotImplementedError


REGISTRY: dict[str, Adapter] = {}


def register(cls: type[Adapter]) -> type[Adapter]:
    if cls.name in REGISTRY:
        raise RuntimeError(f"adapter {cls.name!r} registered twice")
    REGISTRY[cls.name] = cls()
    return cls


# ---- helpers ---------------------------------------------------------------------------------------------


def clip(value: Any, limit: int) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = text.replace("\x00", "")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def unique_strings(values, limit: int = MAX_LIST) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for value in values or []:
        if value is None or isinstance(value, dict | list):
            continue
        text = clip(value, MAX_SHORT).strip()
        if text and text not in seen:
            seen.add(text)
            out.append(text)
            if len(out) >= limit:
                break
    return out


def clean_ips(values) -> list[str]:
    """Valid IPv4/IPv6 addresses in canonical form; anything else is dropped (the raw payload keeps it)."""
    out: list[str] = []
    for value in values or []:
        if not isinstance(value, str):
            continue
        try:
            text = str(ipaddress.ip_address(value.strip().split("%", 1)[0]))
        except ValueError:
            continue
        if text not in out:
            out.append(text)
            if len(out) >= MAX_LIST:
                break
    return out


def dig(item: Any, path: str, default: Any = None) -> Any:
    """``dig(x, "a.b.c")`` = x["a"]["b"]["c"], or ``default`` when any step is missing or not a mapping."""
    current = item
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            return default
        current = current[part]
    return current


def first(*values: Any, default: Any = None) -> Any:
    """The first value that is not None and not an empty string/list."""
    for value in values:
        if value is not None and value != "" and value != []:
            return value
    return default


def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def walk_objects(node: Any, visit: Callable[[dict], Any], *, max_depth: int, max_nodes: int) -> None:
    """Call ``visit(obj)`` for every dict nested in ``node`` (``node`` itself included), depth first.

    Lists are descended into, other values are ignored. ``node`` is at depth 0 and every dict or list one level
    further down adds 1: nothing deeper than ``max_depth`` is visited, and at most ``max_nodes`` dicts are
    visited per call, so hostile or runaway payloads cost a bounded amount of work.
    """
    budget = max_nodes

    def walk(current: Any, depth: int) -> None:
        nonlocal budget
        if depth > max_depth or budget <= 0:
            return
        if isinstance(current, dict):
            budget -= 1
            visit(current)
            children = current.values()
        elif isinstance(current, list):
            children = current
        else:
            return
        for child in children:
            if isinstance(child, dict | list):
                walk(child, depth + 1)

    walk(node, 0)


_TZ_COLON_LESS = re.compile(r"([+-]\d{2})(\d{2})$")


def parse_time(value: Any, field_name: str) -> datetime:
    """A timezone-aware datetime from ISO 8601 text (``Z``, ``+09:00`` or ``-0600``) or epoch seconds/ms/µs/ns.

    Naive text is taken as UTC. The source's offset is preserved. Raises AdapterError naming ``field_name``.
    """
    if value is None or value == "":
        raise AdapterError({field_name: "time is missing"})
    try:
        if isinstance(value, bool):
            raise ValueError("a boolean is not a time")
        if isinstance(value, int | float):
            number = float(value)
            for divisor in (1, 1e3, 1e6, 1e9):  # seconds, ms, µs, ns: the first that lands before 2200
                if abs(number / divisor) < 7.3e9:
                    number = number / divisor
                    break
            result = datetime.fromtimestamp(number, tz=UTC)
        elif isinstance(value, str):
            text = value.strip()
            if re.fullmatch(r"\d{9,19}(\.\d+)?", text):
                return parse_time(float(text), field_name)
            text = text.replace("Z", "+00:00").replace("z", "+00:00")
            text = _TZ_COLON_LESS.sub(r"\1:\2", text)
            if " " in text and "T" not in text:
                text = text.replace(" ", "T", 1)
            # Python < 3.11 and some sources give more than 6 fractional digits: keep microseconds.
            text = re.sub(r"(\.\d{6})\d+", r"\1", text)
            result = datetime.fromisoformat(text)
            if result.tzinfo is None:
                result = result.replace(tzinfo=UTC)
        else:
            raise ValueError(f"expected text or a number, got {type(value).__name__}")
    except (ValueError, OverflowError, OSError) as exc:
        raise AdapterError({field_name: f"not a valid time: {str(value)[:64]!r} ({exc})"}) from None
    now = datetime.now(tz=UTC)
    if result < EARLIEST or result > now + LATEST_AHEAD:
        raise AdapterError({field_name: f"time {result.isoformat()} is out of range (1990 to now + 1 day)"})
    return result


# ATT&CK tactics (enterprise + ICS) keyed by their letters only: "InitialAccess", "initial-access",
# "Initial Access" all -> "Initial Access".
ATTACK_TACTICS = {
    "reconnaissance": "Reconnaissance",
    "resourcedevelopment": "Resource Development",
    "initialaccess": "Initial Access",
    "execution": "Execution",
    "persistence": "Persistence",
    "privilegeescalation": "Privilege Escalation",
    "defenseevasion": "Defense Evasion",
    "credentialaccess": "Credential Access",
    "discovery": "Discovery",
    "lateralmovement": "Lateral Movement",
    "collection": "Collection",
    "commandandcontrol": "Command and Control",
    "exfiltration": "Exfiltration",
    "impact": "Impact",
    "inhibitresponsefunction": "Inhibit Response Function",
    "impairprocesscontrol": "Impair Process Control",
}

_TOKEN_SPLIT = re.compile(r"[,;\s]+")


def _tokens(value: Any) -> list[str]:
    """Strings from a list, a JSON-array string or a comma/space separated string."""
    if isinstance(value, list):
        return [str(v).strip() for v in value if isinstance(v, str | int) and str(v).strip()]
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and len(text) <= 100_000:
            try:
                import json

                parsed = json.loads(text)
            except (ValueError, RecursionError):
                parsed = None
            if isinstance(parsed, list):
                return _tokens(parsed)
        return [t for t in _TOKEN_SPLIT.split(text.strip("[]")) if t]
    return []


def attack_tactic(value: Any) -> str | None:
    """The ATT&CK tactic name (or TA id) for ``value``, or None when it is not a known tactic."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if TACTIC_ID_RE.match(text.upper()):
        return text.upper()
    return ATTACK_TACTICS.get(re.sub(r"[^a-z]", "", text.lower()))


def technique_ids(*values: Any) -> list[str]:
    """Technique ids from lists, JSON-array strings or comma-separated strings; anything else is dropped."""
    return [v.upper() for value in values for v in _tokens(value) if TECHNIQUE_RE.match(v.upper())]


def severity_from_name(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    return SEVERITY_NAMES.get(value.strip().lower())


def _digest(parts: tuple) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(b"\x1f")
        h.update(str(part).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def dedup_from_id(fmt: str, *id_parts: Any) -> str:
    """Dedup key from the source's own identifier (plus whatever scopes it, e.g. the sensor)."""
    return f"{fmt}:id:{_digest(id_parts)}"


def dedup_from_fields(fmt: str, *fields: Any) -> str:
    """Dedup key from normalised key fields, for sources without an id: stable across retries and restarts."""
    return f"{fmt}:h:{_digest(fields)}"


def utc_offset(minutes: int) -> timezone:
    return timezone(timedelta(minutes=minutes))
