"""The real-world sample records the adapter tests read: ``../shared/samples/<format>/`` beside the checkout.

One folder per format, one record per line: ``.log`` files hold text lines (CEF), ``.jsonl``/``.json`` files hold
one JSON object per line. The folder sits beside the repository only in CI, so every helper skips the calling test
(with the reason) when it is absent instead of failing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "samples"
SUFFIXES = (".jsonl", ".json", ".log")
ABSENT = "is absent (../shared/samples is only checked out beside the repository in CI)"


def sample_formats() -> list[str]:
    """The formats that have a sample folder, sorted; empty when the samples are absent (safe at collection)."""
    return sorted(p.name for p in SAMPLES.iterdir() if p.is_dir()) if SAMPLES.is_dir() else []


def sample_files(fmt: str) -> list[Path]:
    """The sample files of ``fmt``, sorted; skips the test when its folder is absent."""
    folder = SAMPLES / fmt
    if not folder.is_dir():
        pytest.skip(f"sample folder {folder} {ABSENT}")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in SUFFIXES)


def items(path: Path) -> list:
    """The records of one sample file: text lines (``.log``, CEF) as strings, JSON lines parsed."""
    lines = [line.rstrip("\r\n") for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return lines if path.suffix == ".log" else [json.loads(line) for line in lines]


def records(fmt: str) -> list:
    """Every record of every sample file of ``fmt``, in file order; skips the test when its folder is absent."""
    found = [item for path in sample_files(fmt) for item in items(path)]
    assert found, f"no records in {SAMPLES / fmt}"
    return found


def other_formats_records(fmt: str) -> Iterator[tuple[str, object]]:
    """(format, record) for every record of every sample folder other than ``fmt``; skips when samples are absent."""
    if not SAMPLES.is_dir():
        pytest.skip(f"sample folder {SAMPLES} {ABSENT}")
    for other in sample_formats():
        if other != fmt:
            for item in records(other):
                yield other, item
