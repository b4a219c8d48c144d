"""The ``guardduty`` adapter: GuardDuty findings (API, EventBridge detail and envelope), no database."""

import json
from collections import Counter

import pytest

from mdr.alerts.adapters import REGISTRY, AdapterError, normalize
from mdr.alerts.adapters.guardduty import guardduty_severity
from tests.alerts.adapters import samples

FMT = "guardduty"


def _by_id(finding_id: str) -> dict:
    return next(r for r in samples.records(FMT) if r["id"] == finding_id)


def _envelope(detail: dict) -> dict:
    return {
        "version": "0",
        "id": "c8c4daa7-a20c-2f03-0070-b7393dd542ad",
        "detail-type": "GuardDuty Finding",
        "source": "aws.guardduty",
        "account": "123456789012",
        "time": "2022-01-13T00:05:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


# ---- every sample record ----------------------------------------------------------------------------------


def test_every_sample_record_normalises_by_name_and_by_detection():
    # given
    records = samples.records(FMT)
    # when
    named = [normalize(r, fmt=FMT) for r in records]
    detected = [normalize(r) for r in records]
    enveloped = [normalize(_envelope(r)) for r in records]
    # then
    assert len(records) == 3
    assert all(a.source_format == FMT for a in detected + enveloped)
    assert [a.dedup_key for a in named] == [a.dedup_key for a in detected] == [a.dedup_key for a in enveloped]
    assert len(Counter(a.dedup_key for a in named)) == 3


def test_network_connection_finding():
    # given
    record = _by_id("16afba5c5c43e07c9e3e5e2e544e95df")
    # when
    alert = normalize(record, fmt=FMT)
    # then
    assert alert.title == "Canary:EC2/Stateless.IntegTest"
    assert (alert.severity_id, alert.severity_raw) == (3, "5")
    assert alert.observed_at.isoformat() == "2017-10-31T23:16:23+00:00"  # service.eventFirstSeen
    assert alert.observed_offset_minutes == 0
    assert alert.hosts == ["i-05746eb48123455e0", "ip-0-0-0-0.us-east-1.compute.internal"]
    assert "11.111.111.1" in alert.ips
    assert (alert.rule_id, alert.category) == ("Canary:EC2/Stateless.IntegTest", "Canary")
    assert (alert.cloud_provider, alert.cloud_account, alert.cloud_region) == ("AWS", "123456789012", "us-east-1")
    assert alert.external_id == "16afba5c5c43e07c9e3e5e2e544e95df"
    assert alert.raw is record


def test_api_call_finding_maps_user_and_remote_ip():
    # given
    record = _by_id("2cbf285e52a6e74ff96f4cb3cf93296d")
    # when
    alert = normalize(record, fmt=FMT)
    # then
    assert alert.title.startswith("API GeneratedFindingAPIName was invoked from a remote host")
    assert alert.description.startswith("API GeneratedFindingAPIName was used to access S3 Bucket")
    assert alert.observed_at.isoformat() == "2022-01-13T00:00:47+00:00"
    assert alert.users == ["GeneratedFindingUserName"]
    assert "198.51.100.0" in alert.ips and "10.0.0.1" in alert.ips
    assert (alert.rule_id, alert.category) == ("PenTest:S3/ParrotLinux", "PenTest")


def test_dedup_key_is_stable_and_distinguishes_findings():
    # given
    first_record, second_record = samples.records(FMT)[:2]
    # when
    key_a = normalize(first_record, fmt=FMT).dedup_key
    updated = dict(first_record, updatedAt="2017-11-01T00:00:00Z", severity=8)  # same finding, updated
    key_updated = normalize(updated, fmt=FMT).dedup_key
    key_b = normalize(second_record, fmt=FMT).dedup_key
    other_account = normalize(dict(first_record, accountId="210987654321"), fmt=FMT).dedup_key
    # then
    assert key_a == key_updated
    assert key_a != key_b
    assert key_a != other_account
    assert key_a.startswith("guardduty:id:")


@pytest.mark.parametrize(
    ("severity", "expected"),
    [(0.1, 2), (1, 2), (3.9, 2), (4, 3), (5, 3), (6.9, 3), (7, 4), (8.9, 4), (9, 5), (10, 5), ("8.0", 4), (None, 0)],
)
def test_severity_levels(severity, expected):
    # given / when
    found = guardduty_severity(severity, "severity")
    # then
    assert found == expected


def test_out_of_range_severity_is_rejected():
    # given
    record = dict(samples.records(FMT)[0], severity=42)
    # when
    with pytest.raises(AdapterError) as caught:
        normalize(record, fmt=FMT)
    # then
    assert "severity" in caught.value.errors


def test_finding_without_any_time_names_the_field():
    # given
    record = json.loads(json.dumps(samples.records(FMT)[0]))
    record.pop("createdAt")
    record["service"].pop("eventFirstSeen")
    # when
    with pytest.raises(AdapterError) as caught:
        normalize(record, fmt=FMT)
    # then
    assert "createdAt" in caught.value.errors


def test_enveloped_finding_without_time_names_the_detail_path():
    # given
    detail = json.loads(json.dumps(samples.records(FMT)[0]))
    detail.pop("createdAt")
    detail["service"].pop("eventFirstSeen")
    # when
    with pytest.raises(AdapterError) as caught:
        normalize(_envelope(detail), fmt=FMT)
    # then
    assert "detail.createdAt" in caught.value.errors


# ---- hand-written records following the AWS docs ----------------------------------------------------------


def test_minimal_sdk_style_pascal_case_finding():
    # given: a GetFindings ``Finding`` as the SDKs return it (PascalCase), high severity port probe
    record = {
        "AccountId": "111122223333",
        "Arn": "arn:aws:guardduty:eu-west-1:111122223333:detector/abc/finding/def",
        "CreatedAt": "2024-02-01T08:30:00.000Z",
        "UpdatedAt": "2024-02-01T09:00:00.000Z",
        "Id": "def",
        "Partition": "aws",
        "Region": "eu-west-1",
        "SchemaVersion": "2.0",
        "Severity": 7.5,
        "Title": "Unprotected port on EC2 instance i-0abc is being probed.",
        "Type": "Recon:EC2/PortProbeUnprotectedPort",
        "Resource": {"ResourceType": "Instance", "InstanceDetails": {"InstanceId": "i-0abc"}},
        "Service": {
            "ServiceName": "guardduty",
            "Action": {
                "ActionType": "PORT_PROBE",
                "PortProbeAction": {
                    "PortProbeDetails": [{"RemoteIpDetails": {"IpAddressV4": "203.0.113.50"}}],
                    "Blocked": False,
                },
            },
        },
    }
    # when
    alert = normalize(record)
    # then
    assert alert.source_format == FMT
    assert (alert.severity_id, alert.severity_raw) == (4, "7.5")
    assert alert.observed_at.isoformat() == "2024-02-01T08:30:00+00:00"
    assert (alert.hosts, alert.ips) == (["i-0abc"], ["203.0.113.50"])
    assert (alert.cloud_account, alert.cloud_region, alert.category) == ("111122223333", "eu-west-1", "Recon")


def test_attack_sequence_finding_maps_tactics_and_techniques():
    # given: a critical Extended Threat Detection finding with sequence indicators
    record = {
        "accountId": "111122223333",
        "arn": "arn:aws:guardduty:us-east-1:111122223333:detector/abc/finding/seq1",
        "createdAt": "2024-12-01T10:00:00Z",
        "id": "seq1",
        "region": "us-east-1",
        "severity": 9.2,
        "title": "Potential data compromise of S3 buckets",
        "type": "AttackSequence:S3/CompromisedData",
        "resource": {},
        "service": {
            "serviceName": "guardduty",
            "detection": {
                "sequence": {
                    "uid": "seq-uid",
                    "description": "…",
                    "signals": [],
                    "endpoints": [{"id": "e1", "ip": "192.0.2.44"}],
                    "sequenceIndicators": [
                        {"key": "ATTACK_TACTIC", "values": ["Discovery", "Impact"]},
                        {"key": "ATTACK_TECHNIQUE", "values": ["T1530"]},
                    ],
                }
            },
        },
    }
    # when
    alert = normalize(record)
    # then
    assert alert.severity_id == 5
    assert alert.tactics == ["Discovery", "Impact"]
    assert alert.techniques == ["T1530"]
    assert alert.ips == ["192.0.2.44"]
    assert alert.category == "AttackSequence"


def test_threat_purpose_that_is_an_attack_tactic_becomes_a_tactic():
    # given
    record = dict(samples.records(FMT)[0], type="DefenseEvasion:EC2/UnusualDoHActivity")
    # when
    alert = normalize(record, fmt=FMT)
    # then
    assert (alert.category, alert.tactics) == ("DefenseEvasion", ["Defense Evasion"])


# ---- detection --------------------------------------------------------------------------------------------


def test_detect_never_raises_on_odd_items():
    # given
    adapter = REGISTRY[FMT]
    # when / then
    for item in ("CEF:0|x", None, [], {}, {"detail": None}, {"id": 1, "type": 2, "severity": 3, "arn": 4}):
        assert adapter.detect(item) in (True, False)
