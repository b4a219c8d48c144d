"""The in-memory scope matcher: one contract version's scope items and the customer's inventory compiled into
lookup tables, then asked, once per alert, whether the alert is in scope and why.

Pure Python with no Django or database imports: the caller (``mdr.scope.selectors.compiled_scope``) loads the
rules and the inventory, compiles once per (tenant, contract version, inventory revision) and caches the result.
Nothing is cached globally here. The one piece of state ``classify`` keeps is a bounded per-instance memo of the
log-source verdict per (product, vendor) pair, since a tenant has a handful of distinct sources.

Decision rules, in order (``classify``):

1. **Log source.** ``log_source`` rules match the alert's ``source_product`` or ``source_vendor``,
   case-insensitively, after stripping: exactly, or as a whole-word prefix (rule "Microsoft Defender" matches
   product "Microsoft Defender for Endpoint": the product starts with the rule value and the next character is
   not a letter or digit). A matching *excluded* log source rule -> ``excluded``. If the version has at least one
   *included* log source rule and none matches -> ``unsupported_source``. No log source rules at all: every source
   is supported.
2. **Asset identifiers.** Every asset rule matching any identifier of the alert is collected:

   - hosts: an exact ``host`` rule matches the full name or its first label (rule "web01" matches
     "web01.corp.example"; rule "web01.corp.example" does not match "web01"); a glob (fnmatch: ``* ? [..]``) is
     matched against the full name. Alert host names are expected in lower case; rule values are lowered here.
   - IPs: ``network`` rules (CIDR, v4 and v6; a bare address is a /32 or /128). Every containing network
     matches, not just the longest prefix. IPv4-mapped IPv6 (``::ffff:a.b.c.d``) stands for the IPv4 address it
     maps, in alerts, in the inventory and in rules: ``::ffff:10.0.0.1`` matches ``10.0.0.0/8``, ``10.0.0.1``
     matches ``::ffff:10.0.0.0/104`` (which is read as ``10.0.0.0/8``), and neither matches ``::/0``, which
     covers the IPv6 addresses proper (a customer listing "all our IPv6" does not mean all of IPv4). Rule
     networks with host bits set (``10.0.0.5/24``) are rejected at compile time with a ValueError: in a contract
     they are ambiguous (the /24, or a typo for one host?), and the bulk import reports them per row. An alert IP
     that does not parse matches no network (it still counts as an identifier).
   - cloud account: ``cloud_account`` rules whose value equals ``cloud_account`` (case-insensitively), and whose
     provider and region, when the rule sets them, equal the alert's.
   - SaaS tenant: ``saas_tenant`` rules whose value equals the alert's ``cloud_account`` (case-insensitively).
   - asset groups: host name or IP -> the inventory assets it names (see "known" below) -> their groups ->
     ``asset_group`` rules (group names case-insensitive).

   If any matching rule is excluded -> ``excluded`` (exclusion always wins, whichever rule is more specific); the
   reason names the excluded rule with the lowest id. Otherwise, if any included rule matches -> ``in_scope``:
   criticality is the highest among the matching included asset rules, the reason names the rule that has it
   (lowest id on ties), and ``remediation_allowed`` is True only if every matching included asset rule allows it.
   Log source rules play no part in criticality or remediation once an asset rule has matched.
3. **No asset rule matched.**

   - The version has no asset rules at all (only log sources, or nothing) -> ``in_scope``; criticality is the
     highest of the matching included log source rules (else "medium"), and remediation is allowed only if at
     least one included log source rule matched and all of them allow it.
   - Else, the alert has no asset identifiers (no host, no IP, no cloud account) -> ``in_scope`` if an included
     log source rule matched (reason names it; criticality and remediation from the log source rules as above),
     otherwise ``unknown_asset`` ("no asset identifiers in the alert").
   - Else, if a host or IP is a known inventory asset -> ``out_of_scope`` ("asset X is known but not covered").
     A host is known when it equals an inventory host name, or one of the two is a bare name (no dot) equal to
     the other's first label ("web01" and "web01.corp.example" name the same asset; "web01.a" and "web01.b" do
     not). An IP is known when an inventory asset lists it (mapped IPv6 forms count as their IPv4 address).
   - Else -> ``unknown_asset``, with ``unknown_identifiers`` = every host and IP of the alert, in order (the
     input to inventory drift). This is the only status that fills ``unknown_identifiers``.

``criticality`` is None and ``remediation_allowed`` False for every status but ``in_scope``.

How the tables look (the point is that ``classify`` never loops over all rules):

- exact hosts: a dict value -> rules, probed with the full name and the first label;
- host globs: "*<literal>" (suffix) globs whose literal starts with a dot sit in a dict probed at each dot of the
  host (2-4 probes); other suffix and "<literal>*" (prefix) globs sit in dicts probed once per distinct literal
  length; "*" alone matches every host; every other glob is compiled with ``fnmatch.translate`` into one
  alternation regex per included / excluded list, and the individual patterns are tried only after a hit;
- networks: per address family, per prefix length present, a dict masked network int -> rules. Short v4 prefixes
  (< /16) are probed for every address; longer ones only for the lengths present under the address's /16 (one
  extra dict probe finds them), and likewise v6 prefixes >= /32 under the address's top 32 bits; v6 networks
  inside ``::ffff:0:0/96`` go into the v4 tables as the v4 networks they map;
- cloud accounts, SaaS tenants, asset groups: dicts by id / name; the inventory: dicts from host name, bare label
  and IP to the group rules they lead to, plus sets of known names and IPs for rule 3;
- log sources: a dict of normalised values, probed with the whole product / vendor and with every prefix that
  ends at a word boundary, memoised per (product, vendor).

Invalid input raises ValueError at compile time naming the rule id (or the inventory asset) and the problem:
unknown kind or criticality, empty value, bad or host-bit CIDR, provider or region on a non-cloud rule, duplicate
rule id, a bad inventory IP.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass

KINDS = ("host", "network", "cloud_account", "saas_tenant", "log_source", "asset_group")
ASSET_KINDS = frozenset(KINDS) - {"log_source"}
CRITICALITIES = ("low", "medium", "high", "critical")
DEFAULT_CRITICALITY = "medium"

IN_SCOPE = "in_scope"
OUT_OF_SCOPE = "out_of_scope"
EXCLUDED = "excluded"
UNKNOWN_ASSET = "unknown_asset"
UNSUPPORTED_SOURCE = "unsupported_source"

_RANK = {name: rank for rank, name in enumerate(CRITICALITIES)}
_GLOB_CHARS = frozenset("*?[")
_V4_SPLIT = 16  # v4 prefixes shorter than this are probed always, longer ones via the address's /16
_V6_SPLIT = 32  # likewise for v6, via the top 32 bits
_V6_KEY = 1 << 128  # added to v6 ints used as inventory keys, so they never collide with v4 ints
_MAPPED_NET = ipaddress.IPv6Network("::ffff:0:0/96")
_SOURCE_MEMO_SIZE = 4096
_SHOWN_IDENTIFIERS = 3
_INET_PTON = socket.inet_pton
_AF_INET = socket.AF_INET
_AF_INET6 = socket.AF_INET6


@dataclass(frozen=True)
class ScopeRule:
    """One scope item of a contract version, as the matcher sees it."""

    id: int
    kind: str  # "host" | "network" | "cloud_account" | "saas_tenant" | "log_source" | "asset_group"
    value: str  # host name or glob; CIDR or bare IP; account id; tenant id; product or vendor name; group name
    provider: str = ""  # cloud_account: "aws" | "azure" | "gcp" | ... ("" = any provider)
    region: str = ""  # cloud_account: optional region ("" = any region)
    criticality: str = DEFAULT_CRITICALITY  # low | medium | high | critical
    included: bool = True  # False = explicitly excluded
    remediation_allowed: bool = False
    label: str = ""  # human label used in reasons (default: kind + value)


@dataclass(frozen=True)
class InventoryAsset:
    """A known asset of the customer (CMDB-lite), whether in scope or not."""

    hostname: str  # may be ""
    ips: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class AlertFacts:
    """What classification reads from one alert."""

    hosts: tuple[str, ...] = ()  # lower-case host names
    ips: tuple[str, ...] = ()  # canonical IP strings
    cloud_provider: str = ""
    cloud_account: str = ""  # also matched against saas_tenant rules
    cloud_region: str = ""
    source_product: str = ""
    source_vendor: str = ""


@dataclass(frozen=True)
class Classification:
    """The verdict on one alert."""

    status: str  # "in_scope" | "out_of_scope" | "excluded" | "unknown_asset" | "unsupported_source"
    reason: str  # human readable, names the rule (label) or the identifier that decided it
    rule_id: int | None  # the deciding rule, if any
    criticality: str | None  # for in_scope: the highest criticality among matching included rules
    remediation_allowed: bool  # True only if every matching included asset rule allows it
    unknown_identifiers: tuple[str, ...]  # hosts/IPs in neither scope nor inventory (feeds "inventory drift")


class _Entry:
    """A validated rule in the form the hot path reads."""

    __slots__ = ("id", "included", "label", "rank", "remediation")

    def __init__(self, rule: ScopeRule, label: str) -> None:
        self.id = rule.id
        self.included = rule.included
        self.rank = _RANK[rule.criticality]
        self.remediation = rule.remediation_allowed
        self.label = label


# A hit: (entry, noun, identifier, asset group or ""), e.g. (entry, "host", "web01.corp", ""). The matching code
# appends one _Probe per successful lookup, (entries, noun, identifier, group), and _decide flattens them.
_Hit = tuple[_Entry, str, str, str]
_Probe = tuple[tuple[_Entry, ...], str, str, str]


def _describe(hit: _Hit) -> str:
    entry, noun, ident, group = hit
    via = f" is in asset group '{group}', which" if group else ""
    state = "included" if entry.included else "excluded"
    return f"{noun} {ident}{via} matches {state} rule '{entry.label}'"


def _add(table: dict, key, item) -> None:
    table.setdefault(key, []).append(item)


def _frozen(table: dict) -> dict:
    return {key: tuple(items) for key, items in table.items()}


def _ip_key(text: str) -> int | None:
    """An address as one int: v4 (and IPv4-mapped v6) as the v4 int, other v6 as the int + 2**128; None if bad."""
    try:
        if ":" in text:
            number = int.from_bytes(_INET_PTON(_AF_INET6, text), "big")
            return number & 0xFFFFFFFF if number >> 32 == 0xFFFF else number + _V6_KEY
        return int.from_bytes(_INET_PTON(_AF_INET, text), "big")
    except (OSError, ValueError):
        return None


def _first_label(host: str) -> str:
    dot = host.find(".")
    return host[:dot] if dot > 0 else ""


class _NetworkTable:
    """Networks of one address family: per prefix length, a dict masked network int -> rules."""

    def __init__(self, bits: int, split: int) -> None:
        self.bits = bits
        self.split = split
        self._by_length: dict[int, dict[int, list[_Entry]]] = {}

    def add(self, network_int: int, prefixlen: int, entry: _Entry) -> None:
        _add(self._by_length.setdefault(prefixlen, {}), network_int >> (self.bits - prefixlen), entry)

    def freeze(self) -> tuple[tuple[tuple[int, dict], ...], int, dict[int, tuple[tuple[int, dict], ...]]]:
        """(short lengths as (shift, table) pairs, bucket shift, bucket key -> (shift, table) pairs)."""
        short = []
        buckets: dict[int, list[tuple[int, dict]]] = {}
        bucket_shift = self.bits - self.split
        for prefixlen in sorted(self._by_length):
            shift = self.bits - prefixlen
            table = _frozen(self._by_length[prefixlen])
            if prefixlen < self.split:
                short.append((shift, table))
                continue
            # Keys of the tables reached through one bucket hold only that bucket's networks: smaller dicts,
            # same answer.
            per_bucket: dict[int, dict] = {}
            for key, entries in table.items():
                per_bucket.setdefault(key >> (prefixlen - self.split), {})[key] = entries
            for bucket, sub in per_bucket.items():
                buckets.setdefault(bucket, []).append((shift, sub))
        return tuple(short), bucket_shift, {bucket: tuple(pairs) for bucket, pairs in buckets.items()}


class _GlobList:
    """General host globs of one kind (included or excluded): one alternation regex, then the single patterns."""

    def __init__(self, items: list[tuple[str, _Entry]]) -> None:
        translated = [(fnmatch.translate(pattern), entry) for pattern, entry in items]
        self.any = re.compile("|".join(f"(?:{regex})" for regex, _ in translated)) if translated else None
        self.each = tuple((re.compile(regex).match, entry) for regex, entry in translated)


class CompiledScope:
    """One contract version's scope and the inventory, compiled for ``classify``. Build with ``compile``."""

    # ----------------------------------------------------------------------------------------------- compile

    @classmethod
    def compile(cls, rules: Iterable[ScopeRule], inventory: Iterable[InventoryAsset] = ()) -> CompiledScope:
        self = cls.__new__(cls)
        seen_ids: set[int] = set()
        host_exact: dict[str, list[_Entry]] = {}
        host_dot_suffix: dict[str, list[_Entry]] = {}
        host_suffix: dict[str, list[_Entry]] = {}
        host_prefix: dict[str, list[_Entry]] = {}
        host_all: list[_Entry] = []
        general_in: list[tuple[str, _Entry]] = []
        general_ex: list[tuple[str, _Entry]] = []
        v4 = _NetworkTable(32, _V4_SPLIT)
        v6 = _NetworkTable(128, _V6_SPLIT)
        clouds: dict[str, list[tuple[str, str, _Entry]]] = {}
        saas: dict[str, list[_Entry]] = {}
        groups: dict[str, list[_Entry]] = {}
        sources: dict[str, list[_Entry]] = {}
        asset_rules = 0
        included_sources = 0

        for rule in rules:
            if rule.id in seen_ids:
                raise ValueError(f"scope rule {rule.id}: duplicate rule id")
            seen_ids.add(rule.id)
            if rule.kind not in KINDS:
                raise ValueError(
                    f"scope rule {rule.id}: unknown kind {rule.kind!r} (expected one of {', '.join(KINDS)})"
                )
            if rule.criticality not in _RANK:
                raise ValueError(
                    f"scope rule {rule.id}: unknown criticality {rule.criticality!r} "
                    f"(expected one of {', '.join(CRITICALITIES)})"
                )
            value = (rule.value or "").strip()
            if not value:
                raise ValueError(f"scope rule {rule.id}: empty {rule.kind} value")
            provider = (rule.provider or "").strip().lower()
            region = (rule.region or "").strip().lower()
            if rule.kind != "cloud_account" and (provider or region):
                raise ValueError(f"scope rule {rule.id}: provider and region apply to cloud_account rules only")
            label = (rule.label or "").strip() or cls._default_label(rule.kind, value, provider, region)
            entry = _Entry(rule, label)
            key = value.lower()
            if rule.kind != "log_source":
                asset_rules += 1

            if rule.kind == "host":
                if any(char.isspace() for char in key):
                    raise ValueError(f"scope rule {rule.id}: host {value!r} contains whitespace")
                if not cls._add_host(key, entry, host_exact, host_dot_suffix, host_suffix, host_prefix, host_all):
                    (general_in if rule.included else general_ex).append((key, entry))
            elif rule.kind == "network":
                network = cls._parse_network(rule.id, value)
                if network.version == 4:
                    v4.add(int(network.network_address), network.prefixlen, entry)
                elif network.subnet_of(_MAPPED_NET):
                    v4.add(int(network.network_address) & 0xFFFFFFFF, network.prefixlen - 96, entry)
                else:
                    v6.add(int(network.network_address), network.prefixlen, entry)
            elif rule.kind == "cloud_account":
                _add(clouds, key, (provider, region, entry))
            elif rule.kind == "saas_tenant":
                _add(saas, key, entry)
            elif rule.kind == "asset_group":
                _add(groups, key, entry)
            else:  # log_source
                _add(sources, key, entry)
                included_sources += rule.included

        self._host_exact = _frozen(host_exact)
        self._host_dot_suffix = _frozen(host_dot_suffix)
        self._host_suffix = _frozen(host_suffix)
        self._host_suffix_lengths = tuple(sorted({len(key) for key in host_suffix}))
        self._host_prefix = _frozen(host_prefix)
        self._host_prefix_lengths = tuple(sorted({len(key) for key in host_prefix}))
        self._host_all = tuple(host_all)
        self._globs = tuple(glob for glob in (_GlobList(general_in), _GlobList(general_ex)) if glob.any is not None)
        self._v4_short, self._v4_bucket_shift, self._v4_buckets = v4.freeze()
        self._v6 = v6.freeze()
        self._clouds = _frozen(clouds)
        self._saas = _frozen(saas)
        self._sources = _frozen(sources)
        self._has_sources = bool(sources)
        self._has_included_sources = included_sources > 0
        self._has_asset_rules = asset_rules > 0
        self._source_memo: dict[tuple[str, str], tuple[Classification | None, tuple[_Hit, ...]]] = {}
        self._compile_inventory(inventory, _frozen(groups))
        self.rule_count = len(seen_ids)
        return self

    @staticmethod
    def _default_label(kind: str, value: str, provider: str, region: str) -> str:
        label = f"{kind} {value}"
        extra = ", ".join(part for part in (provider, region) if part)
        return f"{label} ({extra})" if extra else label

    @staticmethod
    def _add_host(key, entry, exact, dot_suffix, suffix, prefix, everything) -> bool:
        """File a host rule under its fast path; False for a general glob, which the caller collects."""
        if not set(key) & _GLOB_CHARS:
            _add(exact, key, entry)
        elif key.strip("*") == "":
            everything.append(entry)
        elif key.startswith("*") and not set(key[1:]) & _GLOB_CHARS:
            _add(dot_suffix if key[1] == "." else suffix, key[1:], entry)
        elif key.endswith("*") and not set(key[:-1]) & _GLOB_CHARS:
            _add(prefix, key[:-1], entry)
        else:
            return False
        return True

    @staticmethod
    def _parse_network(rule_id: int, value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        try:
            return ipaddress.ip_network(value, strict=True)
        except ValueError as strict_error:
            try:
                loose = ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ValueError(f"scope rule {rule_id}: bad network {value!r} ({strict_error})") from None
            raise ValueError(
                f"scope rule {rule_id}: network {value!r} has host bits set (did you mean {loose}?)"
            ) from None

    def _compile_inventory(self, inventory: Iterable[InventoryAsset], groups: dict[str, tuple[_Entry, ...]]) -> None:
        # Hosts are indexed three ways (see "known" in the module docstring): dotted names in full, bare names, and
        # for bare alert hosts the bare names plus the first labels of dotted names.
        dotted: dict[str, list[tuple[tuple[_Entry, ...], str]]] = {}
        bare: dict[str, list[tuple[tuple[_Entry, ...], str]]] = {}
        bare_or_label: dict[str, list[tuple[tuple[_Entry, ...], str]]] = {}
        by_ip: dict[int, list[tuple[tuple[_Entry, ...], str]]] = {}
        for number, asset in enumerate(inventory, start=1):
            hostname = (asset.hostname or "").strip().lower()
            group_hits = [(groups[key], group) for group in asset.groups if (key := group.strip().lower()) in groups]
            if hostname:
                if "." in hostname:
                    dotted.setdefault(hostname, []).extend(group_hits)
                    label = _first_label(hostname)
                    if label:
                        bare_or_label.setdefault(label, []).extend(group_hits)
                else:
                    bare.setdefault(hostname, []).extend(group_hits)
                    bare_or_label.setdefault(hostname, []).extend(group_hits)
            for ip in asset.ips:
                key = _ip_key(ip.strip())
                if key is None:
                    raise ValueError(f"inventory asset {hostname or f'#{number}'}: bad IP {ip!r}")
                by_ip.setdefault(key, []).extend(group_hits)
        self._inv_dotted = _frozen(dotted)
        self._inv_bare = _frozen(bare)
        self._inv_bare_or_label = _frozen(bare_or_label)
        self._inv_ip = _frozen(by_ip)
        self._has_groups = bool(groups)

    # ----------------------------------------------------------------------------------------------- classify

    def classify(self, facts: AlertFacts) -> Classification:
        source_hits: tuple[_Hit, ...] = ()
        if self._has_sources:
            key = (facts.source_product, facts.source_vendor)
            outcome = self._source_memo.get(key)
            if outcome is None:
                if len(self._source_memo) >= _SOURCE_MEMO_SIZE:
                    self._source_memo.clear()
                outcome = self._source_memo[key] = self._classify_source(*key)
            if outcome[0] is not None:
                return outcome[0]
            source_hits = outcome[1]

        hits: list[_Probe] = []
        hosts = facts.hosts
        ips = facts.ips
        account = facts.cloud_account
        if hosts:
            self._match_hosts(hosts, hits)
        if ips:
            self._match_ips(ips, hits)
        if account:
            self._match_account(facts, account.lower(), hits)
        if hits:
            decided = self._decide(hits)
            if decided is not None:
                return decided
        return self._no_asset_match(hosts, ips, account, source_hits)

    def _match_hosts(self, hosts: tuple[str, ...], hits: list[_Probe]) -> None:
        exact = self._host_exact
        dot_suffix = self._host_dot_suffix
        suffix = self._host_suffix
        prefix = self._host_prefix
        groups = self._has_groups
        for host in hosts:
            found = exact.get(host)
            if found:
                hits.append((found, "host", host, ""))
            dot = host.find(".")
            if dot > 0:
                found = exact.get(host[:dot])
                if found:
                    hits.append((found, "host", host, ""))
            if dot_suffix:
                while dot >= 0:
                    found = dot_suffix.get(host[dot:])
                    if found:
                        hits.append((found, "host", host, ""))
                    dot = host.find(".", dot + 1)
            if suffix:
                size = len(host)
                for length in self._host_suffix_lengths:
                    if length > size:
                        break
                    found = suffix.get(host[size - length :])
                    if found:
                        hits.append((found, "host", host, ""))
            if prefix:
                size = len(host)
                for length in self._host_prefix_lengths:
                    if length > size:
                        break
                    found = prefix.get(host[:length])
                    if found:
                        hits.append((found, "host", host, ""))
            if self._host_all:
                hits.append((self._host_all, "host", host, ""))
            for glob in self._globs:
                if glob.any.match(host):
                    hits.append((tuple(entry for match, entry in glob.each if match(host)), "host", host, ""))
            if groups:
                if "." in host:
                    found = self._inv_dotted.get(host)
                    label = _first_label(host)
                    also = self._inv_bare.get(label) if label else None
                else:
                    found = self._inv_bare_or_label.get(host)
                    also = None
                for group_hits in (found, also):
                    if group_hits:
                        hits.extend((entries, "host", host, group) for entries, group in group_hits)

    def _match_ips(self, ips: tuple[str, ...], hits: list[_Probe]) -> None:
        for text in ips:
            key = _ip_key(text)
            if key is None:
                continue
            if key < _V6_KEY:
                number, short, bucket_shift, buckets = key, self._v4_short, self._v4_bucket_shift, self._v4_buckets
            else:
                number, short, bucket_shift, buckets = key - _V6_KEY, *self._v6
            for shift, table in short:
                found = table.get(number >> shift)
                if found:
                    hits.append((found, "ip", text, ""))
            pairs = buckets.get(number >> bucket_shift)
            if pairs:
                for shift, table in pairs:
                    found = table.get(number >> shift)
                    if found:
                        hits.append((found, "ip", text, ""))
            if self._has_groups:
                found = self._inv_ip.get(key)
                if found:
                    hits.extend((entries, "ip", text, group) for entries, group in found)

    def _match_account(self, facts: AlertFacts, account: str, hits: list[_Probe]) -> None:
        found = self._clouds.get(account)
        if found:
            provider = facts.cloud_provider.lower()
            region = facts.cloud_region.lower()
            for rule_provider, rule_region, entry in found:
                if (not rule_provider or rule_provider == provider) and (not rule_region or rule_region == region):
                    hits.append(((entry,), "cloud account", facts.cloud_account, ""))
        found = self._saas.get(account)
        if found:
            hits.append((found, "SaaS tenant", facts.cloud_account, ""))

    @staticmethod
    def _decide(probes: list[_Probe]) -> Classification | None:
        excluded: _Hit | None = None
        best: _Hit | None = None
        remediation = True
        ids = set()
        for entries, noun, ident, group in probes:
            for entry in entries:
                ids.add(entry.id)
                if not entry.included:
                    if excluded is None or entry.id < excluded[0].id:
                        excluded = (entry, noun, ident, group)
                    continue
                remediation = remediation and entry.remediation
                if best is None or entry.rank > best[0].rank or (entry.rank == best[0].rank and entry.id < best[0].id):
                    best = (entry, noun, ident, group)
        if excluded is not None:
            return Classification(EXCLUDED, _describe(excluded), excluded[0].id, None, False, ())
        if best is None:  # only general globs were probed, and none of their patterns matched
            return None
        reason = _describe(best)
        if len(ids) > 1:
            reason += f" (highest criticality of {len(ids)} matching rules)"
        return Classification(IN_SCOPE, reason, best[0].id, CRITICALITIES[best[0].rank], remediation, ())

    def _no_asset_match(
        self, hosts: tuple[str, ...], ips: tuple[str, ...], account: str, source_hits: tuple[_Hit, ...]
    ) -> Classification:
        if not self._has_asset_rules:
            return self._in_scope_by_source(source_hits, "the contract version has no asset rules")
        if not (hosts or ips or account):
            if source_hits:
                return self._in_scope_by_source(source_hits, "the alert has no asset identifiers")
            return Classification(UNKNOWN_ASSET, "no asset identifiers in the alert", None, None, False, ())
        for host in hosts:
            if self._host_known(host):
                return Classification(
                    OUT_OF_SCOPE, f"asset {host} is known but not covered by any scope rule", None, None, False, ()
                )
        for text in ips:
            if _ip_key(text) in self._inv_ip:
                return Classification(
                    OUT_OF_SCOPE, f"asset {text} is known but not covered by any scope rule", None, None, False, ()
                )
        named = [f"host {host}" for host in hosts] + [f"ip {ip}" for ip in ips]
        if account:
            named.append(f"cloud account {account}")
        shown = ", ".join(named[:_SHOWN_IDENTIFIERS])
        if len(named) > _SHOWN_IDENTIFIERS:
            shown += f" and {len(named) - _SHOWN_IDENTIFIERS} more"
        reason = f"no scope rule or inventory asset matches {shown}"
        return Classification(UNKNOWN_ASSET, reason, None, None, False, tuple(hosts) + tuple(ips))

    def _host_known(self, host: str) -> bool:
        if "." in host:
            label = _first_label(host)
            return host in self._inv_dotted or (bool(label) and label in self._inv_bare)
        return host in self._inv_bare_or_label

    @staticmethod
    def _in_scope_by_source(source_hits: tuple[_Hit, ...], why: str) -> Classification:
        if not source_hits:
            return Classification(
                IN_SCOPE, f"{why} and no log source rule applies", None, DEFAULT_CRITICALITY, False, ()
            )
        best = source_hits[0]
        for hit in source_hits:
            entry = hit[0]
            if entry.rank > best[0].rank or (entry.rank == best[0].rank and entry.id < best[0].id):
                best = hit
        remediation = all(hit[0].remediation for hit in source_hits)
        reason = f"{_describe(best)}; {why}"
        return Classification(IN_SCOPE, reason, best[0].id, CRITICALITIES[best[0].rank], remediation, ())

    # ----------------------------------------------------------------------------------------------- sources

    def _classify_source(self, product: str, vendor: str) -> tuple[Classification | None, tuple[_Hit, ...]]:
        """(a final verdict or None, the included log source hits) for one (product, vendor) pair."""
        hits: list[_Hit] = []
        for noun, name in (("source product", product), ("source vendor", vendor)):
            name = (name or "").strip()
            if not name:
                continue
            lowered = name.lower()
            candidates = [lowered] + [lowered[:i] for i, char in enumerate(lowered) if i and not char.isalnum()]
            for candidate in dict.fromkeys(candidates):
                hits.extend((entry, noun, repr(name), "") for entry in self._sources.get(candidate, ()))
        excluded = [hit for hit in hits if not hit[0].included]
        if excluded:
            first = min(excluded, key=lambda hit: hit[0].id)
            return Classification(EXCLUDED, _describe(first), first[0].id, None, False, ()), ()
        included = tuple(hits)
        if self._has_included_sources and not included:
            named = " / ".join(repr(n.strip()) for n in (product, vendor) if n and n.strip())
            reason = (
                f"source {named} matches no included log source rule"
                if named
                else "the alert names no source product or vendor and the contract lists its log sources"
            )
            return Classification(UNSUPPORTED_SOURCE, reason, None, None, False, ()), ()
        return None, included
