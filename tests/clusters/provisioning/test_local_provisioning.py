"""Provisioning through the local provider: approval → cluster → topics → grants, exactly once."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from clusters import provisioning
from clusters.models import AccessGrant, Cluster, ProvisioningEvent, Topic
from clusters.providers.base import AccessDenied, TransientError
from clusters.providers.local.models import LocalMskCluster, LocalMskGrant, LocalMskTopic
from clusters.providers.local.provider import LocalProvider
from clusters.requests import services
from tests import builders

ARN = re.compile(r"^arn:aws:kafka:us-east-1:123456789012:cluster/team-a-new/[0-9a-f-]{36}-s1$")


@pytest.fixture
def approved_cluster(member_a, admin, team_a, network_profile, django_capture_on_commit_callbacks):
    request = builders.cluster_request(member_a, team_a, network_profile, "team-a-new")
    builders.approve(request, admin, django_capture_on_commit_callbacks)
    return Cluster.objects.get(name="team-a-new")


@override_settings(LOCAL_MSK_CREATE_SECONDS=60)
def test_approval_starts_provisioning_with_a_real_format_arn_and_tags(approved_cluster):
    assert approved_cluster.status == Cluster.Status.PROVISIONING
    assert ARN.match(approved_cluster.arn)
    simulated = LocalMskCluster.objects.get(name="team-a-new")
    assert simulated.tags["team"] == "team-a" and simulated.tags["cost-center"] == "CC-A"
    assert simulated.tags["portal-cluster-id"] == str(approved_cluster.pk) and "request-id" in simulated.tags
    notes = list(ProvisioningEvent.objects.filter(cluster=approved_cluster).values_list("note", flat=True))
    assert notes[0] == "creating the cluster" and notes[1].startswith("create sent for arn:aws:kafka:")


@override_settings(LOCAL_MSK_CREATE_SECONDS=60)
def test_reconcile_activates_with_one_list_and_one_bootstrap_call(
    approved_cluster, django_capture_on_commit_callbacks
):
    assert provisioning.reconcile()["activated"] == 0  # still CREATING
    LocalMskCluster.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        stats = provisioning.reconcile()
    assert stats["list_calls"] == 1 and stats["bootstrap_calls"] == 1 and stats["activated"] == 1
    approved_cluster.refresh_from_db()
    assert approved_cluster.status == Cluster.Status.ACTIVE
    assert approved_cluster.bootstrap_brokers.endswith(".kafka-serverless.us-east-1.amazonaws.com:9098")


@override_settings(LOCAL_MSK_CREATE_SECONDS=60)
def test_provisioning_twice_creates_one_cluster(approved_cluster):
    provisioning.provision_cluster(approved_cluster.pk)
    provisioning.provision_cluster(approved_cluster.pk)
    assert LocalMskCluster.objects.count() == 1


@override_settings(LOCAL_MSK_CREATE_SECONDS=60)
def test_a_cluster_created_before_a_crash_is_adopted(cluster_a, network_profile, team_a):
    # The worker died after MSK accepted the create call but before the ARN was saved.
    cluster = builders.cluster(team_a, network_profile, "crashed", status=Cluster.Status.PROVISIONING, arn="")
    account = provisioning.account_ref(cluster)
    earlier = LocalProvider().create_cluster(account, provisioning.cluster_spec(cluster))
    provisioning.provision_cluster(cluster.pk)
    cluster.refresh_from_db()
    assert cluster.arn == earlier.arn
    assert LocalMskCluster.objects.filter(name="crashed").count() == 1
    assert ProvisioningEvent.objects.filter(cluster=cluster, note__startswith="adopted existing").exists()


def test_access_denied_fails_with_a_readable_reason_and_admins_can_retry(
    approved_cluster, team_a, network_profile, admin, monkeypatch, django_capture_on_commit_callbacks
):
    cluster = builders.cluster(team_a, network_profile, "denied", status=Cluster.Status.PENDING, arn="")

    def refuse(self, account, spec):
        raise AccessDenied("The portal cannot assume arn:aws:iam::123456789012:role/msk-portal.")

    monkeypatch.setattr(LocalProvider, "create_cluster", refuse)
    provisioning.provision_cluster(cluster.pk)
    cluster.refresh_from_db()
    assert cluster.status == Cluster.Status.FAILED
    assert "cannot assume" in cluster.status_reason
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        provisioning.retry_cluster(cluster_id=cluster.pk, actor=admin)
    cluster.refresh_from_db()
    assert cluster.status in (Cluster.Status.PROVISIONING, Cluster.Status.ACTIVE) and cluster.arn


def test_transient_errors_are_raised_for_retry_and_lost_work_is_redispatched(
    approved_cluster, team_a, network_profile, monkeypatch
):
    cluster = builders.cluster(team_a, network_profile, "flaky", status=Cluster.Status.PENDING, arn="")

    def throttle(self, account, name):
        raise TransientError("Rate exceeded")

    monkeypatch.setattr(LocalProvider, "find_cluster", throttle)
    with pytest.raises(TransientError):
        provisioning.provision_cluster(cluster.pk)
    cluster.refresh_from_db()
    assert cluster.status == Cluster.Status.PROVISIONING and cluster.arn == ""
    assert ProvisioningEvent.objects.filter(cluster=cluster, note="will retry: Rate exceeded").exists()
    monkeypatch.undo()
    Cluster.objects.filter(pk=cluster.pk).update(status_changed_at=timezone.now() - timedelta(minutes=5))
    assert provisioning.reconcile()["redispatched"] >= 1  # eager in tests: the task ran again
    cluster.refresh_from_db()
    assert cluster.arn


def test_topics_and_grants_follow_the_cluster(
    member_a, admin, team_a, approved_cluster, django_capture_on_commit_callbacks
):
    LocalMskCluster.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        provisioning.reconcile()
    approved_cluster.refresh_from_db()
    assert approved_cluster.status == Cluster.Status.ACTIVE
    request = builders.topic_request(
        member_a,
        approved_cluster,
        "orders",
        expected_in_mbps=Decimal(6),
        expected_out_mbps=Decimal(6),
        retention_ms=3_600_000,
        access_entries=builders.produce_access(),
    )
    builders.approve(request, admin, django_capture_on_commit_callbacks)
    topic = Topic.objects.get(name="team-a.orders")
    assert topic.status == Topic.Status.ACTIVE
    simulated = LocalMskTopic.objects.get(name="team-a.orders")
    assert simulated.partitions == 2 and simulated.configs["retention.ms"] == "3600000"
    grant = AccessGrant.objects.get(topic=topic)
    assert grant.status == AccessGrant.Status.APPLIED
    assert LocalMskGrant.objects.get(policy_name=f"msk-portal-grant-{grant.pk}").document == grant.policy
    provisioning.provision_topic(topic.pk)  # again: nothing changes
    assert LocalMskTopic.objects.count() == 1


def test_a_broken_account_never_blocks_the_others(approved_cluster, team_a, network_profile, monkeypatch):
    broken = builders.aws_account("999988887777", name="broken")
    broken_network = builders.network_profile(broken, name="n", security_group_ids=[])
    stuck = builders.cluster(
        team_a,
        broken_network,
        "in-broken",
        status=Cluster.Status.PROVISIONING,
        arn="arn:aws:kafka:us-east-1:999988887777:cluster/in-broken/x-s1",
    )
    real_list = LocalProvider.list_clusters

    def list_or_refuse(self, account):
        if account.account_id == "999988887777":
            raise AccessDenied("The portal cannot assume arn:aws:iam::999988887777:role/msk-portal.")
        return real_list(self, account)

    monkeypatch.setattr(LocalProvider, "list_clusters", list_or_refuse)
    LocalMskCluster.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    stats = provisioning.reconcile()
    assert stats["activated"] == 1
    approved_cluster.refresh_from_db()
    stuck.refresh_from_db()
    assert approved_cluster.status == Cluster.Status.ACTIVE
    assert stuck.status == Cluster.Status.FAILED and "cannot assume" in stuck.status_reason


def test_changes_and_removals_are_carried_out_after_approval(
    member_a, admin, team_a, approved_cluster, django_capture_on_commit_callbacks
):
    def approve(prepared):
        builders.approve(builders.submit(member_a, prepared), admin, django_capture_on_commit_callbacks)

    LocalMskCluster.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        provisioning.reconcile()
    builders.approve(
        builders.topic_request(
            member_a, approved_cluster, "orders", access_entries=builders.produce_access()
        ),
        admin,
        django_capture_on_commit_callbacks,
    )
    topic = Topic.objects.get(name="team-a.orders")
    grant = AccessGrant.objects.get(topic=topic)
    assert topic.status == Topic.Status.ACTIVE and grant.status == AccessGrant.Status.APPLIED

    approve(
        services.prepare_topic_update(
            actor=member_a,
            topic=topic,
            partitions=4,
            retention_ms=-1,
            retention_bytes=-1,
            max_message_bytes=1048588,
            compression_type="zstd",
            message_timestamp_type="CreateTime",
        )
    )
    simulated = LocalMskTopic.objects.get(name="team-a.orders")
    assert simulated.partitions == 4 and simulated.configs["compression.type"] == "zstd"

    # Billing's history: the partition count the topic really had, from when it had it.
    assert list(topic.partition_changes.values_list("partitions", flat=True)) == [1, 4]
    approve(services.prepare_access_revoke(actor=member_a, grant=grant, justification="gone"))
    grant.refresh_from_db()
    assert grant.status == AccessGrant.Status.REVOKED and not LocalMskGrant.objects.exists()

    approve(services.prepare_topic_delete(actor=member_a, topic=topic, justification="gone"))
    topic.refresh_from_db()
    assert topic.status == Topic.Status.DELETED and not LocalMskTopic.objects.exists()
    assert list(topic.partition_changes.values_list("partitions", flat=True)) == [1, 4, 0]

    approved_cluster.refresh_from_db()
    approve(
        services.prepare_cluster_decommission(actor=member_a, cluster=approved_cluster, justification="done")
    )
    approved_cluster.refresh_from_db()
    assert approved_cluster.status == Cluster.Status.DELETING
    assert provisioning.reconcile()["deleted"] == 0  # MSK still lists it as DELETING
    LocalMskCluster.objects.update(deleted_at=timezone.now() - timedelta(minutes=5))
    active_since = approved_cluster.active_since
    assert active_since is not None and approved_cluster.deleted_at is None
    assert provisioning.reconcile()["deleted"] == 1
    approved_cluster.refresh_from_db()
    assert approved_cluster.status == Cluster.Status.DELETED
    assert approved_cluster.active_since == active_since and approved_cluster.deleted_at > active_since


def test_a_twin_creating_the_cluster_between_lookup_and_create_is_adopted(
    approved_cluster, team_a, network_profile, monkeypatch
):
    cluster = builders.cluster(team_a, network_profile, "twin", status=Cluster.Status.PROVISIONING, arn="")
    twin = LocalProvider().create_cluster(
        provisioning.account_ref(cluster), provisioning.cluster_spec(cluster)
    )
    real_find, lookups = LocalProvider.find_cluster, []

    def find_late(self, account, name):
        lookups.append(name)
        return None if len(lookups) == 1 else real_find(self, account, name)  # the first look missed it

    monkeypatch.setattr(LocalProvider, "find_cluster", find_late)
    provisioning.provision_cluster(cluster.pk)  # create → NameConflict → look again → adopt
    cluster.refresh_from_db()
    assert cluster.arn == twin.arn and len(lookups) == 2
    assert LocalMskCluster.objects.filter(name="twin").count() == 1
    assert ProvisioningEvent.objects.filter(cluster=cluster, note=f"adopted existing {twin.arn}").exists()


def test_a_failed_decommission_is_retried_as_a_decommission(
    approved_cluster, admin, monkeypatch, django_capture_on_commit_callbacks
):
    LocalMskCluster.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        provisioning.reconcile()
    approved_cluster.refresh_from_db()
    assert approved_cluster.status == Cluster.Status.ACTIVE

    def refuse(self, account, arn):
        raise AccessDenied("The role may not kafka:DeleteCluster")

    monkeypatch.setattr(LocalProvider, "delete_cluster", refuse)
    provisioning.decommission_cluster(approved_cluster.pk)
    approved_cluster.refresh_from_db()
    assert (
        approved_cluster.status == Cluster.Status.FAILED and "DeleteCluster" in approved_cluster.status_reason
    )
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        provisioning.retry_cluster(cluster_id=approved_cluster.pk, actor=admin)
    approved_cluster.refresh_from_db()
    # Not provisioned again (reconcile would have turned it ACTIVE): the delete went out.
    assert approved_cluster.status == Cluster.Status.DELETING
    assert LocalMskCluster.objects.get(arn=approved_cluster.arn).deleted_at is not None
