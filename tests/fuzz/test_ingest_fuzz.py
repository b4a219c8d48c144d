"""Bad input at POST /api/v1/alerts: whole-body faults get a 4xx naming the reason, faulty items of a batch are
rejected one by one (index, field, reason) while the valid items of the same batch are stored, and nothing is
ever a 5xx. Bodies: truncated JSON, wrong encodings, deep nesting, 10 MB strings, NUL bytes, numbers and times
out of range, and every format adapter fed every other format's real samples."""

from __future__ import annotations

import itertools
import json

import pytest
from django_tenants.utils import schema_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mdr.alerts.adapters import FORMATS
from mdr.alerts.models import Alert
from tests.alerts.adapters.samples import other_formats_records, records, sample_formats
from tests.alerts.test_ingest_api import native, post

_ids = itertools.count(10_000)


def valid(**extra) -> dict:
    """A valid native alert with an id of its own (never a duplicate of an earlier one)."""
    return native(next(_ids), **extra)


def stored(external_id: str) -> bool:
    with schema_context("acme"):
        return Alert.objects.filter(external_id=external_id).exists()


def check_batch(response, *, valid_indexes: list[int], bad_indexes: list[int]) -> dict:
    """202; every bad item rejected with a field and a non-empty reason; every valid item accepted and stored."""
    assert response.status_code == 202, response.content[:500]
    body = response.json()
    rejected = {r["index"]: r["errors"] for r in body["rejected"]}
    assert sorted(rejected) == sorted(bad_indexes), body["rejected"]
    for errors in rejected.values():
        assert errors and all(isinstance(field, str) and field and messages for field, messages in errors.items())
        assert all(isinstance(m, str) and m for messages in errors.values() for m in messages), errors
    accepted = {a["index"]: a["id"] for a in body["alerts"]}
    assert sorted(accepted) == sorted(valid_indexes), body
    with schema_context("acme"):
        assert Alert.objects.filter(pk__in=list(accepted.values())).count() == len(set(accepted.values()))
    return rejected


def check_refused(response, status: int, needle: str) -> None:
    assert response.status_code == status, response.content[:500]
    detail = response.json()["detail"]
    assert needle.lower() in detail.lower(), detail


def ndjson(*items) -> bytes:
    return b"\n".join(i if isinstance(i, bytes) else json.dumps(i).encode() for i in items) + b"\n"


# ---- truncated JSON ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("cut", [1, 10, 50, -30, -2, -1])
def test_truncated_json_body_is_400_naming_malformed_json(acme, cut):
    body = json.dumps([valid(), valid()]).encode()[:cut]
    check_refused(post(acme, body), 400, "malformed JSON")


def test_truncated_single_object_is_400(acme):
    check_refused(post(acme, json.dumps(valid()).encode()[:-1]), 400, "malformed JSON")


def test_truncated_ndjson_line_is_rejected_alone(acme):
    first, last = valid(), valid()
    body = ndjson(first, json.dumps(valid()).encode()[:40], last)
    rejected = check_batch(post(acme, body, content_type="application/x-ndjson"), valid_indexes=[0, 2], bad_indexes=[1])
    assert "malformed JSON" in rejected[1]["item"][0]
    assert stored(first["id"]) and stored(last["id"])


# ---- encodings ---------------------------------------------------------------------------------------------

TEXT = {"title": "Réseau compromis — 攻撃", "description": "naïve café"}


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "cp1252", "shift_jis"])
def test_body_in_another_encoding_is_400_naming_utf8(acme, encoding):
    body = json.dumps([valid(**TEXT)], ensure_ascii=False).encode(encoding, errors="replace")
    response = post(acme, body)
    check_refused(response, 400, "UTF-8" if encoding not in ("utf-16-le", "utf-16-be", "utf-32") else "")
    assert response.json()["code"] == "invalid_json"


def test_invalid_utf8_bytes_inside_a_string_are_400(acme):
    body = json.dumps(valid()).encode().replace(b"Suspicious", b"Susp\xc3\x28ious\xff")
    check_refused(post(acme, body), 400, "UTF-8")


