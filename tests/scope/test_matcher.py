"""The compiled scope matcher: CIDR edge cases, globs, exclusions, cloud and SaaS, log sources, inventory, and a
property test against a naive reference that loops over every rule (no database)."""

from __future__ import annotations

import fnmatch
import ipaddress
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdr.scope.matcher import (
    CRITICALITIES,
    AlertFacts,
    Classification,
    CompiledScope,
    InventoryAsset,
    ScopeRule,
)


def classify(rules: list[ScopeRule], facts: AlertFacts, inventory: list[InventoryAsset] = ()) -> Classification:
    return CompiledScope.compile(rules, inventory).classify(facts)


def net(rule_id: int, value: str, **kwargs) -> ScopeRule:
    return ScopeRule(id=rule_id, kind="network", value=value, **kwargs)


def host(rule_id: int, value: str, **kwargs) -> ScopeRule:
    return ScopeRule(id=rule_id, kind="host", value=value, **kwargs)


def ip_status(rules: list[ScopeRule], ip: str) -> tuple[str, int | None]:
    result = classify(rules, AlertFacts(ips=(ip,)))
    return result.status, result.rule_id


# ---------------------------------------------------------------------------------------------------- networks


def test_network_and_broadcast_addresses_are_inside_the_network():
    # given
    rules = [net(1, "192.168.1.0/24")]

    # when
    inside = [ip_status(rules, ip) for ip in ("192.168.1.0", "192.168.1.255", "192.168.1.77")]
    outside = [ip_status(rules, ip)[0] for ip in ("192.168.0.255", "192.168.2.0")]

    # then
    assert inside == [("in_scope", 1)] * 3
    assert outside == ["unknown_asset", "unknown_asset"]


def test_slash_zero_covers_its_own_family_only():
    # given
    rules = [net(1, "0.0.0.0/0"), net(2, "::/0", criticality="high")]

    # when / then
    assert ip_status(rules, "203.0.113.9") == ("in_scope", 1)
    assert ip_status(rules, "2001:db8::1") == ("in_scope", 2)
    # an IPv4-mapped address is its IPv4 address: 0.0.0.0/0 covers it, ::/0 (IPv6 proper) does not
    assert ip_status(rules, "::ffff:203.0.113.9") == ("in_scope", 1)
    assert ip_status([net(2, "::/0")], "::ffff:203.0.113.9")[0] == "unknown_asset"
    assert ip_status([net(1, "0.0.0.0/0")], "2001:db8::1")[0] == "unknown_asset"


def test_slash_32_and_128_and_bare_addresses_match_one_address():
    # given
    rules = [net(1, "10.0.0.7/32"), net(2, "10.0.0.9"), net(3, "2001:db8::7/128"), net(4, "2001:db8::9")]

    # when / then
    assert ip_status(rules, "10.0.0.7") == ("in_scope", 1)
    assert ip_status(rules, "10.0.0.9") == ("in_scope", 2)
    assert ip_status(rules, "2001:db8::7") == ("in_scope", 3)
    assert ip_status(rules, "2001:db8::9") == ("in_scope", 4)
    assert [ip_status(rules, ip)[0] for ip in ("10.0.0.8", "10.0.0.6", "2001:db8::8", "2001:db8::6")] == [
        "unknown_asset"
    ] * 4


def test_v6_network_boundaries():
    # given
    rules = [net(1, "2001:db8:0:100::/56")]

    # when / then
    assert ip_status(rules, "2001:db8:0:100::")[0] == "in_scope"
    assert ip_status(rules, "2001:db8:0:1ff:ffff:ffff:ffff:ffff")[0] == "in_scope"
    assert ip_status(rules, "2001:db8:0:200::")[0] == "unknown_asset"
    assert ip_status(rules, "2001:db8:0:ff:ffff:ffff:ffff:ffff")[0] == "unknown_asset"


@pytest.mark.parametrize("value", ["10.0.0.5/24", "2001:db8::1/64"])
def test_host_bits_set_in_a_rule_are_rejected_with_the_intended_network(value):
    # given
    rules = [net(42, value)]

    # when / then
    with pytest.raises(ValueError, match=r"scope rule 42: network .* has host bits set \(did you mean"):
        CompiledScope.compile(rules)


@pytest.mark.parametrize("value", ["10.0.0.0/33", "10.0.0", "2001:db8::/129", "corp.example", "10.0.0.0/8/8"])
def test_bad_networks_are_rejected(value):
    # when / then
    with pytest.raises(ValueError, match=r"scope rule 7: bad network"):
        CompiledScope.compile([net(7, value)])


