"""The ``sentinel`` adapter: Sentinel SecurityAlert rows, Graph security alerts, Defender alerts (no database)."""

import json
from collections import Counter

import pytest

from mdr.alerts.adapters import REGISTRY, AdapterError, normalize
from tests.alerts.adapters import samples

FMT = "sentinel"


def _by_id(system_alert_id: str) -> dict:
    return next(r for r in samples.records(FMT) if r["SystemAlertId"] == system_alert_id)


# ---- every sample record ----------------------------------------------------------------------------------


def test_every_sample_record_normalises_by_name_and_by_detection():
    # given
    records = samples.records(FMT)
    # when
    named = [normalize(r, fmt=FMT) for r in records]
    detected = [normalize(r) for r in records]
    # then
    assert len(records) == 189
    assert all(a.source_format == FMT for a in detected)
    assert [a.dedup_key for a in named] == [a.dedup_key for a in detected]
    assert all(a.observed_at.utcoffset() is not None for a in named)
    assert {a.severity_id for a in named} == {1, 2, 3, 4}


def test_sample_dedup_keys_are_unique_across_the_file():
    # given
    records = samples.records(FMT)
    # when
    keys = Counter(normalize(r, fmt=FMT).dedup_key for r in records)
    # then: every SystemAlertId in the file is distinct, so are the keys
    assert len({r["SystemAlertId"] for r in records}) == 189
    assert len(keys) == 189


def test_scheduled_rule_alert_maps_entities_and_severity():
    # given: a custom analytics rule row (Entities is a JSON string)
    record = _by_id("047f47d6-79b7-4502-824b-97abc4905a73")
    # when
    alert = normalize(record, fmt=FMT)
    # then
    assert alert.title == "DC local group addition - Demo"
    assert alert.description == "Domain controllers local group addition"
    assert (alert.severity_id, alert.severity_raw) == (2, "Low")
    assert alert.observed_at.isoformat() == "2019-01-11T06:31:40+00:00"
    assert alert.observed_offset_minutes == 0
    assert alert.hosts == ["dhcpcontoso77"]
    assert alert.ips == ["75.10.91.22"]
    assert alert.users == ["ADMINISTRATOR", "ADMIN", "USER"]
    assert alert.rule_id == "DC local group addition - Demo"
    assert alert.external_id == "047f47d6-79b7-4502-824b-97abc4905a73"
    assert alert.source_vendor == "Alert Rule"
    assert alert.raw is record


def test_defender_for_cloud_alert_maps_host_user_and_azure_resource():
    # given
    record = _by_id("2518547570966661760_526e34b6-6578-4fc0-9db6-e126b4d673f0")
    # when
    alert = normalize(record, fmt=FMT)
    # then
    assert alert.title == "Suspicious Account Creation Detected"
    assert alert.severity_id == 3
    assert alert.observed_at.isoformat() == "2019-01-15T09:15:03+00:00"
    assert alert.hosts == ["msticalertswin1"]
    assert "MSTICAlertsWin1\\MSTICAdmin" in alert.users
    assert (alert.cloud_provider, alert.cloud_account, alert.cloud_region) == (
        "Azure",
        "40dcc8bf-0478-4f3b-b275-ed0a94f2c013",
        "eastus",
    )


def test_informational_and_high_records_and_extended_property_ips():
    # given
    informational = _by_id("2518547570834399134_26ccc2ad-8ce0-4f60-8215-18f99377b547")
    high = _by_id("5365ee7a-f730-42d2-bcdf-b2e898ab98d7")
    waf = _by_id("0c68e539-f060-401f-b967-6b64b8f49198")  # "Source IPs" is a JSON array inside a JSON string
    # when
    info_alert, high_alert, waf_alert = (normalize(r, fmt=FMT) for r in (informational, high, waf))
    # then
    assert (info_alert.severity_id, info_alert.title) == (1, "Rare SVCHOST service group executed")
    assert (high_alert.severity_id, high_alert.hosts, high_alert.ips) == (4, ["sqlserver2ascdemo"], ["13.33.36.3"])
    assert waf_alert.ips == ["96.81.218.10"]
    assert waf_alert.source_vendor == "F5 WAF"


def test_dedup_key_is_stable_and_distinguishes_records():
    # given
    first_record, second_record = samples.records(FMT)[:2]
    # when
    key_a = normalize(first_record, fmt=FMT).dedup_key
    key_again = normalize(json.loads(json.dumps(first_record)), fmt=FMT).dedup_key
    key_b = normalize(second_record, fmt=FMT).dedup_key
    # then
    assert key_a == key_again
    assert key_a != key_b
    assert key_a.startswith("sentinel:id:")


# ---- errors and robustness --------------------------------------------------------------------------------


def test_security_alert_without_any_time_names_the_field():
    # given
    record = dict(samples.records(FMT)[0])
    for name in ("StartTimeUtc", "EndTimeUtc", "TimeGenerated"):
        record.pop(name)
    # when
    with pytest.raises(AdapterError) as caught:
        normalize(record, fmt=FMT)
    # then
    assert "StartTimeUtc" in caught.value.errors


