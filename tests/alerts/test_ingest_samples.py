"""Every real sample record goes through the HTTP ingest path: with its format named and auto-detected."""

from pathlib import Path

import pytest
from django_tenants.utils import schema_context

from mdr.alerts.models import Alert
from tests.alerts.test_ingest_api import post

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples"
FORMATS = ["cef", "crowdstrike", "ecs", "guardduty", "ocsf", "sentinel", "splunk", "suricata", "wazuh"]


def _body(fmt: str) -> tuple[bytes, str, int]:
    if not SAMPLES.is_dir():
        pytest.skip(f"shared samples not found at {SAMPLES} (they sit beside the checkout in CI)")
    files = sorted((SAMPLES / fmt).iterdir())
    lines = [line for f in files for line in f.read_bytes().splitlines() if line.strip()]
    content_type = "text/plain" if fmt == "cef" else "application/x-ndjson"
    return b"\n".join(lines) + b"\n", content_type, len(lines)


@pytest.mark.parametrize("fmt", FORMATS)
def test_sample_file_is_ingested_completely_with_format_named(acme, fmt):
    # given
    body, content_type, count = _body(fmt)
    # when
    response = post(acme, body, content_type=content_type, path=f"/api/v1/alerts?format={fmt}")
    # then
    assert response.status_code == 202
    result = response.json()
    assert result["rejected"] == []
    assert result["accepted"] + result["duplicates"] == count
    with schema_context("acme"):
        assert Alert.objects.filter(source_format=fmt).count() == result["accepted"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_sample_file_is_ingested_completely_with_format_detected(acme, fmt):
    body, content_type, count = _body(fmt)
    response = post(acme, body, content_type=content_type)
    assert response.status_code == 202
    result = response.json()
    assert result["rejected"] == []
    assert result["accepted"] == count  # every sample record is a distinct alert
    with schema_context("acme"):
        assert Alert.objects.filter(source_format=fmt).count() == count


def test_every_format_mixed_in_one_batch_is_detected(acme):
    # given: the first two records of every JSON format, shuffled together
    import json

    items = []
    for fmt in FORMATS:
        if fmt == "cef":
            continue
        body, _, _ = _body(fmt)
        items += [json.loads(line) for line in body.splitlines()[:2]]
    # when
    response = post(acme, items)
    # then
    assert response.status_code == 202
    assert response.json()["rejected"] == []
    with schema_context("acme"):
        assert set(Alert.objects.values_list("source_format", flat=True)) == set(FORMATS) - {"cef"}