def test_ipv4_mapped_ipv6_matches_v4_networks_and_mapped_rules_match_v4():
    # given
    v4_rule = [net(1, "10.0.0.0/8")]
    mapped_rule = [net(2, "::ffff:10.0.0.0/104")]

    # when / then
    assert ip_status(v4_rule, "::ffff:10.1.2.3") == ("in_scope", 1)
    assert ip_status(mapped_rule, "10.1.2.3") == ("in_scope", 2)
    assert ip_status(mapped_rule, "::ffff:10.1.2.3") == ("in_scope", 2)
    assert ip_status(mapped_rule, "11.1.2.3")[0] == "unknown_asset"


def test_ip_in_nested_networks_one_excluded_is_excluded_whichever_is_more_specific():
    # given
    inner_excluded = [net(1, "10.0.0.0/8", criticality="high"), net(2, "10.1.2.0/24", included=False)]
    outer_excluded = [net(1, "10.0.0.0/8", included=False), net(2, "10.1.2.0/24", criticality="high")]
    v6 = [net(1, "2001:db8::/32"), net(2, "2001:db8:1::/48", included=False)]

    # when / then
    assert ip_status(inner_excluded, "10.1.2.3") == ("excluded", 2)
    assert ip_status(inner_excluded, "10.1.3.3") == ("in_scope", 1)
    assert ip_status(outer_excluded, "10.1.2.3") == ("excluded", 1)
    assert ip_status(v6, "2001:db8:1::5") == ("excluded", 2)
    assert ip_status(v6, "2001:db8:2::5") == ("in_scope", 1)


def test_every_ip_of_a_multi_ip_alert_counts_and_an_unparsable_ip_matches_nothing():
    # given
    rules = [net(1, "10.0.0.0/8"), net(2, "192.0.2.0/24", included=False)]

    # when
    in_scope = classify(rules, AlertFacts(ips=("not-an-ip", "198.51.100.1", "10.9.9.9")))
    excluded = classify(rules, AlertFacts(ips=("10.9.9.9", "192.0.2.10")))
    unknown = classify(rules, AlertFacts(ips=("not-an-ip",)))

    # then
    assert (in_scope.status, in_scope.rule_id) == ("in_scope", 1)
    assert excluded.reason == "ip 192.0.2.10 matches excluded rule 'network 192.0.2.0/24'"
    assert (unknown.status, unknown.unknown_identifiers) == ("unknown_asset", ("not-an-ip",))


# ---------------------------------------------------------------------------------------------------- hosts


def test_exact_host_matches_the_full_name_or_the_first_label_only():
    # given
    rules = [host(1, "WEB01"), host(2, "db01.corp.example")]

    # when / then
    assert classify(rules, AlertFacts(hosts=("web01",))).rule_id == 1
    assert classify(rules, AlertFacts(hosts=("web01.corp.example",))).rule_id == 1
    assert classify(rules, AlertFacts(hosts=("db01.corp.example",))).rule_id == 2
    assert classify(rules, AlertFacts(hosts=("db01",))).status == "unknown_asset"
    assert classify(rules, AlertFacts(hosts=("db01.corp",))).status == "unknown_asset"
    assert classify(rules, AlertFacts(hosts=("xweb01",))).status == "unknown_asset"


def test_suffix_globs_with_and_without_a_leading_dot():
    # given
    rules = [host(1, "*.lab.corp"), host(2, "*corp.example")]

    # when / then
    assert classify(rules, AlertFacts(hosts=("a.b.lab.corp",))).rule_id == 1
    assert classify(rules, AlertFacts(hosts=(".lab.corp",))).rule_id == 1  # fnmatch: * may be empty
    assert classify(rules, AlertFacts(hosts=("lab.corp",))).status == "unknown_asset"
    assert classify(rules, AlertFacts(hosts=("xlab.corp",))).status == "unknown_asset"
    assert classify(rules, AlertFacts(hosts=("mycorp.example",))).rule_id == 2
    assert classify(rules, AlertFacts(hosts=("corp.example",))).rule_id == 2
    assert classify(rules, AlertFacts(hosts=("corp.example.net",))).status == "unknown_asset"


def test_prefix_globs_match_the_full_name():
    # given
    rules = [host(1, "web-*")]

    # when / then
    assert classify(rules, AlertFacts(hosts=("web-",))).rule_id == 1
    assert classify(rules, AlertFacts(hosts=("web-01.corp.example",))).rule_id == 1
    assert classify(rules, AlertFacts(hosts=("web01",))).status == "unknown_asset"
    assert classify(rules, AlertFacts(hosts=("xweb-01",))).status == "unknown_asset"


def test_general_globs_with_question_mark_and_classes():
    # given
    rules = [
        host(1, "db??.corp"),
        host(2, "app[0-9].corp"),
        host(3, "[!x]*-lab.*", included=False),
        host(4, "web[1"),  # an unclosed bracket is a literal in fnmatch
    ]

    # when / then
    assert classify(rules, AlertFacts(hosts=("db01.corp",))).rule_id == 1
    assert classify(rules, AlertFacts(hosts=("db1.corp",))).status == "unknown_asset"
    assert classify(rules, AlertFacts(hosts=("app7.corp",))).rule_id == 2
    assert classify(rules, AlertFacts(hosts=("appx.corp",))).status == "unknown_asset"
    assert classify(rules, AlertFacts(hosts=("a1-lab.corp",))).status == "excluded"
    assert classify(rules, AlertFacts(hosts=("x1-lab.corp",))).status == "unknown_asset"
    assert classify(rules, AlertFacts(hosts=("web[1",))).rule_id == 4


