"""Who hears about a request: approvers on submit, the requester on a decision.

Notifying events are the request's own history (`RequestEvent`): submitted (approvers; not when a rule
approved it at once), approved and rejected (the requester). Cancelling notifies nobody. A notification is
sent once per request and event (`SentNotification`); one whose task was lost (the broker was down when
the request changed) is found by `lost_notifications` and sent again by beat.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from billing.pricing import usd
from clusters.models import Request, RequestEvent, SentNotification
from portal.links import absolute_url
from portal.messages_once import send_once
from portal.models import User

logger = logging.getLogger(__name__)


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
        flagged = (
            " It is flagged: it takes more than the soft limit of a quota." if request.has_warnings else ""
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
