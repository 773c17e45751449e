"""Template helpers for the clusters pages and for the pages the `portal` app renders (navigation,
dashboard, team page), which show clusters and requests without `portal` importing `clusters`.

The rows of the two long tables (request list, approval queue) are rendered here in Python with
`format_html`, the way Django's admin renders its change list: a 50-row page through the template engine
costs several times more than the rest of the page. Every value goes through `format_html`, so it is
escaped exactly as `{{ }}` would.
"""

from __future__ import annotations

import datetime as dt
import json

from django import template
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from billing.pricing import usd
from clusters.models import Request
from portal import access

register = template.Library()


@register.inclusion_tag("clusters/_status.html")
def status_badge(obj) -> dict:
    """A request's, cluster's, topic's or grant's status as a labelled badge."""
    return {"value": obj.status, "label": obj.get_status_display()}


@register.simple_tag(takes_context=True)
def team_link(context, team) -> SafeString:
    """The team's name, linked to its page only for people who may open it (`portal.access`): another
    team using a shared cluster sees the owner's name, not a link to a 404."""
    if access.can_view_team(context["request"].user, team):
        return format_html('<a href="{}">{}</a>', reverse("portal:team-detail", args=[team.slug]), team.name)
    return format_html("{}", team.name)


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


# --- Long tables ------------------------------------------------------------------------------------

_PK = 2_147_483_647  # a placeholder id: reverse() once per table, then substitute each row's id


def _url_for(name: str):
    pattern = reverse(name, args=[_PK])
    head, tail = pattern.split(str(_PK), 1)
    return lambda pk: f"{head}{pk}{tail}"


_FLAGGED = format_html(
    '<span class="flag" title="{}">flagged</span>', "Takes more than the soft limit of a quota"
)
_NOT_FLAGGED = format_html('<span class="muted">{}</span>', "—")
_OWN_REQUEST = format_html('<p class="muted">{}</p>', "Your request — another admin must decide.")


# get_FOO_display() rebuilds its choices mapping on every call: look labels up in plain dicts instead.
_KIND_LABELS = {str(value): str(label) for value, label in Request.Kind.choices}
_STATUS_LABELS = {str(value): str(label) for value, label in Request.Status.choices}


@register.filter
def request_status_label(value: str) -> str:
    """'approved' → 'Approved' (a request's status code, as its history shows it)."""
    return _STATUS_LABELS.get(value, value)


def _kind(req) -> str:
    return _KIND_LABELS.get(req.kind, req.kind)


@register.simple_tag(name="request_status")
def _status(req) -> SafeString:
    """The decision, and for an approved request where its work is (provisioning, done, failed)."""
    decision = format_html(
        '<span class="status status-{}">{}</span>', req.status, _STATUS_LABELS.get(req.status, req.status)
    )
    if not req.work:
        return decision
    return format_html('{} <span class="status work-{}">{}</span>', decision, req.work, req.work_label)


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


def _time(value) -> SafeString:
    return format_html('<time datetime="{}">{}</time>', value.isoformat(), utc_minute(value))


@register.simple_tag
def request_rows(requests) -> SafeString:
    """<tr>s of the request list: #id, kind, summary, team, requester, status, flagged, created."""
    detail = _url_for("clusters:request-detail")
    return format_html_join(
        "\n",
        '<tr><td data-label="Request"><a href="{0}">#{1}</a></td><td data-label="Kind">{2}</td>'
        '<td data-label="Summary"><a href="{0}">{3}</a></td><td data-label="Team">{4}</td>'
        '<td data-label="Requester">{5}</td><td data-label="Status">{6}</td><td data-label="Flagged">{7}</td>'
        '<td data-label="Created (UTC)">{8}</td></tr>',
        (
            (
                detail(req.pk), req.pk, _kind(req), req.summary, req.team_slug,
                req.requester, _status(req), _FLAGGED if req.has_warnings else _NOT_FLAGGED,
                _time(req.created_at),
            )
            for req in requests
        ),
    )  # fmt: skip


