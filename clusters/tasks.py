from celery import shared_task

from clusters.providers.base import TransientError


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


@shared_task(name="clusters.tasks.resend_lost_notifications", acks_late=True, ignore_result=True)
def resend_lost_notifications() -> int:
    """Beat (every PROVISIONING_REDISPATCH_SECONDS): notifications lost while the broker was down."""
    from clusters.notifications import resend_lost_notifications

    return resend_lost_notifications()


# Provisioning: tasks take ids, are idempotent (the services re-check state), acknowledge late so a
# killed worker's task is delivered again, and retry transient provider errors with backoff.
_PROVISIONING = {
    "acks_late": True,
    "autoretry_for": (TransientError,),
    "retry_backoff": 2,
    "retry_backoff_max": 120,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(name="clusters.tasks.provision_cluster", **_PROVISIONING)
def provision_cluster(cluster_id: int) -> None:
    from clusters import provisioning

    provisioning.provision_cluster(cluster_id)


@shared_task(name="clusters.tasks.provision_topic", **_PROVISIONING)
def provision_topic(topic_id: int) -> None:
    from clusters import provisioning

    provisioning.provision_topic(topic_id)


@shared_task(name="clusters.tasks.apply_grant", **_PROVISIONING)
def apply_grant(grant_id: int) -> None:
    from clusters import provisioning

    provisioning.apply_grant(grant_id)


@shared_task(name="clusters.tasks.provision_replicator", **_PROVISIONING)
def provision_replicator(replicator_id: int) -> None:
    from clusters import provisioning

    provisioning.provision_replicator(replicator_id)


@shared_task(name="clusters.tasks.update_topic", **_PROVISIONING)
def update_topic(topic_id: int) -> None:
    from clusters import provisioning

    provisioning.update_topic(topic_id)


@shared_task(name="clusters.tasks.delete_topic", **_PROVISIONING)
def delete_topic(topic_id: int) -> None:
    from clusters import provisioning

    provisioning.delete_topic(topic_id)


@shared_task(name="clusters.tasks.revoke_grant", **_PROVISIONING)
def revoke_grant(grant_id: int) -> None:
    from clusters import provisioning

    provisioning.revoke_grant(grant_id)


@shared_task(name="clusters.tasks.decommission_cluster", **_PROVISIONING)
def decommission_cluster(cluster_id: int) -> None:
    from clusters import provisioning

    provisioning.decommission_cluster(cluster_id)


@shared_task(name="clusters.tasks.reconcile", acks_late=True, ignore_result=True)
def reconcile() -> dict:
    """Beat: advance in-flight clusters with batched list calls and re-dispatch lost work."""
    from clusters import provisioning

    return provisioning.reconcile()


@shared_task(name="clusters.tasks.detect_drift", acks_late=True, ignore_result=True)
def detect_drift() -> dict:
    """Beat (slower than reconcile): record differences between the inventory and MSK for admins."""
    from clusters import provisioning

    return provisioning.detect_drift()


# Observability's tasks live in its own package; importing them here lets Celery's autodiscovery find them.
from clusters.observability import tasks as observability_tasks  # noqa: E402, F401
