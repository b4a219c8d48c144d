"""The adapter registry: every module in this package registers one format (see ``base``)."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from mdr.alerts.adapters.base import REGISTRY, Adapter, AdapterError, NormalizedAlert

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

FORMATS = tuple(sorted(REGISTRY))
_BY_PRIORITY = sorted(REGISTRY.values(), key=lambda a: (a.detect_priority, a.name))


def adapter_get(name: str) -> Adapter:
    try:
        return REGISTRY[name]
    except KeyError:
        raise AdapterError({"format": f"unknown format {name!r}; one of {', '.join(FORMATS)}"}) from None


def adapter_detect(item: Any) -> Adapter:
    """The first adapter (by priority) that recognises ``item``, or AdapterError saying none did."""
    kind = "line" if isinstance(item, str) else "object" if isinstance(item, dict) else None
    if kind is None:
        raise AdapterError({"item": f"expected a JSON object (or a text line), got {type(item).__name__}"})
    for adapter in _BY_PRIORITY:
        if adapter.accepts == kind and adapter.detect(item):
            return adapter
    raise AdapterError({"format": "format not recognised; pass ?format= with one of " + ", ".join(FORMATS)})


def normalize(item: Any, fmt: str | None = None) -> NormalizedAlert:
    """Normalise one raw item with the named adapter, or the detected one."""
    adapter = adapter_get(fmt) if fmt else adapter_detect(item)
    if adapter.accepts == "object" and not isinstance(item, dict):
        raise AdapterError({"item": f"format {adapter.name!r} expects a JSON object, got {type(item).__name__}"})
    if adapter.accepts == "line" and not isinstance(item, str):
        raise AdapterError({"item": f"format {adapter.name!r} expects a text line"})
    try:
        alert = adapter.normalize(item)
    except AdapterError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        # An adapter bug or a shape it did not foresee is still the item's fault from the client's view:
        # answer per item, never a 500 for the batch.
        raise AdapterError({"item": f"cannot normalise as {adapter.name}: {type(exc).__name__}: {exc}"}) from exc
    return alert.finalize()


__all__ = [
    "FORMATS",
    "REGISTRY",
    "Adapter",
    "AdapterError",
    "NormalizedAlert",
    "adapter_detect",
    "adapter_get",
    "normalize",
]
