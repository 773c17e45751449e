"""Observability fixtures: team A's active cluster with a 3-partition topic, and helpers writing 5-minute
points as the collection stores them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from clusters.models import Topic
from clusters.observability.models import GroupLagSample, Resolution, TopicSample

MB = 1_000_000
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
STEP = dt.timedelta(minutes=5)


def make_topic(cluster, team, name: str, partitions: int = 3, **extra) -> Topic:
    return Topic.objects.create(
        cluster=cluster,
        team=team,
        name=name,
        partitions=partitions,
        status=Topic.Status.ACTIVE,
        expected_in_mbps=extra.pop("expected_in_mbps", Decimal(1)),
        expected_out_mbps=extra.pop("expected_out_mbps", Decimal(1)),
        **extra,
    )


@pytest.fixture
def orders(cluster_a, team_a) -> Topic:
    """3 partitions: 15 MB/s in, 30 MB/s out; 80 % is 12 MB/s in."""
    return make_topic(cluster_a, team_a, "team-a.orders")


def rates(topic, first: dt.datetime, mb_in: list[float], mb_out: list[float] | None = None) -> None:
    """5-minute points from `first` on, in MB/s (out defaults to the same)."""
    for index, value in enumerate(mb_in):
        out = (mb_out or mb_in)[index]
        TopicSample.objects.update_or_create(
            topic=topic,
            resolution=Resolution.FIVE_MINUTES,
            at=first + index * STEP,
            defaults={
                "bytes_in_per_sec": value * MB,
                "bytes_out_per_sec": out * MB,
                "messages_in_per_sec": value * 1000,
            },
        )


def lags(topic, group: str, first: dt.datetime, seconds: list[float]) -> None:
    for index, value in enumerate(seconds):
        GroupLagSample.objects.update_or_create(
            topic=topic,
            consumer_group=group,
            resolution=Resolution.FIVE_MINUTES,
            at=first + index * STEP,
            defaults={
                "max_time_lag_seconds": value,
                "max_offset_lag": value * 10,
                "sum_offset_lag": value * 30,
            },
        )
