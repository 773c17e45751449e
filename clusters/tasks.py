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
    from clusters.notifications import notify

    notify(request_id=request_id, event=event)
