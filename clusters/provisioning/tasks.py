"""The provisioning engine's Celery tasks. Their names stay `clusters.tasks.*`, the names they were queued
and scheduled under before the engine became a package, so messages already in the broker and the beat
schedule in portal/settings.py still find them.
"""

from celery import shared_task

from clusters.integrations.errors import TransientError

# Tasks take ids, are idempotent (the services re-check state), acknowledge late so a
# killed worker's task is delivered again, and retry transient provider errors with backoff. Each imports
# its module when it runs (steps dispatch tasks, so a module-level import would be circular).
AWS_TASK_OPTIONS = {
    "acks_late": True,
    "autoretry_for": (TransientError,),
    "retry_backoff": 2,
    "retry_backoff_max": 120,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(name="clusters.tasks.provision_cluster", **AWS_TASK_OPTIONS)
def provision_cluster(cluster_id: int) -> None:
    from clusters.provisioning import steps

    steps.provision_cluster(cluster_id)


@shared_task(name="clusters.tasks.provision_topic", **AWS_TASK_OPTIONS)
def provision_topic(topic_id: int) -> None:
    from clusters.provisioning import steps

    steps.provision_topic(topic_id)


@shared_task(name="clusters.tasks.apply_grant", **AWS_TASK_OPTIONS)
def apply_grant(grant_id: int) -> None:
    from clusters.provisioning import steps

    steps.apply_grant(grant_id)


@shared_task(name="clusters.tasks.provision_replicator", **AWS_TASK_OPTIONS)
def provision_replicator(replicator_id: int) -> None:
    from clusters.provisioning import steps

    steps.provision_replicator(replicator_id)


@shared_task(name="clusters.tasks.update_topic", **AWS_TASK_OPTIONS)
def update_topic(topic_id: int) -> None:
    from clusters.provisioning import steps

    steps.update_topic(topic_id)


@shared_task(name="clusters.tasks.delete_topic", **AWS_TASK_OPTIONS)
def delete_topic(topic_id: int) -> None:
    from clusters.provisioning import steps

    steps.delete_topic(topic_id)


@shared_task(name="clusters.tasks.revoke_grant", **AWS_TASK_OPTIONS)
def revoke_grant(grant_id: int) -> None:
    from clusters.provisioning import steps

    steps.revoke_grant(grant_id)


@shared_task(name="clusters.tasks.decommission_cluster", **AWS_TASK_OPTIONS)
def decommission_cluster(cluster_id: int) -> None:
    from clusters.provisioning import steps

    steps.decommission_cluster(cluster_id)


@shared_task(name="clusters.tasks.reconcile", acks_late=True, ignore_result=True)
def reconcile() -> dict:
    """Beat: advance in-flight clusters with batched list calls and re-dispatch lost work."""
    from clusters.provisioning import reconciler

    return reconciler.reconcile()


@shared_task(name="clusters.tasks.detect_drift", acks_late=True, ignore_result=True)
def detect_drift() -> dict:
    """Beat (slower than reconcile): record differences between the inventory and MSK for admins."""
    from clusters.provisioning import drift

    return drift.detect_drift()
