"""`{% load money %}`: the one way templates show amounts (`{{ cost|usd }}` → `$1,105.11`), metered
quantities with their unit (`{{ quantity|quantity:unit }}` → `12,496 partition-hours`, `11.50 GiB`) and rates
(`{{ price|unit_price:unit }}` → `$0.0015 per partition-hour`); all are `billing.pricing` functions, which
mails, Slack messages and flash messages use too."""

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


@register.filter
def unit_price(value, unit: str) -> str:
    """`pricing.unit_price_text`, "per <unit>" in a span a narrow column wraps before ("$0.0015 / per
    partition-hour")."""
    figure, _, words = pricing.unit_price_text(value, unit).partition(" ")
    return format_html('{} <span class="unit">{}</span>', figure, words) if words else figure
