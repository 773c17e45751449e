"""The provisioning steps, one per task: each takes an id, persists its intent by compare-and-set before
any call out, holds no transaction across a provider call, and adopts by deterministic name what a lost
earlier attempt already created. Transient provider errors are noted and re-raised for the task to retry
with backoff; permanent ones fail the object with a reason people can read.
"""

from __future__ import annotations

from django.db.models import Q
from django.template.defaultfilters import pluralize
from django.utils import timezone

from clusters.models import AccessGrant, Cluster, GrantDelivery, Replicator, Topic, TopicPartitionChange
from clusters.providers import account_ref, get_provider
from clusters.providers.base import NameConflict, ProviderError
from clusters.provisioning.dispatch import dispatch_on_commit
from clusters.provisioning.specs import cluster_spec, endpoint, grant_spec, replicator_spec, topic_spec
from clusters.provisioning.transitions import move, note_attempt


def _step_failed(model, obj, exc: ProviderError, *, from_status: str) -> None:
    """A provider error in a step: transient ones are logged and re-raised for the task to retry with
    backoff; permanent ones (access denied, bad input) fail the object with a reason people can read."""
    if exc.transient:
        note_attempt(obj, f"will retry: {exc.message}")
        raise exc
    move(
        model,
        obj,
        from_status=from_status,
        to_status=model.Status.FAILED,
        note=exc.message,
        status_reason=exc.message,
    )


# The statuses a removal (delete_topic, revoke_grant, decommission_cluster) starts from.
_REMOVAL_STARTS_FROM = {
    Topic: (Topic.Status.ACTIVE, Topic.Status.FAILED, Topic.Status.PENDING),
    AccessGrant: (AccessGrant.Status.APPLIED, AccessGrant.Status.PENDING, AccessGrant.Status.FAILED),
    Cluster: (Cluster.Status.ACTIVE, Cluster.Status.FAILED, Cluster.Status.PENDING),
}


def _start_removal(model, obj, *, to_status: str, note: str) -> None:
    """Move the object to `to_status` from whichever status of _REMOVAL_STARTS_FROM it is in (compare-and-set:
    a twin may win; an object already being removed, or in another status, stays as it is)."""
    for from_status in _REMOVAL_STARTS_FROM[model]:
        if obj.status == from_status:
            move(model, obj, from_status=from_status, to_status=to_status, note=note)


def _adopt_or_create(*, find, create) -> tuple[object, bool]:
    """(state, adopted). MSK has no idempotency token: look the resource up by its deterministic name
    first and adopt it; otherwise create it, and if a twin created it meanwhile (NameConflict), adopt it."""
    state = find()
    if state is not None:
        return state, True
    try:
        return create(), False
    except NameConflict:
        state = find()
        if state is None:
            raise
        return state, True


def _save_arn(model, obj, state, *, adopted: bool) -> None:
    """Save the ARN at once, and only once: a concurrent twin that got here first wins."""
    if model.objects.filter(pk=obj.pk, arn="").update(arn=state.arn):
        note_attempt(obj, f"{'adopted existing' if adopted else 'create sent for'} {state.arn}")


def provision_cluster(cluster_id: int) -> None:
    cluster = Cluster.objects.select_related("account", "network_profile", "team").get(pk=cluster_id)
    moved = cluster.status == Cluster.Status.PENDING and move(
        Cluster,
        cluster,
        from_status=Cluster.Status.PENDING,
        to_status=Cluster.Status.PROVISIONING,
        note="creating the cluster",
    )
    if cluster.status == Cluster.Status.PENDING and not moved:
        cluster.refresh_from_db()  # someone else moved it first
    if cluster.status != Cluster.Status.PROVISIONING or cluster.arn:
        return  # done, failed, or the create call already went out (reconcile advances it)
    provider, account = get_provider(), account_ref(cluster)
    try:
        state, adopted = _adopt_or_create(
            find=lambda: provider.find_cluster(account, cluster.name),
            create=lambda: provider.create_cluster(account, cluster_spec(cluster)),
        )
    except ProviderError as exc:
        _step_failed(Cluster, cluster, exc, from_status=Cluster.Status.PROVISIONING)
        return
    _save_arn(Cluster, cluster, state, adopted=adopted)
    if state.state == "ACTIVE":
        activate_cluster(cluster.pk)


