"""The ``crowdstrike`` adapter: Falcon streaming API events (no database needed)."""

from __future__ import annotations

import pytest

from mdr.alerts.adapters import AdapterError, normalize
from tests.alerts.adapters import samples

FORMAT = "crowdstrike"


def _record(event_type: str, **where) -> dict:
    matches = [
        r
        for r in samples.records(FORMAT)
        if r["metadata"]["eventType"] == event_type and all(r["event"].get(k) == v for k, v in where.items())
    ]
    assert len(matches) == 1, (event_type, where)
    return matches[0]


def _minimal_incident(**event_overrides) -> dict:
    """An IncidentSummaryEvent as documented for the Falcon Event Streams API, not taken from the samples."""
    return {
        "metadata": {
            "customerIDString": "0123456789abcdef0123456789abcdef",
            "offset": 4242,
            "eventType": "IncidentSummaryEvent",
            "eventCreationTime": 1714557600000,
            "version": "1.0",
        },
        "event": {
            "IncidentStartTime": 1714557000,
            "IncidentEndTime": 1714557500,
            "FalconHostLink": "https://falcon.crowdstrike.com/crowdscore/incidents/details/inc:abc:def",
            "State": "open",
            "FineScore": 7.5,
            "LateralMovement": 0,
            "IncidentID": "inc:0123456789abcdef0123456789abcdef:fedcba9876543210fedcba9876543210",
            **event_overrides,
        },
    }


def test_every_sample_record_normalises_with_the_format_named():
    # given
    records = samples.records(FORMAT)

    # when
    alerts = [normalize(record, FORMAT) for record in records]

    # then
    assert len(alerts) == 11
    assert all(a.source_format == FORMAT and a.title and a.observed_at.tzinfo for a in alerts)


def test_a_legacy_detection_summary_uses_the_1_to_5_scale():
    # given
    record = _record("DetectionSummaryEvent", DetectId="ldt:c9794942866f:26628996")

    # when
    alert = normalize(record, FORMAT)

    # then
    assert alert.title == "DetectName"
    assert alert.description.startswith("This file meets the Adware/PUP")
    assert alert.severity_id == 2 and alert.severity_raw == "2"
    assert alert.observed_at.isoformat() == "2023-05-01T08:33:20+00:00"  # metadata.eventCreationTime (ms)
    assert alert.hosts == ["example.com"]
    assert alert.users == ["Username"]
    assert alert.ips == ["1.2.3.4"]
    assert alert.rule_id == "5555"
    assert alert.external_id == "ldt:c9794942866f:26628996"
    assert alert.category == "DetectionSummaryEvent"
    assert alert.tactics == [] and alert.techniques == []  # "Machine Learning" is Falcon's, not ATT&CK


def test_an_epp_detection_uses_the_0_to_100_scale_and_composite_id():
    # given
    record = _record("EppDetectionSummaryEvent", Name="Test Detection")

    # when
    alert = normalize(record, FORMAT)

    # then
    assert alert.title == "Test Detection"
    assert alert.severity_id == 4 and alert.severity_raw == "70"
    assert alert.tactics == ["Defense Evasion"]
    assert alert.source_product == "Falcon Insight"
    assert alert.external_id.startswith("11111111111111111111111111111111:ind:")
    assert alert.observed_at.isoformat() == "2025-04-09T09:51:35+00:00"


def test_an_automated_lead_takes_attack_ids_and_the_highest_indicator_severity():
    # given
    record = _record("AutomatedLeadSummaryEvent")

    # when
    alert = normalize(record, FORMAT)

    # then
    assert alert.title == "TESTHOST-PC at 2025-11-05T14:49:40Z"
    assert alert.severity_id == 4 and alert.severity_raw == "70"
    assert alert.techniques == ["T1204", "T1218.005", "T1059.001"]
    assert alert.tactics == ["Execution", "Defense Evasion", "TA0002", "TA0005"]
    assert alert.hosts == ["testhost-pc"]
    assert alert.observed_at.isoformat() == "2025-11-05T14:49:40+00:00"


