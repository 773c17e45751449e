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

Migration (throughput of an MSK monolith): `topic_peaks` reads per topic the highest 5-minute average of
`BytesInPerSec` / `BytesOutPerSec`. MSK Serverless publishes them per `Cluster Name` + `Topic`
(msk-serverless.md §3.1: no broker dimension); MSK Provisioned per `Cluster Name` + `Broker ID` + `Topic`,
one series per broker leading the topic's partitions (AWS's metrics-details page), to be summed. ListMetrics
on the cluster name says which series exist (it sees the last two weeks), so no broker id is guessed.
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
    TopicPeak,
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


# --- Migration: reading the newest or highest datapoints of chosen series -------------------------------


def _stat_query(
    index: int, metric: str, dimensions: Sequence[tuple[str, str]], period: int, stat: str
) -> dict:
    return {
        "Id": f"q{index}",
        "MetricStat": {
            "Metric": {
                "Namespace": NAMESPACE,
                "MetricName": metric,
                "Dimensions": [{"Name": name, "Value": value} for name, value in dimensions],
            },
            "Period": period,
            "Stat": stat,
        },
        "ReturnData": True,
    }


def _datapoints(
    account: AccountRef, action: str, queries: list[dict], start: datetime, end: datetime
) -> Iterator[tuple[int, datetime, float]]:
    """(query index, timestamp in UTC, value) of every datapoint of at most 500 queries, page by page."""
    paginator = aws_control.client(account, "cloudwatch").get_paginator("get_metric_data")
    with aws_control.translated(account, action):
        for page in paginator.paginate(MetricDataQueries=queries, StartTime=start, EndTime=end):
            for result in page.get("MetricDataResults", []):
                index = int(result["Id"][1:])
                for stamp, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
                    yield index, stamp.astimezone(UTC), value


# --- Migration: MSK Replicator's own lag per topic ---------------------------------------------------

REPLICATOR_METRICS = {"MessageLag": "Sum", "ReplicationLatency": "Maximum"}


def replicator_lag(
    account: AccountRef, replicator_name: str, topics: Sequence[str], start: datetime, end: datetime
) -> dict[str, ReplicatorTopicLag]:
    """Per topic, the newest 1-minute MessageLag and ReplicationLatency in [start, end); a topic or metric
    without any datapoint there stays None. ⌈2·len(topics)/500⌉ GetMetricData calls, plus extra pages."""
    wanted = [(topic, metric) for topic in topics for metric in REPLICATOR_METRICS]
    newest: dict[tuple[str, str], tuple[datetime, float]] = {}
    action = f"read the CloudWatch metrics of the replicator {replicator_name}"
    for offset in range(0, len(wanted), MAX_QUERIES_PER_CALL):
        batch = wanted[offset : offset + MAX_QUERIES_PER_CALL]
        queries = [
            _stat_query(
                index,
                metric,
                (("ReplicatorName", replicator_name), ("Topic", topic)),
                SAMPLE_SECONDS,
                REPLICATOR_METRICS[metric],
            )
            for index, (topic, metric) in enumerate(batch)
        ]
        for index, stamp, value in _datapoints(account, action, queries, start, end):
            key = batch[index]
            if key not in newest or stamp > newest[key][0]:
                newest[key] = (stamp, value)
    lags = {}
    for topic in topics:
        lag_at, lag = newest.get((topic, "MessageLag"), (None, None))
        latency_at, latency = newest.get((topic, "ReplicationLatency"), (None, None))
        lags[topic] = ReplicatorTopicLag(topic, lag, lag_at, latency, latency_at)
    return lags


# --- Migration: peak throughput per topic of an MSK monolith --------------------------------------------

PEAK_METRICS = {"in": "BytesInPerSec", "out": "BytesOutPerSec"}
PEAK_PERIOD = 300  # 5-minute averages; 5-minute data is kept 63 days (msk-serverless.md §3.2)
_TOPIC_DIMS = frozenset({"Cluster Name", "Topic"})
_BROKER_TOPIC_DIMS = frozenset({"Cluster Name", "Broker ID", "Topic"})


def _topic_series(account: AccountRef, cluster_name: str, metric: str) -> dict[str, list[tuple]]:
    """Per topic, the dimension sets of `metric` CloudWatch has for the cluster: the topic's own series when
    there is one (Serverless), else one per broker (Provisioned). De-duplicated (moto may repeat them)."""
    own: dict[str, set[tuple]] = {}
    per_broker: dict[str, set[tuple]] = {}
    client = aws_control.client(account, "cloudwatch")
    with aws_control.translated(account, f"list the CloudWatch metrics of the cluster {cluster_name}"):
        for page in client.get_paginator("list_metrics").paginate(
            Namespace=NAMESPACE,
            MetricName=metric,
            Dimensions=[{"Name": "Cluster Name", "Value": cluster_name}],
        ):
            for found in page.get("Metrics", []):
                dims = {d["Name"]: d["Value"] for d in found.get("Dimensions", [])}
                if dims.get("Cluster Name") != cluster_name:
                    continue
                if dims.keys() == _TOPIC_DIMS:
                    own.setdefault(dims["Topic"], set()).add(tuple(sorted(dims.items())))
                elif dims.keys() == _BROKER_TOPIC_DIMS:
                    per_broker.setdefault(dims["Topic"], set()).add(tuple(sorted(dims.items())))
    return {topic: sorted(own.get(topic) or per_broker[topic]) for topic in own.keys() | per_broker.keys()}


def topic_peaks(
    account: AccountRef, cluster_name: str, topics: Sequence[str], start: datetime, end: datetime
) -> dict[str, TopicPeak]:
    """Per topic CloudWatch lists bytes for: the highest 5-minute average (Sum × 60 / 300 s, summed over the
    topic's series) of BytesInPerSec and BytesOutPerSec in [start, end); 0 when a series has no datapoint
    there (no traffic), None when the topic has no such series. Two ListMetrics paginations, then
    ⌈series/500⌉ GetMetricData calls plus extra pages."""
    wanted = set(topics)
    series = []  # (topic, direction, dimensions)
    for direction, metric in PEAK_METRICS.items():
        for topic, dimension_sets in _topic_series(account, cluster_name, metric).items():
            if topic in wanted:
                series.extend((topic, direction, dims) for dims in dimension_sets)
    buckets: dict[tuple[str, str], dict[datetime, float]] = {}
    action = f"read the CloudWatch metrics of the cluster {cluster_name}"
    for offset in range(0, len(series), MAX_QUERIES_PER_CALL):
        batch = series[offset : offset + MAX_QUERIES_PER_CALL]
        queries = [
            _stat_query(index, PEAK_METRICS[direction], dims, PEAK_PERIOD, "Sum")
            for index, (_topic, direction, dims) in enumerate(batch)
        ]
        for index, stamp, value in _datapoints(account, action, queries, start, end):
            topic, direction, _ = batch[index]
            sums = buckets.setdefault((topic, direction), {})
            sums[stamp] = sums.get(stamp, 0.0) + value
    listed = {(topic, direction) for topic, direction, _ in series}

    def peak(topic: str, direction: str) -> float | None:
        if (topic, direction) not in listed:
            return None
        return max(buckets.get((topic, direction), {}).values(), default=0.0) * SAMPLE_SECONDS / PEAK_PERIOD

    peaks = {}
    for topic in sorted({topic for topic, _, _ in series}):
        brokers = {dict(dims).get("Broker ID") for t, _, dims in series if t == topic} - {None}
        peaks[topic] = TopicPeak(topic, peak(topic, "in"), peak(topic, "out"), len(brokers), PEAK_PERIOD)
    return peaks
