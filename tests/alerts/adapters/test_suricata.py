"""The ``suricata`` adapter: Suricata EVE JSON alert records (no database needed)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mdr.alerts.adapters import AdapterError, normalize
from tests.alerts.adapters import samples

FORMAT = "suricata"


def _record(flow_id: int, sid: int) -> dict:
    matches = [r for r in samples.records(FORMAT) if r["flow_id"] == flow_id and r["alert"]["signature_id"] == sid]
    assert len(matches) == 1, (flow_id, sid)
    return matches[0]


def _minimal_alert(**overrides) -> dict:
    """An EVE alert as documented (docs.suricata.io, EVE JSON format), not taken from the samples."""
    record = {
        "timestamp": "2024-05-06T10:11:12.123456+0200",
        "flow_id": 1234567890123456,
        "in_iface": "eth0",
        "event_type": "alert",
        "src_ip": "203.0.113.10",
        "src_port": 51515,
        "dest_ip": "192.0.2.20",
        "dest_port": 443,
        "proto": "TCP",
        "app_proto": "tls",
        "tls": {"sni": "evil.example.net", "version": "TLS 1.2"},
        "alert": {
            "action": "blocked",
            "gid": 1,
            "signature_id": 2030000,
            "rev": 3,
            "signature": "ET MALWARE Example C2 Domain in SNI",
            "category": "A Network Trojan was detected",
            "severity": 1,
            "metadata": {
                "mitre_tactic_id": ["TA0011"],
                "mitre_tactic_name": ["Command_And_Control"],
                "mitre_technique_id": ["T1071.001"],
                "mitre_technique_name": ["Web_Protocols"],
            },
        },
    }
    record.update(overrides)
    return record


def test_every_sample_record_normalises_with_the_format_named():
    # given
    records = samples.records(FORMAT)

    # when
    alerts = [normalize(record, FORMAT) for record in records]

    # then
    assert len(alerts) == 207
    assert all(a.source_format == FORMAT and a.title and a.observed_at.tzinfo for a in alerts)


def test_a_medium_scan_alert_keeps_its_fields_and_offset():
    # given
    record = _record(928532049924531, 2001219)

    # when
    alert = normalize(record, FORMAT)

    # then
    assert alert.title == "ET SCAN Potential SSH Scan"
    assert alert.severity_id == 3 and alert.severity_raw == "2"
    assert alert.observed_at.isoformat() == "2018-03-24T14:37:19.037299-06:00"
    assert alert.observed_offset_minutes == -360
    assert alert.rule_id == "2001219" and alert.rule_name == "ET SCAN Potential SSH Scan"
    assert alert.category == "Attempted Information Leak"
    assert alert.ips == ["0.0.0.0", "10.47.8.150"]  # noqa: S104 - the sample's real source address
    assert alert.external_id == "928532049924531"
    assert alert.raw is record


def test_a_high_http_alert_names_the_contacted_host():
    # given
    record = _record(201913768856509, 2002402)

    # when
    alert = normalize(record, FORMAT)

    # then
    assert alert.title == "ET MALWARE Spyware Related User-Agent (UtilMind HTTPGet)"
    assert alert.severity_id == 4 and alert.severity_raw == "1"
    assert alert.hosts == ["cfg.crawler.com"]
    assert alert.ips == ["10.47.42.68", "64.135.77.30"]
    assert alert.observed_at.isoformat() == "2018-03-24T14:35:03.195686-06:00"


def test_a_low_alert_maps_priority_three_to_low():
    # given
    record = _record(430097432426712, 2001569)

    # when
    alert = normalize(record, FORMAT)

    # then
    assert alert.severity_id == 2 and alert.severity_raw == "3"
    assert alert.rule_id == "2001569"


def test_dedup_keys_are_stable_and_unique_across_the_file():
    # given
    records = samples.records(FORMAT)

    # when
    keys = [normalize(record, FORMAT).dedup_key for record in records]
    again = normalize(records[0], FORMAT).dedup_key

    # then
    assert again == keys[0]
    assert keys[0] != keys[1]
    assert len(set(keys)) == len(records) == 207  # the file has no duplicate alerts
    assert all(k.startswith("suricata:id:") for k in keys)


def test_a_record_without_timestamp_is_rejected_naming_the_field():
    # given
    record = _minimal_alert()
    del record["timestamp"]

    # when
    with pytest.raises(AdapterError) as caught:
        normalize(record, FORMAT)

    # then
    assert "timestamp" in caught.value.errors


def test_a_non_alert_eve_record_is_rejected_clearly():
    # given
    flow = {
        "timestamp": "2024-05-06T10:11:12.123456+0200",
        "flow_id": 99,
        "event_type": "flow",
        "src_ip": "192.0.2.1",
        "dest_ip": "192.0.2.2",
        "proto": "UDP",
        "flow": {"pkts_toserver": 1},
    }

    # when
    with pytest.raises(AdapterError) as caught:
        normalize(flow)  # detected as Suricata, then refused

    # then
    assert list(caught.value.errors) == ["event_type"]
    assert "'flow' is not an alert" in caught.value.errors["event_type"][0]


def test_an_alert_without_signature_or_sid_is_rejected():
    # given
    record = _minimal_alert(alert={"severity": 2, "category": "Misc activity"})

    # when
    with pytest.raises(AdapterError) as caught:
        normalize(record, FORMAT)

    # then
    assert "alert.signature" in caught.value.errors


def test_a_minimal_documented_alert_normalises():
    # given
    record = _minimal_alert()

    # when
    alert = normalize(record)

    # then
    assert alert.source_format == FORMAT
    assert alert.title == "ET MALWARE Example C2 Domain in SNI"
    assert alert.severity_id == 4
    assert alert.observed_at.utcoffset() == timedelta(hours=2)
    assert alert.tactics == ["TA0011", "Command And Control"]
    assert alert.techniques == ["T1071.001"]
    assert alert.hosts == ["evil.example.net"]
    assert alert.ips == ["203.0.113.10", "192.0.2.20"]
    assert "blocked" in alert.description
    assert alert.dedup_key == normalize(_minimal_alert(), FORMAT).dedup_key
    assert alert.dedup_key != normalize(_minimal_alert(flow_id=42), FORMAT).dedup_key


@pytest.mark.parametrize(("priority", "expected"), [(1, 4), (2, 3), (3, 2), (4, 1), (255, 1), (None, 0), ("x", 0)])
def test_severity_mapping(priority, expected):
    # given
    record = _minimal_alert()
    record["alert"] = {**record["alert"], "severity": priority}

    # when
    alert = normalize(record, FORMAT)

    # then
    assert alert.severity_id == expected
