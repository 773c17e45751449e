"""Provisioning: takes approved inventory to life through the MSK provider, exactly once.

Rules that make retries, crashes and lost dispatches harmless:
- the intent is persisted (status PROVISIONING/CREATING/…) by a compare-and-set *before* any call out;
- AWS names are deterministic (the cluster name), so a retry looks the cluster up by exact name and adopts
  it instead of creating a second one; an existing topic with the same settings is success;
- no database transaction is held across a provider call;
- `reconcile()` (beat) advances in-flight clusters from one batched list per account and region, and
  re-dispatches work whose task was lost.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.template.defaultfilters import pluralize
from django.utils import timezone

from clusters import rules
from clusters.models import (
    AccessGrant,
    Cluster,
    DriftFinding,
    Environment,
    GrantDelivery,
    ProvisioningEvent,
    Replicator,
    Request,
    RequestKind,
    Topic,
    TopicPartitionChange,
)
from clusters.providers import get_provider
from clusters.providers.base import (
    AccessDenied,
    AccountRef,
    ClusterEndpoint,
    ClusterSpec,
    GrantSpec,
    NameConflict,
    ProviderError,
    ReplicatorSpec,
    TopicSpec,
)
from portal import access, audit
from portal.dispatch import enqueue_on_commit
from portal.errors import Conflict, NotAllowed, PortalError

logger = logging.getLogger(__name__)


def redispatch_after() -> timedelta:
    """Work still in its first state after this long is assumed lost (worker died, broker was down)."""
    return timedelta(seconds=settings.PROVISIONING_REDISPATCH_SECONDS)


def account_region_ref(account, region: str) -> AccountRef:
    """Where calls for a registered AWS account and region go (through the role assumed there)."""
    return AccountRef(
        account_id=account.account_id,
        region=region,
        role_arn=account.role_arn,
        external_id=account.external_id,
    )


def account_ref(cluster: Cluster) -> AccountRef:
    return account_region_ref(cluster.account, cluster.region)


def cluster_spec(cluster: Cluster) -> ClusterSpec:
    team = cluster.team
    return ClusterSpec(
        name=cluster.name,
        subnet_ids=tuple(cluster.network_profile.subnet_ids),
        security_group_ids=tuple(cluster.network_profile.security_group_ids),
        tags={
            "team": team.slug, "cost-center": team.cost_center, "environment": cluster.environment,
            "portal-cluster-id": str(cluster.pk),
            **({"request-id": str(request.pk)} if (request := cluster.requests.order_by("pk").first()) else {}),
        },
    )  # fmt: skip


_EVENT_KEYS = {Cluster: "cluster", Topic: "topic", AccessGrant: "grant", Replicator: "replicator"}


def _move(model, obj, *, from_status: str, to_status: str, note: str = "", actor=None, **fields) -> bool:
    """Compare-and-set the status of a cluster, topic or grant and log it. False if someone else moved it.

    `actor` is the person behind the move (an admin's retry); None means the system (a worker, beat)."""
    with transaction.atomic():
        updated = model.objects.filter(pk=obj.pk, status=from_status).update(
            status=to_status, status_changed_at=timezone.now(), **fields
        )
        if updated != 1:
            return False
        ProvisioningEvent.objects.create(
            **{_EVENT_KEYS[model]: obj},
            from_status=from_status, to_status=to_status, note=note,
        )  # fmt: skip
        team = obj.read_cluster.team if isinstance(obj, Replicator) else obj.team
        audit.record(
            f"clusters.{model.__name__.lower()}.{to_status}", actor=actor, obj=obj, team=team,
            details={"from": from_status, "note": note},
        )  # fmt: skip
    obj.status = to_status
    for key, value in fields.items():
        setattr(obj, key, value)
    return True


def _note(obj, note: str) -> None:
    """Log an attempt that did not change the status (a retry, an adoption, a transient error)."""
    key = _EVENT_KEYS[type(obj)]
    ProvisioningEvent.objects.create(**{key: obj}, from_status=obj.status, to_status=obj.status, note=note)


def _step_failed(model, obj, exc: ProviderError, *, from_status: str) -> None:
    """A provider error in a step: transient ones are logged and re-raised for the task to retry with
    backoff; permanent ones (access denied, bad input) fail the object with a reason people can read."""
    if exc.transient:
        _note(obj, f"will retry: {exc.message}")
        raise exc
    _move(model, obj, from_status=from_status, to_status=model.Status.FAILED, note=exc.message,
          status_reason=exc.message)  # fmt: skip


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
        _note(obj, f"{'adopted existing' if adopted else 'create sent for'} {state.arn}")


# --- Clusters -------------------------------------------------------------------------------------


def provision_cluster(cluster_id: int) -> None:
    cluster = Cluster.objects.select_related("account", "network_profile", "team").get(pk=cluster_id)
    moved = cluster.status == Cluster.Status.PENDING and _move(
        Cluster, cluster, from_status=Cluster.Status.PENDING, to_status=Cluster.Status.PROVISIONING,
        note="creating the cluster",
    )  # fmt: skip
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
    if _move(Cluster, cluster, from_status=Cluster.Status.PROVISIONING, to_status=Cluster.Status.ACTIVE,
             note="cluster is active", bootstrap_brokers=bootstrap):  # fmt: skip
        # Cluster-hours start when it first became active (a retried cluster keeps its first start).
        Cluster.objects.filter(pk=cluster.pk, active_since__isnull=True).update(active_since=timezone.now())
        _dispatch_on_commit("provision_topic", cluster.topics.filter(status=Topic.Status.PENDING))
        _dispatch_on_commit("apply_grant", cluster.grants.filter(status=AccessGrant.Status.PENDING))
        _dispatch_on_commit(
            "provision_replicator",
            Replicator.objects.filter(Q(read_cluster=cluster) | Q(source_cluster=cluster), status="pending"),
        )


def fail_cluster(cluster_id: int, reason: str) -> None:
    cluster = Cluster.objects.get(pk=cluster_id)
    _move(Cluster, cluster, from_status=cluster.status, to_status=Cluster.Status.FAILED, note=reason,
          status_reason=reason)  # fmt: skip


def retry_cluster(*, cluster_id: int, actor) -> None:
    """An admin retries a failed cluster: a failed decommission is decommissioned again (FAILED → DELETING);
    anything else goes back to PENDING (keeping any ARN) and is provisioned again."""
    cluster = Cluster.objects.get(pk=cluster_id)
    if failed_step(cluster) == Cluster.Status.DELETING:
        if _move(Cluster, cluster, from_status=Cluster.Status.FAILED, to_status=Cluster.Status.DELETING,
                 note=f"retry by {actor.get_username()}: deleting the cluster", actor=actor,
                 status_reason=""):  # fmt: skip
            _dispatch_on_commit("decommission_cluster", Cluster.objects.filter(pk=cluster_id))
        return
    if _move(Cluster, cluster, from_status=Cluster.Status.FAILED, to_status=Cluster.Status.PENDING,
             note=f"retry requested by {actor.get_username()}", actor=actor, status_reason=""):  # fmt: skip
        _dispatch_on_commit("provision_cluster", Cluster.objects.filter(pk=cluster_id))


# --- Topics and grants ----------------------------------------------------------------------------


def _endpoint(cluster: Cluster) -> ClusterEndpoint:
    return ClusterEndpoint(
        account=account_ref(cluster), arn=cluster.arn, bootstrap_brokers=cluster.bootstrap_brokers
    )


def topic_spec(topic: Topic) -> TopicSpec:
    return TopicSpec(
        name=topic.name,
        partitions=topic.partitions,
        configs={key: str(value) for key, value in topic.configs.items()},
    )


def provision_topic(topic_id: int) -> None:
    topic = Topic.objects.select_related("cluster__account", "team").get(pk=topic_id)
    if topic.cluster.status != Cluster.Status.ACTIVE:
        return  # dispatched again when the cluster turns active
    if topic.status == Topic.Status.PENDING:
        _move(
            Topic, topic, from_status=Topic.Status.PENDING, to_status=Topic.Status.CREATING, note="creating"
        )
    if topic.status != Topic.Status.CREATING:
        return
    try:
        get_provider().ensure_topic(_endpoint(topic.cluster), topic_spec(topic))
    except ProviderError as exc:
        _step_failed(Topic, topic, exc, from_status=Topic.Status.CREATING)
        return
    if _move(Topic, topic, from_status=Topic.Status.CREATING, to_status=Topic.Status.ACTIVE,
             note="topic exists"):  # fmt: skip
        _record_partitions(topic, topic.partitions)


def _record_partitions(topic: Topic, partitions: int) -> None:
    """Partition-hours history: the count the topic really has from now on, when it changed."""
    last = topic.partition_changes.order_by("-changed_at", "-id").values_list("partitions", flat=True).first()
    if last != partitions and not (last is None and partitions == 0):  # never-created topics cost nothing
        TopicPartitionChange.objects.create(topic=topic, partitions=partitions)


def grant_spec(grant: AccessGrant) -> GrantSpec:
    return GrantSpec(
        principal_arn=grant.principal_arn,
        policy_name=f"msk-portal-grant-{grant.pk}",
        policy_document=grant.policy,
    )


def apply_grant(grant_id: int) -> None:
    grant = AccessGrant.objects.select_related("cluster__account", "team").get(pk=grant_id)
    if grant.status != AccessGrant.Status.PENDING or grant.cluster.status != Cluster.Status.ACTIVE:
        return
    if grant.delivery == GrantDelivery.DOCUMENT:
        # The policy names the cluster's ARN, known now: the team attaches the document itself.
        _move(AccessGrant, grant, from_status=AccessGrant.Status.PENDING, to_status=AccessGrant.Status.APPLIED,
              note=f"policy document handed to {grant.team.name} to attach to {grant.principal_arn}")  # fmt: skip
        return
    try:
        get_provider().apply_grant(account_ref(grant.cluster), grant_spec(grant))
    except ProviderError as exc:
        _step_failed(AccessGrant, grant, exc, from_status=AccessGrant.Status.PENDING)
        return
    _move(AccessGrant, grant, from_status=AccessGrant.Status.PENDING, to_status=AccessGrant.Status.APPLIED,
          note="policy attached")  # fmt: skip


# --- Replicators (read clusters) --------------------------------------------------------------------


def replicator_spec(replicator: Replicator) -> ReplicatorSpec:
    read, source = replicator.read_cluster, replicator.source_cluster
    return ReplicatorSpec(
        name=replicator.name, source_arn=source.arn, target_arn=read.arn, topics=tuple(replicator.topics),
        subnet_ids=tuple(read.network_profile.subnet_ids),
        security_group_ids=tuple(read.network_profile.security_group_ids),
        service_execution_role_arn=read.account.replicator_role_arn,
        tags={"team": read.team.slug, "cost-center": read.team.cost_center, "portal-cluster-id": str(read.pk)},
    )  # fmt: skip


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
        _move(Replicator, replicator, from_status=Replicator.Status.PENDING, to_status=Replicator.Status.CREATING,
              note=f"replicating {', '.join(replicator.topics)}")  # fmt: skip
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
        _move(Replicator, replicator, from_status=Replicator.Status.CREATING, to_status=Replicator.Status.ACTIVE,
              note="replicating")  # fmt: skip


def _advance_replicators(stats: dict) -> None:
    """Replicators being created: one lookup each (there are few), RUNNING → active, FAILED → failed."""
    provider = get_provider()
    creating = (
        Replicator.objects.filter(status=Replicator.Status.CREATING)
        .exclude(arn="")
        .select_related("read_cluster__account")
    )
    for replicator in creating:
        try:
            state = provider.find_replicator(account_ref(replicator.read_cluster), replicator.name)
        except ProviderError as exc:
            logger.warning("reconcile: replicator %s: %s", replicator.name, exc)
            continue
        if state is not None and state.state == "RUNNING":
            _move(Replicator, replicator, from_status=Replicator.Status.CREATING,
                  to_status=Replicator.Status.ACTIVE, note="replicating")  # fmt: skip
            stats["replicators_active"] += 1
        elif state is not None and state.state == "FAILED":
            _move(Replicator, replicator, from_status=Replicator.Status.CREATING,
                  to_status=Replicator.Status.FAILED, note="MSK reports the replicator as FAILED.",
                  status_reason="MSK reports the replicator as FAILED.")  # fmt: skip


# --- Changes and removals after approval ----------------------------------------------------------


def update_topic(topic_id: int) -> None:
    """Apply the approved partitions and configs (already the topic's desired state in the inventory)."""
    topic = Topic.objects.select_related("cluster__account", "team").get(pk=topic_id)
    if topic.status != Topic.Status.ACTIVE or topic.cluster.status != Cluster.Status.ACTIVE:
        return  # a pending topic is created with the new settings anyway
    try:
        get_provider().update_topic(_endpoint(topic.cluster), topic_spec(topic))
    except ProviderError as exc:
        _step_failed(Topic, topic, exc, from_status=Topic.Status.ACTIVE)
        return
    _note(topic, f"updated: {topic.partitions} partition{pluralize(topic.partitions)}, configs applied")
    _record_partitions(topic, topic.partitions)


def delete_topic(topic_id: int) -> None:
    topic = Topic.objects.select_related("cluster__account", "team").get(pk=topic_id)
    for from_status in (Topic.Status.ACTIVE, Topic.Status.FAILED, Topic.Status.PENDING):
        if topic.status == from_status:
            _move(Topic, topic, from_status=from_status, to_status=Topic.Status.DELETING, note="deleting")
    if topic.status != Topic.Status.DELETING:
        return
    if topic.cluster.status == Cluster.Status.ACTIVE:
        try:
            get_provider().delete_topic(_endpoint(topic.cluster), topic.name)
        except ProviderError as exc:
            _step_failed(Topic, topic, exc, from_status=Topic.Status.DELETING)
            return
    if _move(
        Topic, topic, from_status=Topic.Status.DELETING, to_status=Topic.Status.DELETED, note="topic deleted"
    ):
        _record_partitions(topic, 0)


def revoke_grant(grant_id: int) -> None:
    grant = AccessGrant.objects.select_related("cluster__account", "team").get(pk=grant_id)
    for from_status in (AccessGrant.Status.APPLIED, AccessGrant.Status.PENDING, AccessGrant.Status.FAILED):
        if grant.status == from_status:
            _move(AccessGrant, grant, from_status=from_status, to_status=AccessGrant.Status.REVOKING,
                  note="removing the policy")  # fmt: skip
    if grant.status != AccessGrant.Status.REVOKING:
        return
    if grant.delivery == GrantDelivery.DOCUMENT:
        _move(AccessGrant, grant, from_status=AccessGrant.Status.REVOKING, to_status=AccessGrant.Status.REVOKED,
              note=f"{grant.team.name} detaches the policy from {grant.principal_arn} itself")  # fmt: skip
        return
    try:
        get_provider().remove_grant(account_ref(grant.cluster), grant_spec(grant))
    except ProviderError as exc:
        _step_failed(AccessGrant, grant, exc, from_status=AccessGrant.Status.REVOKING)
        return
    _move(AccessGrant, grant, from_status=AccessGrant.Status.REVOKING, to_status=AccessGrant.Status.REVOKED,
          note="policy removed")  # fmt: skip


def decommission_cluster(cluster_id: int) -> None:
    """Remove the cluster's grants, then delete it; reconcile marks it deleted once MSK no longer lists it."""
    cluster = Cluster.objects.select_related("account", "team").get(pk=cluster_id)
    for from_status in (Cluster.Status.ACTIVE, Cluster.Status.FAILED, Cluster.Status.PENDING):
        if cluster.status == from_status:
            _move(
                Cluster,
                cluster,
                from_status=from_status,
                to_status=Cluster.Status.DELETING,
                note="decommissioning",
            )
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
        _move(Replicator, replicator, from_status=replicator.status, to_status=Replicator.Status.DELETED,
              note="deleted with its read cluster")  # fmt: skip
    if cluster.arn:
        try:
            get_provider().delete_cluster(account_ref(cluster), cluster.arn)
        except ProviderError as exc:
            _step_failed(Cluster, cluster, exc, from_status=Cluster.Status.DELETING)
            return
        _note(cluster, f"delete sent for {cluster.arn}")
    else:
        _finish_deletion(cluster)


def _finish_deletion(
    cluster: Cluster, *, from_status: str = Cluster.Status.DELETING, note: str = "cluster deleted", actor=None
) -> bool:
    """The cluster is gone from MSK: DELETED, with its topics. False if its status moved meanwhile."""
    if not _move(Cluster, cluster, from_status=from_status, to_status=Cluster.Status.DELETED, note=note,
                 actor=actor, deleted_at=timezone.now()):  # fmt: skip
        return False
    for topic in cluster.topics.exclude(status=Topic.Status.DELETED):
        if _move(Topic, topic, from_status=topic.status, to_status=Topic.Status.DELETED,
                 note="with its cluster"):  # fmt: skip
            _record_partitions(topic, 0)
    return True


# --- Admins retry a failed step ------------------------------------------------------------------

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
    key = _EVENT_KEYS[type(obj)]
    event = (
        ProvisioningEvent.objects.filter(**{key: obj}, to_status="failed")
        .exclude(from_status="failed")
        .order_by("-created_at", "-id")
        .first()
    )
    return event.from_status if event else None


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
    if not _move(model, obj, from_status=model.Status.FAILED, to_status=from_status, note=note, actor=actor,
                 **fields):  # fmt: skip
        raise Conflict(f"{obj} was retried by someone else a moment ago.")
    _dispatch_on_commit(task_name, model.objects.filter(pk=pk))
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


# --- Dispatch and reconcile -----------------------------------------------------------------------


def _dispatch_on_commit(task_name: str, queryset) -> None:
    from clusters import tasks

    task = getattr(tasks, task_name)
    for pk in queryset.values_list("pk", flat=True):
        enqueue_on_commit(task, pk)


def dispatch_after_approval(request) -> None:
    """Called by the approval service inside its transaction: start the work once it commits."""
    if request.kind == "cluster.create" and request.cluster_id:
        _dispatch_on_commit("provision_cluster", Cluster.objects.filter(pk=request.cluster_id))
    elif request.kind == "topic.create" and request.topic_id:
        _dispatch_on_commit("provision_topic", Topic.objects.filter(pk=request.topic_id))
        _dispatch_on_commit("apply_grant", AccessGrant.objects.filter(topic_id=request.topic_id))
    elif request.kind == "access.grant" and request.grant_id:
        _dispatch_on_commit("apply_grant", AccessGrant.objects.filter(pk=request.grant_id))
    elif request.kind == "topic.update" and request.topic_id:
        _dispatch_on_commit("update_topic", Topic.objects.filter(pk=request.topic_id))
    elif request.kind == "topic.delete" and request.topic_id:
        _dispatch_on_commit("delete_topic", Topic.objects.filter(pk=request.topic_id))
    elif request.kind == "access.revoke" and request.grant_id:
        _dispatch_on_commit("revoke_grant", AccessGrant.objects.filter(pk=request.grant_id))
    elif request.kind == "cluster.decommission" and request.cluster_id:
        _dispatch_on_commit("decommission_cluster", Cluster.objects.filter(pk=request.cluster_id))


REDISPATCH_NOTE = "re-dispatched"


def _redispatched_since(model, since):
    """True for objects whose work was already re-dispatched after `since` (throttles re-dispatch)."""
    return Exists(
        ProvisioningEvent.objects.filter(
            **{_EVENT_KEYS[model]: OuterRef("pk")}, note__startswith=REDISPATCH_NOTE, created_at__gte=since
        )
    )


def _redispatch(task, obj, stats: dict) -> None:
    """Send the task again (raises if the broker is still down) and log it on the object's steps."""
    task.delay(obj.pk)
    _note(
        obj,
        f"{REDISPATCH_NOTE}: no progress for {settings.PROVISIONING_REDISPATCH_SECONDS} s or more "
        "(its task was lost: a killed worker or a broker outage)",
    )
    stats["redispatched"] += 1


def reconcile() -> dict:
    """Advance in-flight clusters with one batched list per account and region; re-dispatch lost work.

    Returns counts for logs and benchmarks: provider list calls, bootstrap calls, clusters advanced.
    """
    provider = get_provider()
    from clusters import tasks

    stats = {
        "list_calls": 0,
        "bootstrap_calls": 0,
        "activated": 0,
        "failed": 0,
        "deleted": 0,
        "redispatched": 0,
        "replicators_active": 0,
    }
    in_flight = list(
        Cluster.objects.filter(status__in=[Cluster.Status.PROVISIONING, Cluster.Status.DELETING])
        .exclude(arn="")
        .select_related("account")
    )
    groups: dict[tuple, list[Cluster]] = {}
    for cluster in in_flight:
        groups.setdefault((cluster.account_id, cluster.region), []).append(cluster)
    for clusters in groups.values():
        account = account_ref(clusters[0])
        try:
            # By ARN: a cluster being deleted may share its name with a new one.
            listed = {state.arn: state for state in provider.list_clusters(account)}
        except AccessDenied as exc:
            # A broken role fails this account's clusters with the reason (admins retry once fixed) ...
            for cluster in clusters:
                fail_cluster(cluster.pk, exc.message)
                stats["failed"] += 1
            continue
        except ProviderError as exc:
            # ... and any error in one account never blocks the others.
            logger.warning(
                "reconcile: cannot list clusters in %s/%s: %s", account.account_id, account.region, exc
            )
            continue
        stats["list_calls"] += 1
        for cluster in clusters:
            state = listed.get(cluster.arn)
            if cluster.status == Cluster.Status.DELETING:
                if state is None:
                    _finish_deletion(cluster)
                    stats["deleted"] += 1
                elif (
                    state.state != "DELETING"
                    and cluster.status_changed_at < timezone.now() - redispatch_after()
                    and not Cluster.objects.filter(
                        _redispatched_since(Cluster, timezone.now() - redispatch_after()), pk=cluster.pk
                    ).exists()
                ):
                    _redispatch(tasks.decommission_cluster, cluster, stats)  # the delete call was lost
                continue
            if state is not None and state.state == "ACTIVE":
                try:
                    stats["bootstrap_calls"] += 1
                    activate_cluster(cluster.pk)
                    stats["activated"] += 1
                except ProviderError as exc:
                    logger.warning("reconcile: %s not activated yet: %s", cluster.name, exc)
            elif state is not None and state.state == "FAILED":
                fail_cluster(cluster.pk, "MSK reports the cluster as FAILED.")
                stats["failed"] += 1
    _advance_replicators(stats)
    # Work that has not moved for a while lost its task; each object is re-dispatched (and the step
    # logged) at most once per PROVISIONING_REDISPATCH_SECONDS, however often reconcile runs.
    stale = timezone.now() - redispatch_after()
    lost_replicators = Replicator.objects.filter(
        status=Replicator.Status.PENDING, status_changed_at__lt=stale,
        read_cluster__status=Cluster.Status.ACTIVE, source_cluster__status=Cluster.Status.ACTIVE,
    ).exclude(_redispatched_since(Replicator, stale))  # fmt: skip
    for replicator in lost_replicators.only("pk", "status"):
        _redispatch(tasks.provision_replicator, replicator, stats)
    lost_clusters = (
        Cluster.objects.filter(status_changed_at__lt=stale)
        .filter(Q(status=Cluster.Status.PENDING) | Q(status=Cluster.Status.PROVISIONING, arn=""))
        .exclude(_redispatched_since(Cluster, stale))
    )
    for cluster in lost_clusters.only("pk", "status"):
        _redispatch(tasks.provision_cluster, cluster, stats)
    lost_topics = Topic.objects.filter(
        status__in=[Topic.Status.PENDING, Topic.Status.CREATING], status_changed_at__lt=stale,
        cluster__status=Cluster.Status.ACTIVE,
    ).exclude(_redispatched_since(Topic, stale))  # fmt: skip
    for topic in lost_topics.only("pk", "status"):
        _redispatch(tasks.provision_topic, topic, stats)
    lost_grants = AccessGrant.objects.filter(
        status=AccessGrant.Status.PENDING, status_changed_at__lt=stale, cluster__status=Cluster.Status.ACTIVE
    ).exclude(_redispatched_since(AccessGrant, stale))
    for grant in lost_grants.only("pk", "status"):
        _redispatch(tasks.apply_grant, grant, stats)
    _redispatch_lost_changes(stale, stats)
    return stats


def _approved(kind: str, stale, **target) -> Exists:
    """An approved request of `kind` on the outer object, decided before `stale`."""
    return Exists(
        Request.objects.filter(kind=kind, status=Request.Status.APPROVED, decided_at__lt=stale, **target)
    )


def _redispatch_lost_changes(stale, stats: dict) -> None:
    """Approved changes and removals whose task never ran: the object has not moved since approval."""
    from clusters import tasks

    Kind = RequestKind
    lost = [
        (tasks.delete_topic, Topic.objects.filter(status__in=[Topic.Status.ACTIVE, Topic.Status.PENDING])
            .filter(_approved(Kind.TOPIC_DELETE, stale, topic=OuterRef("pk")))),
        (tasks.revoke_grant, AccessGrant.objects.filter(
            status__in=[AccessGrant.Status.APPLIED, AccessGrant.Status.PENDING])
            .filter(_approved(Kind.ACCESS_REVOKE, stale, grant=OuterRef("pk")))),
        (tasks.decommission_cluster, Cluster.objects.filter(status__in=[Cluster.Status.ACTIVE, Cluster.Status.PENDING])
            .filter(_approved(Kind.CLUSTER_DECOMMISSION, stale, cluster=OuterRef("pk")))),
        # A change leaves a step on the topic ("updated …" or a failure); none since approval: lost.
        (tasks.update_topic, Topic.objects.filter(status=Topic.Status.ACTIVE, cluster__status=Cluster.Status.ACTIVE)
            .filter(Exists(Request.objects.filter(
                kind=Kind.TOPIC_UPDATE, status=Request.Status.APPROVED, decided_at__lt=stale, topic=OuterRef("pk"))
                .exclude(Exists(ProvisioningEvent.objects.filter(
                    topic=OuterRef("topic"), created_at__gt=OuterRef("decided_at"))
                    .exclude(note__startswith=REDISPATCH_NOTE)))))),
    ]  # fmt: skip
    for task, queryset in lost:
        model = queryset.model
        for obj in queryset.exclude(_redispatched_since(model, stale)).only("pk", "status"):
            _redispatch(task, obj, stats)


# --- Drift ----------------------------------------------------------------------------------------

EXPECTED_TAGS = ("team", "cost-center", "environment")


def detect_drift() -> dict:
    """Compare every account and region that has live clusters with what MSK lists; record findings.

    Runs on its own, slower beat schedule: one paged list per account and region. A finding stays open
    (one per ARN and kind) until the difference is gone, then it is marked resolved.
    """
    provider = get_provider()
    stats = {"list_calls": 0, "opened": 0, "resolved": 0}
    live = Cluster.objects.exclude(
        status__in=[Cluster.Status.DELETED, Cluster.Status.PENDING]
    ).select_related("account", "team")
    groups: dict[tuple, list[Cluster]] = {}
    for cluster in live:
        groups.setdefault((cluster.account_id, cluster.region), []).append(cluster)
    for (account_id, region), clusters in groups.items():
        try:
            listed = {state.arn: state for state in provider.list_clusters(account_ref(clusters[0]))}
        except ProviderError as exc:
            logger.warning("drift: cannot list clusters in account %s/%s: %s", account_id, region, exc)
            continue
        stats["list_calls"] += 1
        found: set[tuple[str, str]] = set()
        known_arns = {cluster.arn for cluster in clusters if cluster.arn}
        for cluster in clusters:
            state = listed.get(cluster.arn) if cluster.arn else None
            if cluster.status == Cluster.Status.ACTIVE and state is None:
                found.add((cluster.arn, "missing"))
                _open_finding(cluster.account, region, cluster, cluster.arn, "missing",
                              f"{cluster.name} is active in the portal but MSK no longer lists it.", stats)  # fmt: skip
            elif state is not None:
                expected = provisioning_tags(cluster)
                changed = [
                    f"{key} is {state.tags.get(key, 'missing')} in MSK, {expected[key]} in the portal"
                    for key in EXPECTED_TAGS
                    if state.tags.get(key) != expected[key]
                ]
                if changed:
                    found.add((cluster.arn, "retagged"))
                    _open_finding(cluster.account, region, cluster, cluster.arn, "retagged",
                                  f"Tag {'; '.join(changed)}.", stats)  # fmt: skip
        for arn, state in listed.items():
            if arn not in known_arns and state.state != "DELETING":
                found.add((arn, "unknown"))
                _open_finding(clusters[0].account, region, None, arn, "unknown",
                              f"{state.name} exists in the account but not in the portal.", stats)  # fmt: skip
        still_open = DriftFinding.objects.filter(
            account_id=account_id, region=region, resolved_at__isnull=True
        )
        for finding in still_open:
            if (finding.arn, finding.kind) not in found:
                DriftFinding.objects.filter(pk=finding.pk).update(resolved_at=timezone.now())
                stats["resolved"] += 1
    return stats


def provisioning_tags(cluster: Cluster) -> dict[str, str]:
    return {key: value for key, value in cluster_spec(cluster).tags.items() if key in EXPECTED_TAGS}


def _open_finding(account, region, cluster, arn, kind, detail, stats) -> None:
    _, created = DriftFinding.objects.get_or_create(
        arn=arn, kind=kind, resolved_at=None,
        defaults={"account": account, "region": region, "cluster": cluster, "detail": detail},
    )  # fmt: skip
    if created:
        stats["opened"] += 1
        audit.record("clusters.drift.detected", actor=None, obj=cluster, team=cluster.team if cluster else None,
                     details={"arn": arn, "kind": kind, "detail": detail})  # fmt: skip


# --- Drift: admins adopt or fix what detect_drift found ---------------------------------------------
#
# Each action checks the finding is still open, makes its provider calls outside any transaction, then
# resolves the finding by compare-and-set (resolved_at IS NULL) in the same transaction as its own
# changes: of two admins acting at once, one wins and the other is told the finding is already resolved.

ALREADY_RESOLVED = (
    "This drift finding is already resolved (by another admin, or the drift check found it gone)."
)


def _open_finding_for(finding_id: int, kind: str, actor) -> DriftFinding:
    if not access.is_platform_admin(actor):
        raise NotAllowed("Only platform admins act on drift.")
    finding = DriftFinding.objects.select_related("account", "cluster__team").get(pk=finding_id)
    if finding.resolved_at is not None:
        raise Conflict(ALREADY_RESOLVED)
    if finding.kind != kind:
        raise Conflict(f"This action does not apply to a “{finding.get_kind_display()}” finding.")
    return finding


def _resolve(finding: DriftFinding) -> None:
    """Compare-and-set; call inside the action's transaction so a lost race undoes the action too."""
    if not DriftFinding.objects.filter(pk=finding.pk, resolved_at__isnull=True).update(
        resolved_at=timezone.now()
    ):
        raise Conflict(ALREADY_RESOLVED)


def _finding_account(finding: DriftFinding) -> AccountRef:
    return account_region_ref(finding.account, finding.region)


def _listed(finding: DriftFinding):
    """What MSK lists now under the finding's ARN (None when it does not), or a readable error."""
    try:
        listed = get_provider().list_clusters(_finding_account(finding))
    except ProviderError as exc:
        raise PortalError(f"Cannot ask MSK about {finding.arn} now: {exc.message}") from exc
    return next((state for state in listed if state.arn == finding.arn), None)


def adopt_unknown_cluster(*, finding_id: int, actor, team, environment: str, network_profile) -> Cluster:
    """A cluster created outside the portal joins the inventory: ACTIVE, owned by `team`, its ARN and
    bootstrap brokers read from MSK (outside any transaction), tagged with the portal's tags.

    ValidationError for a choice that does not fit (keys: team, environment, network_profile); Conflict
    when the finding is resolved or MSK's cluster cannot be adopted as it is; PortalError for MSK trouble.
    """
    finding = _open_finding_for(finding_id, DriftFinding.Kind.UNKNOWN, actor)
    errors = {}
    if environment not in Environment.values:
        errors["environment"] = "Choose Development, Staging or Production."
    if network_profile.account_id != finding.account_id or network_profile.region != finding.region:
        errors["network_profile"] = (
            f"Choose a network profile of account {finding.account.account_id} in {finding.region}, "
            "where the cluster is."
        )
    if not access.team_may_use_account(team, finding.account):
        errors["team"] = (
            f"Account {finding.account.account_id} belongs to another team; "
            f"{team.name} cannot own clusters in it."
        )
    if errors:
        raise ValidationError(errors)

    state = _listed(finding)
    if state is None:
        raise Conflict(f"MSK no longer lists {finding.arn}: there is nothing to adopt.")
    if state.state != "ACTIVE":
        raise Conflict(f"{state.name} is {state.state} in MSK; it can be adopted once it is ACTIVE.")
    if name_error := rules.cluster_name_error(state.name):
        raise Conflict(f"The portal cannot record this cluster: {name_error}")
    taken = Cluster.objects.filter(account=finding.account, region=finding.region, name=state.name)
    if taken.exclude(status=Cluster.Status.DELETED).exists():
        raise Conflict(f"The portal already has a cluster named {state.name} in this account and region.")
    account = _finding_account(finding)
    try:
        bootstrap = get_provider().bootstrap_brokers(account, finding.arn)
    except ProviderError as exc:
        raise PortalError(f"Cannot read the bootstrap brokers of {state.name}: {exc.message}") from exc

    try:
        with transaction.atomic():
            _resolve(finding)
            cluster = Cluster.objects.create(
                name=state.name, team=team, kind=Cluster.Kind.DEDICATED, environment=environment,
                account=finding.account, region=finding.region, network_profile=network_profile,
                status=Cluster.Status.ACTIVE, arn=finding.arn, bootstrap_brokers=bootstrap,
                active_since=timezone.now(),  # the portal charges it from adoption on
            )  # fmt: skip
            ProvisioningEvent.objects.create(
                cluster=cluster, from_status="", to_status=Cluster.Status.ACTIVE,
                note=f"adopted by {actor.get_username()}: created outside the portal as {finding.arn}",
            )  # fmt: skip
            audit.record(
                "clusters.drift.adopted", actor=actor, obj=cluster, team=team,
                details={"arn": finding.arn, "finding": finding.pk, "environment": environment},
            )  # fmt: skip
    except IntegrityError as exc:  # a twin adoption or a request recorded the same name a moment ago
        raise Conflict(
            f"The portal already has a cluster named {state.name} in this account and region."
        ) from exc
    _tag(cluster, account)
    return cluster


def _tag(cluster: Cluster, account: AccountRef) -> None:
    """The portal's tags on an adopted cluster. A failure is logged, not raised: the cluster is adopted,
    and the drift check flags the tags for an admin to re-apply."""
    try:
        get_provider().tag_cluster(account, cluster.arn, cluster_spec(cluster).tags)
    except ProviderError as exc:
        _note(cluster, f"portal tags not applied: {exc.message}")
        return
    _note(cluster, "portal tags applied")


def reapply_portal_tags(*, finding_id: int, actor) -> Cluster:
    """Tags changed outside the portal: put the portal's tags back on the cluster in MSK."""
    finding = _open_finding_for(finding_id, DriftFinding.Kind.RETAGGED, actor)
    cluster = Cluster.objects.select_related("account", "network_profile", "team").get(pk=finding.cluster_id)
    if cluster.status == Cluster.Status.DELETED or not cluster.arn:
        raise Conflict(f"{cluster.name} is not a live cluster in MSK any more: there are no tags to fix.")
    tags = cluster_spec(cluster).tags
    try:
        get_provider().tag_cluster(account_ref(cluster), cluster.arn, tags)
    except ProviderError as exc:
        raise PortalError(f"Cannot tag {cluster.name} in MSK: {exc.message}") from exc
    with transaction.atomic():
        _resolve(finding)
        _note(cluster, f"portal tags re-applied by {actor.get_username()}")
        audit.record("clusters.drift.retagged", actor=actor, obj=cluster, team=cluster.team,
                     details={"arn": cluster.arn, "finding": finding.pk, "tags": tags})  # fmt: skip
    return cluster


def mark_deleted(*, finding_id: int, actor) -> Cluster:
    """A cluster deleted outside the portal: DELETED in the inventory with its topics, its grants' policies
    removed. Recreating it is a new cluster request."""
    finding = _open_finding_for(finding_id, DriftFinding.Kind.MISSING, actor)
    cluster = Cluster.objects.select_related("account", "team").get(pk=finding.cluster_id)
    if cluster.status == Cluster.Status.DELETED:
        raise Conflict(f"{cluster.name} is already deleted in the portal.")
    state = _listed(finding)
    if state is not None and state.state != "DELETING":
        raise Conflict(f"MSK lists {cluster.name} again ({state.state}): it is not deleted.")
    with transaction.atomic():
        _resolve(finding)
        note = f"marked deleted by {actor.get_username()}: deleted outside the portal"
        if not _finish_deletion(cluster, from_status=cluster.status, note=note, actor=actor):
            raise Conflict(f"{cluster.name} changed status a moment ago; look at it again.")
        audit.record("clusters.drift.marked_deleted", actor=actor, obj=cluster, team=cluster.team,
                     details={"arn": cluster.arn, "finding": finding.pk})  # fmt: skip
        _dispatch_on_commit("revoke_grant", cluster.grants.exclude(status=AccessGrant.Status.REVOKED))
    return cluster
