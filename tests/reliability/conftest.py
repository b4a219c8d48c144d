"""The fault suite: every test here runs in ``make test`` unless marked ``slow_reliability`` (longer outages, none
yet), which run only with ``MDR_SLOW_RELIABILITY=1`` (``make test-reliability``, which runs the whole suite)."""

import os

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "slow_reliability: fault tests run by `make test-reliability` only")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("MDR_SLOW_RELIABILITY") == "1":
        return
    skip = pytest.mark.skip(reason="slow fault test: run `make test-reliability` (MDR_SLOW_RELIABILITY=1)")
    for item in items:
        if "slow_reliability" in item.keywords:
            item.add_marker(skip)
