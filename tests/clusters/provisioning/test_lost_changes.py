"""Approved changes and removals whose task was lost (broker down at commit) are re-dispatched by reconcile."""

from datetime import timedelta

from django.utils import timezone

from clusters import provisioning
from clusters.models import AccessGrant, Cluster, Topic
from clusters.providers.local.models import LocalMskCluster, LocalMskTopic
from clusters.requests import services
from tests import builders


def test_lost_update_revoke_delete_and_decommission_are_carried_out_by_reconcile(
    member_a, admin, team_a, network_profile, django_capture_on_commit_callbacks, settings
):
    settings.PROVISIONING_REDISPATCH_SECONDS = 0  # anything approved before now counts as lost
    capture = django_capture_on_commit_callbacks

    def approve_and_lose_tasks(prepared):
        builders.approve(builders.submit(member_a, prepared), admin, capture, run_tasks=False)

    builders.approve(
        builders.cluster_request(member_a, team_a, network_profile, "team-a-lost"), admin, capture
    )
    LocalMskCluster.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    with capture(execute=True):
        provisioning.reconcile()
    cluster = Cluster.objects.get(name="team-a-lost")
    builders.approve(
        builders.topic_request(member_a, cluster, "orders", access_entries=builders.produce_access()),
        admin,
        capture,
    )
    topic, grant = Topic.objects.get(name="team-a.orders"), AccessGrant.objects.get()

    approve_and_lose_tasks(
        services.prepare_topic_update(
            actor=member_a,
            topic=topic,
            partitions=3,
            retention_ms=-1,
            retention_bytes=-1,
            max_message_bytes=1048588,
            compression_type="zstd",
            message_timestamp_type="CreateTime",
        )
    )
    assert LocalMskTopic.objects.get().partitions == 1  # the task was lost
    assert provisioning.reconcile()["redispatched"] == 1  # eager in tests: the update ran
    assert LocalMskTopic.objects.get().partitions == 3
    assert provisioning.reconcile()["redispatched"] == 0  # done: not again

    approve_and_lose_tasks(services.prepare_access_revoke(actor=member_a, grant=grant, justification="gone"))
    approve_and_lose_tasks(services.prepare_topic_delete(actor=member_a, topic=topic, justification="gone"))
    assert provisioning.reconcile()["redispatched"] == 2
    grant.refresh_from_db()
    topic.refresh_from_db()
    assert grant.status == AccessGrant.Status.REVOKED and topic.status == Topic.Status.DELETED

    cluster.refresh_from_db()
    approve_and_lose_tasks(
        services.prepare_cluster_decommission(actor=member_a, cluster=cluster, justification="done")
    )
    assert Cluster.objects.get(pk=cluster.pk).status == Cluster.Status.ACTIVE  # lost
    assert provisioning.reconcile()["redispatched"] == 1
    assert Cluster.objects.get(pk=cluster.pk).status == Cluster.Status.DELETING