def activate_cluster(cluster_id: int) -> None:
    cluster = Cluster.objects.select_related("account").get(pk=cluster_id)
    if cluster.status != Cluster.Status.PROVISIONING:
        return
    bootstrap = get_provider().bootstrap_brokers(account_ref(cluster), cluster.arn)
    if move(
        Cluster,
        cluster,
        from_status=Cluster.Status.PROVISIONING,
        to_status=Cluster.Status.ACTIVE,
        note="cluster is active",
        bootstrap_brokers=bootstrap,
    ):
        # Cluster-hours start when it first became active (a retried cluster keeps its first start).
        Cluster.objects.filter(pk=cluster.pk, active_since__isnull=True).update(active_since=timezone.now())
        dispatch_on_commit("provision_topic", cluster.topics.filter(status=Topic.Status.PENDING))
        dispatch_on_commit("apply_grant", cluster.grants.filter(status=AccessGrant.Status.PENDING))
        dispatch_on_commit(
            "provision_replicator",
            Replicator.objects.filter(
                Q(read_cluster=cluster) | Q(source_cluster=cluster), status=Replicator.Status.PENDING
            ),
        )


def fail_cluster(cluster_id: int, reason: str) -> None:
    cluster = Cluster.objects.get(pk=cluster_id)
    if Cluster.Status.FAILED not in Cluster.TRANSITIONS[cluster.status]:
        return  # it moved on (became active, or failed already) since reconcile listed it
    move(
        Cluster,
        cluster,
        from_status=cluster.status,
        to_status=Cluster.Status.FAILED,
        note=reason,
        status_reason=reason,
    )


def provision_topic(topic_id: int) -> None:
    topic = Topic.objects.select_related("cluster__account", "team").get(pk=topic_id)
    if topic.cluster.status != Cluster.Status.ACTIVE:
        return  # dispatched again when the cluster turns active
    if topic.status == Topic.Status.PENDING:
        move(Topic, topic, from_status=Topic.Status.PENDING, to_status=Topic.Status.CREATING, note="creating")
    if topic.status != Topic.Status.CREATING:
        return
    try:
        get_provider().ensure_topic(endpoint(topic.cluster), topic_spec(topic))
    except ProviderError as exc:
        _step_failed(Topic, topic, exc, from_status=Topic.Status.CREATING)
        return
    if move(
        Topic, topic, from_status=Topic.Status.CREATING, to_status=Topic.Status.ACTIVE, note="topic exists"
    ):
        _record_partitions(topic, topic.partitions)


def _record_partitions(topic: Topic, partitions: int) -> None:
    """Partition-hours history: the count the topic really has from now on, when it changed."""
    last = topic.partition_changes.order_by("-changed_at", "-id").values_list("partitions", flat=True).first()
    if last != partitions and not (last is None and partitions == 0):  # never-created topics cost nothing
        TopicPartitionChange.objects.create(topic=topic, partitions=partitions)


def apply_grant(grant_id: int) -> None:
    grant = AccessGrant.objects.select_related("cluster__account", "team").get(pk=grant_id)
    if grant.status != AccessGrant.Status.PENDING or grant.cluster.status != Cluster.Status.ACTIVE:
        return
    # The policy names the cluster's ARN, known now: a document grant's team attaches it itself.
    _deliver_grant(
        grant,
        send=lambda: get_provider().apply_grant(account_ref(grant.cluster), grant_spec(grant)),
        from_status=AccessGrant.Status.PENDING,
        to_status=AccessGrant.Status.APPLIED,
        document_note=f"policy document handed to {grant.team.name} to attach to {grant.principal_arn}",
        note="policy attached",
    )


def _deliver_grant(
    grant: AccessGrant, *, send, from_status: str, to_status: str, document_note: str, note: str
) -> None:
    """One IAM step of a grant: a document grant moves at once (its team attaches or detaches the policy);
    otherwise `send()` makes the provider call (inside the step's error handling), then it moves."""
    if grant.delivery == GrantDelivery.DOCUMENT:
        move(AccessGrant, grant, from_status=from_status, to_status=to_status, note=document_note)
        return
    try:
        send()
    except ProviderError as exc:
        _step_failed(AccessGrant, grant, exc, from_status=from_status)
        return
    move(AccessGrant, grant, from_status=from_status, to_status=to_status, note=note)


def provision_replicator(replicator_id: int) -> None:
    """Once both clusters are active: create (or adopt by name) the replicator feeding the read cluster."""
    replicator = Replicator.objects.select_related(
        "read_cluster__account", "read_cluster__network_profile", "read_cluster__team", "source_cluster"
    ).get(pk=replicator_id)
    both_active = {replicator.read_cluster.status, replicator.source_cluster.status} == {
        Cluster.Status.ACTIVE
    }
    if not both_active:
        return
    if replicator.status == Replicator.Status.PENDING:
        move(
            Replicator,
            replicator,
            from_status=Replicator.Status.PENDING,
            to_status=Replicator.Status.CREATING,
            note=f"replicating {', '.join(replicator.topics)}",
        )
    if replicator.status != Replicator.Status.CREATING:
        return
    provider, account = get_provider(), account_ref(replicator.read_cluster)
    if replicator.arn:
        return  # the create call already went out: reconcile advances it
    try:
        state, adopted = _adopt_or_create(
            find=lambda: provider.find_replicator(account, replicator.name),
            create=lambda: provider.create_replicator(account, replicator_spec(replicator)),
        )
    except ProviderError as exc:
        _step_failed(Replicator, replicator, exc, from_status=Replicator.Status.CREATING)
        return
    _save_arn(Replicator, replicator, state, adopted=adopted)
    if state.state == "RUNNING":
        move(
            Replicator,
            replicator,
            from_status=Replicator.Status.CREATING,
            to_status=Replicator.Status.ACTIVE,
            note="replicating",
        )


