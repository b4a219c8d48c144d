"""The ``native`` adapter: our own documented shape (title + severity + observed_at). No database."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from mdr.alerts.adapters import REGISTRY, AdapterError, adapter_detect, normalize

FMT = "native"


def _valid(**overrides) -> dict:
    item = {
        "title": "Admin login from new country",
        "severity": "high",
        "observed_at": "2024-05-01T10:00:00+09:00",
        "description": "alice signed in from a country never seen before",
        "category": "authentication",
        "rule": {"id": "R-7", "name": "new-country-login"},
        "attack": {"tactics": ["TA0001"], "techniques": ["T1078.004"]},
        "source": {"product": "IdP watcher", "vendor": "Example"},
        "hosts": ["VPN-GW-1"],
        "ips": ["203.0.113.5", "not-an-ip"],
        "users": ["alice"],
        "cloud": {"provider": "aws", "account": 123456789012, "region": "eu-west-1"},
    }
    item.update(overrides)
    return item


# ---- valid records --------------------------------------------------------------------------------------


def test_valid_record_maps_every_documented_field():
    # given
    item = _valid()

    # when
    alert = normalize(item)

    # then
    assert alert.source_format == FMT
    assert alert.title == "Admin login from new country"
    assert alert.severity_id == 4 and alert.severity_raw == "high"
    assert alert.description == "alice signed in from a country never seen before"
    assert alert.category == "authentication"
    assert (alert.rule_id, alert.rule_name) == ("R-7", "new-country-login")
    assert alert.tactics == ["TA0001"] and alert.techniques == ["T1078.004"]
    assert (alert.source_product, alert.source_vendor) == ("IdP watcher", "Example")
    assert alert.hosts == ["vpn-gw-1"]
    assert alert.ips == ["203.0.113.5"]  # the invalid one is dropped by finalize
    assert alert.users == ["alice"]
    assert (alert.cloud_provider, alert.cloud_account, alert.cloud_region) == ("aws", "123456789012", "eu-west-1")
    assert alert.raw is item


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("informational", 1),
        ("info", 1),
        ("Low", 2),
        ("MEDIUM", 3),
        ("high", 4),
        ("critical", 5),
        ("fatal", 6),
        ("unknown", 0),
        (0, 0),
        (3, 3),
        (6, 6),
    ],
)
def test_severity_names_and_numbers(severity, expected):
    # given
    item = _valid(severity=severity)

    # when
    alert = normalize(item, fmt=FMT)

    # then
    assert alert.severity_id == expected
    assert alert.severity_raw == str(severity)


def test_defaults_when_only_required_fields_are_sent():
    # given
    item = {"title": "t", "severity": 2, "observed_at": 1714557600}

    # when
    alert = normalize(item)

    # then
    assert (alert.source_product, alert.source_vendor) == ("Custom", "Custom")
    assert alert.observed_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert alert.hosts == alert.ips == alert.users == alert.tactics == []


# ---- errors ---------------------------------------------------------------------------------------------


def test_missing_fields_are_all_named():
    # given
    item = {"description": "nothing else"}

    # when
    with pytest.raises(AdapterError) as caught:
        normalize(item, fmt=FMT)

    # then
    assert set(caught.value.errors) == {"title", "severity", "observed_at"}


@pytest.mark.parametrize("severity", [7, -1, "urgent", True, None, 3.0, "3"])
def test_invalid_severity_is_named(severity):
    # given
    item = _valid(severity=severity)

    # when
    with pytest.raises(AdapterError) as caught:
        normalize(item, fmt=FMT)

    # then
    assert set(caught.value.errors) == {"severity"}


@pytest.mark.parametrize("title", ["", "   ", None, 42])
def test_invalid_title_is_named(title):
    # given
    item = _valid(title=title)

    # when
    with pytest.raises(AdapterError) as caught:
        normalize(item, fmt=FMT)

    # then
    assert set(caught.value.errors) == {"title"}


@pytest.mark.parametrize("observed_at", ["", "not a time", "1989-12-31T23:59:59Z", "2999-01-01T00:00:00Z", [1]])
def test_invalid_time_is_named(observed_at):
    # given
    item = _valid(observed_at=observed_at)

    # when
    with pytest.raises(AdapterError) as caught:
        normalize(item, fmt=FMT)

    # then
    assert set(caught.value.errors) == {"observed_at"}


# ---- time zone ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("2024-05-01T10:00:00+09:00", 540),
        ("2024-05-01T10:00:00-0600", -360),
        ("2024-05-01T10:00:00Z", 0),
        ("2024-05-01T10:00:00", 0),  # naive text is UTC
    ],
)
def test_time_zone_is_preserved(text, offset):
    # given
    item = _valid(observed_at=text)

    # when
    alert = normalize(item)

    # then
    assert alert.observed_offset_minutes == offset
    assert alert.observed_at.replace(tzinfo=None) == datetime(2024, 5, 1, 10, 0)


# ---- dedup ----------------------------------------------------------------------------------------------


def test_dedup_from_the_senders_id_ignores_other_fields():
    # given
    first = _valid(id="evt-1")
    retry = _valid(id="evt-1", title="edited title", observed_at="2024-05-02T00:00:00Z")
    other = _valid(id="evt-2")

    # when
    keys = [normalize(item).dedup_key for item in (first, retry, other)]

    # then
    assert keys[0].startswith("native:id:")
    assert keys[0] == keys[1]
    assert keys[0] != keys[2]
    assert normalize(first).external_id == "evt-1"


def test_dedup_from_the_id_is_scoped_by_source_product():
    # given
    mine = _valid(id="evt-1")
    theirs = _valid(id="evt-1", source={"product": "Other tool"})

    # when / then
    assert normalize(mine).dedup_key != normalize(theirs).dedup_key


def test_dedup_from_fields_without_an_id():
    # given
    item = _valid()
    same = copy.deepcopy(item)
    hosts_reordered = _valid(hosts=["b", "a"])
    hosts_ordered = _valid(hosts=["a", "b"])
    later = _valid(observed_at="2024-05-01T10:00:01+09:00")
    other_rule = _valid(rule={"id": "R-8"})

    # when
    key = normalize(item).dedup_key

    # then
    assert key.startswith("native:h:")
    assert key == normalize(same).dedup_key
    assert normalize(hosts_reordered).dedup_key == normalize(hosts_ordered).dedup_key
    assert key != normalize(later).dedup_key
    assert key != normalize(other_rule).dedup_key
    assert normalize(item).external_id == ""


# ---- detection ------------------------------------------------------------------------------------------


def test_detect_picks_native_for_its_own_shape():
    # given
    item = _valid()

    # when
    adapter = adapter_detect(item)

    # then
    assert adapter.name == FMT


def test_detect_needs_all_three_keys():
    # given
    adapter = REGISTRY[FMT]

    # when / then
    assert adapter.detect({"title": "x", "severity": 1, "observed_at": "t"}) is True
    assert adapter.detect({"title": "x", "severity": 1}) is False
    assert adapter.detect({"title": "x", "observed_at": "t"}) is False
    assert adapter.detect({"severity": 1, "observed_at": "t"}) is False
