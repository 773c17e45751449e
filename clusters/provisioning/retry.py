"""Admins retry what failed: a failed cluster goes back to PENDING (or to DELETING when its decommission
failed); a failed topic, grant or replicator goes back to the status its failed step started from, read
from its event log, and that step's task is dispatched again.
"""

from __future__ import annotations

from clusters.models import AccessGrant, Cluster, ProvisioningEvent, Replicator, Topic
from clusters.providers import account_ref, get_provider
from clusters.providers.base import ProviderError
from clusters.provisioning.dispatch import dispatch_on_commit
from clusters.provisioning.transitions import EVENT_KEYS, move
from portal import access
from portal.errors import Conflict, NotAllowed


def retry_cluster(*, cluster_id: int, actor) -> None:
    """An admin retries a failed cluster: a failed decommission is decommissioned again (FAILED → DELETING);
    anything else goes back to PENDING (keeping any ARN) and is provisioned again."""
    cluster = Cluster.objects.get(pk=cluster_id)
    if failed_step(cluster) == Cluster.Status.DELETING:
        if move(
            Cluster,
            cluster,
            from_status=Cluster.Status.FAILED,
            to_status=Cluster.Status.DELETING,
            note=f"retry by {actor.get_username()}: deleting the cluster",
            actor=actor,
            status_reason="",
        ):
            dispatch_on_commit("decommission_cluster", Cluster.objects.filter(pk=cluster_id))
        return
    if move(
        Cluster,
        cluster,
        from_status=Cluster.Status.FAILED,
        to_status=Cluster.Status.PENDING,
        note=f"retry requested by {actor.get_username()}",
        actor=actor,
        status_reason="",
    ):
        dispatch_on_commit("provision_cluster", Cluster.objects.filter(pk=cluster_id))


# What failed is read from the object's event log: the latest move to FAILED starts from the status of
# the step that failed. (model, that status) → the task that carries the step out, and words for it.
RETRYABLE_STEPS = {
    (Topic, Topic.Status.CREATING): ("provision_topic", "creating the topic"),
    (Topic, Topic.Status.ACTIVE): ("update_topic", "changing the topic"),
    (Topic, Topic.Status.DELETING): ("delete_topic", "deleting the topic"),
    (AccessGrant, AccessGrant.Status.PENDING): ("apply_grant", "applying the access"),
    (AccessGrant, AccessGrant.Status.REVOKING): ("revoke_grant", "removing the access"),
    (Replicator, Replicator.Status.CREATING): ("provision_replicator", "creating the replicator"),
}


def failed_step(obj) -> str | None:
    """The status the object's latest failed step started from; None when no failure is logged."""
    key = EVENT_KEYS[type(obj)]
    event = (
        ProvisioningEvent.objects.filter(**{key: obj}, to_status="failed")
        .exclude(from_status="failed")
        .order_by("-created_at", "-id")
        .first()
    )
    return event.from_status if event else None


def can_be_retried(obj) -> bool:
    """Whether an admin's retry can take this failed object up again: a cluster always can; a topic, grant
    or replicator when the step that failed is logged and is one a retry runs again."""
    return isinstance(obj, Cluster) or (type(obj), failed_step(obj)) in RETRYABLE_STEPS


def retry_step(model, *, pk: int, actor) -> str:
    """An admin retries the failed step of a topic, grant or replicator: FAILED goes back (compare-and-set)
    to the status the step starts from, and the step's task is dispatched once that commits.

    Returns what is being retried, in words; raises Conflict when there is nothing (left) to retry: not
    failed (any more), no failure logged, or another admin's retry got there first.
    """
    if not access.is_platform_admin(actor):
        raise NotAllowed("Only platform admins retry provisioning.")
    obj = model.objects.get(pk=pk)
    if obj.status != model.Status.FAILED:
        raise Conflict(f"{obj} is {obj.get_status_display().lower()}, not failed: there is nothing to retry.")
    from_status = failed_step(obj)
    step = RETRYABLE_STEPS.get((model, from_status))
    if step is None:
        raise Conflict(f"No failed step is logged for {obj}, so the portal cannot tell what to retry.")
    task_name, words = step
    fields = {"status_reason": ""}
    if model is Replicator and obj.arn:
        fields["arn"] = _forget_failed_replicator(obj)
    note = f"retry by {actor.get_username()}: {words}"
    if not move(
        model, obj, from_status=model.Status.FAILED, to_status=from_status, note=note, actor=actor, **fields
    ):
        raise Conflict(f"{obj} was retried by someone else a moment ago.")
    dispatch_on_commit(task_name, model.objects.filter(pk=pk))
    return words


def _forget_failed_replicator(replicator: Replicator) -> str:
    """MSK created the replicator and then reported it FAILED. A retry must not adopt it again by name:
    it may start over only once the failed one is gone from MSK (an admin deletes it there)."""
    try:
        state = get_provider().find_replicator(account_ref(replicator.read_cluster), replicator.name)
    except ProviderError as exc:
        raise Conflict(
            f"Cannot check the failed replicator {replicator.name} in MSK now: {exc.message}"
        ) from exc
    if state is not None:
        raise Conflict(
            f"MSK still has the failed replicator {state.arn} ({state.state}). Delete it in the MSK console "
            "(Replicators), then retry: a retry now would adopt the same failed replicator."
        )
    return ""
