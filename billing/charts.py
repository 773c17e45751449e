"""Server-rendered inline SVG charts (no JavaScript, no CDN): a bar per month with its amount as a title."""

from __future__ import annotations

from decimal import Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from billing.pricing import usd

WIDTH, HEIGHT = 720, 220
LEFT, BOTTOM, TOP = 76, 28, 12  # LEFT: room for the scale label, e.g. "$12,345.67" at 11px


def trend_svg(points: list[dict], *, title: str) -> SafeString:
    """`points`: [{"month": date, "total": Decimal, "status": str}] oldest first → an accessible bar chart."""
    top = max((point["total"] for point in points), default=Decimal(0)) or Decimal(1)
    plot_height = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / max(len(points), 1)
    bars = []
    for index, point in enumerate(points):
        height = float(point["total"] / top) * plot_height
        x = LEFT + index * slot + slot * 0.15
        y = TOP + plot_height - height
        status = f" ({point['status']})" if point["status"] else " (no run)"
        bars.append(
            (
                "provisional" if point["status"] == "provisional" else "final",
                f"{x:.1f}",
                f"{y:.1f}",
                f"{slot * 0.7:.1f}",
                f"{height:.1f}",
                f"{point['month']:%Y-%m}: {usd(point['total'])}{status}",
                f"{x + slot * 0.35:.1f}",
                HEIGHT - BOTTOM + 16,
                f"{point['month']:%b}",
            )
        )
    return format_html(
        '<svg class="trend" viewBox="0 0 {} {}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">'
        "<title>{}</title>"
        '<line x1="{}" y1="{}" x2="{}" y2="{}" class="axis"/>'
        '<text x="{}" y="{}" class="scale" text-anchor="end">{}</text>'
        '<text x="{}" y="{}" class="scale" text-anchor="end">$0</text>'
        "{}</svg>",
        WIDTH,
        HEIGHT,
        title,
        title,
        LEFT,
        HEIGHT - BOTTOM,
        WIDTH,
        HEIGHT - BOTTOM,
        LEFT - 6,
        TOP + 10,
        usd(top),
        LEFT - 6,
        HEIGHT - BOTTOM,
        format_html_join(
            "",
            '<rect class="bar {}" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>'
            '<text x="{}" y="{}" class="label" text-anchor="middle">{}</text>',
            bars,
        ),
    )
