"""The ``splunk`` adapter: webhook alert action payloads and Enterprise Security notables (no database)."""

import json

import pytest

from mdr.alerts.adapters import REGISTRY, AdapterError, normalize
from tests.alerts.adapters import samples

FMT = "splunk"


def _copy(record: dict) -> dict:
    return json.loads(json.dumps(record))


NOTABLE = {
    "_time": "2024-03-05T14:22:10.000+01:00",
    "event_id": "9A6E2D3C-1111-2222-3333-444455556666@@notable@@0123456789abcdef",
    "rule_name": "Brute Force Access Behavior Detected",
    "rule_title": "Brute force from $src$ against $dest$",
    "rule_description": "$src$ failed $count$ logins",
    "search_name": "Access - Brute Force Access Behavior Detected - Rule",
    "security_domain": "access",
    "urgency": "high",
    "severity": "medium",
    "src": "203.0.113.7",
    "dest": ["web01.corp.example", "10.1.2.3"],
    "user": "alice",
    "src_user": "unknown",
    "count": "57",
    "orig_sid": "scheduler__admin__SplunkEnterpriseSecuritySuite__RMD5abc_at_1709644920_123",
    "annotations.mitre_attack": ["T1110", "T1110.001"],
    "annotations.mitre_attack.mitre_tactic": ["credential-access"],
    "annotations.mitre_attack.mitre_tactic_id": ["TA0006"],
    "host": "es-sh01",
}


# ---- every sample record ----------------------------------------------------------------------------------


def test_every_sample_record_normalises_by_name_and_by_detection():
    # given
    records = samples.records(FMT)
    # when
    named = [normalize(r, fmt=FMT) for r in records]
    detected = [normalize(r) for r in records]
    # then
    assert len(records) == 1
    assert all(a.source_format == FMT for a in detected)
    assert [a.dedup_key for a in named] == [a.dedup_key for a in detected]


def test_webhook_sample_maps_search_and_result():
    # given
    record = samples.records(FMT)[0]
    # when
    alert = normalize(record, fmt=FMT)
    # then
    assert alert.title == "sudo"
    assert (alert.rule_id, alert.rule_name) == ("sudo", "sudo")
    assert (alert.severity_id, alert.severity_raw) == (0, "")  # the result has no severity/urgency field
    assert alert.observed_at.isoformat() == "2017-01-04T19:14:32+00:00"  # _time is epoch seconds
    assert alert.observed_offset_minutes == 0
    assert alert.hosts == ["myserver"]
    assert alert.users == []  # "USER" is an empty extracted field, not CIM ``user``
    assert alert.external_id == "rt_scheduler__admin__search__sudo_at_1483557185_2.2"
    assert "session closed for user root" in alert.description
    assert alert.source_product == "Splunk"
    assert alert.raw is record


def test_webhook_dedup_is_stable_and_per_result_rows_differ():
    # given: the same payload twice, and another result row of the same search job (per-result alerting)
    record = samples.records(FMT)[0]
    other_row = _copy(record)
    other_row["result"]["_serial"] = "3"
    other_run = _copy(record)
    other_run["sid"] = "rt_scheduler__admin__search__sudo_at_1483557999_3.1"
    # when
    key = normalize(record, fmt=FMT).dedup_key
    key_again = normalize(_copy(record), fmt=FMT).dedup_key
    # then
    assert key == key_again
    assert key != normalize(other_row, fmt=FMT).dedup_key
    assert key != normalize(other_run, fmt=FMT).dedup_key
    assert key.startswith("splunk:id:")


def test_webhook_without_time_falls_back_to_the_scheduler_trigger_time():
    # given: a ``stats`` search result has no _time; the scheduler sid carries the trigger epoch
    record = _copy(samples.records(FMT)[0])
    record["result"].pop("_time")
    # when
    alert = normalize(record, fmt=FMT)
    # then
    assert alert.observed_at.isoformat() == "2017-01-04T19:13:05+00:00"