def test_a_lone_star_covers_every_host_but_exclusions_still_win():
    # given
    rules = [host(1, "*"), host(2, "*.lab.corp", included=False)]

    # when / then
    assert classify(rules, AlertFacts(hosts=("anything.example",))).rule_id == 1
    assert classify(rules, AlertFacts(hosts=("web.lab.corp",))).status == "excluded"


def test_overlapping_host_include_and_glob_exclude_exclude_wins_and_reason_names_it():
    # given
    rules = [host(1, "web01", criticality="critical"), host(2, "*.lab.corp", included=False)]

    # when
    result = classify(rules, AlertFacts(hosts=("web01.lab.corp",)))

    # then
    assert result == Classification(
        status="excluded",
        reason="host web01.lab.corp matches excluded rule 'host *.lab.corp'",
        rule_id=2,
        criticality=None,
        remediation_allowed=False,
        unknown_identifiers=(),
    )


def test_excluded_exact_host_beats_an_including_glob():
    # given
    rules = [host(1, "*.corp"), host(2, "ceo-laptop", included=False, label="CEO laptop (customer request)")]

    # when
    result = classify(rules, AlertFacts(hosts=("ceo-laptop.corp",)))

    # then
    assert result.status == "excluded"
    assert result.reason == "host ceo-laptop.corp matches excluded rule 'CEO laptop (customer request)'"


def test_asset_group_exclusion_wins_over_an_included_host():
    # given
    rules = [host(1, "db01.corp"), ScopeRule(id=2, kind="asset_group", value="PCI", included=False)]
    inventory = [InventoryAsset(hostname="db01.corp", ips=("10.0.0.5",), groups=("pci", "servers"))]

    # when
    by_host = classify(rules, AlertFacts(hosts=("db01.corp",)), inventory)
    by_ip = classify(rules, AlertFacts(ips=("10.0.0.5",)), inventory)

    # then
    assert by_host.status == "excluded"
    assert by_host.reason == "host db01.corp is in asset group 'pci', which matches excluded rule 'asset_group PCI'"
    assert (by_ip.status, by_ip.rule_id) == ("excluded", 2)


def test_included_asset_group_through_short_name_and_mapped_ip():
    # given
    rules = [ScopeRule(id=1, kind="asset_group", value="servers", criticality="high")]
    inventory = [InventoryAsset(hostname="app01.corp.example", ips=("10.0.0.6",), groups=("servers",))]

    # when / then
    assert classify(rules, AlertFacts(hosts=("app01",)), inventory).criticality == "high"
    assert classify(rules, AlertFacts(ips=("::ffff:10.0.0.6",)), inventory).rule_id == 1
    assert classify(rules, AlertFacts(hosts=("app01.other.example",)), inventory).status == "unknown_asset"


# ---------------------------------------------------------------------------------------------------- cloud


def test_cloud_account_without_provider_or_region_matches_any():
    # given
    rules = [ScopeRule(id=1, kind="cloud_account", value="123456789012")]

    # when
    result = classify(rules, AlertFacts(cloud_provider="gcp", cloud_account="123456789012", cloud_region="x"))

    # then
    assert (result.status, result.reason) == (
        "in_scope",
        "cloud account 123456789012 matches included rule 'cloud_account 123456789012'",
    )


def test_cloud_account_with_provider_and_region_needs_both_to_match():
    # given
    rules = [
        ScopeRule(id=1, kind="cloud_account", value="123456789012", provider="AWS"),
        ScopeRule(
            id=2, kind="cloud_account", value="123456789012", provider="aws", region="ap-northeast-1", included=False
        ),
    ]

    # when
    tokyo = classify(
        rules, AlertFacts(cloud_provider="aws", cloud_account="123456789012", cloud_region="AP-NORTHEAST-1")
    )
    virginia = classify(rules, AlertFacts(cloud_provider="aws", cloud_account="123456789012", cloud_region="us-east-1"))
    azure = classify(rules, AlertFacts(cloud_provider="azure", cloud_account="123456789012"))
    no_provider = classify(rules, AlertFacts(cloud_account="123456789012"))

    # then
    assert (tokyo.status, tokyo.rule_id) == ("excluded", 2)
    assert tokyo.reason == (
        "cloud account 123456789012 matches excluded rule 'cloud_account 123456789012 (aws, ap-northeast-1)'"
    )
    assert (virginia.status, virginia.rule_id) == ("in_scope", 1)
    assert azure.status == "unknown_asset"
    assert no_provider.status == "unknown_asset"