def test_utf8_with_bom_is_refused_with_a_reason(acme):
    check_refused(post(acme, b"\xef\xbb\xbf" + json.dumps(valid()).encode()), 400, "")


def test_invalid_utf8_ndjson_line_is_rejected_alone(acme):
    good = valid()
    bad = json.dumps(valid(**TEXT), ensure_ascii=False).encode("latin-1", errors="replace")
    rejected = check_batch(
        post(acme, ndjson(bad, good), content_type="application/x-ndjson"), valid_indexes=[1], bad_indexes=[0]
    )
    assert "UTF-8" in rejected[0]["item"][0]
    assert stored(good["id"])


def test_invalid_utf8_text_line_is_rejected_alone(acme):
    line = "CEF:0|Fortinet|Fortigate|v6|13056|attack|5|src=10.0.0.1 msg=ok"
    body = b"\n".join(
        [
            line.encode(),
            b"CEF:0|Fortinet|Fortigate|v6|13057|caf\xe9|5|src=10.0.0.2",
            line.replace("13056", "13058").encode(),
        ]
    )
    rejected = check_batch(
        post(acme, body, content_type="text/plain", path="/api/v1/alerts?format=cef"),
        valid_indexes=[0, 2],
        bad_indexes=[1],
    )
    assert "UTF-8" in rejected[1]["item"][0]


# ---- nesting and size --------------------------------------------------------------------------------------


def nested(levels: int) -> dict:
    deep: dict = {}
    node = deep
    for _ in range(levels - 1):
        node["x"] = {}
        node = node["x"]
    return deep


def test_100_level_nesting_as_a_single_object_is_400(acme):
    response = post(acme, valid(extra=nested(100)))
    check_refused(response, 400, "nested deeper")
    assert response.json()["code"] == "invalid_item"


def test_100_level_nesting_in_ndjson_is_rejected_alone(acme):
    good = valid()
    rejected = check_batch(
        post(acme, ndjson(valid(extra=nested(100)), good), content_type="application/x-ndjson"),
        valid_indexes=[1],
        bad_indexes=[0],
    )
    assert "nested deeper" in rejected[0]["item"][0]


def test_100_level_nested_arrays_in_a_batch_are_rejected_alone(acme):
    good = valid()
    deep: list = []
    for _ in range(99):
        deep = [deep]
    check_batch(post(acme, [valid(extra=deep), good]), valid_indexes=[1], bad_indexes=[0])


def test_10_mb_string_as_a_single_object_is_413(acme):
    check_refused(post(acme, valid(description="x" * 10_000_000)), 413, "limit")


def test_10_mb_string_over_the_body_limit_is_413(acme):
    check_refused(post(acme, [valid(), valid(description="é" * 10_000_000)]), 413, "body exceeds")


def test_big_string_item_within_the_body_limit_is_rejected_alone(acme):
    good = valid()
    rejected = check_batch(post(acme, [valid(description="x" * 5_000_000), good]), valid_indexes=[1], bad_indexes=[0])
    assert "bytes; the limit is" in rejected[0]["item"][0]


def test_long_strings_within_the_item_limit_are_clipped_not_refused(acme):
    item = valid(title="t" * 200_000, hosts=["h" * 5000], rule={"id": "r" * 10_000, "name": "n" * 10_000})
    check_batch(post(acme, [item]), valid_indexes=[0], bad_indexes=[])
    with schema_context("acme"):
        alert = Alert.objects.get(external_id=item["id"])
        assert len(alert.title) <= 500 and len(alert.rule_id) <= 255


# ---- NUL bytes (PostgreSQL text and jsonb refuse \u0000) ----------------------------------------------------


