"""Observability collection through the aws provider: clusters.integrations.cloudwatch over HTTP against moto in server
mode (GetMetricData answers what PutMetricData stored; ListMetrics finds the consumer groups).

The harness fills moto's gaps, never product code: moto never returns NextToken (the Stubber plays AWS's
two pages), never throttles nor denies (a before-send hook answers with CloudWatch's error bodies, after
which botocore's own adaptive retry does its work), and lists a metric once per datapoint (the adapter
de-duplicates, as it must for AWS's own repeated dimensions).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

import pytest
from botocore.stub import Stubber

from clusters.integrations import aws_control, cloudwatch
from clusters.observability import collect, tasks
from clusters.observability.models import GroupLagSample, TopicSample
from clusters.providers import get_provider

from .cloudwatch_harness import Faults, datum, lag_datum, put_datapoints, seeding_client
from .conftest import ACCOUNT_ID, ROLE_ARN
from .test_cloudwatch_usage import OTHER_ACCOUNT_ID, OTHER_ROLE_ARN, count_calls, register

NOW = dt.datetime(2026, 11, 20, 12, 2, tzinfo=dt.UTC)  # the cycle reads 11:40 … 12:00 (4 points of 5 min)
WINDOW_START = dt.datetime(2026, 11, 20, 11, 40, tzinfo=dt.UTC)
RATES = ("BytesInPerSec", "BytesOutPerSec", "MessagesInPerSec")
LAGS = ("MaxOffsetLag", "SumOffsetLag", "EstimatedMaxTimeLag")
FIELDS = {
    "BytesInPerSec": "bytes_in_per_sec",
    "BytesOutPerSec": "bytes_out_per_sec",
    "MessagesInPerSec": "messages_in_per_sec",
    "MaxOffsetLag": "max_offset_lag",
    "SumOffsetLag": "sum_offset_lag",
    "EstimatedMaxTimeLag": "max_time_lag_seconds",
}


@pytest.fixture
def aws_metrics(aws, settings):
    """MSK_PROVIDER=aws against the moto server (the `aws` fixture)."""
    settings.MSK_PROVIDER = "aws"
    get_provider.cache_clear()
    yield aws
    get_provider.cache_clear()


@pytest.fixture
def window(settings):
    settings.OBSERVABILITY_WINDOW_MINUTES = 20


def seed_topics(cluster: str, topics: dict[str, int], minutes=range(20)):
    """Per-partition, per-minute rate samples; expected per-second averages per (topic, point, metric):
    Σ samples × 60 / 300."""
    data, expected = [], defaultdict(float)
    for t_index, (topic, partitions) in enumerate(sorted(topics.items())):
        for m_index, metric in enumerate(RATES):
            for minute in minutes:
                when = WINDOW_START + dt.timedelta(minutes=minute)
                point = WINDOW_START + dt.timedelta(minutes=minute // 5 * 5)
                for partition in range(partitions):
                    value = 1000 * (t_index + 1) + 100 * m_index + 10 * partition + minute
                    data.append(datum(cluster, topic, metric, when, value))
                    expected[(topic, point, metric)] += value * 60 / 300
    return data, dict(expected)


def seed_lags(cluster: str, pairs: list[tuple[str, str]], minutes=range(20)):
    """Per-minute lag samples per group × topic; expected: the maximum over each 5-minute point."""
    data, expected = [], defaultdict(float)
    for p_index, (group, topic) in enumerate(pairs):
        for m_index, metric in enumerate(LAGS):
            for minute in minutes:
                when = WINDOW_START + dt.timedelta(minutes=minute)
                point = WINDOW_START + dt.timedelta(minutes=minute // 5 * 5)
                value = 50 * (p_index + 1) + 7 * m_index + (minute % 5) * 3 + minute
                data.append(lag_datum(cluster, group, topic, metric, when, value))
                expected[(group, topic, point, metric)] = max(expected[(group, topic, point, metric)], value)
    return data, dict(expected)


def stored_rates(cluster=None) -> dict[tuple, float]:
    rows = TopicSample.objects.select_related("topic")
    if cluster is not None:
        rows = rows.filter(topic__cluster=cluster)
    return {(r.topic.name, r.at, metric): getattr(r, FIELDS[metric]) for r in rows for metric in RATES}


def stored_lags(cluster=None) -> dict[tuple, float]:
    rows = GroupLagSample.objects.select_related("topic")
    if cluster is not None:
        rows = rows.filter(topic__cluster=cluster)
    return {
        (r.consumer_group, r.topic.name, r.at, metric): getattr(r, FIELDS[metric])
        for r in rows
        for metric in LAGS
    }


def approx(expected: dict) -> dict:
    return {key: pytest.approx(value) for key, value in expected.items()}


def test_a_cycle_reads_exactly_the_inventorys_series_over_http(aws_metrics, window, team_a):
    topics = {"orders": 3, "clicks": 1}
    cluster, account = register(ACCOUNT_ID, ROLE_ARN, "main", team_a, cluster="team-a-dev", topics=topics)
    pairs = [("billing-app", "orders"), ("search-app", "orders"), ("billing-app", "clicks")]
    rate_data, rates = seed_topics("team-a-dev", topics)
    lag_data, lags = seed_lags("team-a-dev", pairs)
    # Not ours: another cluster's group, a topic outside the inventory; neither is read nor stored.
    noise = [
        lag_datum("someone-else", "x-app", "orders", "SumOffsetLag", WINDOW_START, 10**6),
        lag_datum("team-a-dev", "x-app", "not-in-inventory", "SumOffsetLag", WINDOW_START, 10**6),
    ]
    put_datapoints(seeding_client(aws_metrics, ROLE_ARN), rate_data + lag_data + noise)
    client = aws_control.client(account, "cloudwatch")
    calls = count_calls(client)

    result = collect.collect(cluster.account_id, "us-east-1", now=NOW)

    assert result.failures == [] and (result.topics, result.groups) == (2, 3)
    assert result.series == 2 * 3 + 3 * 3 == 15 and result.rows == 4 * (2 + 3)
    assert len(calls) == math.ceil(15 / 500) == 1
    asked = {
        (
            q["MetricStat"]["Metric"]["MetricName"],
            q["MetricStat"]["Stat"],
            tuple((d["Name"], d["Value"]) for d in q["MetricStat"]["Metric"]["Dimensions"]),
        )
        for q in calls[0]["MetricDataQueries"]
    }
    assert ("BytesInPerSec", "Sum", (("Cluster Name", "team-a-dev"), ("Topic", "orders"))) in asked
    assert (
        "EstimatedMaxTimeLag",
        "Maximum",
        (("Cluster Name", "team-a-dev"), ("Consumer Group", "search-app"), ("Topic", "orders")),
    ) in asked
    assert len(asked) == 15 and {q["MetricStat"]["Period"] for q in calls[0]["MetricDataQueries"]} == {300}
    assert (calls[0]["StartTime"], calls[0]["EndTime"]) == (
        WINDOW_START,
        WINDOW_START + dt.timedelta(minutes=20),
    )
    assert stored_rates() == approx(rates)
    assert stored_lags() == approx(lags)


@pytest.mark.parametrize("topic_count", [166, 167, 334])
def test_calls_per_cycle_are_the_series_over_500_rounded_up(aws_metrics, window, team_a, topic_count):
    topics = {f"t{n:04d}": 1 for n in range(topic_count)}
    cluster, account = register(ACCOUNT_ID, ROLE_ARN, "main", team_a, cluster="team-a-dev", topics=topics)
    data, expected = seed_topics("team-a-dev", topics, minutes=[0])
    put_datapoints(seeding_client(aws_metrics, ROLE_ARN), data)
    calls = count_calls(aws_control.client(account, "cloudwatch"))

    result = collect.collect(cluster.account_id, "us-east-1", now=NOW)

    assert result.series == 3 * topic_count
    assert len(calls) == math.ceil(3 * topic_count / 500)  # 498 → 1, 501 → 2, 1002 → 3
    assert max(len(call["MetricDataQueries"]) for call in calls) <= cloudwatch.MAX_QUERIES_PER_CALL
    assert stored_rates() == approx(expected)


def test_next_token_pages_are_read_and_both_land(aws_metrics, window, team_a):
    cluster, account = register(
        ACCOUNT_ID, ROLE_ARN, "main", team_a, cluster="team-a-dev", topics={"orders": 1}
    )
    client = aws_control.client(account, "cloudwatch")
    calls = count_calls(client)
    first, second = WINDOW_START, WINDOW_START + dt.timedelta(minutes=5)

    def results(at, values):
        return [
            {"Id": f"q{i}", "Timestamps": [at], "Values": [v], "StatusCode": "PartialData"}
            for i, v in enumerate(values)
        ]

    with Stubber(client) as stubber:
        stubber.add_response("list_metrics", {"Metrics": []})
        stubber.add_response(
            "get_metric_data", {"MetricDataResults": results(first, [3000, 6000, 30]), "NextToken": "page-2"}
        )
        stubber.add_response("get_metric_data", {"MetricDataResults": results(second, [1500, 600, 15])})
        result = collect.collect(cluster.account_id, "us-east-1", now=NOW)
        stubber.assert_no_pending_responses()

    assert result.failures == [] and len(calls) == 2
    assert "NextToken" not in calls[0] and calls[1]["NextToken"] == "page-2"
    assert calls[1]["MetricDataQueries"] == calls[0]["MetricDataQueries"]
    assert stored_rates() == {  # Sum × 60 / 300
        ("orders", first, "BytesInPerSec"): 600,
        ("orders", first, "BytesOutPerSec"): 1200,
        ("orders", first, "MessagesInPerSec"): 6,
        ("orders", second, "BytesInPerSec"): 300,
        ("orders", second, "BytesOutPerSec"): 120,
        ("orders", second, "MessagesInPerSec"): 3,
    }


def test_consumer_groups_are_listed_once_each_page_by_page(aws_metrics, team_a):
    _, account = register(ACCOUNT_ID, ROLE_ARN, "main", team_a, cluster="team-a-dev", topics={"orders": 1})
    client = aws_control.client(account, "cloudwatch")

    def metric(cluster, group, topic):
        return {
            "Namespace": "AWS/Kafka",
            "MetricName": "SumOffsetLag",
            "Dimensions": [
                {"Name": "Cluster Name", "Value": cluster},
                {"Name": "Consumer Group", "Value": group},
                {"Name": "Topic", "Value": topic},
            ],
        }

    with Stubber(client) as stubber:
        stubber.add_response(
            "list_metrics", {"Metrics": [metric("team-a-dev", "a", "orders")] * 2, "NextToken": "n"}
        )
        stubber.add_response(
            "list_metrics", {"Metrics": [metric("team-a-dev", "b", "orders"), metric("other", "c", "orders")]}
        )
        pairs = cloudwatch.consumer_group_topics(account, ["team-a-dev"])
    assert [(p.consumer_group, p.topic) for p in pairs] == [("a", "orders"), ("b", "orders")]


@pytest.fixture
def two_accounts(aws_metrics, window, team_a, settings):
    settings.AWS_MAX_ATTEMPTS = 3  # keeps the backoff short; the count is what is checked
    one = register(ACCOUNT_ID, ROLE_ARN, "one", team_a, cluster="team-a-dev", topics={"a": 1, "b": 2})
    two = register(OTHER_ACCOUNT_ID, OTHER_ROLE_ARN, "two", team_a, cluster="team-a-prod", topics={"x": 2})
    seeded = {}
    for (cluster, _), role in ((one, ROLE_ARN), (two, OTHER_ROLE_ARN)):
        topics = dict(cluster.topics.values_list("name", "partitions"))
        data, seeded[cluster.pk] = seed_topics(cluster.name, topics, minutes=range(0, 20, 4))
        put_datapoints(seeding_client(aws_metrics, role), data)
    return one, two, seeded


def test_throttling_is_retried_by_botocore_and_nothing_is_lost(two_accounts):
    (cluster, account), _, seeded = two_accounts
    faults = Faults(lambda attempt: (400, "Throttling") if attempt <= 2 else None)
    faults.install(aws_control.client(account, "cloudwatch"))

    result = collect.collect(cluster.account_id, "us-east-1", now=NOW)

    assert faults.injected == 2 and result.failures == []
    assert stored_rates(cluster) == approx(seeded[cluster.pk])


def test_a_lasting_throttle_or_denied_account_does_not_block_the_others(two_accounts, settings, monkeypatch):
    (cluster_one, account_one), (cluster_two, account_two), seeded = two_accounts
    throttled = Faults(lambda attempt: (400, "Throttling"))
    throttled.install(aws_control.client(account_one, "cloudwatch"))
    denied = Faults(lambda attempt: (403, "AccessDenied"))
    denied.install(aws_control.client(account_two, "cloudwatch"))
    monkeypatch.setattr(collect, "floor_point", lambda moment: WINDOW_START + dt.timedelta(minutes=20))
    failures = []
    real_collect = collect.collect

    def recording(*args, **kwargs):
        result = real_collect(*args, **kwargs)
        failures.extend(result.failures)
        return result

    monkeypatch.setattr(collect, "collect", recording)

    assert tasks.collect_all.delay().get() == 2  # one task per account and region, each ran

    assert throttled.attempts == settings.AWS_MAX_ATTEMPTS == 3 and denied.attempts == 1  # denied: no retry
    assert len(failures) == 2
    assert any("could not read CloudWatch metrics" in f and ACCOUNT_ID in f for f in failures)
    assert any("may not read CloudWatch metrics" in f and OTHER_ROLE_ARN in f for f in failures)
    assert stored_rates() == {}

    denied.remove(aws_control.client(account_two, "cloudwatch"))  # access granted: account two is read
    tasks.collect_all.delay().get()
    assert stored_rates(cluster_two) == approx(seeded[cluster_two.pk]) and stored_rates(cluster_one) == {}
