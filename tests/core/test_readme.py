"""README's configuration table lists every environment variable the code reads, and nothing else."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "mdr" / "settings.py", ROOT / "mdr" / "settings_test.py", *(ROOT / "tools").glob("*.py")]
READ = re.compile(r'(?:env\.[a-z_]+|environ\.get|environ\.setdefault|getenv)\(\s*"([A-Z][A-Z0-9_]+)"')


def _read_by_code() -> set[str]:
    names = set()
    for path in SOURCES:
        names |= set(READ.findall(path.read_text()))
    return names - {"DJANGO_SETTINGS_MODULE"}


def _documented() -> set[str]:
    text = (ROOT / "README.md").read_text()
    table = text[text.index("## Configuration") : text.index("## API overview")]
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", table, flags=re.M))


def test_every_variable_read_is_documented():
    missing = _read_by_code() - _documented()
    assert not missing, f"add to README's configuration table: {sorted(missing)}"


def test_every_documented_variable_is_read():
    stale = _documented() - _read_by_code()
    assert not stale, f"README documents variables nothing reads: {sorted(stale)}"
