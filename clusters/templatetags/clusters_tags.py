"""Template helpers for the clusters pages and for the pages the `portal` app renders (navigation,
dashboard, team page), which show clusters and requests without `portal` importing `clusters`.

Tables, rows and filter bars are templates (`clusters/_request_table.html`; the long lists'
rows and the bars are Jinja2 templates, `portal/jinja.py`); the helpers here are small values they need, not
HTML built in Python. `utc_minute` serves both engines.
"""

from __future__ import annotations

import datetime as dt
import json

from django import template
from django.urls import reverse

from clusters import selectors
from portal import access

register = template.Library()


@register.inclusion_tag("clusters/_status.html")
def status_badge(obj) -> dict:
    """A request's, cluster's, topic's or grant's status as a labelled badge."""
    return {"value": obj.status, "label": obj.get_status_display()}


@register.inclusion_tag("clusters/_team_link.html", takes_context=True)
def team_link(context, team) -> dict:
    """The team's name, linked to its page only for people who may open it (`portal.access`): another
    team using a shared cluster sees the owner's name, not a link to a 404."""
    linked = access.can_view_team(context["request"].user, team)
    return {"team": team, "url": reverse("portal:team-detail", args=[team.slug]) if linked else ""}


@register.filter
def pretty_json(value) -> str:
    """A policy document as people paste it into IAM."""
    return json.dumps(value, indent=2, sort_keys=False)


@register.filter
def utc_minute(value) -> str:
    """'2026-11-25 12:05' in UTC; much cheaper than |date in long tables."""
    if not value:
        return ""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")


@register.filter
def request_status_label(value: str) -> str:
    """'approved' → 'Approved' (a request's status code, as its history shows it)."""
    return selectors.request_status_label(value)


@register.simple_tag
def request_people(req) -> str:
    """'Requested by alice · approved by ada': who asked and who decided (a list row)."""
    words = f"Requested by {req.requester}"
    if req.approved_by_rule:
        return f"{words} · approved by rule “{req.approved_by_rule}”"
    if req.status == "cancelled":
        return f"{words} · cancelled"
    if req.status in ("approved", "rejected") and req.decided_by:
        return f"{words} · {req.status} by {req.decided_by}"
    return words
