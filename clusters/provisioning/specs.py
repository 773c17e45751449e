"""What provisioning asks the provider for, built from the inventory: the cluster, topic, grant and
replicator specs and the endpoint topic calls go to. The tags on a cluster (team, cost center,
environment, portal cluster id, first request) are decided here once, for creation and drift alike.
"""

from __future__ import annotations

from clusters.models import AccessGrant, Cluster, Replicator, Topic
from clusters.providers import account_ref
from clusters.providers.base import ClusterEndpoint, ClusterSpec, GrantSpec, ReplicatorSpec, TopicSpec


def cluster_spec(cluster: Cluster) -> ClusterSpec:
    team = cluster.team
    return ClusterSpec(
        name=cluster.name,
        subnet_ids=tuple(cluster.network_profile.subnet_ids),
        security_group_ids=tuple(cluster.network_profile.security_group_ids),
        tags={
            "team": team.slug,
            "cost-center": team.cost_center,
            "environment": cluster.environment,
            "portal-cluster-id": str(cluster.pk),
            **(
                {"request-id": str(request.pk)}
                if (request := cluster.requests.order_by("pk").first())
                else {}
            ),
        },
    )


def endpoint(cluster: Cluster) -> ClusterEndpoint:
    return ClusterEndpoint(
        account=account_ref(cluster), arn=cluster.arn, bootstrap_brokers=cluster.bootstrap_brokers
    )


def topic_spec(topic: Topic) -> TopicSpec:
    return TopicSpec(
        name=topic.name,
        partitions=topic.partitions,
        configs={key: str(value) for key, value in topic.configs.items()},
    )


def grant_spec(grant: AccessGrant) -> GrantSpec:
    return GrantSpec(
        principal_arn=grant.principal_arn,
        policy_name=f"msk-portal-grant-{grant.pk}",
        policy_document=grant.policy,
    )


def replicator_spec(replicator: Replicator) -> ReplicatorSpec:
    read, source = replicator.read_cluster, replicator.source_cluster
    return ReplicatorSpec(
        name=replicator.name,
        source_arn=source.arn,
        target_arn=read.arn,
        topics=tuple(replicator.topics),
        source_subnet_ids=tuple(source.network_profile.subnet_ids),
        source_security_group_ids=tuple(source.network_profile.security_group_ids),
        target_subnet_ids=tuple(read.network_profile.subnet_ids),
        target_security_group_ids=tuple(read.network_profile.security_group_ids),
        service_execution_role_arn=read.account.replicator_role_arn,
        # A read cluster holds what its write cluster holds: MSK's default (LATEST) would leave out every
        # record written before the replicator started, and consumers moved to it would miss them.
        starting_position="EARLIEST",
        tags={
            "team": read.team.slug,
            "cost-center": read.team.cost_center,
            "portal-cluster-id": str(read.pk),
        },
    )
