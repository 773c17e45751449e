"""The request workflow's Celery tasks (notifications); the provisioning engine's are in
clusters/provisioning/tasks.py. Their names stay `clusters.tasks.*`, the names they were queued and
scheduled under before the move, so messages in the broker and the beat schedule still find them.
"""

from celery import shared_task


@shared_task(
    name="clusters.tasks.notify_request_event",
    acks_late=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def notify_request_event(request_id: int, event: str) -> None:
    """Email (and optionally Slack) the people who need to know about a request's new state."""
    from clusters.requests.notifications import notify

    notify(request_id=request_id, event=event)


@shared_task(name="clusters.tasks.resend_lost_notifications", acks_late=True, ignore_result=True)
def resend_lost_notifications() -> int:
    """Beat (every PROVISIONING_REDISPATCH_SECONDS): notifications lost while the broker was down."""
    from clusters.requests.notifications import resend_lost_notifications

    return resend_lost_notifications()
