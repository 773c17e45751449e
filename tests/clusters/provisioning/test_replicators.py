"""Read clusters: after approval and once both clusters are active, an MSK Replicator feeds them."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from clusters import provisioning
from clusters.models import Cluster, Replicator, Topic
from clusters.providers.local.models import LocalMskCluster, LocalMskReplicator
from clusters.providers.local.provider import LocalProvider
from clusters.requests import services


@pytest.fixture
def write_cluster(team_a, platform_account, network_profile):
    cluster = Cluster.objects.create(
        name="events-write",
        team=team_a,
        kind="write",
        environment="dev",
        account=platform_account,
        region="us-east-1",
        network_profile=network_profile,
        status=Cluster.Status.PROVISIONING,
    )
    Topic.objects.create(cluster=cluster, team=team_a, name="team-a.orders", partitions=3, status="active")
    provisioning.provision_cluster(cluster.pk)
    LocalMskCluster.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    provisioning.reconcile()
    cluster.refresh_from_db()
    assert cluster.status == Cluster.Status.ACTIVE
    return cluster


def read_request(member_a, team_a, platform_account, network_profile, write_cluster, **overrides):
    data = dict(
        team=team_a,
        name="events-read",
        kind="read",
        environment="dev",
        account=platform_account,
        region="us-east-1",
        network_profile=network_profile,
        expected_write_mbps=Decimal(0),
        expected_read_mbps=Decimal(10),
        contains_pii=False,
        latency_class="time_insensitive",
        justification="consumers",
        source_cluster=write_cluster,
        replicate_topics=["team-a.orders"],
    )
    data.update(overrides)
    return services.prepare_cluster_create(actor=member_a, **data)


def test_read_cluster_gets_a_replicator_once_both_clusters_are_active(
    member_a,
    admin,
    team_a,
    platform_account,
    network_profile,
    write_cluster,
    django_capture_on_commit_callbacks,
):
    request = services.submit_request(
        actor=member_a,
        prepared=read_request(member_a, team_a, platform_account, network_profile, write_cluster),
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_request(request_id=request.pk, actor=admin)
    replicator = Replicator.objects.get(read_cluster__name="events-read")
    assert replicator.status == Replicator.Status.PENDING and replicator.topics == ["team-a.orders"]

    LocalMskCluster.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        provisioning.reconcile()  # read cluster active → replicator created
    replicator.refresh_from_db()
    assert replicator.status == Replicator.Status.CREATING and replicator.arn
    simulated = LocalMskReplicator.objects.get()
    assert simulated.source_arn == write_cluster.arn and simulated.topics == ["team-a.orders"]
    # From the write cluster's oldest record, not only what arrives after the replicator starts.
    assert provisioning.specs.replicator_spec(replicator).starting_position == "EARLIEST"

    LocalMskReplicator.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    assert provisioning.reconcile()["replicators_active"] == 1
    replicator.refresh_from_db()
    assert replicator.status == Replicator.Status.ACTIVE
    provisioning.provision_replicator(replicator.pk)  # again: nothing new
    assert LocalMskReplicator.objects.count() == 1

    read = replicator.read_cluster
    read.refresh_from_db()
    provisioning.decommission_cluster(read.pk)
    replicator.refresh_from_db()
    assert replicator.status == Replicator.Status.DELETED and not LocalMskReplicator.objects.exists()


def test_replicator_source_must_share_the_account(
    member_a, team_a, platform_account, network_profile, write_cluster
):
    from tests import builders

    other = builders.aws_account("210987654321", name="o")
    other_network = builders.network_profile(other, name="n", security_group_ids=[])
    with pytest.raises(ValidationError) as excinfo:
        read_request(member_a, team_a, other, other_network, write_cluster)
    assert "same AWS account" in excinfo.value.message_dict["source_cluster"][0]


def test_local_replicator_needs_both_clusters_active(write_cluster, platform_account):
    from clusters.providers.base import ProviderError, ReplicatorSpec

    spec = ReplicatorSpec(
        name="x",
        source_arn=write_cluster.arn,
        target_arn="arn:aws:kafka:us-east-1:1:cluster/no/1",
        topics=("t",),
        source_subnet_ids=(),
        source_security_group_ids=(),
        target_subnet_ids=(),
        target_security_group_ids=(),
        service_execution_role_arn="",
    )
    with pytest.raises(ProviderError, match="both clusters active"):
        LocalProvider().create_replicator(provisioning.account_ref(write_cluster), spec)
