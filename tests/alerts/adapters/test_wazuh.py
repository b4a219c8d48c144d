"""The ``wazuh`` adapter: Wazuh alerts.json records (no database needed)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mdr.alerts.adapters import AdapterError, normalize
from tests.alerts.adapters import samples

FORMAT = "wazuh"


def _record(alert_id: str) -> dict:
    matches = [r for r in samples.records(FORMAT) if r["id"] == alert_id]
    assert len(matches) == 1, alert_id
    return matches[0]


def _minimal_alert(**overrides) -> dict:
    """A Wazuh 4.x alert as documented (alerts.json, with MITRE mapping), not taken from the samples."""
    record = {
        "timestamp": "2024-02-10T08:30:00.123-0500",
        "rule": {
            "level": 12,
            "description": "sshd: brute force trying to get access to the system. Authentication failed.",
            "id": "5763",
            "mitre": {"id": ["T1110"], "tactic": ["Credential Access"], "technique": ["Brute Force"]},
            "frequency": 8,
            "firedtimes": 1,
            "groups": ["syslog", "sshd", "authentication_failures"],
        },
        "agent": {"id": "004", "name": "web-01", "ip": "10.0.0.4"},
        "manager": {"name": "wazuh-manager"},
        "id": "1707571800.123456",
        "full_log": "Feb 10 08:30:00 web-01 sshd[1234]: Failed password for root from 198.51.100.7 port 4242 ssh2",
        "predecoder": {"program_name": "sshd", "timestamp": "Feb 10 08:30:00", "hostname": "web-01"},
        "decoder": {"parent": "sshd", "name": "sshd"},
        "data": {"srcip": "198.51.100.7", "srcport": "4242", "dstuser": "root"},
        "location": "/var/log/auth.log",
    }
    record.update(overrides)
    return record


def test_every_sample_record_normalises_with_the_format_named():
    # given
    records = samples.records(FORMAT)

    # when
    alerts = [normalize(record, FORMAT) for record in records]

    # then
    assert len(alerts) == 250
    assert all(a.source_format == FORMAT and a.title and a.observed_at.tzinfo for a in alerts)


def test_an_ids_first_time_alert_maps_level_8_to_medium():
    # given
    record = _record("1588001006.9628221")

    # when
    alert = normalize(record, FORMAT)

    # then
    assert alert.title == "First time this IDS alert is generated."
    assert alert.severity_id == 3 and alert.severity_raw == "8"
    assert alert.observed_at.isoformat() == "2020-03-04T13:55:05.224939+00:00"
    assert alert.observed_offset_minutes == 0
    assert alert.rule_id == "20100"
    assert alert.category == "ids, fts"
    assert alert.hosts == ["user-0"]
    assert alert.ips == ["192.168.10.18", "192.168.10.21"]  # dstip "192.168.10.21:80" loses its port
    assert alert.external_id == "1588001006.9628221"
    assert alert.description.startswith("03/04/2020-13:55:05.224939  [**] [1:2221028:1]")


def test_a_pam_login_failure_names_host_and_user():
    # given
    record = _record("1588002175.9686405")

    # when
    alert = normalize(record, FORMAT)

    # then
    assert alert.title == "PAM: User login failed."
    assert alert.severity_id == 2 and alert.severity_raw == "5"
    assert alert.rule_id == "5503"
    assert alert.hosts == ["user-0", "mail"]
    assert alert.users == ["violet"]
    assert alert.ips == ["127.0.0.1"]
    assert alert.observed_at.isoformat() == "2020-03-04T14:14:33+00:00"


def test_a_multiple_failures_alert_maps_level_10_to_medium_and_level_3_to_informational():
    # given
    records = samples.records(FORMAT)
    level_10 = next(r for r in records if r["rule"]["id"] == "5551")
    level_3 = next(r for r in records if r["rule"]["id"] == "86601")

    # when
    alert_10, alert_3 = normalize(level_10, FORMAT), normalize(level_3, FORMAT)

    # then
    assert alert_10.title == "PAM: Multiple failed logins in a small period of time."
    assert alert_10.severity_id == 3
    assert alert_3.severity_id == 1 and alert_3.severity_raw == "3"


def test_dedup_keys_are_stable_and_unique_across_the_file():
    # given
    records = samples.records(FORMAT)

    # when
    keys = [normalize(record, FORMAT).dedup_key for record in records]
    again = normalize(records[0], FORMAT).dedup_key

    # then
    assert again == keys[0]
    assert keys[0] != keys[1]
    assert len(set(keys)) == len(records) == 250  # every alert id in the file is distinct
    assert all(k.startswith("wazuh:id:") for k in keys)


def test_a_record_without_timestamp_is_rejected_naming_the_field():
    # given
    record = _minimal_alert()
    del record["timestamp"]

    # when
    with pytest.raises(AdapterError) as caught:
        normalize(record, FORMAT)

    # then
    assert "timestamp" in caught.value.errors


def test_a_record_without_rule_description_is_rejected():
    # given
    record = _minimal_alert(rule={"level": 5, "id": "1002"})

    # when
    with pytest.raises(AdapterError) as caught:
        normalize(record, FORMAT)

    # then
    assert "rule.description" in caught.value.errors


def test_an_indexer_document_with_at_timestamp_is_accepted():
    # given
    record = _minimal_alert()
    record["@timestamp"] = record.pop("timestamp")

    # when
    alert = normalize(record, FORMAT)

    # then
    assert alert.observed_at.utcoffset() == timedelta(hours=-5)


def test_a_minimal_documented_alert_normalises():
    # given
    record = _minimal_alert()

    # when
    alert = normalize(record)

    # then
    assert alert.source_format == FORMAT
    assert alert.title.startswith("sshd: brute force")
    assert alert.severity_id == 4 and alert.severity_raw == "12"
    assert alert.observed_at.isoformat() == "2024-02-10T08:30:00.123000-05:00"
    assert alert.tactics == ["Credential Access"]
    assert alert.techniques == ["T1110"]
    assert alert.hosts == ["web-01"]
    assert alert.ips == ["10.0.0.4", "198.51.100.7"]
    assert alert.users == ["root"]
    assert alert.dedup_key == normalize(_minimal_alert(), FORMAT).dedup_key
    assert alert.dedup_key != normalize(_minimal_alert(id="1707571800.999"), FORMAT).dedup_key


def test_an_aws_module_alert_carries_the_cloud_account():
    # given
    record = _minimal_alert(
        data={"integration": "aws", "aws": {"accountId": "123456789012", "region": "eu-west-1", "source": "guardduty"}}
    )

    # when
    alert = normalize(record, FORMAT)

    # then
    assert (alert.cloud_provider, alert.cloud_account, alert.cloud_region) == ("aws", "123456789012", "eu-west-1")


@pytest.mark.parametrize(
    ("level", "expected"),
    [(0, 1), (3, 1), (4, 2), (6, 2), (7, 3), (11, 3), (12, 4), (14, 4), (15, 5), ("13", 4), (None, 0), (-1, 0)],
)
def test_severity_mapping(level, expected):
    # given
    record = _minimal_alert()
    record["rule"] = {**record["rule"], "level": level}

    # when
    alert = normalize(record, FORMAT)

    # then
    assert alert.severity_id == expected
