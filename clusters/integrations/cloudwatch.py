"""CloudWatch `AWS/Kafka` usage metrics: the only module that reads them (through aws_control's clients).

Per (cluster name, topic) and UTC day: `Sum` of `BytesInPerSec` / `BytesOutPerSec` over a 86,400 s period, ×
60 = bytes. MSK publishes one sample per partition per minute, each standing for 60 s of traffic, so the Sum
× 60 is the day's bytes; it is computed here rather than with metric math (`m1*60`), which moto silently
answers with no values. Topics come from the portal's inventory (ListMetrics and SEARCH only see the last
two weeks). Up to 500 queries per GetMetricData call; every page is read (botocore's paginator). Throttling
is handled by botocore's adaptive retry mode (client-side rate limiting + backoff), and what still fails is
raised as a provider error (TransientError: retry the collection later; it is idempotent).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time

from clusters.integrations import aws_control
from clusters.integrations.records import AccountRef, TopicDayBytes

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
                    yield TopicDayBytes(cluster, topic, stamp.astimezone(UTC).date(), metric,
                                        round(value * SAMPLE_SECONDS))  # fmt: skip