def test_saas_tenant_matches_the_cloud_account_field_case_insensitively():
    # given
    rules = [ScopeRule(id=1, kind="saas_tenant", value="Contoso.onmicrosoft.com", criticality="high")]

    # when
    result = classify(rules, AlertFacts(cloud_provider="m365", cloud_account="contoso.onmicrosoft.com"))
    other = classify(rules, AlertFacts(cloud_account="fabrikam.onmicrosoft.com"))

    # then
    assert (result.status, result.criticality) == ("in_scope", "high")
    assert result.reason.startswith("SaaS tenant contoso.onmicrosoft.com matches included rule")
    assert other.status == "unknown_asset"


# ---------------------------------------------------------------------------------------------------- log sources


def test_source_without_an_included_log_source_rule_is_unsupported():
    # given
    rules = [ScopeRule(id=1, kind="log_source", value="Suricata"), host(2, "web01")]

    # when
    zeek = classify(rules, AlertFacts(hosts=("web01",), source_product="Zeek", source_vendor="Zeek Project"))
    nothing = classify(rules, AlertFacts(hosts=("web01",)))
    suricata = classify(rules, AlertFacts(hosts=("web01",), source_product="  suricata "))

    # then
    assert (zeek.status, zeek.reason) == (
        "unsupported_source",
        "source 'Zeek' / 'Zeek Project' matches no included log source rule",
    )
    assert nothing.status == "unsupported_source"
    assert (suricata.status, suricata.rule_id) == ("in_scope", 2)


def test_excluded_log_source_wins_over_an_in_scope_asset():
    # given
    rules = [
        ScopeRule(id=1, kind="log_source", value="Suricata"),
        ScopeRule(id=2, kind="log_source", value="Suricata Lab", included=False),
        host(3, "web01"),
    ]

    # when
    result = classify(rules, AlertFacts(hosts=("web01",), source_product="Suricata Lab sensor 4"))

    # then
    assert result.status == "excluded"
    assert result.reason == "source product 'Suricata Lab sensor 4' matches excluded rule 'log_source Suricata Lab'"


def test_log_source_matches_as_whole_word_prefix_of_product_or_vendor():
    # given
    rules = [ScopeRule(id=1, kind="log_source", value="Microsoft Defender"), host(2, "*")]
    scope = CompiledScope.compile(rules)

    def status(product: str, vendor: str = "") -> str:
        return scope.classify(AlertFacts(hosts=("h",), source_product=product, source_vendor=vendor)).status

    # when / then
    assert status("Microsoft Defender for Endpoint") == "in_scope"
    assert status("microsoft defender") == "in_scope"
    assert status("Microsoft Defender-ATP") == "in_scope"
    assert status("Microsoft Defenders") == "unsupported_source"
    assert status("Microsoft") == "unsupported_source"
    assert status("Sentinel", vendor="Microsoft Defender team") == "in_scope"


def test_no_log_source_rules_means_every_source_is_supported_and_excluded_only_rules_too():
    # given
    assets_only = [host(1, "web01")]
    excluded_only = [host(1, "web01"), ScopeRule(id=2, kind="log_source", value="Zeek", included=False)]

    # when / then
    assert classify(assets_only, AlertFacts(hosts=("web01",), source_product="Anything")).status == "in_scope"
    assert classify(excluded_only, AlertFacts(hosts=("web01",), source_product="Suricata")).status == "in_scope"
    assert classify(excluded_only, AlertFacts(hosts=("web01",), source_product="Zeek")).status == "excluded"


# ---------------------------------------------------------------------------------------------------- no asset match


def test_known_inventory_asset_is_out_of_scope_and_unknown_one_feeds_drift():
    # given
    rules = [host(1, "web01")]
    inventory = [
        InventoryAsset(hostname="printer7.corp", ips=("10.5.0.7",)),
        InventoryAsset(hostname="nas", ips=()),
        InventoryAsset(hostname="", ips=("2001:db8::5",)),
    ]
    scope = CompiledScope.compile(rules, inventory)

    # when
    by_name = scope.classify(AlertFacts(hosts=("printer7.corp",)))
    by_short_name = scope.classify(AlertFacts(hosts=("printer7",)))
    by_fqdn_of_bare = scope.classify(AlertFacts(hosts=("nas.corp.example",)))
    by_ip = scope.classify(AlertFacts(hosts=("mystery",), ips=("::ffff:10.5.0.7",)))
    by_v6 = scope.classify(AlertFacts(ips=("2001:db8::5",)))
    other_domain = scope.classify(AlertFacts(hosts=("printer7.other",)))
    unknown = scope.classify(AlertFacts(hosts=("mystery.corp", "x"), ips=("198.51.100.4",), cloud_account="9"))

    # then
    assert by_name.reason == "asset printer7.corp is known but not covered by any scope rule"
    assert [r.status for r in (by_name, by_short_name, by_fqdn_of_bare, by_ip, by_v6)] == ["out_of_scope"] * 5
    assert all(r.unknown_identifiers == () and r.rule_id is None for r in (by_name, by_ip))
    assert (other_domain.status, other_domain.unknown_identifiers) == ("unknown_asset", ("printer7.other",))
    assert unknown.status == "unknown_asset"
    assert unknown.unknown_identifiers == ("mystery.corp", "x", "198.51.100.4")
    assert (
        unknown.reason
        == "no scope rule or inventory asset matches host mystery.corp, host x, ip 198.51.100.4 and 1 more"
    )


