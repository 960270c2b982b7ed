"""Server-side SVG charts: no JavaScript, readable on a phone, usable with a screen reader.

Every chart is an inline `<svg>` with a `viewBox` and `width="100%"` (it scales to its card),
`role="img"` and a `<title>`/`<desc>` pair named by `aria-labelledby`. Amounts are written as
text next to the shapes (1,234원), so the numbers can be read without hovering. All text is
XML-escaped here; the result is `Markup` so templates insert it as is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 360
ROW = 36
FONT = 'font-family="inherit" font-size="12"'
ACCENT = "#0b5cad"
TRACK = "#eef1f5"
INK = "#1b1f24"
MUTED = "#5b6470"
LABEL_MAX = 18
NO_DATA = {"ko": "표시할 자료가 없습니다.", "en": "No data to show."}


def won(amount: int) -> str:
    """KRW for people: 1,234원."""
    return f"{amount:,}원"


def money(lang: str) -> Callable[[int], str]:
    """The amount format of a language: 1,234원 in Korean, ₩1,234 in English."""
    return won if lang != "en" else (lambda amount: f"₩{amount:,}")


@dataclass(frozen=True)
class Bar:
    """One labelled value."""

    label: str
    value: int
    color: str = ACCENT


def _short(label: str) -> str:
    return label if len(label) <= LABEL_MAX else label[: LABEL_MAX - 1] + "…"


def _open(chart_id: str, title: str, desc: str, height: int) -> str:
    cid = escape(chart_id)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{cid}" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMidYMid meet" '
        f'role="img" aria-labelledby="{cid}-title {cid}-desc" data-chart="{cid}">'
        f'<title id="{cid}-title">{escape(title)}</title>'
        f'<desc id="{cid}-desc">{escape(desc)}</desc>'
    )


def _text(x: float, y: float, body: str, extra: str = "", fill: str = INK) -> str:
    return f'<text x="{x:g}" y="{y:g}" {FONT} fill="{fill}" {extra}>{escape(body)}</text>'


def _empty(chart_id: str, title: str, lang: str) -> Markup:
    message = NO_DATA.get(lang, NO_DATA["ko"])
    body = _open(chart_id, title, message, 40) + _text(0, 24, message, fill=MUTED)
    return Markup(body + "</svg>")  # noqa: S704 (every piece above is escaped)


def _describe(bars: Sequence[Bar], fmt: Callable[[int], str]) -> str:
    return "; ".join(f"{b.label}: {fmt(b.value)}" for b in bars)


def hbar_chart(
    chart_id: str,
    title: str,
    bars: Sequence[Bar],
    lang: str = "ko",
    fmt: Callable[[int], str] = won,
) -> Markup:
    """Horizontal bars, one row each: the label and amount above a bar scaled to the largest."""
    if not bars:
        return _empty(chart_id, title, lang)
    top = max(max(b.value for b in bars), 1)
    parts = [_open(chart_id, title, _describe(bars, fmt), len(bars) * ROW + 4)]
    for i, bar in enumerate(bars):
        y = 4 + i * ROW
        width = round(max(bar.value, 0) / top * WIDTH, 2)
        parts.append(
            f'<g class="row"><title>{escape(bar.label)}: {escape(fmt(bar.value))}</title>'
            + _text(0, y + 12, _short(bar.label))
            + _text(WIDTH, y + 12, fmt(bar.value), 'text-anchor="end" font-weight="600"')
            + f'<rect class="track" x="0" y="{y + 17}" width="{WIDTH}" height="12" rx="3" '
            f'fill="{TRACK}"/>'
            f'<rect class="bar" x="0" y="{y + 17}" width="{width:g}" height="12" rx="3" '
            f'fill="{escape(bar.color)}"/></g>'
        )
    return Markup("".join(parts) + "</svg>")  # noqa: S704 (every piece above is escaped)


def bar_chart(
    chart_id: str,
    title: str,
    bars: Sequence[Bar],
    lang: str = "ko",
    fmt: Callable[[int], str] = won,
) -> Markup:
    """Vertical bars with the amount above each bar and the label below."""
    if not bars:
        return _empty(chart_id, title, lang)
    height, base, plot = 190, 160, 130
    top = max(max(b.value for b in bars), 1)
    slot = WIDTH / len(bars)
    parts = [_open(chart_id, title, _describe(bars, fmt), height)]
    parts.append(f'<line x1="0" y1="{base}.5" x2="{WIDTH}" y2="{base}.5" stroke="#dde2e8"/>')
    for i, bar in enumerate(bars):
        h = round(max(bar.value, 0) / top * plot, 2)
        x, mid = round(i * slot + slot * 0.2, 2), round(i * slot + slot / 2, 2)
        parts.append(
            f'<g class="col"><title>{escape(bar.label)}: {escape(fmt(bar.value))}</title>'
            f'<rect class="bar" x="{x:g}" y="{base - h:g}" width="{round(slot * 0.6, 2):g}" '
            f'height="{h:g}" rx="3" fill="{escape(bar.color)}"/>'
            + _text(mid, base - h - 5, fmt(bar.value), 'text-anchor="middle" font-weight="600"')
            + _text(mid, base + 18, _short(bar.label), 'text-anchor="middle"')
            + "</g>"
        )
    return Markup("".join(parts) + "</svg>")  # noqa: S704 (every piece above is escaped)


def line_chart(
    chart_id: str,
    title: str,
    points: Sequence[Bar],
    lang: str = "ko",
    fmt: Callable[[int], str] = won,
) -> Markup:
    """An area chart over time: labels are dates; the first, last and largest are written."""
    if not points:
        return _empty(chart_id, title, lang)
    height, top_y, base = 170, 22, 140
    top = max(max(p.value for p in points), 1)
    step = WIDTH / max(len(points) - 1, 1)

    def xy(i: int, value: int) -> tuple[float, float]:
        return round(i * step, 2), round(base - max(value, 0) / top * (base - top_y), 2)

    coords = [xy(i, p.value) for i, p in enumerate(points)]
    line = " ".join(f"{x:g},{y:g}" for x, y in coords)
    area = f"0,{base} {line} {coords[-1][0]:g},{base}"
    peak = max(points, key=lambda p: p.value)
    total = sum(p.value for p in points)
    label_max = "최대" if lang != "en" else "Peak"
    label_sum = "합계" if lang != "en" else "Total"
    parts = [_open(chart_id, title, _describe(points, fmt), height)]
    parts.append(
        f'<line x1="0" y1="{base}.5" x2="{WIDTH}" y2="{base}.5" stroke="#dde2e8"/>'
        f'<polygon class="area" points="{area}" fill="{ACCENT}" fill-opacity="0.15"/>'
        f'<polyline class="line" points="{line}" fill="none" stroke="{ACCENT}" '
        f'stroke-width="2" stroke-linejoin="round"/>'
    )
    for (x, y), p in zip(coords, points, strict=True):
        parts.append(
            f'<circle class="point" cx="{x:g}" cy="{y:g}" r="2.5" fill="{ACCENT}">'
            f"<title>{escape(p.label)}: {escape(fmt(p.value))}</title></circle>"
        )
    parts.append(
        _text(0, 12, f"{label_max} {fmt(peak.value)} ({peak.label})", 'font-weight="600"')
        + _text(WIDTH, 12, f"{label_sum} {fmt(total)}", 'text-anchor="end"')
        + _text(0, base + 18, points[0].label, fill=MUTED)
        + _text(WIDTH, base + 18, points[-1].label, 'text-anchor="end"', MUTED)
    )
    return Markup("".join(parts) + "</svg>")  # noqa: S704 (every piece above is escaped)


def stacked_bar(
    chart_id: str,
    title: str,
    parts: Sequence[Bar],
    lang: str = "ko",
    fmt: Callable[[int], str] = won,
) -> Markup:
    """One bar split into parts (e.g. spent / unspent / unclaimed), with a legend of amounts."""
    total = sum(max(p.value, 0) for p in parts)
    if not parts or total == 0:
        return _empty(chart_id, title, lang)
    height = 40 + 22 * len(parts)
    body = [_open(chart_id, title, _describe(parts, fmt), height)]
    x = 0.0
    for part in parts:
        width = max(part.value, 0) / total * WIDTH
        body.append(
            f'<rect class="part" x="{round(x, 2):g}" y="0" width="{round(width, 2):g}" '
            f'height="26" fill="{escape(part.color)}"><title>{escape(part.label)}: '
            f"{escape(fmt(part.value))}</title></rect>"
        )
        x += width
    for i, part in enumerate(parts):
        y = 42 + i * 22
        share = f"{max(part.value, 0) / total * 100:.1f}%"
        body.append(
            f'<g class="legend"><rect x="0" y="{y - 10}" width="12" height="12" rx="2" '
            f'fill="{escape(part.color)}"/>'
            + _text(18, y, _short(part.label))
            + _text(WIDTH, y, f"{fmt(part.value)} ({share})", 'text-anchor="end"')
            + "</g>"
        )
    return Markup("".join(body) + "</svg>")  # noqa: S704 (every piece above is escaped)
