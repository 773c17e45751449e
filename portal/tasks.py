from celery import shared_task


@shared_task(name="portal.tasks.record_heartbeat", ignore_result=True)
def record_heartbeat() -> None:
    """Scheduled by beat, run by a worker: proves both are alive (shown on /healthz)."""
    from portal.services import heartbeat_record

    heartbeat_record("worker")