def test_version_with_only_log_sources_puts_every_supported_alert_in_scope():
    # given
    rules = [
        ScopeRule(id=1, kind="log_source", value="Wazuh", criticality="low", remediation_allowed=True),
        ScopeRule(id=2, kind="log_source", value="Wazuh Manager", criticality="high"),
    ]

    # when
    result = classify(rules, AlertFacts(hosts=("anything",), source_product="Wazuh Manager 4.7"))
    low = classify(rules, AlertFacts(ips=("203.0.113.1",), source_product="Wazuh", source_vendor="Wazuh"))
    unsupported = classify(rules, AlertFacts(hosts=("anything",), source_product="Zeek"))

    # then
    assert (result.status, result.rule_id, result.criticality, result.remediation_allowed) == (
        "in_scope",
        2,
        "high",
        False,
    )
    assert "the contract version has no asset rules" in result.reason
    assert (low.status, low.criticality, low.remediation_allowed) == ("in_scope", "low", True)
    assert unsupported.status == "unsupported_source"


def test_empty_contract_version_puts_everything_in_scope_at_medium():
    # when
    result = classify([], AlertFacts(hosts=("x",), source_product="Zeek"))

    # then
    assert (result.status, result.rule_id, result.criticality, result.remediation_allowed) == (
        "in_scope",
        None,
        "medium",
        False,
    )


def test_alert_without_identifiers_is_in_scope_by_its_log_source_or_unknown():
    # given
    with_sources = [host(1, "web01"), ScopeRule(id=2, kind="log_source", value="Okta", criticality="high")]
    without_sources = [host(1, "web01")]

    # when
    okta = classify(with_sources, AlertFacts(source_product="Okta", cloud_provider="okta"))
    bare = classify(without_sources, AlertFacts(source_product="Okta"))

    # then
    assert (okta.status, okta.rule_id, okta.criticality) == ("in_scope", 2, "high")
    assert (
        okta.reason
        == "source product 'Okta' matches included rule 'log_source Okta'; the alert has no asset identifiers"
    )
    assert (bare.status, bare.reason, bare.unknown_identifiers) == (
        "unknown_asset",
        "no asset identifiers in the alert",
        (),
    )


# ---------------------------------------------------------------------------------------------------- verdict details


def test_criticality_is_the_highest_and_the_reason_names_that_rule():
    # given
    rules = [
        host(1, "web01", criticality="low"),
        net(2, "10.0.0.0/8", criticality="critical", label="Datacenter A"),
        net(3, "10.1.0.0/16", criticality="critical"),
        ScopeRule(id=4, kind="log_source", value="Suricata", criticality="high"),
    ]

    # when
    result = classify(rules, AlertFacts(hosts=("web01",), ips=("10.1.0.1",), source_product="Suricata"))

    # then
    assert (result.status, result.criticality, result.rule_id) == ("in_scope", "critical", 2)
    assert result.reason == "ip 10.1.0.1 matches included rule 'Datacenter A' (highest criticality of 3 matching rules)"


def test_remediation_allowed_only_if_every_matching_included_asset_rule_allows_it():
    # given
    rules = [
        host(1, "web01", remediation_allowed=True),
        net(2, "10.0.0.0/8", remediation_allowed=True),
        net(3, "10.9.0.0/16", remediation_allowed=False),
    ]

    # when / then
    assert classify(rules, AlertFacts(hosts=("web01",), ips=("10.1.1.1",))).remediation_allowed is True
    assert classify(rules, AlertFacts(hosts=("web01",), ips=("10.9.1.1",))).remediation_allowed is False
    assert classify(rules, AlertFacts(hosts=("web01",), ips=("8.8.8.8",))).remediation_allowed is True


# ---------------------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (ScopeRule(id=5, kind="domain", value="corp"), "scope rule 5: unknown kind 'domain'"),
        (ScopeRule(id=5, kind="host", value="x", criticality="urgent"), "scope rule 5: unknown criticality 'urgent'"),
        (ScopeRule(id=5, kind="host", value="  "), "scope rule 5: empty host value"),
        (ScopeRule(id=5, kind="host", value="web 01"), "scope rule 5: host 'web 01' contains whitespace"),
        (ScopeRule(id=5, kind="host", value="x", provider="aws"), "scope rule 5: provider and region apply"),
    ],
)
def test_invalid_rules_are_rejected_naming_the_rule(rule, message):
    # when / then
    with pytest.raises(ValueError, match=message):
        CompiledScope.compile([rule])


