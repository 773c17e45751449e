"""Collection: one cycle per AWS account and region, every OBSERVABILITY_INTERVAL_SECONDS (beat).

A cycle reads the last OBSERVABILITY_WINDOW_MINUTES in 5-minute points for every active topic of the
account and region's active clusters (3 rate series each) and every consumer group × topic pair that
reports lag (3 lag series each), through the provider seam — CloudWatch for `aws` (⌈series / 500⌉
GetMetricData calls), a simulation for `local`. Each window overlaps the previous one, so a late point or
a cycle lost to throttling is filled in by the next; rows are upserted on (subject, resolution, point),
so reading a point again overwrites it. A subject is written only when all three of its series came back
(a batch lost mid-way never leaves a half-filled row). One account's trouble (throttled beyond botocore's
retries, access denied) is logged and returned; the other accounts have their own tasks.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from clusters.models import AwsAccount, Cluster, Topic
from clusters.observability.models import GroupLagSample, Resolution, TopicSample
from clusters.providers import account_region_ref, get_provider
from clusters.providers.base import MetricSeries, ProviderError

logger = logging.getLogger(__name__)

POINT_SECONDS = 300  # stored at 5-minute resolution
TOPIC_FIELDS = {
    "BytesInPerSec": "bytes_in_per_sec",
    "BytesOutPerSec": "bytes_out_per_sec",
    "MessagesInPerSec": "messages_in_per_sec",
}
LAG_FIELDS = {
    "MaxOffsetLag": "max_offset_lag",
    "SumOffsetLag": "sum_offset_lag",
    "EstimatedMaxTimeLag": "max_time_lag_seconds",
}
UPSERT_BATCH = 2000


@dataclass
class CycleResult:
    account_id: str
    region: str
    topics: int = 0
    groups: int = 0
    series: int = 0
    points: int = 0
    rows: int = 0
    failures: list[str] = field(default_factory=list)


def floor_point(moment: datetime) -> datetime:
    """The start of the 5-minute point `moment` falls in (UTC)."""
    seconds = int(moment.timestamp()) // POINT_SECONDS * POINT_SECONDS
    return datetime.fromtimestamp(seconds, tz=UTC)


def targets() -> list[tuple[int, str]]:
    """(account pk, region) of every active cluster with active topics: one collection task each."""
    return sorted(
        set(
            Topic.objects.filter(
                status=Topic.Status.ACTIVE, cluster__status=Cluster.Status.ACTIVE
            ).values_list("cluster__account_id", "cluster__region")
        )
    )


def collect(
    account_pk: int, region: str, now: datetime | None = None, window: timedelta | None = None
) -> CycleResult:
    """One cycle for an account and region; `window` (default OBSERVABILITY_WINDOW_MINUTES) reaches back
    further, e.g. to fill the demo's history."""
    account_row = AwsAccount.objects.get(pk=account_pk)
    account = account_region_ref(account_row, region)
    result = CycleResult(account.account_id, region)
    end = floor_point(now or timezone.now())
    start = end - (window or timedelta(minutes=settings.OBSERVABILITY_WINDOW_MINUTES))
    topic_ids = {
        (cluster, name): pk
        for pk, cluster, name in Topic.objects.filter(
            status=Topic.Status.ACTIVE,
            cluster__status=Cluster.Status.ACTIVE,
            cluster__account=account_row,
            cluster__region=region,
        ).values_list("pk", "cluster__name", "name")
    }
    result.topics = len(topic_ids)
    if not topic_ids:
        return result
    provider = get_provider()
    series = [MetricSeries(cluster, topic, metric) for cluster, topic in topic_ids for metric in TOPIC_FIELDS]
    try:
        pairs = provider.consumer_groups(account, sorted({cluster for cluster, _ in topic_ids}))
    except ProviderError as exc:
        # Without the groups the topics are still worth reading.
        result.failures.append(exc.message)
        pairs = []
    pairs = [pair for pair in pairs if (pair.cluster_name, pair.topic) in topic_ids]
    result.groups = len(pairs)
    series += [
        MetricSeries(pair.cluster_name, pair.topic, metric, pair.consumer_group)
        for pair in pairs
        for metric in LAG_FIELDS
    ]
    result.series = len(series)
    values: dict[tuple, dict[str, float]] = defaultdict(dict)
    try:
        for point in provider.metric_points(account, series, start, end, POINT_SECONDS):
            item = point.series
            values[(item.cluster_name, item.topic, item.consumer_group, point.at)][item.metric] = point.value
            result.points += 1
    except ProviderError as exc:
        # What was read is kept; the next cycle's window covers the rest.
        result.failures.append(exc.message)
        logger.warning("observability collection in %s/%s: %s", account.account_id, region, exc.message)
    result.rows = _store(values, topic_ids)
    return result


def _store(values: dict[tuple, dict[str, float]], topic_ids: dict[tuple[str, str], int]) -> int:
    topic_rows, lag_rows = [], []
    for (cluster, topic, group, at), metrics in values.items():
        fields = LAG_FIELDS if group else TOPIC_FIELDS
        if metrics.keys() != fields.keys():
            continue  # incomplete subject: its batch failed; the next cycle reads it again
        row = {column: metrics[metric] for metric, column in fields.items()}
        common = {"topic_id": topic_ids[(cluster, topic)], "resolution": Resolution.FIVE_MINUTES, "at": at}
        if group:
            lag_rows.append(GroupLagSample(consumer_group=group, **common, **row))
        else:
            topic_rows.append(TopicSample(**common, **row))
    TopicSample.objects.bulk_create(
        topic_rows,
        batch_size=UPSERT_BATCH,
        update_conflicts=True,
        unique_fields=["topic", "resolution", "at"],
        update_fields=list(TOPIC_FIELDS.values()),
    )
    GroupLagSample.objects.bulk_create(
        lag_rows,
        batch_size=UPSERT_BATCH,
        update_conflicts=True,
        unique_fields=["topic", "consumer_group", "resolution", "at"],
        update_fields=list(LAG_FIELDS.values()),
    )
    return len(topic_rows) + len(lag_rows)
