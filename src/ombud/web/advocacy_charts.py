"""Server-rendered inline SVG charts for the advocacy pages: a line chart with an optional dashed
baseline, a sparkline and horizontal bars. No JavaScript and nothing from a CDN.

Every chart is accessible: the ``<svg>`` has ``role="img"`` with a ``<title>`` and a ``<desc>``, and the
numbers are repeated as a visually hidden table (line chart, bars) or text (sparkline) so a screen reader
can read them. Every label is escaped; the result is a ``markupsafe.Markup`` safe to drop in a template.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from markupsafe import Markup, escape

# Inline so the hidden text stays hidden where the stylesheet is not loaded (an email, a saved page).
HIDDEN = "position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap"
LINE = "#1f4e8c"
BASELINE = "#767676"
BAR = "#1f4e8c"
_ids = itertools.count(1)


def _num(value: float) -> str:
    """A number for people: integers without a decimal point, others with at most two decimals."""
    if value == int(value):
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _finite(value: float) -> float:
    value = float(value)
    return value if math.isfinite(value) else 0.0


def _safe(html: str) -> Markup:
    """Mark the built SVG as safe: every piece of outside text in it went through ``escape`` above."""
    return Markup(html)  # noqa: S704 - all interpolated text is escaped where it is built


def _uid(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def _hidden_table(caption: str, rows: Sequence[tuple[str, str]], headers: tuple[str, str]) -> str:
    body = "".join(f"<tr><th scope='row'>{escape(a)}</th><td>{escape(b)}</td></tr>" for a, b in rows)
    return (
        f'<table class="visually-hidden" style="{HIDDEN}"><caption>{escape(caption)}</caption>'
        f"<thead><tr><th scope='col'>{escape(headers[0])}</th><th scope='col'>{escape(headers[1])}</th>"
        f"</tr></thead><tbody>{body}</tbody></table>"
    )


def line_chart(
    series: Sequence[tuple[str, float]],
    *,
    baseline: Sequence[float] | None = None,
    width: int = 640,
    height: int = 220,
    title: str = "",
    unit: str = "",
) -> Markup:
    """Return a figure with an SVG line over ``series`` (label, value), the ``baseline`` (one value per
    point) drawn dashed, axis labels, and the numbers as a visually hidden table."""
    labels = [str(label) for label, _ in series]
    values = [_finite(v) for _, v in series]
    base = [_finite(v) for v in baseline][: len(values)] if baseline is not None else []
    uid = _uid("chart")
    if not values:
        return _safe(
            f'<figure class="chart chart-empty"><svg role="img" aria-labelledby="{uid}-t" width="{width}" '
            f'height="24" viewBox="0 0 {width} 24" xmlns="http://www.w3.org/2000/svg">'
            f'<title id="{uid}-t">{escape(title)}: no data</title>'
            f'<text x="0" y="16" font-size="12">No data</text></svg></figure>'
        )
    pad_left, pad_right, pad_top, pad_bottom = 44, 8, 12, 36
    plot_w = max(width - pad_left - pad_right, 1)
    plot_h = max(height - pad_top - pad_bottom, 1)
    low = min([*values, *base, 0.0])
    top = max([*values, *base, 0.0])
    span = (top - low) or 1.0
    step = plot_w / max(len(values) - 1, 1)

    def x_at(i: int) -> float:
        return pad_left + (i * step if len(values) > 1 else plot_w / 2)

    def y_at(v: float) -> float:
        return pad_top + plot_h - plot_h * (v - low) / span

    axis_y = height - pad_bottom
    parts = [
        f'<line x1="{pad_left}" y1="{pad_top}" x2="{pad_left}" y2="{axis_y}" stroke="{BASELINE}"/>',
        f'<line x1="{pad_left}" y1="{axis_y}" x2="{width - pad_right}" y2="{axis_y}" stroke="{BASELINE}"/>',
        f'<text x="{pad_left - 4}" y="{pad_top + 4}" text-anchor="end" font-size="11">'
        f"{escape(_num(top))}{escape(unit)}</text>",
        f'<text x="{pad_left - 4}" y="{axis_y}" text-anchor="end" font-size="11">'
        f"{escape(_num(low))}{escape(unit)}</text>",
    ]
    if base:
        points = " ".join(f"{x_at(i):.1f},{y_at(v):.1f}" for i, v in enumerate(base))
        if len(base) == 1:
            parts.append(
                f'<line class="baseline" x1="{pad_left}" y1="{y_at(base[0]):.1f}" x2="{width - pad_right}" '
                f'y2="{y_at(base[0]):.1f}" stroke="{BASELINE}" stroke-dasharray="4 3"/>'
            )
        else:
            parts.append(
                f'<polyline class="baseline" points="{points}" fill="none" stroke="{BASELINE}" '
                f'stroke-width="1.5" stroke-dasharray="4 3"/>'
            )
    if len(values) > 1:
        points = " ".join(f"{x_at(i):.1f},{y_at(v):.1f}" for i, v in enumerate(values))
        parts.append(
            f'<polyline class="series" points="{points}" fill="none" stroke="{LINE}" stroke-width="2"/>'
        )
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        parts.append(
            f'<circle cx="{x_at(i):.1f}" cy="{y_at(v):.1f}" r="2.5" fill="{LINE}">'
            f"<title>{escape(label)}: {escape(_num(v))}{escape(unit)}</title></circle>"
        )
    every = max(-(-len(labels) // 8), 1)
    for i, label in enumerate(labels):
        if i % every == 0:
            parts.append(
                f'<text x="{x_at(i):.1f}" y="{axis_y + 14}" text-anchor="middle" font-size="10">'
                f"{escape(label[:16])}</text>"
            )
    desc = (
        f"{len(values)} points from {labels[0]} to {labels[-1]}; lowest {_num(min(values))}{unit}, "
        f"highest {_num(max(values))}{unit}, last {_num(values[-1])}{unit}"
        + ("; the dashed line is the expected baseline" if base else "")
    )
    rows = [
        (label, f"{_num(v)}{unit}" + (f" (baseline {_num(base[i])}{unit})" if i < len(base) else ""))
        for i, (label, v) in enumerate(zip(labels, values, strict=True))
    ]
    svg = (
        f'<svg class="chart" role="img" aria-labelledby="{uid}-t {uid}-d" width="100%" '
        f'viewBox="0 0 {width} {height}" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg" style="max-width:{width}px">'
        f'<title id="{uid}-t">{escape(title)}</title><desc id="{uid}-d">{escape(desc)}</desc>'
        f"{''.join(parts)}</svg>"
    )
    return _safe(f'<figure class="chart">{svg}{_hidden_table(title, rows, ("Period", "Value"))}</figure>')


def sparkline(values: Sequence[float], *, width: int = 100, height: int = 24, title: str = "Trend") -> Markup:
    """Return a small SVG line of ``values`` (no axes) with the numbers as hidden text."""
    nums = [_finite(v) for v in values]
    numbers = ", ".join(_num(v) for v in nums) or "no data"
    text = f'<span class="visually-hidden" style="{HIDDEN}">{escape(title)}: {escape(numbers)}</span>'
    if not nums:
        return _safe(text)
    low, top = min(nums), max(nums)
    span = (top - low) or 1.0
    step = (width - 2) / max(len(nums) - 1, 1)
    coords = [
        (1 + i * step if len(nums) > 1 else width / 2, height - 2 - (height - 4) * (v - low) / span)
        for i, v in enumerate(nums)
    ]
    if len(coords) > 1:
        shape = (
            f'<polyline points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in coords)}" fill="none" '
            f'stroke="{LINE}" stroke-width="1.5"/>'
        )
    else:
        shape = ""
    x_last, y_last = coords[-1]
    shape += f'<circle cx="{x_last:.1f}" cy="{y_last:.1f}" r="2" fill="{LINE}"/>'
    return _safe(
        f'<svg class="sparkline" aria-hidden="true" focusable="false" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">{shape}</svg>{text}'
    )


def bars(
    items: Sequence[tuple[str, float]],
    *,
    width: int = 480,
    title: str = "",
    unit: str = "",
    row_height: int = 22,
) -> Markup:
    """Return a figure with one horizontal bar per (label, value), the value written beside it, and the
    numbers as a visually hidden table."""
    rows = [(str(label), _finite(v)) for label, v in items]
    uid = _uid("bars")
    if not rows:
        return _safe(
            f'<figure class="chart chart-empty"><svg role="img" aria-labelledby="{uid}-t" width="{width}" '
            f'height="24" viewBox="0 0 {width} 24" xmlns="http://www.w3.org/2000/svg">'
            f'<title id="{uid}-t">{escape(title)}: no data</title>'
            f'<text x="0" y="16" font-size="12">No data</text></svg></figure>'
        )
    label_w, value_w = min(160, width // 3), 60
    plot_w = max(width - label_w - value_w, 1)
    top = max([abs(v) for _, v in rows] + [0.0]) or 1.0
    height = row_height * len(rows) + 4
    parts = []
    for i, (label, v) in enumerate(rows):
        y = 2 + i * row_height
        w = plot_w * abs(v) / top
        short = label if len(label) <= 24 else label[:23] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + row_height * 0.65:.1f}" text-anchor="end" font-size="11">'
            f"{escape(short)}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_height - 6}" fill="{BAR}">'
            f"<title>{escape(label)}: {escape(_num(v))}{escape(unit)}</title></rect>"
            f'<text x="{label_w + w + 4:.1f}" y="{y + row_height * 0.65:.1f}" font-size="11">'
            f"{escape(_num(v))}{escape(unit)}</text>"
        )
    desc = f"{len(rows)} bars; highest {_num(max(v for _, v in rows))}{unit}"
    svg = (
        f'<svg class="chart bars" role="img" aria-labelledby="{uid}-t {uid}-d" width="100%" '
        f'viewBox="0 0 {width} {height}" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg" style="max-width:{width}px">'
        f'<title id="{uid}-t">{escape(title)}</title><desc id="{uid}-d">{escape(desc)}</desc>'
        f"{''.join(parts)}</svg>"
    )
    table = _hidden_table(title, [(label, f"{_num(v)}{unit}") for label, v in rows], ("Item", "Value"))
    return _safe(f'<figure class="chart">{svg}{table}</figure>')
