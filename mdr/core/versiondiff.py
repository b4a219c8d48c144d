"""The one diff of two versions of anything (contract versions, SLA policies, escalation matrices, calendars).

Each kind has a selector that turns a version into plain data (dicts, lists, scalars); ``version_diff`` compares
two such values and returns one row per difference, with the path to it and the old and new values. Dicts are
compared key by key (a key on one side only is one added or removed row carrying the whole value, not one row per
nested field); lists of objects are compared position by position (``rules[1].levels[0]``); lists of plain values
(holidays, channels, contact names) are values themselves. Selectors key lists whose order means nothing (scope
items, entitlements) by what identifies an element, so a reordering is no change and an edit is one row.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext

ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class DiffRow:
    """One difference: ``path`` from the root (``("rules", 1, "levels", 0, "wait_minutes")``), ``kind`` one of
    added / removed / changed, ``old`` and ``new`` the values (None on the side where there is none)."""

    path: tuple
    kind: str
    old: Any = None
    new: Any = None

    @property
    def section(self) -> str:
        """The first step of the path: what part of the version the row is about."""
        return str(self.path[0]) if self.path else ""

    @property
    def label(self) -> str:
        return path_label(self.path)

    @property
    def old_text(self) -> str:
        return value_text(self.old) if self.kind != ADDED else ""

    @property
    def new_text(self) -> str:
        return value_text(self.new) if self.kind != REMOVED else ""


def path_label(path: tuple) -> str:
    """``("rules", 1, "levels", 0, "wait_minutes")`` -> ``rules[1].levels[0].wait_minutes``; keys that are not plain
    names are quoted (``scope_items["host:web-01"]``)."""
    out = ""
    for step in path:
        if isinstance(step, int) and not isinstance(step, bool):
            out += f"[{step}]"
        elif _PLAIN_KEY.fullmatch(str(step)):
            out += f".{step}" if out else str(step)
        else:
            out += f"[{json.dumps(str(step), ensure_ascii=False)}]"
    return out


def value_text(value: Any) -> str:
    """A value as one readable line: text as is, yes/no, lists joined by commas, objects as compact JSON."""
    if value is None:
        return "–"  # noqa: RUF001
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return ", ".join(value_text(v) for v in value) if value else "[]"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def _is_object_list(value: Any) -> bool:
    return isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value)


def version_diff(old: Any, new: Any) -> list[DiffRow]:
    """Every difference between ``old`` and ``new`` in document order (``new``'s keys first, then keys only
    ``old`` has). ``old`` None means "no previous version": everything in ``new`` is added."""
    rows: list[DiffRow] = []
    if old is None:
        if isinstance(new, dict):
            return [DiffRow((key,), ADDED, None, value) for key, value in new.items()]
        return [] if new is None else [DiffRow((), ADDED, None, new)]
    _walk((), old, new, rows)
    return rows


def _walk(path: tuple, old: Any, new: Any, rows: list[DiffRow]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key, value in new.items():
            if key not in old:
                rows.append(DiffRow((*path, key), ADDED, None, value))
            else:
                _walk((*path, key), old[key], value, rows)
        for key, value in old.items():
            if key not in new:
                rows.append(DiffRow((*path, key), REMOVED, value, None))
        return
    if _is_object_list(old) and _is_object_list(new):
        for index in range(max(len(old), len(new))):
            if index >= len(old):
                rows.append(DiffRow((*path, index), ADDED, None, new[index]))
            elif index >= len(new):
                rows.append(DiffRow((*path, index), REMOVED, old[index], None))
            else:
                _walk((*path, index), old[index], new[index], rows)
        return
    if old != new or (type(old) is not type(new) and not _same_number(old, new)):
        rows.append(DiffRow(path, CHANGED, old, new))


def _same_number(old: Any, new: Any) -> bool:
    """1 and 1.0 are the same goal; True and 1 are not the same setting."""
    numbers = (int, float)
    return (
        isinstance(old, numbers)
        and isinstance(new, numbers)
        and not isinstance(old, bool)
        and not isinstance(new, bool)
        and old == new
    )


def diff_sections(rows: list[DiffRow]) -> dict[str, list[DiffRow]]:
    """The rows grouped by section, in order (for a table per part of the version)."""
    out: dict[str, list[DiffRow]] = {}
    for row in rows:
        out.setdefault(row.section, []).append(row)
    return out
