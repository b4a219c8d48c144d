"""The ``cef`` adapter: ArcSight CEF lines, optionally behind a syslog header (no database needed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from mdr.alerts.adapters import REGISTRY, AdapterError, normalize
from tests.alerts.adapters import samples

FORMAT = "cef"
# FortiGate test messages in the sample file that carry no time at all (no rt/end/start, no eventtime).
UNTIMED = 4


def _line(*fragments: str) -> str:
    matches = [line for line in samples.records(FORMAT) if all(f in line for f in fragments)]
    assert len(matches) == 1, fragments
    return matches[0]


def test_every_sample_line_normalises_with_the_format_named():
    # given
    lines = samples.records(FORMAT)
    before = datetime.now(tz=UTC)

    # when
    alerts = [normalize(line, FORMAT) for line in lines]

    # then: the lines without any time field carry the receive time, marked as such
    assert len(alerts) == 32
    assert all(a.source_format == FORMAT and a.title and a.observed_at.tzinfo for a in alerts)
    untimed = [a for a in alerts if a.raw["time_source"] == "received"]
    assert len(untimed) == UNTIMED
    assert all(a.observed_at >= before for a in untimed)
    assert all(a.observed_at.year < 2026 for a in alerts if a.raw["time_source"] == "event")


def test_every_sample_line_is_auto_detected():
    # given
    lines = samples.records(FORMAT)

    # when
    formats = {normalize(line).source_format for line in lines}

    # then
    assert formats == {FORMAT}
    assert all(REGISTRY[FORMAT].detect(line) for line in lines)


def test_a_fortigate_event_uses_its_nanosecond_eventtime_in_the_device_zone():
    # given
    line = _line("FGVM2V0000171868 FortinetFortiGatelogid=0100032102")

    # when
    alert = normalize(line, FORMAT)

    # then
    assert alert.title == "event:system"
    assert alert.severity_id == 4 and alert.severity_raw == "7"
    assert alert.observed_at.isoformat() == "2021-11-23T16:35:08.541881+01:00"
    assert alert.observed_offset_minutes == 60
    assert alert.rule_id == "32102"
    assert alert.category == "event:system"
    assert alert.description == "Configuration is changed in the admin session"
    assert (alert.source_vendor, alert.source_product) == ("Fortinet", "Fortigate")
    assert alert.users == []  # "duser=" is empty


def test_a_formatted_start_date_takes_the_vendor_time_zone():
    # given
    line = _line("FortiGate-1000C")

    # when
    alert = normalize(line, FORMAT)

    # then
    assert alert.observed_at.isoformat() == "2022-10-12T12:50:31+02:00"
    assert alert.severity_id == 3 and alert.severity_raw == "5"
    assert alert.hosts == ["fw-123"]
    assert alert.ips == ["1.1.1.1", "192.0.2.1"]
    assert alert.external_id == "3812440508"  # sent as "externalID"
    assert alert.source_product == "FortiGate-1000C"


def test_a_check_point_log_reads_rt_and_the_labelled_rule_name():
    # given
    line = _line("rule_action=Redirect")

    # when
    alert = normalize(line, FORMAT)

    # then
    assert alert.title == "HTTP_and_HTTPS_proxy"
    assert alert.severity_id == 0 and alert.severity_raw == "Unknown"
    assert alert.observed_at.isoformat() == "2020-06-24T15:49:36+00:00"
    assert alert.rule_id == "Log"
    assert alert.rule_name == "Explicit Proxy Access"
    assert alert.ips == ["4.4.4.4", "5.5.5.5", "3.3.3.3"]  # dhost holds an IP here
    assert (alert.source_vendor, alert.source_product) == ("Check Point", "VPN-1 & FireWall-1")


def test_escapes_are_undone_and_the_raw_payload_is_json():
    # given
    line = _line("HTTP.BROWSER_Firefox")
    waf = _line("FTNTFGTrawdata=")

    # when
    alert = normalize(line, FORMAT)
    waf_alert = normalize(waf, FORMAT)

    # then
    assert alert.users == ["example.com\\alice"]  # "example.com\\\\alice" on the wire
    assert alert.hosts == ["example.com"]
    assert waf_alert.raw["extension"]["FTNTFGTrawdata"] == "Method=GET|User-Agent=curl/7.47.0"
    assert waf_alert.raw["cef"] == waf
    assert waf_alert.raw["header"]["name"] == "utm:waf waf-http-constraint passthrough"
    assert json.loads(json.dumps(waf_alert.raw)) == waf_alert.raw


def test_a_space_after_cef_colon_and_repeated_keys_are_tolerated():
    # given
    line = _line("service_id=TCP_135")

    # when
    alert = normalize(line, FORMAT)

    # then
    assert line.startswith("CEF: 0|")
    assert alert.raw["header"]["version"] == "0"
    assert alert.raw["extension"]["layer_name"] == ["Firewall FooBar", "FooBar_policy Application"]
    assert alert.rule_name == "Allow all"
    assert alert.observed_at.isoformat() == "2020-06-18T16:35:07+00:00"


def test_dedup_keys_are_stable_and_unique_across_the_file():
    # given
    lines = samples.records(FORMAT)

    # when
    keys = [normalize(line, FORMAT).dedup_key for line in lines]
    again = [normalize(line, FORMAT).dedup_key for line in lines]

    # then: stable (also for the lines keyed without a time) and unique
    assert again == keys
    assert len(set(keys)) == len(lines) == 32  # no line repeats (externalId does: 56633, 1234)
    assert all(k.startswith("cef:h:") for k in keys)


def test_a_line_without_any_time_gets_the_receive_time_and_dedups_on_content():
    # given
    line = "CEF:0|Acme|Sensor|2.1|100|Port scan|5|src=10.0.0.1 dst=10.0.0.2"

    # when
    first, again = normalize(line, FORMAT), normalize(line, FORMAT)
    other = normalize(line.replace("10.0.0.2", "10.0.0.3"), FORMAT)

    # then
    assert first.raw["time_source"] == "received"
    assert abs((datetime.now(tz=UTC) - first.observed_at).total_seconds()) < 5
    assert first.dedup_key == again.dedup_key
    assert first.dedup_key != other.dedup_key


def test_a_minimal_documented_line_behind_a_syslog_header_normalises():
    # given
    line = (
        "<134>1 2024-05-01T10:00:00.123+02:00 fw01.example.org ids - - - "
        r"CEF:0|Acme\|Labs|Sensor\\X|2.1|100|Port\|scan detected|Very-High|"
        r"rt=May 01 2024 08:00:01.250 UTC src=10.0.0.1 spt=4444 dst=10.0.0.2 dhost=db01 suser=alice duser=N/A "
        r"msg=probe a\=b c\\d\nline two cs1Label=Rule Name cs1=Scan rule cat=/Attack/Recon externalId=77"
    )

    # when
    alert = normalize(line)

    # then
    assert alert.source_format == FORMAT
    assert (alert.source_vendor, alert.source_product) == ("Acme|Labs", "Sensor\\X")
    assert alert.title == "Port|scan detected"
    assert alert.severity_id == 5 and alert.severity_raw == "Very-High"
    assert alert.observed_at.isoformat() == "2024-05-01T08:00:01.250000+00:00"
    assert alert.hosts == ["db01", "fw01.example.org"]
    assert alert.ips == ["10.0.0.1", "10.0.0.2"]
    assert alert.users == ["alice"]
    assert alert.description == "probe a=b c\\d\nline two"
    assert alert.rule_id == "100" and alert.rule_name == "Scan rule"
    assert alert.category == "/Attack/Recon" and alert.external_id == "77"
    assert alert.dedup_key == normalize(line, FORMAT).dedup_key
    assert alert.dedup_key != normalize(line.replace("spt=4444", "spt=4445"), FORMAT).dedup_key


def test_the_syslog_time_is_the_last_resort():
    # given
    line = "<13>Oct  3 08:15:01 sensor-7 CEF:0|Acme|Sensor|2.1|100|Port scan|3|src=10.0.0.1 dtz=-05:00"

    # when
    alert = normalize(line, FORMAT)

    # then
    assert (alert.observed_at.month, alert.observed_at.day, alert.observed_at.hour) == (10, 3, 8)
    assert alert.observed_at.utcoffset() == timedelta(hours=-5)
    assert alert.hosts == ["sensor-7"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1700000000000", "2023-11-14T22:13:20+00:00"),
        ("2024-01-02T03:04:05-05:00", "2024-01-02T03:04:05-05:00"),
        ("Jan 02 2024 03:04:05", "2024-01-02T03:04:05+00:00"),
        ("Jan 02 2024 03:04:05.5 +0130", "2024-01-02T03:04:05.500000+01:30"),
        ("Jul 02 2024 03:04:05 Europe/Paris", "2024-07-02T03:04:05+02:00"),
        ("Jan 02 2024 03:04:05 PST", "2024-01-02T03:04:05-08:00"),
    ],
)
def test_documented_time_formats(value, expected):
    # given
    line = f"CEF:0|Acme|Sensor|2.1|100|Port scan|3|rt={value} src=10.0.0.1"

    # when
    alert = normalize(line, FORMAT)

    # then
    assert alert.observed_at.isoformat() == expected


def test_an_unreadable_time_is_rejected_naming_the_field():
    # given
    line = "CEF:0|Acme|Sensor|2.1|100|Port scan|3|end=Foo 02 2024 03:04:05"

    # when
    with pytest.raises(AdapterError) as caught:
        normalize(line, FORMAT)

    # then
    assert "end" in caught.value.errors


def test_a_truncated_header_is_rejected():
    # given
    line = "CEF:0|Acme|Sensor|2.1|100"

    # when
    with pytest.raises(AdapterError) as caught:
        normalize(line, FORMAT)

    # then
    assert "header" in caught.value.errors


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("0", 2),
        ("3", 2),
        ("4", 3),
        ("6", 3),
        ("7", 4),
        ("8", 4),
        ("9", 5),
        ("10", 5),
        ("Low", 2),
        ("Medium", 3),
        ("High", 4),
        ("Very-High", 5),
        ("very high", 5),
        ("Unknown", 0),
        ("11", 0),
        ("bogus", 0),
    ],
)
def test_severity_mapping(severity, expected):
    # given
    line = f"CEF:0|Acme|Sensor|2.1|100|Port scan|{severity}|rt=1700000000000"

    # when
    alert = normalize(line, FORMAT)

    # then
    assert alert.severity_id == expected