def test_a_firewall_match_has_no_severity_and_a_field_based_dedup_key():
    # given
    record = _record("FirewallMatchEvent")

    # when
    alert = normalize(record, FORMAT)

    # then
    assert alert.title == "Firewall rule matched: Smth - Block Inbound connections"
    assert alert.severity_id == 0 and alert.severity_raw == ""
    assert alert.rule_id == "4444444444444444444"
    assert alert.hosts == ["hostname-123456789"]
    assert alert.ips == ["255.255.255.255", "1.2.3.4"]
    assert alert.observed_at.isoformat() == "2025-11-28T14:37:01+00:00"
    assert alert.dedup_key.startswith("crowdstrike:h:")


def test_an_identity_detection_reads_windows_filetime():
    # given
    record = _record("IdpDetectionSummaryEvent")

    # when
    alert = normalize(record, FORMAT)

    # then
    assert alert.title == "Use of stale user account"
    assert alert.observed_at.isoformat() == "2023-08-03T12:03:15.970000+00:00"
    assert alert.users == ["EXAMPLE.ORG\\JOHNDOE"]
    assert alert.tactics == ["Initial Access"]


def test_dedup_keys_are_stable_and_unique_across_the_file():
    # given
    records = samples.records(FORMAT)

    # when
    keys = [normalize(record, FORMAT).dedup_key for record in records]
    again = normalize(records[0], FORMAT).dedup_key

    # then
    assert again == keys[0]
    assert keys[0] != keys[1]
    assert len(set(keys)) == len(records) == 11
    assert sum(k.startswith("crowdstrike:id:") for k in keys) == 10  # all but the firewall match carry an id


def test_an_event_without_any_time_is_rejected_naming_the_field():
    # given
    record = _minimal_incident()
    del record["metadata"]["eventCreationTime"]
    del record["event"]["IncidentStartTime"]

    # when
    with pytest.raises(AdapterError) as caught:
        normalize(record, FORMAT)

    # then
    assert "metadata.eventCreationTime" in caught.value.errors


def test_a_minimal_documented_incident_normalises():
    # given
    record = _minimal_incident()

    # when
    alert = normalize(record)

    # then
    assert alert.source_format == FORMAT
    assert alert.title == "Falcon incident (score 7.5)"
    assert alert.severity_id == 4 and alert.severity_raw == "7.5"  # FineScore 7.5 of 10
    assert alert.observed_at.isoformat() == "2024-05-01T09:50:00+00:00"  # IncidentStartTime
    assert alert.external_id.startswith("inc:")
    assert alert.dedup_key == normalize(_minimal_incident(), FORMAT).dedup_key
    assert alert.dedup_key != normalize(_minimal_incident(IncidentID="inc:other"), FORMAT).dedup_key


def test_comma_separated_attack_ids_are_split_and_falcon_ids_dropped():
    # given
    record = _minimal_incident(
        Name="Lateral movement via SMB",
        TacticIds="TA0008,CSTA0001",
        Tactics="Lateral Movement,Malware",
        TechniqueIds="T1021.002, CST0001",
    )

    # when
    alert = normalize(record, FORMAT)

    # then
    assert alert.title == "Lateral movement via SMB"
    assert alert.tactics == ["Lateral Movement", "TA0008"]
    assert alert.techniques == ["T1021.002"]


@pytest.mark.parametrize(
    ("severity", "name", "expected"),
    [
        (1, None, 1),
        (3, None, 3),
        (5, None, 5),
        (10, None, 1),
        (30, None, 2),
        (50, None, 3),
        (70, None, 4),
        (90, None, 5),
        (70, "Medium", 3),  # the name wins when it is a known one
        (None, "Critical", 5),
        (None, None, 4),  # falls back to FineScore 7.5
    ],
)
def test_severity_mapping(severity, name, expected):
    # given
    overrides = {}
    if severity is not None:
        overrides["Severity"] = severity
    if name is not None:
        overrides["SeverityName"] = name
    record = _minimal_incident(**overrides)

    # when
    alert = normalize(record, FORMAT)

    # then
    assert alert.severity_id == expected
