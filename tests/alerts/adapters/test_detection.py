"""Format detection across adapters, on the real samples: each adapter claims only its own format (no database)."""

from __future__ import annotations

import json

import pytest

from mdr.alerts.adapters import REGISTRY, normalize
from tests.alerts.adapters.samples import other_formats_records, records, sample_formats


def _takes_any_input(adapter) -> bool:
    """Whether ``detect()`` also answers (rather than raises) for items of the other kind (text vs object)."""
    try:
        for item in ("CEF:0|x", {}, None, []):
            adapter.detect(item)
    except (AttributeError, TypeError):
        return False
    return True


def _offered(adapter, item: object) -> list:
    """The forms ``item`` is checked in: as the registry passes it (objects to object adapters, lines to line
    adapters), the JSON text of an object to a line adapter, and anything to an adapter whose detect() takes it."""
    kind = "line" if isinstance(item, str) else "object"
    forms = [item] if kind == adapter.accepts or _takes_any_input(adapter) else []
    if adapter.accepts == "line" and isinstance(item, dict):
        forms.append(json.dumps(item))
    return forms


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_detect_rejects_every_record_of_the_other_formats(name):
    # given
    adapter = REGISTRY[name]
    others = list(other_formats_records(name))

    # when
    matched = [
        (fmt, index, form)
        for index, (fmt, item) in enumerate(others)
        for form in _offered(adapter, item)
        if adapter.detect(form)
    ]

    # then: every other folder was read (at least 8), and the whole sample set is not a trimmed one
    assert {fmt for fmt, _ in others} == set(sample_formats()) - {name}
    assert len(set(sample_formats()) - {name}) >= 8
    assert len(others) + (len(records(name)) if name in sample_formats() else 0) > 500
    assert matched == []


@pytest.mark.parametrize("fmt", sample_formats() or ["(samples absent)"])
def test_every_sample_record_is_auto_detected_as_its_folders_format(fmt):
    # given
    items = records(fmt)

    # when
    detected = [normalize(item).source_format for item in items]

    # then
    assert fmt in REGISTRY
    assert [(index, found) for index, found in enumerate(detected) if found != fmt] == []
