"""Billing fixtures: a month of inventory history built by hand, so expected figures can be computed by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from clusters.models import Cluster, Topic, TopicPartitionChange

OCTOBER = dt.date(2026, 10, 1)


def at(day: int, hour: int = 0, minute: int = 0, month: int = 10) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=dt.UTC)


def make_topic(cluster, team, name, *changes, configs=None, status=Topic.Status.ACTIVE) -> Topic:
    """A topic with its partition history: changes are (when, partitions)."""
    topic = Topic.objects.create(
        cluster=cluster,
        team=team,
        name=name,
        partitions=max(p for _, p in changes) or 1,
        status=status,
        configs=configs if configs is not None else {"retention.ms": 86_400_000, "retention.bytes": -1},
    )
    for when, partitions in changes:
        TopicPartitionChange.objects.create(topic=topic, partitions=partitions, changed_at=when)
    return topic


@pytest.fixture
def billed_cluster(team_a, platform_account, network_profile):
    """team-a's dedicated cluster, active since before October."""
    return Cluster.objects.create(
        name="team-a-dev",
        team=team_a,
        kind=Cluster.Kind.DEDICATED,
        environment="dev",
        account=platform_account,
        region="us-east-1",
        network_profile=network_profile,
        status=Cluster.Status.ACTIVE,
        active_since=at(20, month=9),
        arn="arn:aws:kafka:us-east-1:123456789012:cluster/team-a-dev/c07c74ea-5146-4a03-add1-9baa787a5b14-s3",
    )


@pytest.fixture
def shared_cluster(team_a, team_b, platform_account, network_profile):
    cluster = Cluster.objects.create(
        name="events-write",
        team=team_a,
        kind=Cluster.Kind.WRITE,
        environment="prod",
        account=platform_account,
        region="us-east-1",
        network_profile=network_profile,
        status=Cluster.Status.ACTIVE,
        active_since=at(1, month=9),
        arn="arn:aws:kafka:us-east-1:123456789012:cluster/events-write/0d6f5b7e-2b1c-4c55-9f5e-1e2d3c4b5a69-s1",
    )
    cluster.shared_with.add(team_b)
    return cluster


@pytest.fixture
def clock(monkeypatch):
    """Sets "now" for the code under test (every `timezone.now()` call): `clock(at(15, 12, 30))`."""

    def set_now(moment: dt.datetime) -> dt.datetime:
        monkeypatch.setattr("django.utils.timezone.now", lambda: moment)
        return moment

    return set_now
