"""The request workflow's Celery tasks (notifications, the Idempotency-Key clean-up); the provisioning engine's are in
clusters/provisioning/tasks.py. Their names stay `clusters.tasks.*`, the names they were queued and
scheduled under before the move, so messages in the broker and the beat schedule still find them.
"""

from celery import shared_task

from portal.messages_once import MAIL_TASK_OPTIONS


@shared_task(
    name="clusters.tasks.notify_request_event",
    **MAIL_TASK_OPTIONS,
)
def notify_request_event(request_id: int, event: str) -> None:
    """Email (and optionally Slack) the people who need to know about a request's new state."""
    from clusters.requests.notifications import notify

    notify(request_id=request_id, event=event)


@shared_task(
    name="clusters.requests.tasks.notify_decided_together",
    **MAIL_TASK_OPTIONS,
)
def notify_decided_together(request_ids: list[int]) -> int:
    """One mail per requester about the requests a bulk decision decided (idempotent: the mail claims each
    request's notification; see clusters/requests/notifications.py)."""
    from clusters.requests.notifications import notify_decided_together

    return notify_decided_together(request_ids=request_ids)


@shared_task(name="clusters.tasks.resend_lost_notifications", acks_late=True, ignore_result=True)
def resend_lost_notifications() -> int:
    """Beat (every PROVISIONING_REDISPATCH_SECONDS): notifications lost while the broker was down."""
    from clusters.requests.notifications import resend_lost_notifications

    return resend_lost_notifications()


@shared_task(name="clusters.requests.tasks.forget_old_idempotency_keys", acks_late=True, ignore_result=True)
def forget_old_idempotency_keys() -> int:
    """Beat (daily): Idempotency-Keys past IDEMPOTENCY_RETENTION_HOURS are deleted."""
    from clusters.requests.idempotency import forget_old_keys

    return forget_old_keys()
