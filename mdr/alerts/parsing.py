"""Turning an ingest request body into raw items, with the limits enforced while reading.

Accepted bodies: one JSON object, a JSON array, NDJSON (``application/x-ndjson``), or text lines
(``text/plain``, for line formats such as CEF); ``Content-Encoding: gzip`` is decompressed incrementally, so a
small compressed body cannot expand past the limit in memory. Whole-body problems raise ``BodyError`` (a 4xx
with a code and a message that says what is wrong); problems of one item in a batch are reported per item and
never cost the other items.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson

JSON_TYPES = ("application/json",)
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines")
TEXT_TYPES = ("text/plain",)
ACCEPTED_TYPES = JSON_TYPES + NDJSON_TYPES + TEXT_TYPES


class BodyError(Exception):
    """The whole request is refused: ``status`` (400/413/415), a machine ``code`` and a human ``message``."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class RawItem:
    """One item of the body: the parsed value and its serialised JSON (kept for the raw payload column)."""

    index: int
    value: Any = None
    size: int = 0
    error: dict[str, list[str]] | None = None
    dumped: bytes | None = None  # the item as JSON bytes, when already at hand


@dataclass
class ParsedBody:
    items: list[RawItem] = field(default_factory=list)
    single: bool = False  # the body was one JSON object, not a batch


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int
    max_item_bytes: int
    max_items: int
    max_depth: int


def read_body(stream, *, content_encoding: str, limits: Limits) -> bytes:
    """Read at most ``max_body_bytes`` (after decompression) from ``stream``, or raise BodyError 413/400/415."""
    cap = limits.max_body_bytes
    raw = stream.read(cap + 1)
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        if len(raw) > cap:
            raise BodyError(413, "body_too_large", f"request body exceeds the limit of {cap} bytes")
        return raw
    if encoding not in ("gzip", "x-gzip"):
        raise BodyError(415, "unsupported_encoding", f"Content-Encoding {encoding!r} is not supported; use gzip")
    if len(raw) > cap:
        raise BodyError(413, "body_too_large", f"compressed request body exceeds the limit of {cap} bytes")
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = decompressor.decompress(raw, cap + 1)
        if len(out) > cap or decompressor.unconsumed_tail:
            raise BodyError(413, "body_too_large", f"decompressed request body exceeds the limit of {cap} bytes")
        out += decompressor.flush()
    except zlib.error as exc:
        raise BodyError(400, "bad_gzip", f"body is not valid gzip data: {exc}") from None
    if not decompressor.eof:
        raise BodyError(400, "bad_gzip", "gzip data is truncated")
    if len(out) > cap:
        raise BodyError(413, "body_too_large", f"decompressed request body exceeds the limit of {cap} bytes")
    return out


def _json_error(exc: orjson.JSONDecodeError) -> str:
    text = str(exc)
    if "utf-8" in text.lower() or "surrogate" in text.lower():
        return f"not valid UTF-8: {text}"
    if "recursion" in text.lower():
        return "nesting too deep"
    return f"malformed JSON: {text}"


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _json_depth_exceeds(dumped: bytes, limit: int) -> bool:
    """Nesting depth from the JSON text itself: strings removed and everything but brackets dropped at C speed,
    then one pass over the (few) brackets. Much cheaper than walking the parsed value."""
    if dumped.count(b"{") + dumped.count(b"[") <= limit:
        return False
    depth = 0
    for byte in _JSON_STRING.sub(b"", dumped).translate(None, _NOT_BRACKETS):
        if byte in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(current, dict):
            stack.extend((v, depth + 1) for v in current.values() if isinstance(v, dict | list))
        elif isinstance(current, list):
            stack.extend((v, depth + 1) for v in current if isinstance(v, dict | list))
    return False


def _check_item(item: RawItem, limits: Limits) -> RawItem:
    if item.error is not None:
        return item
    if item.size > limits.max_item_bytes:
        item.error = {"item": [f"item is {item.size} bytes; the limit is {limits.max_item_bytes} bytes"]}
    elif isinstance(item.value, dict | list) and (
        _json_depth_exceeds(item.dumped, limits.max_depth)
        if item.dumped is not None
        else _depth_exceeds(item.value, limits.max_depth)
    ):
        item.error = {"item": [f"item is nested deeper than {limits.max_depth} levels"]}
    return item


def parse_body(body: bytes, *, content_type: str, limits: Limits) -> ParsedBody:
    """Split ``body`` into raw items according to ``content_type``."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if not body.strip():
        raise BodyError(400, "empty_body", "request body is empty")
    if media_type in JSON_TYPES or media_type.endswith("+json"):
        return _parse_json(body, limits)
    if media_type in NDJSON_TYPES:
        return _parse_lines(body, limits, as_json=True)
    if media_type in TEXT_TYPES:
        return _parse_lines(body, limits, as_json=False)
    raise BodyError(
        415,
        "unsupported_media_type",
        f"Content-Type {media_type or '(missing)'!r} is not accepted; use one of {', '.join(ACCEPTED_TYPES)}",
    )


def _parse_json(body: bytes, limits: Limits) -> ParsedBody:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BodyError(400, "invalid_json", f"body is {_json_error(exc)}") from None
    if isinstance(value, dict):
        item = _check_item(RawItem(index=0, value=value, size=len(body), dumped=body), limits)
        if item.error and item.size > limits.max_item_bytes:
            raise BodyError(413, "item_too_large", item.error["item"][0])
        return ParsedBody(items=[item], single=True)
    if not isinstance(value, list):
        raise BodyError(400, "invalid_body", f"body must be a JSON object or array, got {type(value).__name__}")
    if len(value) > limits.max_items:
        raise BodyError(413, "too_many_items", f"batch has {len(value)} items; the limit is {limits.max_items}")
    items = []
    for index, element in enumerate(value):
        if not isinstance(element, dict):
            items.append(
                RawItem(index=index, error={"item": [f"expected a JSON object, got {type(element).__name__}"]})
            )
            continue
        # The size of an element is that of its serialisation, which the raw payload column needs anyway.
        dumped = orjson.dumps(element)
        items.append(_check_item(RawItem(index=index, value=element, size=len(dumped), dumped=dumped), limits))
    return ParsedBody(items=items)


def _parse_lines(body: bytes, limits: Limits, *, as_json: bool) -> ParsedBody:
    items: list[RawItem] = []
    index = 0
    for line in body.split(b"\n"):
        line = line.strip()
        if not line:
            continue
        if index >= limits.max_items:
            raise BodyError(413, "too_many_items", f"body has more than {limits.max_items} items")
        item = RawItem(index=index, size=len(line))
        index += 1
        if item.size > limits.max_item_bytes:
            item.error = {"item": [f"item is {item.size} bytes; the limit is {limits.max_item_bytes} bytes"]}
        elif as_json:
            try:
                item.value = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                item.error = {"item": [f"line is {_json_error(exc)}"]}
            else:
                if not isinstance(item.value, dict):
                    item.error = {"item": [f"expected a JSON object, got {type(item.value).__name__}"]}
                else:
                    item.dumped = line
                    _check_item(item, limits)
        else:
            try:
                item.value = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                item.error = {"item": [f"line is not valid UTF-8: {exc}"]}
        items.append(item)
    return ParsedBody(items=items)