def test_graph_alert_without_time_names_created_date_time():
    # given
    record = {"id": "da1", "title": "x", "severity": "low", "createdDateTime": None, "serviceSource": "x"}
    # when
    with pytest.raises(AdapterError) as caught:
        normalize(record, fmt=FMT)
    # then
    assert "createdDateTime" in caught.value.errors


def test_malformed_or_hostile_embedded_json_is_ignored_not_fatal():
    # given: Entities is not valid JSON, ExtendedProperties is a JSON scalar, Techniques is nested very deep
    record = {
        "SystemAlertId": "a1",
        "AlertName": "Test alert",
        "Severity": "High",
        "TimeGenerated": "2024-05-01T10:00:00Z",
        "Entities": '[{"Type": "host", "HostName": ',
        "ExtendedProperties": "42",
        "Techniques": "[" * 50_000 + "]" * 50_000,
    }
    # when
    alert = normalize(record)
    # then
    assert (alert.title, alert.severity_id, alert.hosts, alert.techniques) == ("Test alert", 4, [], [])


# ---- hand-written records following the Microsoft docs ----------------------------------------------------


def test_minimal_current_security_alert_row_with_tactics_and_nested_entities():
    # given: a SecurityAlert row as Log Analytics returns it today (Tactics/Techniques columns, inline entities)
    entities = [
        {
            "$id": "2",
            "Type": "process",
            "CommandLine": "powershell -enc ...",
            "Host": {"$id": "3", "Type": "host", "HostName": "WS-042", "DnsDomain": "corp.example"},
            "Account": {"$id": "4", "Type": "account", "Name": "jdoe", "UPNSuffix": "corp.example"},
        },
        {"$id": "5", "Type": "network-connection", "SourceAddress": {"$id": "6", "Type": "ip", "Address": "10.0.0.7"}},
        {"$id": "7", "Type": "host", "Host": {"$ref": "3"}},
    ]
    record = {
        "TenantId": "00000000-0000-0000-0000-000000000001",
        "TimeGenerated": "2024-05-01T10:05:00.1234567Z",
        "StartTimeUtc": "2024-05-01T09:58:12.5Z",
        "EndTimeUtc": "2024-05-01T10:01:00Z",
        "SystemAlertId": "5b0c2a3e-1111-4a4a-9999-0123456789ab",
        "AlertName": "Encoded PowerShell",
        "AlertDisplayName": "Encoded PowerShell on WS-042",
        "Severity": "High",
        "ProductName": "Azure Sentinel",
        "Tactics": "Execution, DefenseEvasion",
        "Techniques": '["T1059"]',
        "SubTechniques": '["T1059.001"]',
        "Entities": json.dumps(entities),
        "ExtendedProperties": json.dumps(
            {"Analytic Rule Ids": '["d3b1c9a0-aaaa-bbbb-cccc-000000000001"]', "Analytic Rule Name": "Encoded PS"}
        ),
        "Type": "SecurityAlert",
    }
    # when
    alert = normalize(record)
    # then
    assert alert.source_format == FMT
    assert alert.source_product == "Azure Sentinel"
    assert alert.title == "Encoded PowerShell on WS-042"
    assert alert.observed_at.isoformat() == "2024-05-01T09:58:12.500000+00:00"
    assert alert.tactics == ["Execution", "Defense Evasion"]
    assert alert.techniques == ["T1059", "T1059.001"]
    assert alert.hosts == ["ws-042"]
    assert alert.users == ["jdoe@corp.example"]
    assert alert.ips == ["10.0.0.7"]
    assert (alert.rule_id, alert.rule_name) == ("d3b1c9a0-aaaa-bbbb-cccc-000000000001", "Encoded PS")


GRAPH_ALERT = {
    "@odata.type": "#microsoft.graph.security.alert",
    "id": "da637551227677560813_-961444813",
    "providerAlertId": "da637551227677560813_-961444813",
    "incidentId": "28282",
    "status": "new",
    "severity": "medium",
    "classification": None,
    "serviceSource": "microsoftDefenderForEndpoint",
    "detectionSource": "antivirus",
    "detectorId": "e0da400f-affd-43ef-b1d5-afc2eb6f2756",
    "title": "Suspicious execution of hidden file",
    "description": "A hidden file has been launched.",
    "category": "DefenseEvasion",
    "mitreTechniques": ["T1564.001"],
    "createdDateTime": "2021-04-27T12:19:27.7211305Z",
    "firstActivityDateTime": "2021-04-26T07:45:50.116Z",
    "evidence": [
        {
            "@odata.type": "#microsoft.graph.security.deviceEvidence",
            "deviceDnsName": "tempdevice.contoso.com",
            "ipInterfaces": ["192.0.2.10", "fe80::1"],
            "loggedOnUsers": [{"accountName": "alice", "domainName": "CONTOSO"}],
        },
        {
            "@odata.type": "#microsoft.graph.security.userEvidence",
            "userAccount": {"accountName": "bob", "domainName": "CONTOSO", "userPrincipalName": "bob@contoso.com"},
        },
        {"@odata.type": "#microsoft.graph.security.ipEvidence", "ipAddress": "198.51.100.9"},
        {
            "@odata.type": "#microsoft.graph.security.azureResourceEvidence",
            "resourceId": "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/x/y",
        },
    ],
}


