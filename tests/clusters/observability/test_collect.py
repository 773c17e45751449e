"""Collection through the local provider (the simulation `make run` shows) and downsampling."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest

from clusters.observability import collect, retention
from clusters.observability.models import GroupLagSample, Resolution, TopicSample

from .conftest import MB, NOW, STEP, make_topic

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_topics(cluster_a, team_a):
    keeping_up = make_topic(
        cluster_a,
        team_a,
        "team-a.orders",
        partitions=2,
        expected_in_mbps=Decimal(4),
        expected_out_mbps=Decimal(8),
    )
    behind = make_topic(
        cluster_a,
        team_a,
        "team-a.refunds",
        partitions=1,
        expected_in_mbps=Decimal("4.5"),
        expected_out_mbps=Decimal(3),
    )
    return keeping_up, behind


def test_a_cycle_stores_every_topic_and_group_point_of_the_window(two_topics, platform_account, settings):
    keeping_up, behind = two_topics
    settings.OBSERVABILITY_WINDOW_MINUTES = 20
    result = collect.collect(platform_account.pk, "us-east-1", now=NOW + dt.timedelta(minutes=2))

    # 2 topics × 3 rate series + 2 simulated reader groups × 3 lag series; 4 points each (11:40 … 11:55).
    assert (result.topics, result.groups, result.series, result.points) == (2, 2, 12, 48)
    assert result.rows == 16 and result.failures == []
    points = TopicSample.objects.filter(topic=keeping_up).order_by("at")
    assert [p.at for p in points] == [NOW - 4 * STEP, NOW - 3 * STEP, NOW - 2 * STEP, NOW - STEP]
    assert all(3.6 * MB <= p.bytes_in_per_sec <= 4.4 * MB for p in points)  # declared 4 MB/s ± 10 %
    assert all(p.messages_in_per_sec == pytest.approx(p.bytes_in_per_sec / 1024) for p in points)
    # The reader of refunds reads 3 of 4.5 MB/s: its time lag grows at every point; orders' reader keeps up.
    behind_lags = list(
        GroupLagSample.objects.filter(topic=behind)
        .order_by("at")
        .values_list("max_time_lag_seconds", flat=True)
    )
    assert all(b > a for a, b in itertools.pairwise(behind_lags)) and behind_lags[-1] > 600
    assert set(
        GroupLagSample.objects.filter(topic=keeping_up).values_list("max_time_lag_seconds", flat=True)
    ) == {2.0}
    assert set(GroupLagSample.objects.values_list("consumer_group", flat=True)) == {
        "team-a.orders-reader",
        "team-a.refunds-reader",
    }

    # The next cycle overlaps this one: the same points are overwritten, not duplicated.
    before = dict(TopicSample.objects.values_list("pk", "bytes_in_per_sec"))
    again = collect.collect(platform_account.pk, "us-east-1", now=NOW + dt.timedelta(minutes=2))
    assert again.rows == 16 and dict(TopicSample.objects.values_list("pk", "bytes_in_per_sec")) == before
    assert collect.targets() == [(platform_account.pk, "us-east-1")]


def test_topics_that_are_not_active_are_not_read(two_topics, platform_account):
    _keeping_up, behind = two_topics
    behind.status = "deleted"
    behind.save()
    result = collect.collect(platform_account.pk, "us-east-1", now=NOW)
    assert result.topics == 1 and not TopicSample.objects.filter(topic=behind).exists()


def test_old_points_become_hourly_and_very_old_ones_go(orders, settings):
    settings.OBSERVABILITY_FINE_DAYS, settings.OBSERVABILITY_COARSE_DAYS = 2, 60
    three_days_ago = NOW - dt.timedelta(days=3)  # 09:00 three days ago: one whole hour of 12 points
    for minute in range(0, 60, 5):
        TopicSample.objects.create(
            topic=orders,
            resolution=Resolution.FIVE_MINUTES,
            at=three_days_ago + dt.timedelta(minutes=minute),
            bytes_in_per_sec=minute * 1000,
            bytes_out_per_sec=2000,
            messages_in_per_sec=10,
        )
        GroupLagSample.objects.create(
            topic=orders,
            consumer_group="app",
            resolution=Resolution.FIVE_MINUTES,
            at=three_days_ago + dt.timedelta(minutes=minute),
            max_time_lag_seconds=minute,
            max_offset_lag=1,
            sum_offset_lag=minute * 2,
        )
    recent = TopicSample.objects.create(topic=orders, resolution=Resolution.FIVE_MINUTES, at=NOW - STEP)
    ancient = TopicSample.objects.create(
        topic=orders, resolution=Resolution.HOUR, at=NOW - dt.timedelta(days=61)
    )

    result = retention.downsample(NOW)

    assert (result.hourly_written, result.fine_deleted, result.coarse_deleted) == (2, 24, 1)
    hour = TopicSample.objects.get(resolution=Resolution.HOUR)
    assert hour.at == three_days_ago and hour.bytes_in_per_sec == pytest.approx(27_500)  # mean of 0…55k
    lag = GroupLagSample.objects.get(resolution=Resolution.HOUR)
    assert (lag.max_time_lag_seconds, lag.sum_offset_lag) == (55, 110)  # maxima
    assert (
        TopicSample.objects.filter(pk=recent.pk).exists()
        and not TopicSample.objects.filter(pk=ancient.pk).exists()
    )
    assert vars(retention.downsample(NOW)) == {"hourly_written": 0, "fine_deleted": 0, "coarse_deleted": 0}
