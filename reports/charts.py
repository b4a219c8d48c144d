"""Server-side SVG charts for the monthly report: hand-written bar and line charts, no JavaScript, no plotting
library, rendered by WeasyPrint natively.

Every chart is a self-contained ``<svg>`` string meant to be inlined in the report HTML (marked safe there), so
this module is where escaping happens: every piece of text that reaches the SVG (labels, legend, values, the
accessible name) goes through ``_esc``. Rule names, categories and hosts are attacker-influenced. Text uses the
report's font stack with "Noto Sans CJK JP" first (WeasyPrint resolves SVG fonts through fontconfig like HTML
text, so a stack without the CJK family renders Japanese labels as tofu).
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Sequence
from html import escape

FONT_FAMILY = "'Noto Sans CJK JP', 'Noto Sans', 'DejaVu Sans', sans-serif"
PRIMARY = "#1f4e79"
PALETTE = ("#1f4e79", "#c0504d", "#4f8a3c", "#8064a2", "#d9822b", "#2c9ab7")
AXIS = "#555555"
GRID = "#dddddd"
TEXT = "#222222"
MUTED = "#777777"
FONT_SIZE = 9.0
ELLIPSIS = "\u2026"

Formatter = Callable[[float], str]


def _esc(text: object) -> str:
    return escape(str(text), quote=True)


def _num(value: float) -> str:
    """A coordinate: short and stable (no float noise in the output, so renders are reproducible)."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def default_format(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def text_width(text: str, font_size: float = FONT_SIZE) -> float:
    """Rough advance width: full-width (CJK) characters are 1 em, others about 0.58 em."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in ("W", "F") else 0.58 for ch in text) * font_size


def fit(text: str, max_width: float, font_size: float = FONT_SIZE) -> str:
    """``text`` cut with an ellipsis so it fits ``max_width`` (an estimate; labels are never wrapped)."""
    text = " ".join(str(text).split())
    if text_width(text, font_size) <= max_width:
        return text
    out = ""
    for ch in text:
        if text_width(out + ch + ELLIPSIS, font_size) > max_width:
            break
        out += ch
    return out + ELLIPSIS


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 x 10^k steps) covering [low, high]."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value < high + step * 0.999:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _svg_open(width: float, height: float, label: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{_num(width)}" height="{_num(height)}" '
        f'viewBox="0 0 {_num(width)} {_num(height)}" font-family="{FONT_FAMILY}" font-size="{_num(FONT_SIZE)}" '
        f'role="img" aria-label="{_esc(label)}">'
    ]


def _text(x: float, y: float, text: str, *, anchor: str = "start", fill: str = TEXT, size: float | None = None) -> str:
    size_attr = f' font-size="{_num(size)}"' if size else ""
    return f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}" fill="{fill}"{size_attr}>{_esc(text)}</text>'


def _no_data(parts: list[str], width: float, height: float, empty_label: str) -> str:
    parts.append(
        f'<rect x="0.5" y="0.5" width="{_num(width - 1)}" height="{_num(height - 1)}" fill="none" stroke="{GRID}"/>'
    )
    parts.append(_text(width / 2, height / 2 + FONT_SIZE / 3, empty_label, anchor="middle", fill=MUTED))
    parts.append("</svg>")
    return "".join(parts)


def _check_color(color: str) -> str:
    # Colours end up in attributes; only plain hex is accepted so no caller can inject markup through them.
    if not (color.startswith("#") and len(color) in (4, 7) and all(c in "0123456789abcdefABCDEF" for c in color[1:])):
        raise ValueError(f"colour must be #rgb or #rrggbb, not {color!r}")
    return color


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    width: float = 340,
    height: float = 200,
    horizontal: bool = False,
    color: str = PRIMARY,
    value_format: Formatter = default_format,
    title: str = "",
    empty_label: str = "no data",
) -> str:
    """Bars for ``items`` ((label, value) pairs, drawn in the given order) with the value on each bar.

    Vertical bars suit a few short labels (severities, priorities); ``horizontal=True`` suits long labels
    (categories, tactics, rules): labels on the left, cut with an ellipsis to at most 40 % of the width.
    ``title`` is the chart's accessible name (not drawn). All zeros or no items draws ``empty_label``.
    """
    color = _check_color(color)
    parts = _svg_open(width, height, title)
    values = [max(float(v or 0), 0.0) for _, v in items]
    if not items or not any(values):
        return _no_data(parts, width, height, empty_label)
    top = max(values)
    if horizontal:
        longest = max(text_width(fit(str(k), width * 0.4)) for k, _ in items)
        left = min(width * 0.4, longest) + 8
        right = max(text_width(value_format(v)) for v in values) + 8
        plot_w = max(width - left - right, 10)
        slot = (height - 8) / len(items)
        bar_h = max(min(slot * 0.7, 18), 2)
        parts.append(f'<line x1="{_num(left)}" y1="4" x2="{_num(left)}" y2="{_num(height - 4)}" stroke="{AXIS}"/>')
        for i, ((label, _), value) in enumerate(zip(items, values, strict=True)):
            y = 4 + i * slot + (slot - bar_h) / 2
            bar_w = plot_w * value / top
            parts.append(
                f'<rect x="{_num(left)}" y="{_num(y)}" width="{_num(bar_w)}" height="{_num(bar_h)}" fill="{color}"/>'
            )
            baseline = y + bar_h / 2 + FONT_SIZE / 3
            parts.append(_text(left - 4, baseline, fit(str(label), left - 8), anchor="end"))
            parts.append(_text(left + bar_w + 3, baseline, value_format(value)))
        parts.append("</svg>")
        return "".join(parts)

    ticks = nice_ticks(0, top)
    axis_max = ticks[-1]
    left = max(text_width(value_format(t)) for t in ticks) + 8
    bottom, head = 18.0, 14.0
    plot_w, plot_h = width - left - 4, height - bottom - head
    for tick in ticks:
        y = head + plot_h - plot_h * tick / axis_max
        parts.append(f'<line x1="{_num(left)}" y1="{_num(y)}" x2="{_num(width - 4)}" y2="{_num(y)}" stroke="{GRID}"/>')
        parts.append(_text(left - 4, y + FONT_SIZE / 3, value_format(tick), anchor="end", fill=MUTED))
    slot = plot_w / len(items)
    bar_w = slot * 0.62
    for i, ((label, _), value) in enumerate(zip(items, values, strict=True)):
        x = left + i * slot + (slot - bar_w) / 2
        bar_h = plot_h * value / axis_max
        y = head + plot_h - bar_h
        parts.append(f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(bar_w)}" height="{_num(bar_h)}" fill="{color}"/>')
        parts.append(_text(x + bar_w / 2, y - 3, value_format(value), anchor="middle", size=FONT_SIZE - 1))
        parts.append(_text(x + bar_w / 2, height - 5, fit(str(label), slot - 2), anchor="middle"))
    parts.append(
        f'<line x1="{_num(left)}" y1="{_num(head + plot_h)}" x2="{_num(width - 4)}" y2="{_num(head + plot_h)}" '
        f'stroke="{AXIS}"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    series: dict[str, Sequence[float | None]],
    labels: Sequence[str],
    *,
    width: float = 340,
    height: float = 200,
    colors: Sequence[str] = PALETTE,
    y_min: float | None = 0,
    y_max: float | None = None,
    value_format: Formatter = default_format,
    tick_format: Formatter | None = None,
    title: str = "",
    empty_label: str = "no data",
) -> str:
    """One line per series over ``labels`` (x axis), values printed at each point.

    ``None`` is a gap: the line breaks there (a month without data is not drawn as zero). ``y_min=None``
    fits the axis to the data (for percentages near 100 %); ``y_max`` caps it (100 for percentages).
    A legend is drawn when there is more than one series. No value at all draws ``empty_label``.
    ``tick_format`` formats the axis (default: ``value_format``), e.g. whole percentages beside 98.7 values.
    """
    tick_format = tick_format or value_format
    colors = [_check_color(c) for c in colors]
    parts = _svg_open(width, height, title)
    present = [float(v) for values in series.values() for v in values if v is not None]
    if not labels or not present:
        return _no_data(parts, width, height, empty_label)
    low = min(present) if y_min is None else y_min
    high = max(present)
    if y_min is None:
        low = max(math.floor((low - 1) / 5) * 5, 0)
    ticks = nice_ticks(low, high if high > low else low + 1)
    if y_max is not None:
        ticks = [t for t in ticks if t <= y_max] or [low, y_max]
        if ticks[-1] < high:
            ticks.append(y_max)
    axis_low, axis_high = ticks[0], ticks[-1]
    span = (axis_high - axis_low) or 1.0

    legend_h = 14.0 if len(series) > 1 else 0.0
    left = max(text_width(tick_format(t)) for t in ticks) + 8
    head, bottom, right = 14.0 + legend_h, 18.0, 14.0
    plot_w, plot_h = width - left - right, height - head - bottom

    def y_of(value: float) -> float:
        return head + plot_h - plot_h * (value - axis_low) / span

    def x_of(index: int) -> float:
        return left + (plot_w * (index + 0.5) / len(labels))

    for tick in ticks:
        y = y_of(tick)
        parts.append(
            f'<line x1="{_num(left)}" y1="{_num(y)}" x2="{_num(left + plot_w)}" y2="{_num(y)}" stroke="{GRID}"/>'
        )
        parts.append(_text(left - 4, y + FONT_SIZE / 3, tick_format(tick), anchor="end", fill=MUTED))
    parts.append(
        f'<line x1="{_num(left)}" y1="{_num(head + plot_h)}" x2="{_num(left + plot_w)}" y2="{_num(head + plot_h)}" '
        f'stroke="{AXIS}"/>'
    )
    slot = plot_w / len(labels)
    for i, label in enumerate(labels):
        parts.append(_text(x_of(i), height - 5, fit(str(label), slot - 2), anchor="middle"))

    legend_x = left
    for s, (name, values) in enumerate(series.items()):
        color = colors[s % len(colors)]
        if legend_h:
            parts.append(f'<rect x="{_num(legend_x)}" y="4" width="9" height="9" fill="{color}"/>')
            legend_text = fit(str(name), width / max(len(series), 1) - 20)
            parts.append(_text(legend_x + 12, 12, legend_text))
            legend_x += text_width(legend_text) + 26
        segment: list[str] = []
        segments: list[list[str]] = []
        for i, value in enumerate(values[: len(labels)]):
            if value is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            segment.append(f"{_num(x_of(i))},{_num(y_of(float(value)))}")
        if segment:
            segments.append(segment)
        for points in segments:
            if len(points) > 1:
                parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{color}" stroke-width="1.6"/>')
        for i, value in enumerate(values[: len(labels)]):
            if value is None:
                continue
            x, y = x_of(i), y_of(float(value))
            parts.append(f'<circle cx="{_num(x)}" cy="{_num(y)}" r="2.4" fill="{color}"/>')
            # Values alternate above/below by series so two lines close together stay readable.
            dy = -5 if s % 2 == 0 else FONT_SIZE + 3
            parts.append(_text(x, y + dy, value_format(float(value)), anchor="middle", fill=color, size=FONT_SIZE - 1))
    parts.append("</svg>")
    return "".join(parts)
