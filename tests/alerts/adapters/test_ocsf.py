"""The ``ocsf`` adapter: OCSF 1.x Findings (Detection Finding 2004, Security Finding 2001, ...). No database."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from mdr.alerts.adapters import REGISTRY, AdapterError, normalize
from mdr.alerts.adapters.base import utc_offset
from tests.alerts.adapters import samples

FMT = "ocsf"


def _minimal_detection_finding(**overrides) -> dict:
    """A Detection Finding written from the OCSF 1.1 schema, not taken from the samples."""
    item = {
        "class_uid": 2004,
        "category_uid": 2,
        "activity_id": 1,
        "type_uid": 200401,
        "severity_id": 4,
        "severity": "High",
        "time": 1717236000000,  # 2024-06-01T10:00:00Z
        "metadata": {"version": "1.1.0", "product": {"name": "Sensor X", "vendor_name": "Example"}},
        "finding_info": {
            "uid": "f-123",
            "title": "Encoded PowerShell",
            "desc": "powershell.exe ran an encoded command",
            "types": ["Execution"],
            "analytic": {"uid": "R-42", "name": "Encoded PowerShell command line", "type_id": 1},
            "attacks": [
                {
                    "tactic": {"uid": "TA0002", "name": "Execution"},
                    "technique": {"uid": "T1059", "name": "Command and Scripting Interpreter"},
                    "sub_technique": {"uid": "T1059.001", "name": "PowerShell"},
                }
            ],
        },
        "device": {"hostname": "WS-042.corp.example", "ip": "10.1.2.3", "type_id": 2},
        "actor": {"user": {"name": "alice", "uid": "S-1-5-21-1"}},
        "src_endpoint": {"ip": "198.51.100.7"},
    }
    item.update(overrides)
    return item


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
    assert len(records) == 5
    assert len(set(first_pass)) == 5  # the file holds no duplicate finding
    assert all(key.startswith("ocsf:id:") for key in first_pass)  # every sample finding carries its uid


# ---- specific records -----------------------------------------------------------------------------------


def test_detection_finding_from_security_hub_keeps_severity_offset_and_cloud():
    # given: the GuardDuty finding as Security Hub writes it in OCSF 1.1 (Detection Finding)
    item = samples.records(FMT)[0]

    # when
    alert = normalize(item)

    # then
    assert alert.severity_id == 2
    assert alert.severity_raw == "Low"
    assert alert.observed_at == datetime(2023, 9, 19, 15, 5, 22, 487000, tzinfo=UTC)
    assert alert.observed_at.utcoffset() == utc_offset(-240).utcoffset(None)  # time_dt's -04:00 is kept
    assert alert.observed_offset_minutes == -240
    assert alert.title == "AWS CloudTrail trail arn:aws:cloudtrail:us-east-2:111111111111:trail/delete-me was disabled."
    assert alert.description.startswith("AWS CloudTrail trail")
    assert alert.category == "TTPs/Defense Evasion/Stealth:IAMUser-CloudTrailLoggingDisabled"
    assert alert.source_product == "GuardDuty"
    assert alert.source_vendor == "Amazon"
    assert alert.external_id.endswith("/finding/a6c556fcbc9bea427a19f8b787099a0b")
    assert (alert.cloud_provider, alert.cloud_account, alert.cloud_region) == ("AWS", "111111111111", "us-east-2")
    assert alert.ips == ["52.94.133.131"]
    assert alert.hosts == []


def test_pre_1_0_security_finding_from_falco_reads_the_finding_object():
    # given: Falco's Security Finding (metadata.version 0.1.0: "finding", not "finding_info")
    item = samples.records(FMT)[1]

    # when
    alert = normalize(item)

    # then
    assert alert.title == "Linux Kernel Module Injection Detected"
    assert alert.severity_id == 3
    assert alert.severity_raw == "Medium"
    assert alert.observed_at == datetime(2023, 1, 3, 15, 11, 39, 558000, tzinfo=UTC)
    assert alert.observed_offset_minutes == 0
    assert alert.hosts == ["host0.local"]  # from the observable named "hostname"
    assert alert.users == []  # the "user.name" observable is an unfilled template, typed Other
    assert alert.external_id == "ec834826-90c1-458a-8eec-a014e7266754"
    assert (alert.source_product, alert.source_vendor) == ("Falco", "Falcosecurity")


def test_security_finding_keeps_the_raw_severity_text_and_ignores_hostname_observables():
    # given: SecurityScorecard, OCSF 1.0 Security Finding; its Hostname observable is the C2 domain
    item = samples.records(FMT)[2]

    # when
    alert = normalize(item)

    # then
    assert alert.severity_id == 1
    assert alert.severity_raw == "Informational "  # kept as sent
    assert alert.title == "Infection found on 1.183.190.110"
    assert alert.observed_at == datetime(2022, 11, 15, 17, 59, 59, 945000, tzinfo=UTC)
    assert alert.observed_offset_minutes == 0  # timezone_offset 0
    assert alert.ips == ["1.183.190.110"]
    assert alert.hosts == []  # not "open-internet.nl"
    assert alert.category == "malware_infection"


def test_same_record_gives_the_same_key_and_different_records_different_keys():
    # given
    records = samples.records(FMT)

    # when
    once = normalize(records[2], fmt=FMT).dedup_key
    again = normalize(copy.deepcopy(records[2]), fmt=FMT).dedup_key
    other = normalize(records[3], fmt=FMT).dedup_key

    # then
    assert once == again
    assert once != other


# ---- hand-written records -------------------------------------------------------------------------------


def test_minimal_detection_finding_from_the_schema():
    # given
    item = _minimal_detection_finding()

    # when
    alert = normalize(item)

    # then
    assert alert.source_format == FMT
    assert alert.title == "Encoded PowerShell"
    assert alert.description == "powershell.exe ran an encoded command"
    assert alert.severity_id == 4 and alert.severity_raw == "High"
    assert alert.observed_at == datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
    assert (alert.rule_id, alert.rule_name) == ("R-42", "Encoded PowerShell command line")
    assert alert.tactics == ["TA0002"]
    assert alert.techniques == ["T1059", "T1059.001"]
    assert alert.hosts == ["ws-042.corp.example"]
    assert alert.ips == ["10.1.2.3", "198.51.100.7"]
    assert alert.users == ["alice"]
    assert alert.category == "Execution"
    assert (alert.source_product, alert.source_vendor) == ("Sensor X", "Example")
    assert alert.external_id == "f-123"


def test_epoch_time_is_shown_at_the_events_timezone_offset():
    # given
    item = _minimal_detection_finding(timezone_offset=120)

    # when
    alert = normalize(item)

    # then
    assert alert.observed_at == datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
    assert alert.observed_offset_minutes == 120


def test_severity_other_falls_back_to_the_severity_name():
    # given: severity_id 99 (Other) means "see severity"
    item = _minimal_detection_finding(severity_id=99, severity="Critical")

    # when
    alert = normalize(item)

    # then
    assert alert.severity_id == 5
    assert alert.severity_raw == "Critical"


def test_1_0_top_level_attacks_and_analytic_are_read():
    # given: OCSF 1.0 Security Finding keeps attacks/analytic at the top level, tactics as a list
    item = _minimal_detection_finding(
        class_uid=2001,
        finding_info=None,
        finding={"uid": "legacy-1", "title": "Legacy finding"},
        analytic={"uid": "A-1", "name": "legacy analytic"},
        attacks=[{"tactics": [{"uid": "TA0005"}], "technique": {"uid": "T1070"}}],
    )

    # when
    alert = normalize(item)

    # then
    assert alert.title == "Legacy finding"
    assert (alert.rule_id, alert.rule_name) == ("A-1", "legacy analytic")
    assert alert.tactics == ["TA0005"]
    assert alert.techniques == ["T1070"]


def test_without_a_uid_the_key_hashes_fields_and_changes_with_time():
    # given
    base = _minimal_detection_finding()
    base["finding_info"] = {k: v for k, v in base["finding_info"].items() if k != "uid"}
    later = copy.deepcopy(base)
    later["time"] = base["time"] + 60_000

    # when
    key = normalize(base).dedup_key
    same = normalize(copy.deepcopy(base)).dedup_key
    other = normalize(later).dedup_key

    # then
    assert key.startswith("ocsf:h:")
    assert key == same
    assert key != other


def test_missing_time_names_the_field():
    # given
    item = _minimal_detection_finding()
    del item["time"]

    # when
    with pytest.raises(AdapterError) as caught:
        normalize(item, fmt=FMT)

    # then
    assert "time" in caught.value.errors


def test_sample_without_time_names_the_field():
    # given
    item = copy.deepcopy(samples.records(FMT)[0])
    del item["time"], item["time_dt"]

    # when
    with pytest.raises(AdapterError) as caught:
        normalize(item, fmt=FMT)

    # then
    assert "time" in caught.value.errors


def test_missing_title_names_the_field():
    # given
    item = _minimal_detection_finding(finding_info={"uid": "x"})

    # when
    with pytest.raises(AdapterError) as caught:
        normalize(item, fmt=FMT)

    # then
    assert "finding_info.title" in caught.value.errors


# ---- detection ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "item",
    [
        {"class_uid": 3002, "metadata": {}, "time": 1},  # Authentication (IAM category), not a finding
        {"class_uid": "x", "metadata": {}},
        {"class_uid": 2004},  # no metadata
        {"class_uid": True, "metadata": {}},
        "class_uid=2004",
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
