"""`{% load money %}`: the one way templates show amounts (`{{ cost|usd }}` → `$1,105.11`) and metered
quantities with their unit (`{{ quantity|quantity:unit }}` → `12,496 partition-hours`, `11.50 GiB`); both are
`billing.pricing` functions, which mails, Slack messages and flash messages use too."""

from __future__ import annotations

from django import template
from django.utils.html import format_html

from billing import pricing

register = template.Library()
register.filter("usd", pricing.usd, is_safe=True)


@register.filter
def quantity(value, unit: str) -> str:
    """`pricing.quantity_text`, its unit in a span that a narrow column wraps before, not at its hyphen
    ("1,440 / partition-hours", not "1,440 partition- / hours")."""
    number, _, words = pricing.quantity_text(value, unit).partition(" ")
    return format_html('{} <span class="unit">{}</span>', number, words) if words else number
