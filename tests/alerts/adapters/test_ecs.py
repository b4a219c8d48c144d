"""The ``ecs`` adapter: Elastic Security alerts and ECS 8.x alert documents, nested or dotted. No database."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from mdr.alerts.adapters import REGISTRY, AdapterError, normalize
from mdr.alerts.adapters.ecs import event_severity, risk_band
from tests.alerts.adapters import samples

FMT = "ecs"


def _sample(module: str) -> dict:
    """The sample record raised by the given Gatewatcher detection engine (event.module)."""
    found = [item for item in samples.records(FMT) if item["event"]["module"] == module]
    assert found, module
    return found[0]


def _elastic_alert_flat() -> dict:
    """An Elastic Security 8.x alert as stored in .alerts-security.alerts-* (dotted keys), written from the docs."""
    return {
        "@timestamp": "2024-03-05T08:15:30.123Z",
        "kibana.alert.uuid": "7f1c6b4d0c5e4c2fa1b2c3d4e5f60718",
        "kibana.alert.rule.name": "Suspicious PowerShell Encoded Command",
        "kibana.alert.rule.rule_id": "0cd2a5b3-1e5c-4a54-bd4e-45d1f7b4e2f0",
        "kibana.alert.rule.uuid": "c6a3e9b0-0000-11ee-8c99-0242ac120002",
        "kibana.alert.rule.description": "Identifies encoded PowerShell command lines.",
        "kibana.alert.reason": "process event with process powershell.exe, by alice on WS-042 created high alert",
        "kibana.alert.severity": "high",
        "kibana.alert.risk_score": 73,
        "kibana.alert.original_time": "2024-03-05T08:15:02.000Z",
        "kibana.alert.workflow_status": "open",
        "kibana.alert.rule.threat": [
            {
                "framework": "MITRE ATT&CK",
                "tactic": {
                    "id": "TA0002",
                    "name": "Execution",
                    "reference": "https://attack.mitre.org/tactics/TA0002/",
                },
                "technique": [
                    {
                        "id": "T1059",
                        "name": "Command and Scripting Interpreter",
                        "subtechnique": [{"id": "T1059.001", "name": "PowerShell"}],
                    }
                ],
            }
        ],
        "event.kind": "signal",
        "event.category": ["process"],
        "host.name": "WS-042",
        "host.ip": ["10.1.2.3", "fe80::1"],
        "user.name": "alice",
        "cloud.provider": "azure",
        "cloud.account.id": "sub-123",
        "cloud.region": "westeurope",
    }


def _nest(flat: dict) -> dict:
    """The same document with every dotted key expanded into nested objects."""
    out: dict = {}
    for key, val in flat.items():
        node = out
        parts = key.split(".") if not key.startswith("@") else [key]
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = val
    return out


# ---- every sample ---------------------------------------------------------------------------------------


def test_every_sample_record_normalises_named_and_detected():
    # given
    records = samples.records(FMT)

    for index, item in enumerate(records):
        # when
        named = normalize(item, fmt=FMT)
        detected = normalize(item)

        # then
        assert named.source_format == FMT, index
        assert detected.source_format == FMT, f"record {index} was not detected as {FMT}"
        assert named.dedup_key == detected.dedup_key
        assert named.title.strip() and 0 <= named.severity_id <= 6
        assert named.observed_at.tzinfo is not None
        assert named.raw is item


def test_dedup_keys_are_stable_and_unique_across_the_sample_file():
    # given
    records = samples.records(FMT)

    # when
    first_pass = [normalize(item, fmt=FMT).dedup_key for item in records]
    second_pass = [normalize(copy.deepcopy(item), fmt=FMT).dedup_key for item in records]

    # then
    assert first_pass == second_pass
    assert len(records) == 10
    assert len(set(first_pass)) == 10  # no duplicate alert in the file
    # nine carry a real event.id; the SMTP malcore alert's is the all-zero placeholder, so its key hashes fields
    assert sum(key.startswith("ecs:id:") for key in first_pass) == 9


# ---- specific records -----------------------------------------------------------------------------------


def test_signature_alert_takes_title_rule_and_severity_from_the_sensor():
    # given: Gatewatcher sigflow (Suricata-based) alert, event.severity 2
    item = _sample("sigflow_alert")

    # when
    alert = normalize(item)

    # then
    assert alert.title == "ET INFO Dotted Quad Host PDF Request"
    assert alert.rule_id == "2027265"
    assert alert.rule_name == "ET INFO Dotted Quad Host PDF Request"
    assert alert.category == "Potentially Bad Traffic"
    assert alert.severity_id == 3  # priority 2 -> Medium
    assert alert.severity_raw == "2"
    assert alert.observed_at == datetime(2024, 9, 11, 13, 55, 34, 6000, tzinfo=UTC)
    assert alert.observed_offset_minutes == 0
    assert alert.ips == ["65.100.113.120", "56.53.117.115"]
    assert alert.hosts == []  # observer.hostname is the sensor, not an affected host
    assert (alert.source_product, alert.source_vendor) == ("gcenter", "gatewatcher")
    assert alert.external_id == "58c28570-6c90-4ba9-b9b5-f72867d5fa08"


def test_engine_alert_without_rule_gets_a_module_title_and_priority_severity():
    # given: beacon detection, event.severity 3 (the lowest Gatewatcher priority)
    item = _sample("beacon_detect")

    # when
    alert = normalize(item)

    # then
    assert alert.title == "gatewatcher beacon_detect alert"
    assert alert.severity_id == 2  # priority 3 -> Low
    assert alert.observed_at == datetime(2024, 9, 9, 13, 2, 59, 354490, tzinfo=UTC)  # ns truncated to µs
    assert alert.category == "network, intrusion_detection"
    assert alert.ips == ["10.0.0.60", "157.230.93.100"]


def test_priority_one_is_high():
    # given
    item = _sample("shellcode_detect")

    # when
    alert = normalize(item)

    # then
    assert alert.severity_id == 4
    assert alert.severity_raw == "1"


def test_record_without_timestamp_falls_back_and_placeholder_id_is_not_used():
    # given: the SMTP malcore alert has "timestamp" (no @timestamp) and event.id 00000000-0000-...
    item = samples.records(FMT)[-1]
    assert "@timestamp" not in item

    # when
    alert = normalize(item)

    # then
    assert alert.observed_at == datetime(2026, 1, 22, 13, 12, 23, 651131, tzinfo=UTC)
    assert alert.severity_id == 1  # 0 = no threat detected -> Informational
    assert alert.severity_raw == "0"
    assert alert.external_id == ""
    assert alert.dedup_key.startswith("ecs:h:")
    assert alert.description == "No Threat Detected"


def test_same_record_gives_the_same_key_and_different_records_different_keys():
    # given
    records = samples.records(FMT)

    # when
    once = normalize(records[0], fmt=FMT).dedup_key
    again = normalize(copy.deepcopy(records[0]), fmt=FMT).dedup_key
    other = normalize(records[1], fmt=FMT).dedup_key

    # then
    assert once == again
    assert once != other


# ---- hand-written records -------------------------------------------------------------------------------


def test_elastic_security_alert_with_dotted_keys():
    # given
    item = _elastic_alert_flat()

    # when
    alert = normalize(item)

    # then
    assert alert.source_format == FMT
    assert (alert.source_product, alert.source_vendor) == ("Elastic Security", "Elastic")
    assert alert.title == "Suspicious PowerShell Encoded Command"
    assert alert.description.startswith("process event with process powershell.exe")
    assert alert.severity_id == 4 and alert.severity_raw == "high"
    assert alert.rule_id == "0cd2a5b3-1e5c-4a54-bd4e-45d1f7b4e2f0"
    assert alert.tactics == ["TA0002"]
    assert alert.techniques == ["T1059", "T1059.001"]
    assert alert.hosts == ["ws-042"]
    assert alert.ips == ["10.1.2.3", "fe80::1"]
    assert alert.users == ["alice"]
    assert (alert.cloud_provider, alert.cloud_account, alert.cloud_region) == ("azure", "sub-123", "westeurope")
    assert alert.observed_at == datetime(2024, 3, 5, 8, 15, 30, 123000, tzinfo=UTC)
    assert alert.external_id == "7f1c6b4d0c5e4c2fa1b2c3d4e5f60718"
    assert alert.dedup_key.startswith("ecs:id:")


def test_nested_and_dotted_forms_normalise_alike():
    # given
    flat = _elastic_alert_flat()
    nested = _nest(flat)
    mixed = {k: v for k, v in flat.items() if not k.startswith("kibana.alert.rule.")}
    mixed["kibana"] = {
        "alert.rule": {
            k.removeprefix("kibana.alert.rule."): v for k, v in flat.items() if k.startswith("kibana.alert.rule.")
        }
    }

    # when
    alerts = [normalize(doc) for doc in (flat, nested, mixed)]

    # then
    fields = [
        (a.title, a.severity_id, a.rule_id, a.tactics, a.techniques, a.hosts, a.ips, a.users, a.dedup_key)
        for a in alerts
    ]
    assert fields[0] == fields[1] == fields[2]
    assert isinstance(nested["kibana"]["alert"], dict)


def test_search_hit_is_read_from_source_and_keeps_the_hit():
    # given
    source = _elastic_alert_flat()
    del source["kibana.alert.uuid"]
    hit = {"_index": ".internal.alerts-security.alerts-default-000001", "_id": "abc123", "_source": source}

    # when
    alert = normalize(hit)

    # then
    assert alert.title == "Suspicious PowerShell Encoded Command"
    assert alert.external_id == "abc123"
    assert alert.raw is hit


def test_legacy_7x_signal():
    # given
    item = {
        "@timestamp": "2021-06-01T12:00:00+02:00",
        "event": {"kind": "signal"},
        "signal": {
            "rule": {
                "id": "9a1a2dae-0b5f-4c3d-8305-a268d404c306",
                "rule_id": "e2f9fdf5-8076-45ad-9427-41e0e03dc9c2",
                "name": "Unusual Parent Process",
                "severity": "critical",
                "risk_score": 99,
                "threat": [{"tactic": {"name": "Privilege Escalation"}, "technique": []}],
            },
            "reason": "unusual parent",
        },
        "host": {"hostname": "db01"},
    }

    # when
    alert = normalize(item)

    # then
    assert alert.title == "Unusual Parent Process"
    assert alert.severity_id == 5
    assert alert.rule_id == "e2f9fdf5-8076-45ad-9427-41e0e03dc9c2"
    assert alert.tactics == ["Privilege Escalation"]  # no tactic id: the name
    assert alert.observed_offset_minutes == 120
    assert alert.hosts == ["db01"]


def test_generic_ecs_alert_with_only_a_risk_score():
    # given
    item = {
        "@timestamp": "2024-01-01T00:00:00Z",
        "ecs": {"version": "8.11.0"},
        "event": {"kind": "alert", "risk_score": 50},
        "rule": {"name": "Impossible travel", "id": "r-9"},
        "threat": {"tactic": {"id": ["TA0001"]}, "technique": {"id": ["T1078"], "subtechnique": {"id": ["T1078.004"]}}},
        "source": {"ip": "203.0.113.9", "user": {"name": "bob"}},
    }

    # when
    alert = normalize(item)

    # then
    assert alert.severity_id == 4 and alert.severity_raw == "50"
    assert (alert.rule_id, alert.rule_name) == ("r-9", "Impossible travel")
    assert alert.tactics == ["TA0001"]
    assert alert.techniques == ["T1078", "T1078.004"]
    assert alert.users == ["bob"]
    assert alert.dedup_key.startswith("ecs:h:")


@pytest.mark.parametrize(
    ("doc", "number", "expected"),
    [
        ({}, 1, 4),
        ({}, 2, 3),
        ({}, 3, 2),
        ({}, 0, 1),
        ({}, 5, 1),
        ({}, 21, 2),
        ({}, 47, 3),
        ({}, 73, 4),
        ({}, 99, 5),
        ({}, 1000, 0),
        ({}, -1, 0),
        ({"log": {"syslog": {"severity": {"code": 3}}}}, 3, 4),
        ({"log.syslog.severity.code": 6}, 6, 1),
        ({"cef": {"name": "x"}}, 9, 5),
        ({"event": {"module": "cef"}}, 2, 2),
    ],
)
def test_event_severity_scales(doc, number, expected):
    # given / when
    result = event_severity(doc, number)

    # then
    assert result == expected


def test_risk_bands():
    # given / when / then
    assert [risk_band(s) for s in (0, 21, 22, 47, 48, 73, 74, 100)] == [2, 2, 3, 3, 4, 4, 5, 5]


def test_missing_time_names_the_field():
    # given
    item = _elastic_alert_flat()
    del item["@timestamp"]

    # when
    with pytest.raises(AdapterError) as caught:
        normalize(item, fmt=FMT)

    # then
    assert "@timestamp" in caught.value.errors


def test_bad_time_names_the_field():
    # given
    item = copy.deepcopy(samples.records(FMT)[0])
    item["@timestamp"] = "yesterday"

    # when
    with pytest.raises(AdapterError) as caught:
        normalize(item, fmt=FMT)

    # then
    assert "@timestamp" in caught.value.errors


def test_missing_title_source_names_the_field():
    # given
    item = {"@timestamp": "2024-01-01T00:00:00Z", "event": {"kind": "alert"}, "ecs": {"version": "8.0.0"}}

    # when
    with pytest.raises(AdapterError) as caught:
        normalize(item)

    # then
    assert "rule.name" in caught.value.errors


# ---- detection ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "item",
    [
        {"@timestamp": "2024-01-01T00:00:00Z", "event": {"kind": "event"}, "ecs": {"version": "8.0.0"}},
        {"event": {"kind": "alert"}},  # neither @timestamp nor ecs.version
        {"event": "alert", "@timestamp": "x"},
        {"_source": None},
        "event.kind=alert",
        None,
        [],
    ],
)
def test_detect_is_false_and_never_raises_on_other_shapes(item):
    # given
    adapter = REGISTRY[FMT]

    # when
    result = adapter.detect(item)

    # then
    assert result is False
