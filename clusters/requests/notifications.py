"""Who hears about a request: approvers on submit, the requester on a decision.

Notifying events are the request's own history (`RequestEvent`): submitted (approvers; not when a rule
approved it at once), approved and rejected (the requester). Cancelling notifies nobody. A notification is
sent once per request and event (`SentNotification`); one whose task was lost (the broker was down when
the request changed) is found by `lost_notifications` and sent again by beat.

Requests filed together (the migration assistant files a plan's hundreds of topics at once) get one
"Approval needed" digest instead (`notify_submitted_together`), and requests decided together (the approval
queue's bulk bar decides up to 50 at once) one mail per requester (`notify_decided_together`). A digest
claims the notification of every request it names (`_mail_claimed`), so neither a second run nor beat mails
them again one by one. If the digest itself is lost, its requests have no claim and beat mails each of them
on its own: more mails, none lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.template.defaultfilters import pluralize
from django.utils import timezone

from billing.pricing import usd
from clusters.models import Request, RequestEvent, SentNotification
from portal.links import absolute_url
from portal.messages_once import Message, send_claimed, send_once
from portal.models import User

logger = logging.getLogger(__name__)


DIGEST_LISTED = 20  # requests a digest names one by one; "and N more" after that


def _approver_emails(request: Request) -> list[str]:
    admins = User.objects.filter(is_active=True).filter(role=User.Role.PLATFORM_ADMIN) | User.objects.filter(
        is_active=True, is_superuser=True
    )
    return sorted({u.email for u in admins if u.email and u.pk != request.requested_by_id})


def notify(*, request_id: int, event: str) -> None:
    request = Request.objects.select_related("team", "requested_by", "approved_by_rule").get(pk=request_id)
    link = absolute_url("clusters:request-detail", request.pk)
    if event == "submitted":
        recipients = _approver_emails(request)
        subject = f"[MSK portal] Approval needed: #{request.pk} {request.summary}"
        flagged = ""
        if request.has_warnings:
            flagged = (
                " It is flagged: it takes down other teams' live topics."
                if request.kind == Request.Kind.CLUSTER_DECOMMISSION
                else " It is flagged: it takes more than the soft limit of a quota."
            )
        body = (
            f"{request.requested_by} ({request.team.name}) asks for: {request.summary}.{flagged}\n\n"
            f"Justification: {request.justification or '(none)'}\n"
            f"Estimated cost: {usd(request.estimated_monthly_cost)} per month\n\nReview it: {link}\n"
        )
    else:
        recipients = [request.requested_by.email] if request.requested_by.email else []
        subject = (
            f"[MSK portal] Request #{request.pk} {request.get_status_display().lower()}: {request.summary}"
        )
        if request.status == Request.Status.REJECTED:
            body = (
                f"Your request was rejected by {request.decided_by}.\n\nReason: {request.decision_reason}\n"
            )
        elif request.approved_by_rule_id:
            body = f"Your request was approved automatically by rule “{request.approved_by_rule.name}”.\n"
        else:
            body = f"Your request was approved by {request.decided_by}.\n"
        body += f"\nDetails: {link}\n"
    # The SentNotification row (unique per request and event) is the claim.
    send_once(
        lambda: SentNotification.objects.get_or_create(request=request, event=event)[1],
        subject=subject,
        body=body,
        recipients=recipients,
        link=link,
    )


def _mail_claimed(requests: Iterable[Request], *, compose: Callable[[list[Request]], Message]) -> int:
    """One mail about those of `requests` whose notification (request, its status: "submitted", "approved"
    or "rejected") this call claims, in the transaction that sends it: `compose(claimed)` writes it. A twin
    run (or beat mailing one of them alone) blocks on the claimed rows until it ends, then finds them sent.
    Returns how many it named (0: nothing was sent)."""

    def claim() -> list[Request]:
        return [
            request
            for request in requests
            if SentNotification.objects.get_or_create(request=request, event=request.status)[1]
        ]

    return send_claimed(claim, compose)


def _listed(lines: list[str]) -> list[str]:
    """A digest's list: the first DIGEST_LISTED lines, then "and N more."."""
    if len(lines) <= DIGEST_LISTED:
        return lines
    return [*lines[:DIGEST_LISTED], f"and {len(lines) - DIGEST_LISTED} more."]


def _unsent(requests):
    """Those of `requests` whose notification for their current status nobody sent yet."""
    return requests.exclude(
        Exists(SentNotification.objects.filter(request=OuterRef("pk"), event=OuterRef("status")))
    )


def notify_submitted_together(*, request_ids: list[int], source: str) -> int:
    """One "Approval needed" mail for requests one person filed together, e.g. from a migration plan
    (`source` says from what, with a link). It names the requests that still wait for a decision and whose
    own notification nobody sent yet, and claims each one's (request, "submitted") `SentNotification` in the
    transaction that sends it: a second run, or beat's `lost_notifications`, then finds them sent. Returns how
    many it named (0: nothing was sent)."""
    waiting = _unsent(Request.objects.filter(pk__in=request_ids, status=Request.Status.SUBMITTED))

    def compose(claimed: list[Request]) -> Message:
        first, count = claimed[0], len(claimed)
        teams = ", ".join(sorted({request.team.name for request in claimed}))
        flagged = sum(1 for request in claimed if request.has_warnings)
        total = sum((request.estimated_monthly_cost for request in claimed), Decimal(0))
        lines = _listed(
            [
                f"- #{request.pk} {request.summary}: {usd(request.estimated_monthly_cost)} per month"
                + (" (flagged)" if request.has_warnings else "")
                for request in claimed
            ]
        )
        slugs = sorted({request.team.slug for request in claimed})
        link = absolute_url("clusters:approval-queue") + (f"?team={slugs[0]}" if len(slugs) == 1 else "")
        body = (
            f"{first.requested_by} ({teams}) filed {count} request{pluralize(count)} that wait for approval, "
            f"from {source}\n\n"
            f"Estimated cost: {usd(total)} per month in total.\n"
            f"Flagged (more than the soft limit of a quota, or taking down other teams' topics): {flagged}.\n\n"
            + "\n".join(lines)
            + f"\n\nReview them in the approval queue: {link}\n"
        )
        subject = f"[MSK portal] Approval needed: {count} request{pluralize(count)} from {first.requested_by} ({teams})"
        return Message(subject, body, _approver_emails(first), link)

    return _mail_claimed(waiting.select_related("team", "requested_by").order_by("pk"), compose=compose)


