"""CloudWatch `AWS/Kafka` usage metrics: the only module that reads them (through aws_control's clients).

Per (cluster name, topic) and UTC day: `Sum` of `BytesInPerSec` / `BytesOutPerSec` over a 86,400 s period, ×
60 = bytes. MSK publishes one sample per partition per minute, each standing for 60 s of traffic, so the Sum
× 60 is the day's bytes; it is computed here rather than with metric math (`m1*60`), which moto silently
answers with no values. Topics come from the portal's inventory (ListMetrics and SEARCH only see the last
two weeks). Up to 500 queries per GetMetricData call; every page is read (botocore's paginator). Throttling
is handled by botocore's adaptive retry mode (client-side rate limiting + backoff), and what still fails is
raised as a provider error (TransientError: retry the collection later; it is idempotent).

Observability (recent points, every few minutes): `metric_points` reads per-topic `BytesInPerSec`,
`BytesOutPerSec`, `MessagesInPerSec` (Sum, turned into a per-second average as Sum × 60 / period) and per
consumer group × topic `MaxOffsetLag`, `SumOffsetLag`, `EstimatedMaxTimeLag` (Maximum), in calls of at most
500 queries read page by page with botocore's paginator; `consumer_group_topics` finds the groups with
ListMetrics (paginated; moto lists a metric once per datapoint, AWS once, so pairs are de-duplicated).

Migration (MSK Replicator's own lag signal, shared/reference/migration.md §1.2, §2): `replicator_lag` reads
per topic the newest 1-minute `MessageLag` (Sum: source messages the replicator has not consumed yet) and
`ReplicationLatency` (Maximum, ms), dimensions `ReplicatorName` + `Topic`, in the target's region.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time

from clusters.integrations import aws_control
from clusters.integrations.records import (
    AccountRef,
    GroupTopic,
    MetricPoint,
    MetricSeries,
    ReplicatorTopicLag,
    TopicDayBytes,
)

NAMESPACE = "AWS/Kafka"
METRIC_NAMES = {"bytes_in": "BytesInPerSec", "bytes_out": "BytesOutPerSec"}
MAX_QUERIES_PER_CALL = 500  # GetMetricData's limit
DAY_SECONDS = 86_400
SAMPLE_SECONDS = 60  # MSK publishes PerSec metrics once a minute


def _query(index: int, cluster_name: str, topic: str, metric: str) -> dict:
    return {
        "Id": f"q{index}",
        "MetricStat": {
            "Metric": {
                "Namespace": NAMESPACE,
                "MetricName": METRIC_NAMES[metric],
                "Dimensions": [
                    {"Name": "Cluster Name", "Value": cluster_name},
                    {"Name": "Topic", "Value": topic},
                ],
            },
            "Period": DAY_SECONDS,
            "Stat": "Sum",
        },
        "ReturnData": True,
    }


def daily_topic_bytes(
    account: AccountRef, topics: Sequence[tuple[str, str]], start: date, end: date
) -> Iterator[TopicDayBytes]:
    """Yield bytes per (cluster, topic, day, metric) for days in [start, end); ⌈2·len(topics)/500⌉ calls
    (plus one per extra page)."""
    wanted = [(cluster, topic, metric) for cluster, topic in topics for metric in METRIC_NAMES]
    paginator = aws_control.client(account, "cloudwatch").get_paginator("get_metric_data")
    window = {
        "StartTime": datetime.combine(start, time(), tzinfo=UTC),
        "EndTime": datetime.combine(end, time(), tzinfo=UTC),
        "ScanBy": "TimestampAscending",
    }
    for offset in range(0, len(wanted), MAX_QUERIES_PER_CALL):
        batch = wanted[offset : offset + MAX_QUERIES_PER_CALL]
        queries = [_query(index, *key) for index, key in enumerate(batch)]
        # botocore's paginator follows NextToken; each page is one call, translated on its own.
        pages = iter(paginator.paginate(MetricDataQueries=queries, **window))
        while True:
            with aws_control.translated(account, "read CloudWatch metrics"):
                response = next(pages, None)
            if response is None:
                break
            for result in response.get("MetricDataResults", []):
                cluster, topic, metric = batch[int(result["Id"][1:])]
                for stamp, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
                    yield TopicDayBytes(
                        cluster, topic, stamp.astimezone(UTC).date(), metric, round(value * SAMPLE_SECONDS)
                    )


# --- Observability: recent points per topic and per consumer group × topic ---------------------------

RATE_METRICS = ("BytesInPerSec", "BytesOutPerSec", "MessagesInPerSec")  # per partition, per minute: Sum
LAG_METRICS = ("MaxOffsetLag", "SumOffsetLag", "EstimatedMaxTimeLag")  # per group × topic: Maximum
LAG_DISCOVERY_METRIC = "SumOffsetLag"


def _series_query(index: int, series: MetricSeries, period: int) -> dict:
    dimensions = [{"Name": "Cluster Name", "Value": series.cluster_name}]
    if series.consumer_group:
        dimensions.append({"Name": "Consumer Group", "Value": series.consumer_group})
    dimensions.append({"Name": "Topic", "Value": series.topic})
    return {
        "Id": f"q{index}",
        "MetricStat": {
            "Metric": {"Namespace": NAMESPACE, "MetricName": series.metric, "Dimensions": dimensions},
            "Period": period,
            "Stat": "Sum" if series.metric in RATE_METRICS else "Maximum",
        },
        "ReturnData": True,
    }


def metric_points(
    account: AccountRef, series: Sequence[MetricSeries], start: datetime, end: datetime, period: int
) -> Iterator[MetricPoint]:
    """Points of every series in [start, end): ⌈len(series)/500⌉ GetMetricData calls, plus one per extra
    page. A batch is yielded only once all its pages are read, so a failure mid-batch yields none of it."""
    client = aws_control.client(account, "cloudwatch")
    paginator = client.get_paginator("get_metric_data")
    for offset in range(0, len(series), MAX_QUERIES_PER_CALL):
        batch = series[offset : offset + MAX_QUERIES_PER_CALL]
        points = []
        with aws_control.translated(account, "read CloudWatch metrics"):
            pages = paginator.paginate(
                MetricDataQueries=[_series_query(index, item, period) for index, item in enumerate(batch)],
                StartTime=start,
                EndTime=end,
                ScanBy="TimestampAscending",
            )
            for page in pages:
                for result in page.get("MetricDataResults", []):
                    item = batch[int(result["Id"][1:])]
                    per_second = SAMPLE_SECONDS / period if item.metric in RATE_METRICS else 1
                    for stamp, value in zip(
                        result.get("Timestamps", []), result.get("Values", []), strict=False
                    ):
                        points.append(MetricPoint(item, stamp.astimezone(UTC), value * per_second))
        yield from points


def consumer_group_topics(account: AccountRef, cluster_names: Sequence[str]) -> list[GroupTopic]:
    """Group × topic pairs reporting lag on these clusters (ListMetrics of the last ~2 weeks; MSK emits
    lag only for STABLE/EMPTY groups with committed offsets, and none for names containing ':')."""
    wanted = set(cluster_names)
    found: set[GroupTopic] = set()
    client = aws_control.client(account, "cloudwatch")
    with aws_control.translated(account, "list CloudWatch metrics"):
        for page in client.get_paginator("list_metrics").paginate(
            Namespace=NAMESPACE, MetricName=LAG_DISCOVERY_METRIC
        ):
            for metric in page.get("Metrics", []):
                dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
                if (
                    dims.keys() == {"Cluster Name", "Consumer Group", "Topic"}
                    and dims["Cluster Name"] in wanted
                ):
                    found.add(GroupTopic(dims["Cluster Name"], dims["Consumer Group"], dims["Topic"]))
    return sorted(found, key=lambda pair: (pair.cluster_name, pair.topic, pair.consumer_group))


# --- Migration: MSK Replicator's own lag per topic ---------------------------------------------------

REPLICATOR_METRICS = {"MessageLag": "Sum", "ReplicationLatency": "Maximum"}


def replicator_lag(
    account: AccountRef, replicator_name: str, topics: Sequence[str], start: datetime, end: datetime
) -> dict[str, ReplicatorTopicLag]:
    """Per topic, the newest 1-minute MessageLag and ReplicationLatency in [start, end); a topic or metric
    without any datapoint there stays None. ⌈2·len(topics)/500⌉ GetMetricData calls, plus extra pages."""
    wanted = [(topic, metric) for topic in topics for metric in REPLICATOR_METRICS]
    newest: dict[tuple[str, str], tuple[datetime, float]] = {}
    paginator = aws_control.client(account, "cloudwatch").get_paginator("get_metric_data")
    for offset in range(0, len(wanted), MAX_QUERIES_PER_CALL):
        batch = wanted[offset : offset + MAX_QUERIES_PER_CALL]
        queries = [
            {
                "Id": f"q{index}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": NAMESPACE,
                        "MetricName": metric,
                        "Dimensions": [
                            {"Name": "ReplicatorName", "Value": replicator_name},
                            {"Name": "Topic", "Value": topic},
                        ],
                    },
                    "Period": SAMPLE_SECONDS,
                    "Stat": REPLICATOR_METRICS[metric],
                },
                "ReturnData": True,
            }
            for index, (topic, metric) in enumerate(batch)
        ]
        with aws_control.translated(
            account, f"read the CloudWatch metrics of the replicator {replicator_name}"
        ):
            for page in paginator.paginate(MetricDataQueries=queries, StartTime=start, EndTime=end):
                for result in page.get("MetricDataResults", []):
                    key = batch[int(result["Id"][1:])]
                    for stamp, value in zip(
                        result.get("Timestamps", []), result.get("Values", []), strict=False
                    ):
                        stamp = stamp.astimezone(UTC)
                        if key not in newest or stamp > newest[key][0]:
                            newest[key] = (stamp, value)
    lags = {}
    for topic in topics:
        lag_at, lag = newest.get((topic, "MessageLag"), (None, None))
        latency_at, latency = newest.get((topic, "ReplicationLatency"), (None, None))
        lags[topic] = ReplicatorTopicLag(topic, lag, lag_at, latency, latency_at)
    return lags
