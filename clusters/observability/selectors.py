"""Reads for the observability pages and alerts: stored samples and episodes only, never AWS.

Visibility comes from the portal's one access rule (portal.access) through `clusters.selectors`: a topic's
page needs `topic_get`, a cluster's `cluster_get`; lists over many topics are limited to
`topics_visible_to(user)`. Every page reads a bounded number of rows (its own topic, or top-N lists), so
the query count and the time do not grow with the fleet's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Avg, Max, Sum
from django.utils import timezone

from clusters import selectors as cluster_selectors
from clusters.models import Cluster, Topic
from clusters.observability.limits import PartitionAdvice, cluster_limits, partition_advice, topic_limits
from clusters.observability.models import AlertEpisode, GroupLagSample, Resolution, TopicSample
from portal import access

# Chart ranges: how far back, and which resolution the chart reads.
RANGES = {
    "6h": ("6 hours", timedelta(hours=6), (Resolution.FIVE_MINUTES,)),
    "2d": ("2 days", timedelta(days=2), (Resolution.FIVE_MINUTES,)),
    "60d": ("60 days", timedelta(days=60), (Resolution.HOUR, Resolution.FIVE_MINUTES)),
}
DEFAULT_RANGE = "6h"
RECENT = timedelta(minutes=30)  # "now" on a page: the latest point within this
TOP = 10


@dataclass(frozen=True)
class Point:
    at: datetime
    rate_in: float
    rate_out: float
    messages: float = 0.0


@dataclass(frozen=True)
class GroupLag:
    topic_id: int
    topic_name: str
    cluster_name: str
    consumer_group: str
    at: datetime
    max_offset_lag: float
    sum_offset_lag: float
    time_lag_seconds: float
    since: datetime | None  # when its open episode began, if it is falling behind


def range_key(value: str | None) -> str:
    return value if value in RANGES else DEFAULT_RANGE


def topic_points(topic: Topic, key: str, now: datetime | None = None) -> list[Point]:
    _, span, resolutions = RANGES[key]
    rows = TopicSample.objects.filter(
        topic=topic, resolution__in=resolutions, at__gte=(now or timezone.now()) - span
    ).order_by("at")
    return [Point(r.at, r.bytes_in_per_sec, r.bytes_out_per_sec, r.messages_in_per_sec) for r in rows]


def topic_peaks(topic_id: int, now: datetime | None = None) -> tuple[float, float]:
    """The highest 5-minute rates in and out of the last two days (what the partitions must take)."""
    peaks = TopicSample.objects.filter(
        topic_id=topic_id,
        resolution=Resolution.FIVE_MINUTES,
        at__gte=(now or timezone.now()) - timedelta(days=2),
    ).aggregate(rate_in=Max("bytes_in_per_sec"), rate_out=Max("bytes_out_per_sec"))
    return peaks["rate_in"] or 0.0, peaks["rate_out"] or 0.0


def topic_advice(topic: Topic, now: datetime | None = None) -> PartitionAdvice:
    peak_in, peak_out = topic_peaks(topic.pk, now)
    lagging = AlertEpisode.objects.filter(
        topic=topic, rule__kind="group_lag", status=AlertEpisode.Status.OPEN
    ).exists()
    return partition_advice(topic.partitions, peak_in, peak_out, lagging=lagging)


def _open_since(topic_ids) -> dict[tuple[int, str], datetime]:
    return {
        (topic_id, group): opened
        for topic_id, group, opened in AlertEpisode.objects.filter(
            topic_id__in=topic_ids, rule__kind="group_lag", status=AlertEpisode.Status.OPEN
        ).values_list("topic_id", "consumer_group", "opened_at")
    }


def _lags(rows, since: dict) -> list[GroupLag]:
    return [
        GroupLag(
            row["topic_id"],
            row["topic__name"],
            row["topic__cluster__name"],
            row["consumer_group"],
            row["at"],
            row["max_offset_lag"],
            row["sum_offset_lag"],
            row["max_time_lag_seconds"],
            since.get((row["topic_id"], row["consumer_group"])),
        )
        for row in rows
    ]


LAG_FIELDS = (
    "topic_id",
    "topic__name",
    "topic__cluster__name",
    "consumer_group",
    "at",
    "max_offset_lag",
    "sum_offset_lag",
    "max_time_lag_seconds",
)


def topic_groups(topic: Topic, now: datetime | None = None) -> list[GroupLag]:
    """Every group reading the topic, at its latest point of the last half hour, most behind first."""
    rows = (
        GroupLagSample.objects.filter(
            topic=topic, resolution=Resolution.FIVE_MINUTES, at__gte=(now or timezone.now()) - RECENT
        )
        .order_by("consumer_group", "-at")
        .values(*LAG_FIELDS)
    )
    latest = {}
    for row in rows:
        latest.setdefault(row["consumer_group"], row)
    lags = _lags(latest.values(), _open_since([topic.pk]))
    return sorted(lags, key=lambda lag: -lag.time_lag_seconds)


def topic_episodes(topic: Topic, limit: int = 20) -> list[AlertEpisode]:
    return list(
        AlertEpisode.objects.filter(topic=topic)
        .select_related("rule")
        .prefetch_related("events")
        .order_by("-opened_at", "-pk")[:limit]
    )


def cluster_points(cluster: Cluster, key: str, now: datetime | None = None) -> list[Point]:
    """The cluster's ingress and egress: the sum of its topics' rates at each point."""
    _, span, resolutions = RANGES[key]
    rows = (
        TopicSample.objects.filter(
            topic__cluster=cluster, resolution__in=resolutions, at__gte=(now or timezone.now()) - span
        )
        .values("at")
        .annotate(
            rate_in=Sum("bytes_in_per_sec"),
            rate_out=Sum("bytes_out_per_sec"),
            msgs=Sum("messages_in_per_sec"),
        )
        .order_by("at")
    )
    return [Point(r["at"], r["rate_in"], r["rate_out"], r["msgs"]) for r in rows]


def busiest_topics(topics, now: datetime | None = None, limit: int = TOP) -> list[dict]:
    """Topics by their mean rate in over the last half hour, with the share of their own limit used."""
    rows = list(
        TopicSample.objects.filter(
            topic__in=topics, resolution=Resolution.FIVE_MINUTES, at__gte=(now or timezone.now()) - RECENT
        )
        .values("topic_id", "topic__name", "topic__partitions", "topic__cluster__name", "topic__team__name")
        .annotate(rate_in=Avg("bytes_in_per_sec"), rate_out=Avg("bytes_out_per_sec"))
        .order_by("-rate_in", "topic_id")[:limit]
    )
    for row in rows:
        limit_in, limit_out = topic_limits(row["topic__partitions"])
        row["share"] = max(row["rate_in"] / limit_in, row["rate_out"] / limit_out)
    return rows


def laggiest_groups(topics, now: datetime | None = None, limit: int = TOP) -> list[GroupLag]:
    """Groups by their worst time lag over the last half hour."""
    rows = list(
        GroupLagSample.objects.filter(
            topic__in=topics, resolution=Resolution.FIVE_MINUTES, at__gte=(now or timezone.now()) - RECENT
        )
        .values("topic_id", "topic__name", "topic__cluster__name", "consumer_group")
        .annotate(
            at=Max("at"),
            max_offset_lag=Max("max_offset_lag"),
            sum_offset_lag=Max("sum_offset_lag"),
            max_time_lag_seconds=Max("max_time_lag_seconds"),
        )
        .order_by("-max_time_lag_seconds", "topic_id", "consumer_group")[:limit]
    )
    return _lags(rows, _open_since({row["topic_id"] for row in rows}))


def fleet_clusters(user, now: datetime | None = None) -> list[dict]:
    """Each visible live cluster's latest ingress and egress against its limits."""
    clusters = access.clusters_visible_to(user).exclude(status=Cluster.Status.DELETED)
    rows = (
        TopicSample.objects.filter(
            topic__cluster__in=clusters,
            resolution=Resolution.FIVE_MINUTES,
            at__gte=(now or timezone.now()) - RECENT,
        )
        .values("topic__cluster_id", "at")
        .annotate(rate_in=Sum("bytes_in_per_sec"), rate_out=Sum("bytes_out_per_sec"))
        .order_by("topic__cluster_id", "-at")
    )
    latest = {}
    for row in rows:
        latest.setdefault(row["topic__cluster_id"], row)
    limit_in, limit_out = cluster_limits()
    result = []
    for cluster in clusters.order_by("name"):
        row = latest.get(cluster.pk, {"rate_in": 0.0, "rate_out": 0.0, "at": None})
        result.append(
            {
                "cluster": cluster,
                "at": row["at"],
                "rate_in": row["rate_in"],
                "rate_out": row["rate_out"],
                "share_in": row["rate_in"] / limit_in,
                "share_out": row["rate_out"] / limit_out,
            }
        )
    return sorted(result, key=lambda item: -max(item["share_in"], item["share_out"]))


def visible_topics(user):
    return cluster_selectors.topics_visible_to(user).filter(status=Topic.Status.ACTIVE)


def cluster_topics(user, cluster: Cluster):
    return visible_topics(user).filter(cluster=cluster)


def attention(user) -> list[AlertEpisode]:
    """Open episodes of the user's teams (every team's for those who see all): throughput first, then lag."""
    episodes = AlertEpisode.objects.filter(status=AlertEpisode.Status.OPEN)
    if not access.sees_all_teams(user):
        episodes = episodes.filter(team_id__in=access.member_team_ids(user))
    order = {"topic_throughput": 0, "group_lag": 1, "cluster_throughput": 2}
    # What the dashboard shows of them, not four whole rows each (the query compiles in half the time).
    shown = ("summary", "opened_at", "rule__kind", "topic__name", "cluster__name")
    rows = list(episodes.select_related("rule", "topic", "cluster").only(*shown)[:50])
    return sorted(rows, key=lambda episode: (order.get(episode.rule.kind, 9), episode.opened_at))