def test_graph_security_alert_v2():
    # given
    record = json.loads(json.dumps(GRAPH_ALERT))
    # when
    alert = normalize(record)
    # then
    assert alert.source_format == FMT
    assert alert.source_product == "Microsoft Defender For Endpoint"
    assert (alert.severity_id, alert.severity_raw) == (3, "medium")
    assert alert.observed_at.isoformat() == "2021-04-26T07:45:50.116000+00:00"
    assert alert.external_id == "da637551227677560813_-961444813"
    assert (alert.category, alert.tactics, alert.techniques) == ("DefenseEvasion", ["Defense Evasion"], ["T1564.001"])
    assert alert.hosts == ["tempdevice.contoso.com"]
    assert alert.ips == ["192.0.2.10", "fe80::1", "198.51.100.9"]
    assert alert.users == ["CONTOSO\\alice", "bob@contoso.com"]
    assert (alert.cloud_provider, alert.cloud_account) == ("Azure", "11111111-2222-3333-4444-555555555555")
    assert alert.rule_id == "e0da400f-affd-43ef-b1d5-afc2eb6f2756"


def test_defender_for_endpoint_api_alert_shares_the_graph_dedup_key():
    # given: the same alert from the Defender for Endpoint API (/api/alerts)
    record = {
        "id": "da637551227677560813_-961444813",
        "incidentId": 28282,
        "severity": "Medium",
        "status": "New",
        "detectionSource": "WindowsDefenderAv",
        "category": "DefenseEvasion",
        "title": "Suspicious execution of hidden file",
        "alertCreationTime": "2021-04-27T12:19:27.7211305Z",
        "firstEventTime": None,
        "machineId": "111e6dd8c833c8a052ea231ec1b19adaf497b625",
        "computerDnsName": "TempDevice.contoso.com",
        "mitreTechniques": ["T1564.001"],
        "relatedUser": {"userName": "alice", "domainName": "CONTOSO"},
        "evidence": [{"entityType": "Ip", "ipAddress": "198.51.100.9"}],
    }
    # when
    alert = normalize(record)
    # then
    assert alert.source_format == FMT
    assert alert.source_product == "Microsoft Defender for Endpoint"
    assert alert.observed_at.isoformat() == "2021-04-27T12:19:27.721130+00:00"
    assert (alert.hosts, alert.users, alert.ips) == (["tempdevice.contoso.com"], ["CONTOSO\\alice"], ["198.51.100.9"])
    assert alert.dedup_key == normalize(json.loads(json.dumps(GRAPH_ALERT))).dedup_key


def test_defender_xdr_incident_alert():
    # given: an alert from the Defender XDR incidents API (alertId, creationTime, devices, entities)
    record = {
        "alertId": "faf8edc936-85f8-4603-b800-9d4ce4a6e2e6_1",
        "incidentId": 924518,
        "serviceSource": "MicrosoftDefenderForEndpoint",
        "creationTime": "2020-09-06T12:07:54.3716642Z",
        "firstActivity": "2020-09-06T12:04:00.0000000+02:00",
        "title": "Suspicious credential dump from NTDS.dit",
        "severity": "High",
        "category": "CredentialAccess",
        "mitreTechniques": ["T1003.003"],
        "devices": [{"deviceDnsName": "dc01.contoso.local", "loggedOnUsers": []}],
        "entities": [{"entityType": "User", "accountName": "svc_backup", "domainName": "CONTOSO"}],
    }
    # when
    alert = normalize(record)
    # then
    assert alert.source_format == FMT
    assert alert.observed_at.isoformat() == "2020-09-06T12:04:00+02:00"
    assert alert.observed_offset_minutes == 120
    assert (alert.severity_id, alert.tactics) == (4, ["Credential Access"])
    assert (alert.hosts, alert.users) == (["dc01.contoso.local"], ["CONTOSO\\svc_backup"])
    assert alert.external_id == "faf8edc936-85f8-4603-b800-9d4ce4a6e2e6_1"


# ---- detection --------------------------------------------------------------------------------------------


def test_detect_never_raises_on_odd_items():
    # given
    adapter = REGISTRY[FMT]
    # when / then
    for item in ("CEF:0|x", None, [], {}, {"SystemAlertId": None}, {"createdDateTime": 1, "title": 2}):
        assert adapter.detect(item) in (True, False)
