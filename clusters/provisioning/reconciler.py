"""The reconcile loop (beat): advances in-flight clusters from one batched list call per account and
region, follows replicators being created, and re-dispatches work whose task was lost (a killed worker, a
broker outage), each object at most once per PROVISIONING_REDISPATCH_SECONDS.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from clusters.models import AccessGrant, Cluster, ProvisioningEvent, Replicator, Request, RequestKind, Topic
from clusters.providers import account_ref, get_provider
from clusters.providers.base import AccessDenied, ProviderError
from clusters.provisioning import tasks
from clusters.provisioning.steps import activate_cluster, fail_cluster, finish_deletion
from clusters.provisioning.transitions import EVENT_KEYS, move, note_attempt

logger = logging.getLogger(__name__)


def redispatch_after() -> timedelta:
    """Work still in its first state after this long is assumed lost (worker died, broker was down)."""
    return timedelta(seconds=settings.PROVISIONING_REDISPATCH_SECONDS)


REDISPATCH_NOTE = "re-dispatched"


def _redispatched_since(model, since):
    """True for objects whose work was already re-dispatched after `since` (throttles re-dispatch)."""
    return Exists(
        ProvisioningEvent.objects.filter(
            **{EVENT_KEYS[model]: OuterRef("pk")}, note__startswith=REDISPATCH_NOTE, created_at__gte=since
        )
    )


def _redispatch(task, obj, stats: dict) -> None:
    """Send the task again (raises if the broker is still down) and log it on the object's steps."""
    task.delay(obj.pk)
    note_attempt(
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
                    finish_deletion(cluster)
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
        status=Replicator.Status.PENDING,
        status_changed_at__lt=stale,
        read_cluster__status=Cluster.Status.ACTIVE,
        source_cluster__status=Cluster.Status.ACTIVE,
    ).exclude(_redispatched_since(Replicator, stale))
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
        status__in=[Topic.Status.PENDING, Topic.Status.CREATING],
        status_changed_at__lt=stale,
        cluster__status=Cluster.Status.ACTIVE,
    ).exclude(_redispatched_since(Topic, stale))
    for topic in lost_topics.only("pk", "status"):
        _redispatch(tasks.provision_topic, topic, stats)
    lost_grants = AccessGrant.objects.filter(
        status=AccessGrant.Status.PENDING, status_changed_at__lt=stale, cluster__status=Cluster.Status.ACTIVE
    ).exclude(_redispatched_since(AccessGrant, stale))
    for grant in lost_grants.only("pk", "status"):
        _redispatch(tasks.apply_grant, grant, stats)
    _redispatch_lost_changes(stale, stats)
    return stats


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
            move(
                Replicator,
                replicator,
                from_status=Replicator.Status.CREATING,
                to_status=Replicator.Status.ACTIVE,
                note="replicating",
            )
            stats["replicators_active"] += 1
        elif state is not None and state.state == "FAILED":
            move(
                Replicator,
                replicator,
                from_status=Replicator.Status.CREATING,
                to_status=Replicator.Status.FAILED,
                note="MSK reports the replicator as FAILED.",
                status_reason="MSK reports the replicator as FAILED.",
            )


def _approved(kind: str, stale, **target) -> Exists:
    """An approved request of `kind` on the outer object, decided before `stale`."""
    return Exists(
        Request.objects.filter(kind=kind, status=Request.Status.APPROVED, decided_at__lt=stale, **target)
    )


def _redispatch_lost_changes(stale, stats: dict) -> None:
    """Approved changes and removals whose task never ran: the object has not moved since approval."""
    Kind = RequestKind
    lost = [
        (
            tasks.delete_topic,
            Topic.objects.filter(status__in=[Topic.Status.ACTIVE, Topic.Status.PENDING]).filter(
                _approved(Kind.TOPIC_DELETE, stale, topic=OuterRef("pk"))
            ),
        ),
        (
            tasks.revoke_grant,
            AccessGrant.objects.filter(
                status__in=[AccessGrant.Status.APPLIED, AccessGrant.Status.PENDING]
            ).filter(_approved(Kind.ACCESS_REVOKE, stale, grant=OuterRef("pk"))),
        ),
        (
            tasks.decommission_cluster,
            Cluster.objects.filter(status__in=[Cluster.Status.ACTIVE, Cluster.Status.PENDING]).filter(
                _approved(Kind.CLUSTER_DECOMMISSION, stale, cluster=OuterRef("pk"))
            ),
        ),
        # A change leaves a step on the topic ("updated …" or a failure); none since approval: lost.
        (
            tasks.update_topic,
            Topic.objects.filter(status=Topic.Status.ACTIVE, cluster__status=Cluster.Status.ACTIVE).filter(
                Exists(
                    Request.objects.filter(
                        kind=Kind.TOPIC_UPDATE,
                        status=Request.Status.APPROVED,
                        decided_at__lt=stale,
                        topic=OuterRef("pk"),
                    ).exclude(
                        Exists(
                            ProvisioningEvent.objects.filter(
                                topic=OuterRef("topic"), created_at__gt=OuterRef("decided_at")
                            ).exclude(note__startswith=REDISPATCH_NOTE)
                        )
                    )
                )
            ),
        ),
    ]
    for task, queryset in lost:
        model = queryset.model
        for obj in queryset.exclude(_redispatched_since(model, stale)).only("pk", "status"):
            _redispatch(task, obj, stats)