@pytest.mark.parametrize(
    "field",
    [
        {"title": "nul\u0000title"},
        {"description": "nul\u0000"},
        {"hosts": ["ws\u000001"]},
        {"users": ["al\u0000ice"]},
        {"ips": ["10.0.0.\u00001"]},
        {"rule": {"id": "R\u00001", "name": "n\u0000"}},
        {"tactics": ["TA\u00000001"], "techniques": ["T\u00001059"]},
        {"nul\u0000key": "value"},
        {"id": "evt\u0000nul"},
        {"severity": "hi\u0000gh"},
    ],
)
def test_nul_bytes_anywhere_never_cost_a_5xx(acme, field):
    item, good = valid(**field), valid()
    response = post(acme, [item, good])
    assert response.status_code == 202, response.content[:500]
    body = response.json()
    assert {a["index"] for a in body["alerts"]} | {r["index"] for r in body["rejected"]} == {0, 1}
    assert 1 in {a["index"] for a in body["alerts"]}
    assert stored(good["id"])
    with schema_context("acme"):
        for alert in Alert.objects.all():
            assert "\x00" not in json.dumps(alert.raw) and "\x00" not in alert.title


def test_raw_nul_byte_in_a_cef_line_never_costs_a_5xx(acme):
    line = "CEF:0|Fortinet|Fortigate|v6|13056|attack|5|src=10.0.0.1 msg=ok"
    body = "\n".join([line.replace("attack", "at\x00tack"), line.replace("13056", "13059")]).encode()
    response = post(acme, body, content_type="text/plain", path="/api/v1/alerts?format=cef")
    assert response.status_code == 202, response.content[:500]
    assert 1 in {a["index"] for a in response.json()["alerts"]}


# ---- numbers out of range ----------------------------------------------------------------------------------


@pytest.mark.parametrize("literal", [b"1e400", b"-1e400", b"NaN", b"Infinity", b"-Infinity", str(2**70).encode()])
def test_number_literals_json_cannot_hold_are_refused(acme, literal):
    body = json.dumps(valid(count=0)).encode().replace(b'"count": 0', b'"count": ' + literal)
    response = post(acme, body)
    assert response.status_code in (202, 400), response.content[:500]
    if response.status_code == 400:
        assert "malformed JSON" in response.json()["detail"]


@pytest.mark.parametrize("literal", [b"1e400", b"NaN", str(2**70).encode(), b"-0", b"-0.0", b"1e-400"])
def test_out_of_range_numbers_in_an_ndjson_line_cost_only_that_line(acme, literal):
    good = valid()
    bad = json.dumps(valid(severity=0)).encode().replace(b'"severity": 0', b'"severity": ' + literal)
    response = post(acme, ndjson(bad, good), content_type="application/x-ndjson")
    assert response.status_code == 202, response.content[:500]
    assert 1 in {a["index"] for a in response.json()["alerts"]}
    assert stored(good["id"])


@pytest.mark.parametrize(
    "field",
    [
        {"severity": 2**63},
        {"severity": -(2**63)},
        {"severity": 1e308},
        {"severity": -0.0},
        {"severity": 3.7},
        {"severity": True},
        {"observed_at": 1e308},
        {"observed_at": -1e308},
        {"observed_at": 2**62},
        {"observed_at": -0.0},
        {"observed_at": 253402300800},
        {"observed_at": 253402300800000},
        {"occurrence_count": 2**63},
    ],
)
def test_numbers_out_of_range_in_fields_are_rejected_per_item(acme, field):
    good = valid()
    response = post(acme, [valid(**field), good])
    assert response.status_code == 202, response.content[:500]
    body = response.json()
    assert 1 in {a["index"] for a in body["alerts"]}
    for rejected in body["rejected"]:
        assert rejected["index"] == 0 and rejected["errors"]


# ---- timestamps --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "when",
    [
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00-12:00",
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59-12:00",
        "9999-12-31T23:59:59.999999+00:00",
        "2026-13-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-11-20T25:00:00Z",
        "2026-11-20T10:00:00+24:00",
        "2026-11-20T10:00:00+23:59",
        "2026-11-20T10:00:00-21:52",
        "not a time",
        "",
        "\u0000",
        "2026-11-20T10:00:00",
        "\u0661\u0662\u0663\u0664-01-01T00:00:00Z",
        "+275760-09-13T00:00:00Z",
    ],
)
def test_unusable_times_are_rejected_naming_observed_at(acme, when):
    good = valid()
    response = post(acme, [valid(observed_at=when), good])
    assert response.status_code == 202, response.content[:500]
    body = response.json()
    assert 1 in {a["index"] for a in body["alerts"]} and stored(good["id"])
    for rejected in body["rejected"]:
        assert rejected["index"] == 0 and "observed_at" in rejected["errors"], rejected


