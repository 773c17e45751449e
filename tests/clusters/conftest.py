"""Inventory fixtures for the requests and approvals pages: the platform account, a network profile in
us-east-1, an active cluster owned by team A and a topic on it; and requests by several people for the
"Filed by me" filter."""

from __future__ import annotations

from decimal import Decimal

import pytest

from clusters.models import AwsAccount, Cluster, Request, Topic
from portal.models import Membership
from tests import builders

# The shared conftest (tests/conftest.py) already has the platform account, its us-east-1 network profile
# (`network_profile`) and team A's active cluster; these names alias them so both sets stay one set of rows.


@pytest.fixture
def account(platform_account) -> AwsAccount:
    return platform_account


@pytest.fixture
def cluster(cluster_a) -> Cluster:
    return cluster_a


@pytest.fixture
def topic(cluster, team_a) -> Topic:
    return Topic.objects.create(
        cluster=cluster,
        team=team_a,
        name="team-a.orders",
        partitions=3,
        cleanup_policy="delete",
        configs={
            "retention.ms": 604_800_000,
            "retention.bytes": -1,
            "max.message.bytes": 1_048_588,
            "compression.type": "producer",
            "message.timestamp.type": "CreateTime",
            "cleanup.policy": "delete",
        },
        expected_in_mbps=Decimal(10),
        expected_out_mbps=Decimal(20),
        status=Topic.Status.ACTIVE,
    )


@pytest.fixture
def filed_by_several(member_a, member_b, team_a, team_b, cluster, network_profile) -> dict[str, Request]:
    """Requests by member_a ("mine", and "left": filed for team B, which member_a has left since), by a
    teammate in team A ("teammate's") and by member_b in team B ("other team's"), by topic name."""
    cluster_b = builders.cluster(team_b, network_profile, "team-b-dev")
    teammate = builders.user("teammate_a", team=team_a)
    Membership.objects.create(team=team_b, user=member_a)
    filed = {
        "mine": builders.topic_request(member_a, cluster, "mine"),
        "teammate's": builders.topic_request(teammate, cluster, "teammates"),
        "left": builders.topic_request(member_a, cluster_b, "left"),
        "other team's": builders.topic_request(member_b, cluster_b, "others"),
    }
    Membership.objects.filter(team=team_b, user=member_a).delete()
    return filed
