"""Approved changes and removals whose task was lost (broker down at commit) are re-dispatched by reconcile."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from clusters import provisioning
from clusters.models import AccessGrant, Cluster, Topic
from clusters.providers.local.models import LocalMskCluster, LocalMskTopic
from clusters.requests import services


def _approve(prepared, member, admin, capture, *, lose_tasks=False):
    request = services.submit_request(actor=member, prepared=prepared)
    with capture(execute=not lose_tasks):
        services.approve_request(request_id=request.pk, actor=admin)


def test_lost_update_revoke_delete_and_decommission_are_carried_out_by_reconcile(
    member_a, admin, team_a, platform_account, network_profile, django_capture_on_commit_callbacks, settings
):
    settings.PROVISIONING_REDISPATCH_SECONDS = 0  # anything approved before now counts as lost
    capture = django_capture_on_commit_callbacks
    _approve(
        services.prepare_cluster_create(
            actor=member_a,
            team=team_a,
            name="team-a-lost",
            kind="dedicated",
            environment="dev",
            account=platform_account,
            region="us-east-1",
            network_profile=network_profile,
            expected_write_mbps=Decimal(5),
            expected_read_mbps=Decimal(5),
            contains_pii=False,
            latency_class="time_insensitive",
            justification="test",
        ),
        member_a,
        admin,
        capture,
    )
    LocalMskCluster.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    with capture(execute=True):
        provisioning.reconcile()
    cluster = Cluster.objects.get(name="team-a-lost")
    _approve(
        services.prepare_topic_create(
            actor=member_a,
            team=team_a,
            cluster=cluster,
            name="orders",
            expected_in_mbps=Decimal(1),
            expected_out_mbps=Decimal(1),
            access_entries=[
                services.AccessInput("arn:aws:iam::123456789012:role/app", produce=True, consume=False)
            ],
        ),
        member_a,
        admin,
        capture,
    )
    topic, grant = Topic.objects.get(name="team-a.orders"), AccessGrant.objects.get()

    _approve(
        services.prepare_topic_update(
            actor=member_a,
            topic=topic,
            partitions=3,
            retention_ms=-1,
            retention_bytes=-1,
            max_message_bytes=1048588,
            compression_type="zstd",
            message_timestamp_type="CreateTime",
        ),
        member_a,
        admin,
        capture,
        lose_tasks=True,
    )
    assert LocalMskTopic.objects.get().partitions == 1  # the task was lost
    assert provisioning.reconcile()["redispatched"] == 1  # eager in tests: the update ran
    assert LocalMskTopic.objects.get().partitions == 3
    assert provisioning.reconcile()["redispatched"] == 0  # done: not again

    _approve(
        services.prepare_access_revoke(actor=member_a, grant=grant, justification="gone"),
        member_a,
        admin,
        capture,
        lose_tasks=True,
    )
    _approve(
        services.prepare_topic_delete(actor=member_a, topic=topic, justification="gone"),
        member_a,
        admin,
        capture,
        lose_tasks=True,
    )
    assert provisioning.reconcile()["redispatched"] == 2
    grant.refresh_from_db()
    topic.refresh_from_db()
    assert grant.status == AccessGrant.Status.REVOKED and topic.status == Topic.Status.DELETED

    cluster.refresh_from_db()
    _approve(
        services.prepare_cluster_decommission(actor=member_a, cluster=cluster, justification="done"),
        member_a,
        admin,
        capture,
        lose_tasks=True,
    )
    assert Cluster.objects.get(pk=cluster.pk).status == Cluster.Status.ACTIVE  # lost
    assert provisioning.reconcile()["redispatched"] == 1
    assert Cluster.objects.get(pk=cluster.pk).status == Cluster.Status.DELETING
