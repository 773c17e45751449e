"""Inventory fixtures for the requests and approvals pages: the platform account, a network profile in
us-east-1, an active cluster owned by team A and a topic on it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from clusters.models import AwsAccount, Cluster, Topic

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
