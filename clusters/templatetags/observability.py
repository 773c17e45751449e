"""Filters for the observability pages: rates in MB/s, lags in words, shares of a limit."""

from django import template

from clusters.observability import words

register = template.Library()
register.filter("mbps", words.mbps)
register.filter("share", words.share)
register.filter("lag_duration", words.lag_duration)


@register.filter
def per_second(value) -> str:
    return f"{value or 0:,.0f}/s"


@register.filter
def count(value) -> str:
    return f"{value or 0:,.0f}"


@register.filter
def div_share(value, limit) -> str:
    """Rate and its limit → "81 %"."""
    return words.share((value or 0) / limit if limit else 0)