def notify_decided_together(*, request_ids: list[int]) -> int:
    """One mail to each requester about their requests among `request_ids` (what a bulk decision decided)
    that a person approved or rejected and whose own notification nobody sent yet: approved and rejected
    listed apart (rejections under their reason), each with its link, the first DIGEST_LISTED of each list,
    and a link to the requests they filed (the request list's "Filed by me"). Each mail claims its requests'
    (request, "approved"/"rejected") `SentNotification` in the transaction that sends it, so a second run,
    or beat's `lost_notifications`, finds them sent. Requests a rule approved are left to their own mail. Returns how many it named."""
    decided = _unsent(
        Request.objects.filter(
            pk__in=request_ids,
            status__in=[Request.Status.APPROVED, Request.Status.REJECTED],
            approved_by_rule__isnull=True,
        )
    ).select_related("team", "requested_by", "decided_by")
    by_requester: dict[int, list[Request]] = {}
    for request in decided.order_by("pk"):
        by_requester.setdefault(request.requested_by_id, []).append(request)
    # One transaction per requester: a mail that fails leaves only its own requests to the retry.
    return sum(_mail_claimed(requests, compose=_decisions_mail) for requests in by_requester.values())


def _decisions_mail(claimed: list[Request]) -> Message:
    requester = claimed[0].requested_by
    teams = ", ".join(sorted({request.team.name for request in claimed}))
    approved = [request for request in claimed if request.status == Request.Status.APPROVED]
    rejected = [request for request in claimed if request.status == Request.Status.REJECTED]
    deciders = ", ".join(sorted({str(request.decided_by) for request in claimed}))
    done = " and ".join(
        f"{verb} {len(group)}" for verb, group in (("approved", approved), ("rejected", rejected)) if group
    )
    sections = []
    if approved:
        sections.append([f"Approved ({len(approved)}):", *_listed([_decided_line(r) for r in approved])])
    for reason in dict.fromkeys(request.decision_reason for request in rejected):
        group = [request for request in rejected if request.decision_reason == reason]
        sections.append(
            [f"Rejected ({len(group)}), reason: {reason}", *_listed([_decided_line(r) for r in group])]
        )
    link = absolute_url("clusters:request-list") + "?mine=on"  # the list's "Filed by me"
    body = (
        f"{deciders} {done} of your requests.\n\n"
        + "\n\n".join("\n".join(section) for section in sections)
        + f"\n\nYour requests: {link}\n"
    )
    count, whose = len(claimed), f"{requester} ({teams})"
    if approved and rejected:
        subject = f"{count} requests of {whose} decided: {len(approved)} approved, {len(rejected)} rejected"
    else:
        subject = f"{count} request{pluralize(count)} of {whose} {'approved' if approved else 'rejected'}"
    return Message(f"[MSK portal] {subject}", body, [requester.email] if requester.email else [], link)


def _decided_line(request: Request) -> str:
    return f"- #{request.pk} {request.summary}: {absolute_url('clusters:request-detail', request.pk)}"


def lost_notifications(now=None) -> list[tuple[int, str]]:
    """(request id, event) of notifications that should have gone out but were never sent.

    Only events older than PROVISIONING_REDISPATCH_SECONDS (their task had time to run) and not older
    than NOTIFICATION_RESEND_MAX_AGE_SECONDS (an old database does not mail everyone). "Approval needed"
    is only worth sending while the request still waits for a decision.
    """
    now = now or timezone.now()
    events = (
        RequestEvent.objects.filter(
            created_at__lt=now - timedelta(seconds=settings.PROVISIONING_REDISPATCH_SECONDS),
            created_at__gte=now - timedelta(seconds=settings.NOTIFICATION_RESEND_MAX_AGE_SECONDS),
        )
        .filter(
            Q(to_status=Request.Status.SUBMITTED, request__status=Request.Status.SUBMITTED)
            | Q(
                from_status=Request.Status.SUBMITTED,
                to_status__in=[Request.Status.APPROVED, Request.Status.REJECTED],
            )
        )
        .exclude(
            Exists(SentNotification.objects.filter(request=OuterRef("request"), event=OuterRef("to_status")))
        )
    )
    return sorted(set(events.values_list("request_id", "to_status")))


def resend_lost_notifications(now=None) -> int:
    """Beat: enqueue again every lost notification; `notify` still sends each one once."""
    from clusters.requests.tasks import notify_request_event

    lost = lost_notifications(now)
    for request_id, event in lost:
        notify_request_event.delay(request_id, event)
    if lost:
        logger.warning("re-sent lost notifications (%d): %s", len(lost), lost)
    return len(lost)
