"""Who hears about a request: approvers on submit, the requester on a decision."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail

from clusters.models import Request, SentNotification
from portal import slack
from portal.models import User


def _approver_emails(request: Request) -> list[str]:
    admins = User.objects.filter(is_active=True).filter(role=User.Role.PLATFORM_ADMIN) | User.objects.filter(
        is_active=True, is_superuser=True
    )
    return sorted({u.email for u in admins if u.email and u.pk != request.requested_by_id})


def notify(*, request_id: int, event: str) -> None:
    request = Request.objects.select_related("team", "requested_by", "approved_by_rule").get(pk=request_id)
    link = f"{settings.PORTAL_BASE_URL}/requests/{request.pk}/"
    if event == "submitted":
        recipients = _approver_emails(request)
        subject = f"[MSK portal] Approval needed: #{request.pk} {request.summary}"
        flagged = (
            " It is flagged: it takes more than the soft limit of a quota." if request.has_warnings else ""
        )
        body = (
            f"{request.requested_by} ({request.team.name}) asks for: {request.summary}.{flagged}\n\n"
            f"Justification: {request.justification or '(none)'}\n"
            f"Estimated cost: ${request.estimated_monthly_cost} per month\n\nReview it: {link}\n"
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
    if SentNotification.objects.filter(request=request, event=event).exists():
        return  # a redelivered task: already sent
    if recipients:
        send_mail(subject, body, None, recipients)
    slack.post(f"{subject}\n{link}")
    # Recorded after sending: a worker dying in between means at most one repeat, never a lost message.
    SentNotification.objects.get_or_create(request=request, event=event)
