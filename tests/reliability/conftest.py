"""The fault suite: the fast tests run in ``make test``; those marked ``slow_reliability`` (a private PostgreSQL
cluster built from scratch, longer outages) run only with ``MDR_SLOW_RELIABILITY=1`` (``make test-reliability``)."""

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
