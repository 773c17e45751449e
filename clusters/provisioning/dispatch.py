"""Start provisioning work once the transaction that approved it commits (never for a rolled-back
approval): one task per object, by id.
"""

from __future__ import annotations

from clusters.models import AccessGrant, Cluster, Topic
from clusters.provisioning import tasks
from portal.dispatch import enqueue_on_commit


def dispatch_on_commit(task_name: str, queryset) -> None:
    task = getattr(tasks, task_name)
    for pk in queryset.values_list("pk", flat=True):
        enqueue_on_commit(task, pk)


def dispatch_after_approval(request) -> None:
    """Called by the approval service inside its transaction: start the work once it commits."""
    if request.kind == "cluster.create" and request.cluster_id:
        dispatch_on_commit("provision_cluster", Cluster.objects.filter(pk=request.cluster_id))
    elif request.kind == "topic.create" and request.topic_id:
        dispatch_on_commit("provision_topic", Topic.objects.filter(pk=request.topic_id))
        dispatch_on_commit("apply_grant", AccessGrant.objects.filter(topic_id=request.topic_id))
    elif request.kind == "access.grant" and request.grant_id:
        dispatch_on_commit("apply_grant", AccessGrant.objects.filter(pk=request.grant_id))
    elif request.kind == "topic.update" and request.topic_id:
        dispatch_on_commit("update_topic", Topic.objects.filter(pk=request.topic_id))
    elif request.kind == "topic.delete" and request.topic_id:
        dispatch_on_commit("delete_topic", Topic.objects.filter(pk=request.topic_id))
    elif request.kind == "access.revoke" and request.grant_id:
        dispatch_on_commit("revoke_grant", AccessGrant.objects.filter(pk=request.grant_id))
    elif request.kind == "cluster.decommission" and request.cluster_id:
        dispatch_on_commit("decommission_cluster", Cluster.objects.filter(pk=request.cluster_id))