def test_duplicate_rule_ids_and_bad_inventory_ips_are_rejected():
    # when / then
    with pytest.raises(ValueError, match="scope rule 1: duplicate rule id"):
        CompiledScope.compile([host(1, "a"), host(1, "b")])
    with pytest.raises(ValueError, match=r"inventory asset web01: bad IP '10\.0\.0\.256'"):
        CompiledScope.compile([], [InventoryAsset(hostname="web01", ips=("10.0.0.256",))])


# ---------------------------------------------------------------------------------------------------- property


def _first_label(name: str) -> str:
    dot = name.find(".")
    return name[:dot] if dot > 0 else ""


def _canonical(item):
    """IPv4-mapped addresses and networks inside ::ffff:0:0/96 as the IPv4 ones they map."""
    if isinstance(item, ipaddress.IPv6Address) and item.ipv4_mapped is not None:
        return item.ipv4_mapped
    if isinstance(item, ipaddress.IPv6Network) and item.subnet_of(ipaddress.IPv6Network("::ffff:0:0/96")):
        return ipaddress.IPv4Network((int(item.network_address) & 0xFFFFFFFF, item.prefixlen - 96))
    return item


def _same_host(alert_host: str, asset_host: str) -> bool:
    return (
        alert_host == asset_host
        or ("." not in asset_host and asset_host == _first_label(alert_host))
        or ("." not in alert_host and alert_host != "" and _first_label(asset_host) == alert_host)
    )


def _same_ip(alert_ip: str, asset_ip: str) -> bool:
    return _canonical(ipaddress.ip_address(alert_ip)) == _canonical(ipaddress.ip_address(asset_ip))


def _source_matches(value: str, name: str) -> bool:
    return name == value or (name.startswith(value) and len(name) > len(value) and not name[len(value)].isalnum())


def reference(rules: list[ScopeRule], inventory: list[InventoryAsset], facts: AlertFacts):
    """The decision rules of the module docstring, written the slow, obvious way: every rule, every identifier."""
    rank = CRITICALITIES.index
    names = [n.strip().lower() for n in (facts.source_product, facts.source_vendor) if n.strip()]
    source_rules = [r for r in rules if r.kind == "log_source"]
    sources = [r for r in source_rules if any(_source_matches(r.value.strip().lower(), n) for n in names)]
    if any(not r.included for r in sources):
        return ("excluded", min(r.id for r in sources if not r.included), None, False, ())
    if any(r.included for r in source_rules) and not sources:
        return ("unsupported_source", None, None, False, ())

    def rule_matches(rule: ScopeRule) -> bool:
        value = rule.value.strip().lower()
        account = facts.cloud_account.lower()
        if rule.kind == "host":
            if any(c in value for c in "*?["):
                return any(fnmatch.fnmatchcase(h, value) for h in facts.hosts)
            return any(value in (h, _first_label(h)) for h in facts.hosts)
        if rule.kind == "network":
            network = _canonical(ipaddress.ip_network(value))
            return any(
                _canonical(ipaddress.ip_address(ip)).version == network.version
                and _canonical(ipaddress.ip_address(ip)) in network
                for ip in facts.ips
            )
        if rule.kind == "cloud_account":
            return (
                bool(account)
                and account == value
                and rule.provider.lower() in ("", facts.cloud_provider.lower())
                and rule.region.lower() in ("", facts.cloud_region.lower())
            )
        if rule.kind == "saas_tenant":
            return bool(account) and account == value
        if rule.kind == "asset_group":
            return any(
                value in [g.lower() for g in asset.groups]
                and (
                    any(asset.hostname and _same_host(h, asset.hostname) for h in facts.hosts)
                    or any(_same_ip(ip, a) for ip in facts.ips for a in asset.ips)
                )
                for asset in inventory
            )
        return False

    asset_rules = [r for r in rules if r.kind != "log_source"]
    matching = [r for r in asset_rules if rule_matches(r)]
    if matching:
        if any(not r.included for r in matching):
            return ("excluded", min(r.id for r in matching if not r.included), None, False, ())
        best = max(matching, key=lambda r: (rank(r.criticality), -r.id))
        return ("in_scope", best.id, best.criticality, all(r.remediation_allowed for r in matching), ())

    def by_source():
        if not sources:
            return ("in_scope", None, "medium", False, ())
        best = max(sources, key=lambda r: (rank(r.criticality), -r.id))
        return ("in_scope", best.id, best.criticality, all(r.remediation_allowed for r in sources), ())

    if not asset_rules:
        return by_source()
    if not (facts.hosts or facts.ips or facts.cloud_account):
        return by_source() if sources else ("unknown_asset", None, None, False, ())
    known = any(
        any(asset.hostname and _same_host(h, asset.hostname) for h in facts.hosts)
        or any(_same_ip(ip, a) for ip in facts.ips for a in asset.ips)
        for asset in inventory
    )
    if known:
        return ("out_of_scope", None, None, False, ())
    return ("unknown_asset", None, None, False, facts.hosts + facts.ips)


