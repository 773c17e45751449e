"""The audit trail in words on pages (`portal.audit_wording`); the CSV export keeps the codes."""

from django import template

from portal import audit_wording

register = template.Library()


@register.filter
def action_label(code: str) -> str:
    return audit_wording.action_label(code)


@register.filter
def audit_details(event) -> str:
    return " · ".join(audit_wording.detail_phrases(event))
