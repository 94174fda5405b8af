"""The per-day article count chart of the browse page (`newsarchive serve`): inline SVG built on the server.

Inline SVG needs no script, no font download and no image request, so the chart works offline and under
the page's Content-Security-Policy. Every day between the first and the last one is drawn (a day
without articles is a visible gap, not a missing bar); each bar carries a <title> with its day and count,
which browsers show as a tooltip and screen readers read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from html import escape

WIDTH = 720
HEIGHT = 160
_LEFT = 36  # room for the count labels
_BOTTOM = 20  # room for the day labels
_TOP = 8
# A long selection (years) must not produce a chart of tens of thousands of elements.
MAX_DAYS = 1500


def _days(counts: Mapping[date, int]) -> list[tuple[date, int]]:
    first, last = min(counts), max(counts)
    if (last - first).days >= MAX_DAYS:
        first = last - timedelta(days=MAX_DAYS - 1)
    span = (last - first).days + 1
    return [(d, counts.get(d, 0)) for d in (first + timedelta(days=i) for i in range(span))]


def day_chart_svg(counts: Mapping[date, int]) -> str:
    """An SVG bar chart of articles per published day (JST), or "" when there is nothing to draw."""
    known = {d: n for d, n in counts.items() if n > 0}
    if not known:
        return ""
    days = _days(known)
    total = sum(n for _, n in days)
    peak = max(n for _, n in days)
    plot_w = WIDTH - _LEFT - 4
    plot_h = HEIGHT - _TOP - _BOTTOM
    step = plot_w / len(days)
    bar_w = max(step * 0.8, 0.5)
    label = f"Articles per day, {days[0][0]} to {days[-1][0]}: {total} in all, at most {peak} on one day"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
        f'<line x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{WIDTH - 4}" y2="{_TOP + plot_h}" stroke="#888"/>',
        f'<text x="{_LEFT - 4}" y="{_TOP + 10}" text-anchor="end" font-size="11">{peak}</text>',
        f'<text x="{_LEFT - 4}" y="{_TOP + plot_h}" text-anchor="end" font-size="11">0</text>',
    ]
    for i, (day, n) in enumerate(days):
        if n == 0:
            continue
        h = plot_h * n / peak
        x = _LEFT + i * step + (step - bar_w) / 2
        parts.append(
            f'<rect class="bar" data-day="{day}" data-count="{n}" x="{x:.1f}" y="{_TOP + plot_h - h:.1f}" '
            f'width="{bar_w:.1f}" height="{h:.1f}" fill="#3a6ea5"><title>{day}: {n}</title></rect>'
        )
    baseline = HEIGHT - 5
    parts.append(f'<text x="{_LEFT}" y="{baseline}" font-size="11">{days[0][0]}</text>')
    if len(days) > 1:
        parts.append(
            f'<text x="{WIDTH - 4}" y="{baseline}" text-anchor="end" font-size="11">{days[-1][0]}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