LABELS = ["web", "db", "web01", "a", "ab", "x-1"]
DOMAINS = ["corp", "lab.corp", "corp.example"]
NAME_TOKENS = ["w", "e", "b", "0", "1", ".", "corp", "lab", "db", "web", "-"]
hostnames = st.one_of(
    st.sampled_from(LABELS),
    st.builds(lambda label, domain: f"{label}.{domain}", st.sampled_from(LABELS), st.sampled_from(DOMAINS)),
    st.sampled_from([".corp", "web.", "b"]),
    st.lists(st.sampled_from(NAME_TOKENS), min_size=1, max_size=5).map("".join),  # near misses of the globs
)
GLOB_TOKENS = ["*", "*", "?", "[a-d]", "[!w]", "[0-9]", *NAME_TOKENS]
host_values = st.one_of(
    hostnames,
    st.lists(st.sampled_from(GLOB_TOKENS), min_size=1, max_size=5).map("".join),
    st.builds(lambda d: f"*.{d}", st.sampled_from(DOMAINS)),
    st.sampled_from(["*?", "?*.corp", "*[a-e]*", "[!x]*", "*b?", "w?b*", "*.c[o]rp", "*e*"]),  # broad general globs
    st.lists(st.sampled_from(NAME_TOKENS), min_size=1, max_size=3).map(lambda t: "*" + "".join(t)),  # suffix
    st.lists(st.sampled_from(NAME_TOKENS), min_size=1, max_size=3).map(lambda t: "".join(t) + "*"),  # prefix
)
# Small pools, so that rules and alerts meet, across /16 and /32 boundaries (the matcher buckets on those).
V4_BASES = [int(ipaddress.IPv4Address(a)) for a in ("10.0.254.0", "172.16.0.0", "192.168.255.0")]
V6_BASES = [int(ipaddress.IPv6Address(a)) for a in ("2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:fe00")]
v4_addresses = st.builds(
    lambda b, n: str(ipaddress.IPv4Address(b + n)), st.sampled_from(V4_BASES), st.integers(0, 1023)
)
v6_addresses = st.builds(
    lambda b, n: str(ipaddress.IPv6Address(b + n)), st.sampled_from(V6_BASES), st.integers(0, 1023)
)
alert_ips = st.one_of(
    v4_addresses,
    v6_addresses,
    v4_addresses.map(lambda a: f"::ffff:{a}"),
    st.sampled_from(["192.168.1.1", "2001:db9::1", "::1", "0.0.0.0", "255.255.255.255"]),  # noqa: S104
)
network_values = st.one_of(
    st.builds(
        lambda a, p: str(ipaddress.ip_network(f"{a}/{p}", strict=False)),
        v4_addresses,
        st.sampled_from([0, 8, 16, 22, 23, 24, 25, 28, 30, 31, 32]),
    ),
    st.builds(
        lambda a, p: str(ipaddress.ip_network(f"{a}/{p}", strict=False)),
        v6_addresses,
        st.sampled_from([0, 32, 64, 112, 118, 120, 124, 127, 128]),
    ),
    st.builds(
        lambda a, p: str(ipaddress.ip_network(f"::ffff:{a}/{p}", strict=False)),
        v4_addresses,
        st.sampled_from([96, 104, 118, 120, 126, 128]),
    ),
    v4_addresses,
    v6_addresses,
)
ACCOUNTS = ["111", "222", "Contoso.onmicrosoft.com"]
PROVIDERS = ["", "aws", "AZURE"]
REGIONS = ["", "us-east-1", "eu-west-1"]
GROUPS = ["dmz", "Servers", "lab"]
SOURCE_VALUES = ["Suricata", "Microsoft Defender", "microsoft", "Wazuh", "Defender"]
SOURCE_NAMES = [
    "Suricata",
    " suricata ",
    "Microsoft Defender for Endpoint",
    "Microsoft Defenders",
    "Microsoft-Defender",
    "Wazuh",
    "",
    "Zeek",
    "Microsoft",
]