def update_topic(topic_id: int) -> None:
    """Apply the approved partitions and configs (already the topic's desired state in the inventory)."""
    topic = Topic.objects.select_related("cluster__account", "team").get(pk=topic_id)
    if topic.status != Topic.Status.ACTIVE or topic.cluster.status != Cluster.Status.ACTIVE:
        return  # a pending topic is created with the new settings anyway
    try:
        get_provider().update_topic(endpoint(topic.cluster), topic_spec(topic))
    except ProviderError as exc:
        _step_failed(Topic, topic, exc, from_status=Topic.Status.ACTIVE)
        return
    note_attempt(
        topic, f"updated: {topic.partitions} partition{pluralize(topic.partitions)}, configs applied"
    )
    _record_partitions(topic, topic.partitions)


def delete_topic(topic_id: int) -> None:
    topic = Topic.objects.select_related("cluster__account", "team").get(pk=topic_id)
    _start_removal(Topic, topic, to_status=Topic.Status.DELETING, note="deleting")
    if topic.status != Topic.Status.DELETING:
        return
    if topic.cluster.status == Cluster.Status.ACTIVE:
        try:
            get_provider().delete_topic(endpoint(topic.cluster), topic.name)
        except ProviderError as exc:
            _step_failed(Topic, topic, exc, from_status=Topic.Status.DELETING)
            return
    if move(
        Topic, topic, from_status=Topic.Status.DELETING, to_status=Topic.Status.DELETED, note="topic deleted"
    ):
        _record_partitions(topic, 0)


def revoke_grant(grant_id: int) -> None:
    grant = AccessGrant.objects.select_related("cluster__account", "team").get(pk=grant_id)
    _start_removal(AccessGrant, grant, to_status=AccessGrant.Status.REVOKING, note="removing the policy")
    if grant.status != AccessGrant.Status.REVOKING:
        return
    _deliver_grant(
        grant,
        send=lambda: get_provider().remove_grant(account_ref(grant.cluster), grant_spec(grant)),
        from_status=AccessGrant.Status.REVOKING,
        to_status=AccessGrant.Status.REVOKED,
        document_note=f"{grant.team.name} detaches the policy from {grant.principal_arn} itself",
        note="policy removed",
    )


def decommission_cluster(cluster_id: int) -> None:
    """Remove the cluster's grants, then delete it; reconcile marks it deleted once MSK no longer lists it."""
    cluster = Cluster.objects.select_related("account", "team").get(pk=cluster_id)
    _start_removal(Cluster, cluster, to_status=Cluster.Status.DELETING, note="decommissioning")
    if cluster.status != Cluster.Status.DELETING:
        return
    for grant_id in cluster.grants.exclude(status=AccessGrant.Status.REVOKED).values_list("pk", flat=True):
        revoke_grant(grant_id)
    replicator = (
        Replicator.objects.filter(read_cluster=cluster).exclude(status=Replicator.Status.DELETED).first()
    )
    if replicator is not None:
        if replicator.arn:
            try:
                get_provider().delete_replicator(account_ref(cluster), replicator.arn)
            except ProviderError as exc:
                _step_failed(Cluster, cluster, exc, from_status=Cluster.Status.DELETING)
                return
        move(
            Replicator,
            replicator,
            from_status=replicator.status,
            to_status=Replicator.Status.DELETED,
            note="deleted with its read cluster",
        )
    if cluster.arn:
        try:
            get_provider().delete_cluster(account_ref(cluster), cluster.arn)
        except ProviderError as exc:
            _step_failed(Cluster, cluster, exc, from_status=Cluster.Status.DELETING)
            return
        note_attempt(cluster, f"delete sent for {cluster.arn}")
    else:
        finish_deletion(cluster)


def finish_deletion(
    cluster: Cluster, *, from_status: str = Cluster.Status.DELETING, note: str = "cluster deleted", actor=None
) -> bool:
    """The cluster is gone from MSK: DELETED, with its topics. False if its status moved meanwhile."""
    if not move(
        Cluster,
        cluster,
        from_status=from_status,
        to_status=Cluster.Status.DELETED,
        note=note,
        actor=actor,
        deleted_at=timezone.now(),
    ):
        return False
    for topic in cluster.topics.exclude(status=Topic.Status.DELETED):
        if move(
            Topic, topic, from_status=topic.status, to_status=Topic.Status.DELETED, note="with its cluster"
        ):
            _record_partitions(topic, 0)
    return True