def test_webhook_without_any_time_names_the_field():
    # given
    record = _copy(samples.records(FMT)[0])
    record["result"].pop("_time")
    record["sid"] = "1483557185.42"  # an ad-hoc search job id: no trigger time in it
    # when
    with pytest.raises(AdapterError) as caught:
        normalize(record, fmt=FMT)
    # then
    assert "result._time" in caught.value.errors


def test_payload_without_a_title_source_is_rejected():
    # given
    record = _copy(samples.records(FMT)[0])
    record["search_name"] = ""
    # when
    with pytest.raises(AdapterError) as caught:
        normalize(record, fmt=FMT)
    # then
    assert "search_name" in caught.value.errors


# ---- hand-written records following the Splunk docs -------------------------------------------------------


def test_enterprise_security_notable():
    # given
    record = _copy(NOTABLE)
    # when
    alert = normalize(record)
    # then
    assert alert.source_format == FMT
    assert alert.source_product == "Splunk Enterprise Security"
    assert alert.title == "Brute force from 203.0.113.7 against web01.corp.example"
    assert alert.description == "203.0.113.7 failed 57 logins"
    assert (alert.severity_id, alert.severity_raw) == (4, "high")  # urgency wins over severity
    assert alert.observed_at.isoformat() == "2024-03-05T14:22:10+01:00"
    assert alert.observed_offset_minutes == 60
    assert (alert.rule_id, alert.rule_name) == (
        "Access - Brute Force Access Behavior Detected - Rule",
        "Brute Force Access Behavior Detected",
    )
    assert alert.category == "access"
    assert (alert.tactics, alert.techniques) == (["Credential Access"], ["T1110", "T1110.001"])
    assert alert.hosts == ["web01.corp.example"]  # not the search head in ``host``
    assert alert.ips == ["203.0.113.7", "10.1.2.3"]
    assert alert.users == ["alice"]
    assert alert.external_id == NOTABLE["event_id"]


def test_notable_dedup_key_is_its_event_id_whatever_the_transport():
    # given: the notable bare, inside a webhook, and as a search-export row
    webhook = {
        "sid": "scheduler__nobody__SA-ThreatIntelligence__RMD5x_at_1709645000_9",
        "search_name": "Forward notables",
        "app": "SplunkEnterpriseSecuritySuite",
        "owner": "nobody",
        "results_link": "https://es/x",
        "result": NOTABLE,
    }
    export = {"preview": False, "offset": 0, "result": NOTABLE}
    # when
    keys = {normalize(_copy(item)).dedup_key for item in (NOTABLE, webhook, export)}
    other = normalize(dict(NOTABLE, event_id="other@@notable@@ffff")).dedup_key
    # then
    assert len(keys) == 1
    assert other not in keys


def test_minimal_webhook_with_severity_and_nested_annotations():
    # given: a webhook from a custom correlation search, epoch-with-fraction _time, nested annotations
    record = {
        "sid": "scheduler__admin__search__RMD5f00_at_1717171200_77",
        "search_name": "Endpoint - Suspicious LSASS access",
        "app": "search",
        "owner": "admin",
        "results_link": "https://splunk.example:8000/app/search/@go?sid=x",
        "result": {
            "_time": "1717171190.250",
            "dest": "WS-9",
            "user": ["CORP\\bob", "CORP\\carol"],
            "severity": "critical",
            "annotations": {"mitre_attack": ["T1003.001"]},
        },
    }
    # when
    alert = normalize(record)
    # then
    assert alert.source_format == FMT
    assert (alert.severity_id, alert.severity_raw) == (5, "critical")
    assert alert.observed_at.isoformat() == "2024-05-31T15:59:50.250000+00:00"
    assert (alert.hosts, alert.users, alert.techniques) == (["ws-9"], ["CORP\\bob", "CORP\\carol"], ["T1003.001"])
    assert alert.source_product == "Splunk"


# ---- detection --------------------------------------------------------------------------------------------


def test_detect_never_raises_on_odd_items():
    # given
    adapter = REGISTRY[FMT]
    # when / then
    for item in ("CEF:0|x", None, [], {}, {"result": None, "sid": 1}, {"result": {}, "preview": True}):
        assert adapter.detect(item) in (True, False)