@st.composite
def scope_rules(draw):
    other_kinds = ["network", "network", "cloud_account", "saas_tenant", "log_source", "asset_group"]
    kinds = ["host"] * draw(st.integers(0, 8)) + draw(st.lists(st.sampled_from(other_kinds), max_size=10))
    rules = []
    for rule_id, kind in enumerate(kinds, start=1):
        provider = region = ""
        if kind == "host":
            value = draw(host_values)
        elif kind == "network":
            value = draw(network_values)
        elif kind in ("cloud_account", "saas_tenant"):
            value = draw(st.sampled_from(ACCOUNTS))
            if kind == "cloud_account":
                provider, region = draw(st.sampled_from(PROVIDERS)), draw(st.sampled_from(REGIONS))
        elif kind == "asset_group":
            value = draw(st.sampled_from(GROUPS))
        else:
            value = draw(st.sampled_from(SOURCE_VALUES))
        rules.append(
            ScopeRule(
                id=rule_id * 10,
                kind=kind,
                value=value,
                provider=provider,
                region=region,
                criticality=draw(st.sampled_from(CRITICALITIES)),
                included=draw(st.booleans()),
                remediation_allowed=draw(st.booleans()),
            )
        )
    return draw(st.permutations(rules))


inventories = st.lists(
    st.builds(
        InventoryAsset,
        hostname=st.one_of(st.just(""), hostnames),
        ips=st.lists(alert_ips, max_size=2).map(tuple),
        groups=st.lists(st.sampled_from([*GROUPS, "DMZ"]), max_size=2).map(tuple),
    ),
    max_size=5,
)
GLOB_PART = re.compile(r"\[!?\]?[^\]]*\]|.")


@st.composite
def alerts(draw, rules: list[ScopeRule], inventory: list[InventoryAsset]):
    """Random alerts, many built from the rules and the inventory: glob instances, labels, network edges."""
    patterns = [r.value.strip().lower() for r in rules if r.kind == "host"]
    networks = [_canonical(ipaddress.ip_network(r.value.strip())) for r in rules if r.kind == "network"]

    def host_from_rule() -> str:
        name = ""
        for part in GLOB_PART.findall(draw(st.sampled_from(patterns))):
            if part == "*":
                name += draw(st.sampled_from(["", "a", "web", ".corp", "1.lab", "."]))
            elif part == "?":
                name += draw(st.sampled_from("ab.0"))
            elif len(part) > 1:
                name += draw(st.sampled_from("acw09-"))
            else:
                name += part
        return name + draw(st.sampled_from(["", "", ".corp", ".lab.corp"]))

    def ip_from_rule() -> str:
        network = draw(st.sampled_from(networks))
        address = draw(
            st.sampled_from([network.network_address, network.broadcast_address, network.broadcast_address + 1])
            if int(network.broadcast_address) < (1 << network.max_prefixlen) - 1
            else st.sampled_from([network.network_address, network.broadcast_address])
        )
        return f"::ffff:{address}" if address.version == 4 and draw(st.booleans()) else str(address)

    def host_from_inventory() -> str:
        name = draw(st.sampled_from(asset_hosts))
        label = name.split(".")[0] or "x"
        return draw(st.sampled_from([name, label, f"{name}.corp", f"{label}.lab"]))

    def ip_from_inventory() -> str:
        address = ipaddress.ip_address(draw(st.sampled_from(asset_ips)))
        return f"::ffff:{address}" if address.version == 4 and draw(st.booleans()) else str(address)

    asset_hosts = [a.hostname for a in inventory if a.hostname]
    asset_ips = [ip for a in inventory for ip in a.ips]
    host_choices = [hostnames] + [
        st.builds(make) for make, pool in ((host_from_rule, patterns), (host_from_inventory, asset_hosts)) if pool
    ]
    ip_choices = [alert_ips] + [
        st.builds(make) for make, pool in ((ip_from_rule, networks), (ip_from_inventory, asset_ips)) if pool
    ]
    return AlertFacts(
        hosts=tuple(draw(st.lists(st.one_of(*host_choices), max_size=3))),
        ips=tuple(draw(st.lists(st.one_of(*ip_choices), max_size=3))),
        cloud_provider=draw(st.sampled_from(["", "aws", "Azure", "gcp"])),
        cloud_account=draw(st.sampled_from(["", "111", "222", "333", "contoso.onmicrosoft.com"])),
        cloud_region=draw(st.sampled_from(REGIONS)),
        source_product=draw(st.sampled_from(SOURCE_NAMES)),
        source_vendor=draw(st.sampled_from(["", "Microsoft", "OISF", "Wazuh Inc"])),
    )


@settings(max_examples=1000, deadline=None)
@given(rules=scope_rules(), inventory=inventories, data=st.data())
def test_compiled_matcher_agrees_with_the_naive_reference(rules, inventory, data):
    # given
    scope = CompiledScope.compile(rules, inventory)
    labels = {rule.id: f"{rule.kind} {rule.value.strip()}" for rule in rules}
    batch = data.draw(st.lists(alerts(rules, inventory), min_size=1, max_size=8))

    for facts in batch:
        # when
        result = scope.classify(facts)

        # then
        got = (
            result.status,
            result.rule_id,
            result.criticality,
            result.remediation_allowed,
            result.unknown_identifiers,
        )
        assert got == reference(rules, inventory, facts), facts
        if result.rule_id is not None:
            assert labels[result.rule_id] in result.reason
