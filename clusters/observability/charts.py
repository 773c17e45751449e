"""Server-rendered throughput charts: inline SVG, no JavaScript, drawn like billing's cost trend.

Two lines (MB/s in and out) over time, each with its limit as a dashed line of the same colour; the
chart's <title> and the table the page puts under it say the same in words for screen readers and text
browsers.
"""

from __future__ import annotations

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from clusters.observability.limits import MB

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, BOTTOM, TOP = 64, 12, 28, 12  # LEFT: room for the scale label, e.g. "400 MB/s" at 11px


def throughput_svg(points, *, limit_in: float, limit_out: float, title: str) -> SafeString:
    """`points`: objects with .at, .rate_in, .rate_out (bytes/s), oldest first."""
    top = max([limit_in, limit_out, *(p.rate_in for p in points), *(p.rate_out for p in points)]) or 1.0
    top *= 1.05
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - BOTTOM - TOP
    first = points[0].at.timestamp() if points else 0
    span = (points[-1].at.timestamp() - first) if len(points) > 1 else 1

    def x(point) -> float:
        return LEFT + (point.at.timestamp() - first) / span * plot_width

    def y(value: float) -> float:
        return TOP + plot_height - value / top * plot_height

    def line(attr: str) -> str:
        return " ".join(f"{x(p):.1f},{y(getattr(p, attr)):.1f}" for p in points)

    limits = [
        ("limit in", y(limit_in), f"in limit {limit_in / MB:,.0f} MB/s"),
        ("limit out", y(limit_out), f"out limit {limit_out / MB:,.0f} MB/s"),
    ]
    labels = (
        [
            (LEFT, "start", f"{points[0].at:%b %d %H:%M}"),
            (WIDTH - RIGHT, "end", f"{points[-1].at:%b %d %H:%M} UTC"),
        ]
        if points
        else []
    )
    return format_html(
        '<svg class="trend throughput" viewBox="0 0 {} {}" role="img" aria-label="{}" '
        'xmlns="http://www.w3.org/2000/svg"><title>{}</title>'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" class="axis"/>'
        '<text x="{}" y="{}" class="scale" text-anchor="end">{} MB/s</text>'
        '<text x="{}" y="{}" class="scale" text-anchor="end">0</text>'
        "{}{}"
        '<polyline class="rate in" points="{}"/><polyline class="rate out" points="{}"/>'
        "{}</svg>",
        WIDTH,
        HEIGHT,
        title,
        title,
        LEFT,
        HEIGHT - BOTTOM,
        WIDTH - RIGHT,
        HEIGHT - BOTTOM,
        LEFT - 6,
        TOP + 10,
        f"{top / MB:,.0f}",
        LEFT - 6,
        HEIGHT - BOTTOM,
        format_html_join(
            "",
            '<line class="{}" x1="{}" y1="{}" x2="{}" y2="{}"/>'
            '<text x="{}" y="{}" class="label" text-anchor="end">{}</text>',
            [
                (cls, LEFT, f"{at:.1f}", WIDTH - RIGHT, f"{at:.1f}", WIDTH - RIGHT, f"{at - 4:.1f}", text)
                for cls, at, text in limits
            ],
        ),
        format_html_join(
            "",
            '<text x="{}" y="{}" class="label" text-anchor="{}">{}</text>',
            [(pos, HEIGHT - BOTTOM + 16, anchor, text) for pos, anchor, text in labels],
        ),
        line("rate_in"),
        line("rate_out"),
        format_html_join(
            "",
            '<circle class="rate {}" cx="{}" cy="{}" r="2"><title>{}</title></circle>',
            [
                (
                    kind,
                    f"{x(p):.1f}",
                    f"{y(getattr(p, f'rate_{kind}')):.1f}",
                    f"{p.at:%Y-%m-%d %H:%M}: {getattr(p, f'rate_{kind}') / MB:,.2f} MB/s {kind}",
                )
                for p in points[-1:]
                for kind in ("in", "out")
            ],
        ),
    )