class _QueueRow:
    """Renders approval-queue rows; the URLs and the CSRF field are built once per table."""

    def __init__(self, context):
        request = context["request"]
        self.user = request.user
        self.is_admin = access.is_platform_admin(self.user)
        # The same hidden fields in every row's two forms.
        self.hidden = format_html(
            '<input type="hidden" name="csrfmiddlewaretoken" value="{}"><input type="hidden" name="fragment" '
            'value="row"><input type="hidden" name="next" value="{}">',
            get_token(request),
            context.get("back_url", ""),
        )
        self.detail = _url_for("clusters:request-detail")
        self.approve = _url_for("clusters:request-approve")
        self.reject = _url_for("clusters:request-reject")

    def decision(self, req, *, reason_errors=(), reason_value="") -> SafeString:
        if req.status != "submitted" or not self.is_admin:
            by = ""
            if req.approved_by_rule:
                by = format_html(' <span class="muted">by rule “{}”</span>', req.approved_by_rule)
            elif req.decided_by:
                by = format_html(' <span class="muted">by {}</span>', req.decided_by)
            reason = (
                format_html('<p class="reason">{}</p>', req.decision_reason) if req.decision_reason else ""
            )
            return format_html("{}{}{}", _status(req), by, reason)
        if req.requested_by_id == self.user.pk:
            return _OWN_REQUEST
        pk, target = req.pk, f"#request-row-{req.pk}"
        invalid, errors = "", ""
        if reason_errors:
            invalid = format_html(
                ' aria-invalid="true" aria-describedby="id_reason_{}_error" value="{}"', pk, reason_value
            )
            errors = format_html(
                '<ul class="errorlist" id="id_reason_{}_error">{}</ul>',
                pk,
                format_html_join("", "<li>{}</li>", ((message,) for message in reason_errors)),
            )
        approve, reject = self.approve(pk), self.reject(pk)
        return format_html(
            '<form method="post" action="{1}" class="inline" hx-post="{1}" hx-target="{2}" hx-swap="outerHTML">'
            '{3}<button type="submit" class="primary" aria-label="Approve request #{0}">Approve</button></form>'
            '<form method="post" action="{4}" class="reject-inline" hx-post="{4}" hx-target="{2}" '
            'hx-swap="outerHTML">{3}<label class="visually-hidden" for="id_reason_{0}">Reason for rejecting '
            "request #{0} (shown to the requester)</label>"
            '<input type="text" name="reason" id="id_reason_{0}" maxlength="4000" '
            'placeholder="Reason (shown to the requester)"{5}>'
            '<button type="submit" aria-label="Reject request #{0}">Reject</button>{6}</form>',
            pk, approve, target, self.hidden, reject, invalid, errors,
        )  # fmt: skip

    def row(self, req, *, ok="", error="", reason_errors=(), reason_value="") -> SafeString:
        notices = format_html(
            "{}{}",
            format_html('<p class="notice notice-ok" role="status">{}</p>', ok) if ok else "",
            format_html('<p class="notice notice-error" role="alert">{}</p>', error) if error else "",
        )
        detail = self.detail(req.pk)
        return format_html(
            '<tr id="request-row-{0}"><td data-label="Request"><a href="{1}">#{0}</a></td>'
            '<td data-label="Submitted (UTC)">{2}</td><td data-label="Kind">{3}</td>'
            '<td data-label="Summary"><a href="{1}">{4}</a></td><td data-label="Team">{5}</td>'
            '<td data-label="Env">{6}</td><td data-label="Requester">{7}</td>'
            '<td class="num" data-label="Cost / month">{8}</td><td data-label="Flagged">{9}</td>'
            '<td class="decision">{10}{11}</td></tr>',
            req.pk, detail, _time(req.created_at), _kind(req), req.summary, req.team_slug,
            req.environment, req.requester, usd(req.estimated_monthly_cost),
            _FLAGGED if req.has_warnings else _NOT_FLAGGED, notices,
            self.decision(req, reason_errors=reason_errors, reason_value=reason_value),
        )  # fmt: skip


@register.simple_tag(takes_context=True)
def queue_rows(context, requests) -> SafeString:
    """<tr>s of the approval queue, each with Approve and Reject (with its reason) for the admin."""
    rows = _QueueRow(context)
    return format_html_join("\n", "{}", ((rows.row(req),) for req in requests))


@register.simple_tag(takes_context=True)
def queue_row(context, req, ok="", error="", reject_form=None) -> SafeString:
    """One approval-queue row in its new state, after an inline decision (with its message)."""
    reason_errors, reason_value = (), ""
    if reject_form is not None and reject_form.is_bound and reject_form.errors.get("reason"):
        reason_errors = reject_form.errors["reason"]
        reason_value = reject_form["reason"].value() or ""
    return _QueueRow(context).row(
        req, ok=ok, error=error, reason_errors=reason_errors, reason_value=reason_value
    )