def test_year_1_and_9999_are_out_of_range_for_every_json_format_sample(acme):
    """Each JSON format's own first sample with every string value that parses as a time moved to year 1."""
    pytest.importorskip("tests.alerts.adapters.samples")
    good = valid()
    batch = []
    for fmt in sample_formats():
        if fmt == "cef":
            continue
        record = json.loads(json.dumps(records(fmt)[0]))
        batch.append(_shift_times(record, "0001-01-01T00:00:00Z"))
        batch.append(_shift_times(json.loads(json.dumps(records(fmt)[0])), "9999-12-31T23:59:59Z"))
    response = post(acme, [*batch, good])
    assert response.status_code == 202, response.content[:500]
    assert len(batch) in {a["index"] for a in response.json()["alerts"]}


def _shift_times(value, when: str):
    if isinstance(value, dict):
        return {k: _shift_times(v, when) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift_times(v, when) for v in value]
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] in "T ":
        return when
    return value


# ---- every adapter given the other formats' samples -------------------------------------------------------


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "native"])
def test_every_adapter_given_every_other_formats_samples(acme, fmt):
    """Named format, foreign records: each is rejected (or, where the shapes truly overlap, accepted) per item,
    never a 5xx; the format's own sample in the same batch is stored."""
    own = records(fmt)[0]
    foreign = [item for _, item in other_formats_records(fmt)]
    if fmt == "cef":
        body = "\n".join([own, *(json.dumps(i) if isinstance(i, dict) else i for i in foreign)]).encode()
        response = post(acme, body, content_type="text/plain", path=f"/api/v1/alerts?format={fmt}")
    else:
        response = post(acme, [own, *foreign], path=f"/api/v1/alerts?format={fmt}")
    assert response.status_code == 202, response.content[:500]
    body = response.json()
    assert 0 in {a["index"] for a in body["alerts"]}, body["rejected"][:3]
    assert len(body["alerts"]) + len(body["rejected"]) == 1 + len(foreign)
    for rejected in body["rejected"]:
        assert rejected["errors"] and all(rejected["errors"].values()), rejected


def test_native_adapter_given_every_format_sample(acme):
    foreign = [item for _, item in other_formats_records("native")]
    good = valid()
    objects = [i for i in foreign if isinstance(i, dict)]
    response = post(acme, [*objects, good], path="/api/v1/alerts?format=native")
    assert response.status_code == 202, response.content[:500]
    assert len(objects) in {a["index"] for a in response.json()["alerts"]}


# ---- generated payloads ------------------------------------------------------------------------------------

JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
JSON_VALUES = st.recursive(
    JSON_SCALARS, lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
)
FIELDS = ["title", "severity", "observed_at", "id", "hosts", "ips", "users", "rule", "description", "tactics"]


@settings(max_examples=150, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(replacements=st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, min_size=1, max_size=4))
def test_generated_field_values_never_cost_a_5xx_or_the_valid_item(acme, replacements):
    good = valid()
    response = post(acme, [valid(**replacements), good])
    assert response.status_code == 202, response.content[:500]
    body = response.json()
    assert 1 in {a["index"] for a in body["alerts"]}
    for rejected in body["rejected"]:
        assert rejected["index"] == 0 and rejected["errors"], rejected


@settings(max_examples=100, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    data=st.binary(max_size=300),
    content_type=st.sampled_from(["application/json", "application/x-ndjson", "text/plain"]),
)
def test_generated_bodies_never_cost_a_5xx(acme, data, content_type):
    response = post(acme, data, content_type=content_type)
    assert response.status_code < 500, response.content[:500]
    if response.status_code != 202:
        assert response.json()["detail"]
