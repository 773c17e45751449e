"""`{% load money %}`: the one way templates show amounts (`{{ cost|usd }}` → `$1,105.11`) and metered
quantities (`{{ quantity|quantity }}` → `12,496`, `11.500907`); both are `billing.pricing` functions, which
mails, Slack messages and flash messages use too."""

from __future__ import annotations

from django import template

from billing import pricing

register = template.Library()
register.filter("usd", pricing.usd, is_safe=True)
register.filter("quantity", pricing.quantity_text, is_safe=True)
