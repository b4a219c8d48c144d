"""Benchmark: scope classification of alerts by the compiled in-memory matcher, against a bare field-reading loop.

Run from the repository root (no database, no Django)::

    .venv/bin/python bench/scope.py [--rules 10000] [--alerts 100000] [--seed 4] [--profile]

Generates, from a fixed seed, a contract version of ``--rules`` scope items shaped like a large customer's
(about 40 % exact host names, short and fully qualified; 10 % host globs: suffix "*.dom", prefix "web-*" and
general ones with ``?`` and ``[..]``; 35 % networks, v4 and v6, prefix lengths /8 to /32 and /32 to /128, nested;
10 % cloud accounts over three providers, some with a region; SaaS tenants, log sources and asset groups; about
10 % of everything excluded), an inventory of about half as many assets (some in scope, some known but not in
scope, with IPs and groups), and ``--alerts`` alerts mixing in-scope, excluded, out-of-scope, unknown, multi-IP,
IPv6, cloud, SaaS and unsupported-source cases.

Measures, single-threaded, ``time.perf_counter``, best of 3 rounds:

a. compile: ``CompiledScope.compile(rules, inventory)``;
b. classify: ``matcher.classify(facts)`` for every alert -> alerts/s per core;
c. the floor: the same alerts through a bare loop that only reads the fields ``classify`` reads (summing
   lengths of every host and IP string and of the cloud and source fields) -> alerts/s;
   rounds of b and c alternate, so both meet the same machine noise.

Prints the figures and the status distribution, then as the last line one JSON object. Goal: classify
>= 50,000 alerts/s per core. ``--profile`` adds a cProfile of one classify pass.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import ipaddress
import json
import pstats
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mdr.scope.matcher import AlertFacts, CompiledScope, InventoryAsset, ScopeRule

GOAL_ALERTS_PER_S = 50_000
ROUNDS = 3
DOMAINS = ("corp.example", "ad.corp.example", "prod.example.net", "lab.example", "eu.corp.example", "jp.corp.example")
ROLES = ("web", "app", "db", "srv", "dc", "fs", "mail", "vpn", "k8s-node", "ws", "lt", "jump", "api", "cache")
PRODUCTS = (
    ("Suricata", "OISF"),
    ("Wazuh", "Wazuh"),
    ("Microsoft Defender for Endpoint", "Microsoft"),
    ("Microsoft Defender for Cloud", "Microsoft"),
    ("CrowdStrike Falcon", "CrowdStrike"),
    ("AWS GuardDuty", "Amazon"),
    ("Okta", "Okta"),
    ("Palo Alto PAN-OS", "Palo Alto Networks"),
)
EXCLUDED_SOURCE = ("Suricata Lab", "OISF")
UNSUPPORTED = (("Zeek", "Zeek Project"), ("Snort", "Cisco"))
PROVIDERS = ("aws", "azure", "gcp")
REGIONS = {"aws": ("ap-northeast-1", "us-east-1"), "azure": ("japaneast", "westeurope"), "gcp": ("asia-northeast1",)}
CRITS = ("low", "medium", "medium", "medium", "high", "critical")


class Contract:
    """The generated rules plus the pools alerts are drawn from."""

    def __init__(self, n_rules: int, rng: random.Random) -> None:
        self.rng = rng
        self.rules: list[ScopeRule] = []
        self.in_hosts: list[str] = []  # hosts that some included rule covers
        self.ex_hosts: list[str] = []  # hosts that an excluded rule covers
        self.in_nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self.ex_nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self.accounts: list[tuple[str, str, str]] = []  # (provider, account, region) covered
        self.saas: list[str] = []
        self.group_names: list[str] = []
        self._ids = iter(range(1, 10**9))
        self._build(n_rules)

    def _rule(self, kind: str, value: str, excluded: bool, **extra) -> None:
        self.rules.append(
            ScopeRule(
                id=next(self._ids),
                kind=kind,
                value=value,
                criticality=self.rng.choice(CRITS),
                included=not excluded,
                remediation_allowed=self.rng.random() < 0.6,
                **extra,
            )
        )

    def _build(self, n: int) -> None:
        rng = self.rng
        counts = {
            "host": int(n * 0.40),
            "glob": int(n * 0.10),
            "network": int(n * 0.35),
            "cloud_account": int(n * 0.10),
            "saas_tenant": int(n * 0.02),
            "asset_group": int(n * 0.02),
        }
        counts["log_source"] = max(0, n - sum(counts.values()))
        for i in range(counts["host"]):
            excluded = rng.random() < 0.1
            name = f"{rng.choice(ROLES)}{i:05d}"
            host = name if rng.random() < 0.3 else f"{name}.{rng.choice(DOMAINS)}"
            self._rule("host", host, excluded)
            (self.ex_hosts if excluded else self.in_hosts).append(host)
        for i in range(counts["glob"]):
            excluded = rng.random() < 0.1
            roll = rng.random()
            if roll < 0.6:  # suffix
                sub = f"site{i:04d}.{rng.choice(DOMAINS)}"
                pattern, sample = f"*.{sub}", f"{rng.choice(ROLES)}{rng.randrange(100)}.{sub}"
            elif roll < 0.85:  # prefix
                stem = f"{rng.choice(ROLES)}-{i:04d}-"
                pattern, sample = f"{stem}*", f"{stem}{rng.randrange(100)}.{rng.choice(DOMAINS)}"
            elif roll < 0.93:  # general with ?
                stem = f"{rng.choice(ROLES)}{i:04d}"
                pattern, sample = f"{stem}-??.{DOMAINS[i % 3]}", f"{stem}-{rng.randrange(10, 99)}.{DOMAINS[i % 3]}"
            else:  # general with a class and a star
                stem = f"{rng.choice(ROLES)}{i:04d}"
                pattern, sample = f"{stem}[0-9]*.{DOMAINS[i % 3]}", f"{stem}{rng.randrange(10)}x.{DOMAINS[i % 3]}"
            self._rule("host", pattern, excluded)
            (self.ex_hosts if excluded else self.in_hosts).append(sample)
        seen: set[ipaddress.IPv4Network | ipaddress.IPv6Network] = set()
        for i in range(counts["network"]):
            excluded = rng.random() < 0.1
            if rng.random() < 0.8:
                prefix = rng.choice((8, 12, 16, 20, 22, 23, 24, 24, 24, 25, 26, 27, 28, 29, 30, 32, 32))
                base = (10 << 24) | rng.getrandbits(24) if rng.random() < 0.7 else rng.getrandbits(32)
                net = ipaddress.IPv4Network((base >> (32 - prefix) << (32 - prefix), prefix))
                if (prefix <= 12 and i % 7) or net in seen:  # keep the huge ones rare, and no duplicates
                    net = ipaddress.IPv4Network((base >> 8 << 8, 24))
            else:
                prefix = rng.choice((32, 40, 48, 48, 56, 64, 64, 64, 96, 112, 128))
                base = (0x2001_0DB8 << 96) | rng.getrandbits(96)
                net = ipaddress.IPv6Network((base >> (128 - prefix) << (128 - prefix), prefix))
            seen.add(net)
            excluded = excluded and net.prefixlen >= (20 if net.version == 4 else 56)  # carve-outs are small
            self._rule("network", str(net), excluded)
            (self.ex_nets if excluded else self.in_nets).append(net)
        for _ in range(counts["cloud_account"]):
            excluded = rng.random() < 0.1
            provider = rng.choice(PROVIDERS)
            account = (
                f"{rng.randrange(10**12):012d}"
                if provider == "aws"
                else f"{rng.getrandbits(128):032x}"
                if provider == "azure"
                else f"proj-{rng.getrandbits(32):08x}"
            )
            region = rng.choice(REGIONS[provider]) if rng.random() < 0.3 else ""
            self._rule("cloud_account", account, excluded, provider=provider, region=region)
            if not excluded:
                self.accounts.append((provider, account, region or rng.choice(REGIONS[provider])))
        for i in range(counts["saas_tenant"]):
            tenant = f"tenant{i:04d}.onmicrosoft.com"
            self._rule("saas_tenant", tenant, rng.random() < 0.1)
            self.saas.append(tenant)
        for i in range(counts["asset_group"]):
            group = f"group-{i:03d}"
            self._rule("asset_group", group, rng.random() < 0.1)
            self.group_names.append(group)
        for i in range(counts["log_source"]):
            product, _vendor = PRODUCTS[i % len(PRODUCTS)]
            value = "Microsoft Defender" if product.startswith("Microsoft Defender") else product
            if i == len(PRODUCTS):
                value = EXCLUDED_SOURCE[0]
            elif i > len(PRODUCTS):
                value = f"{value} {i}"  # sensor variants listed in the contract that never show up in alerts
            self._rule("log_source", value, i == len(PRODUCTS))

    def host_in(self, ex: bool = False) -> str:
        return self.rng.choice(self.ex_hosts if ex else self.in_hosts)

    def ip_in(self, ex: bool = False) -> str:
        net = self.rng.choice(self.ex_nets if ex else self.in_nets)
        return str(net.network_address + self.rng.randrange(net.num_addresses))


def make_inventory(contract: Contract, n: int, rng: random.Random) -> tuple[list[InventoryAsset], list[str], list[str]]:
    """About n assets: half of them in-scope hosts, half known-but-uncovered; returns (assets, hosts, ips) known."""
    assets = []
    known_hosts, known_ips = [], []
    for i in range(n):
        if i % 2:
            host = contract.host_in()
            ip = contract.ip_in()
        else:
            host = f"{rng.choice(ROLES)}-inv{i:05d}.{rng.choice(DOMAINS)}"
            ip = f"172.{16 + rng.randrange(16)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            known_hosts.append(host)
            known_ips.append(ip)
        groups = (rng.choice(contract.group_names),) if contract.group_names and rng.random() < 0.3 else ()
        assets.append(InventoryAsset(hostname=host, ips=(ip,), groups=groups))
    return assets, known_hosts, known_ips


def make_alerts(contract: Contract, known_hosts: list[str], known_ips: list[str], n: int, rng: random.Random):
    def unknown_host() -> str:
        return f"{rng.choice(ROLES)}-x{rng.randrange(10**6)}.{rng.choice(DOMAINS)}"

    def unknown_ip() -> str:
        if rng.random() < 0.2:
            return str(ipaddress.IPv6Address((0x2600 << 112) | rng.getrandbits(112)))
        return f"{rng.choice((8, 52, 104, 185, 203))}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}"

    alerts = []
    for _ in range(n):
        product, vendor = rng.choice(PRODUCTS)
        hosts: list[str] = []
        ips: list[str] = []
        provider = account = region = ""
        roll = rng.random()
        if roll < 0.35:  # in scope by host, often with the external peer IP
            hosts.append(contract.host_in())
            if rng.random() < 0.6:
                ips.append(unknown_ip())
        elif roll < 0.55:  # in scope by IP, sometimes several
            ips.extend(contract.ip_in() for _ in range(rng.choice((1, 1, 2, 3))))
            if rng.random() < 0.5:
                hosts.append(unknown_host())
        elif roll < 0.62:  # excluded host or network
            if rng.random() < 0.5:
                hosts.append(contract.host_in(ex=True))
            else:
                ips.append(contract.ip_in(ex=True))
            ips.append(unknown_ip())
        elif roll < 0.70:  # cloud / SaaS
            if rng.random() < 0.8:
                provider, account, region = rng.choice(contract.accounts)
                product, vendor = "AWS GuardDuty", "Amazon"
            else:
                account = rng.choice(contract.saas)
                product, vendor = "Microsoft Defender for Cloud", "Microsoft"
            ips.append(unknown_ip())
        elif roll < 0.80:  # known, not covered
            hosts.append(rng.choice(known_hosts))
            ips.append(rng.choice(known_ips))
        elif roll < 0.95:  # unknown
            hosts.append(unknown_host())
            ips.extend(unknown_ip() for _ in range(rng.choice((1, 2))))
        elif roll < 0.97:  # no identifiers
            pass
        elif roll < 0.99:  # unsupported source
            product, vendor = rng.choice(UNSUPPORTED)
            hosts.append(contract.host_in())
        else:  # a log source the customer excluded (a lab sensor)
            product, vendor = EXCLUDED_SOURCE
            hosts.append(contract.host_in())
        alerts.append(
            AlertFacts(
                hosts=tuple(hosts),
                ips=tuple(ips),
                cloud_provider=provider,
                cloud_account=account,
                cloud_region=region,
                source_product=product,
                source_vendor=vendor,
            )
        )
    return alerts


def floor_pass(alerts) -> int:
    total = 0
    for facts in alerts:
        for host in facts.hosts:
            total += len(host)
        for ip in facts.ips:
            total += len(ip)
        total += (
            len(facts.cloud_provider)
            + len(facts.cloud_account)
            + len(facts.cloud_region)
            + len(facts.source_product)
            + len(facts.source_vendor)
        )
    return total


def classify_pass(matcher: CompiledScope, alerts) -> collections.Counter:
    classify = matcher.classify
    return collections.Counter(classify(facts).status for facts in alerts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--profile", action="store_true", help="cProfile one classify pass")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    contract = Contract(args.rules, rng)
    inventory, known_hosts, known_ips = make_inventory(contract, args.rules // 2, rng)
    alerts = make_alerts(contract, known_hosts, known_ips, args.alerts, rng)
    kinds = collections.Counter(rule.kind for rule in contract.rules)
    excluded = sum(not rule.included for rule in contract.rules)
    globs = sum(rule.kind == "host" and any(c in rule.value for c in "*?[") for rule in contract.rules)
    print(
        f"rules: {len(contract.rules)} ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}; "
        f"host globs {globs}; excluded {excluded})"
    )
    print(
        f"inventory: {len(inventory)} assets; alerts: {len(alerts)} "
        f"({sum(len(a.ips) > 1 for a in alerts)} with several IPs)"
    )

    compile_times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        matcher = CompiledScope.compile(contract.rules, inventory)
        compile_times.append(time.perf_counter() - start)
    compile_ms = min(compile_times) * 1000

    classify_pass(matcher, alerts[:1000])  # warm-up (source memo, caches of the interpreter)
    classify_times, floor_times = [], []
    statuses: collections.Counter = collections.Counter()
    for _ in range(ROUNDS):
        start = time.perf_counter()
        statuses = classify_pass(matcher, alerts)
        classify_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        floor_pass(alerts)
        floor_times.append(time.perf_counter() - start)
    classify_rate = len(alerts) / min(classify_times)
    floor_rate = len(alerts) / min(floor_times)

    print(f"compile: {compile_ms:.1f} ms (best of {ROUNDS})")
    print(f"classify: {classify_rate:,.0f} alerts/s per core ({min(classify_times) * 1e6 / len(alerts):.2f} us/alert)")
    print(f"floor:    {floor_rate:,.0f} alerts/s ({min(floor_times) * 1e6 / len(alerts):.2f} us/alert)")
    print("status distribution:")
    for status, count in statuses.most_common():
        print(f"  {status:<20} {count:>7} ({100 * count / len(alerts):.1f} %)")

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        classify_pass(matcher, alerts)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)

    print(
        json.dumps(
            {
                "bench": "scope",
                "rules": len(contract.rules),
                "alerts": len(alerts),
                "compile_ms": round(compile_ms, 1),
                "classify_alerts_per_s": round(classify_rate),
                "floor_alerts_per_s": round(floor_rate),
                "ratio_floor_over_classify": round(floor_rate / classify_rate, 1),
                "goal_alerts_per_s": GOAL_ALERTS_PER_S,
                "goal_met": classify_rate >= GOAL_ALERTS_PER_S,
            }
        )
    )


if __name__ == "__main__":
    main()
