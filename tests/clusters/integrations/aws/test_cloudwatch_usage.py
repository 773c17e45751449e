"""Usage collection through the aws provider: clusters.integrations.cloudwatch over HTTP against moto in server mode.

`collect_usage` runs with MSK_PROVIDER=aws through the real path: the registered account's role is assumed
(moto's STS), GetMetricData goes over HTTP to moto's CloudWatch, and rows land in TopicDailyUsage. The
harness (tests/clusters/integrations/aws/cloudwatch_harness.py) seeds per-partition, per-minute `BytesInPerSec`/`BytesOutPerSec`
samples into `AWS/Kafka` and fills moto's gaps, never product code:
- moto ignores MaxDatapoints and never returns NextToken: botocore's Stubber plays a two-page answer;
- moto never throttles or denies: a before-send hook answers with CloudWatch's CBOR error bodies, after
  which botocore's own retry handler (adaptive mode) does its work.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

import pytest
from botocore.stub import Stubber

from billing.models import TopicDailyUsage
from billing.usage import collect_usage
from clusters.integrations import aws_control, cloudwatch
from clusters.models import Cluster, Topic, TopicPartitionChange
from clusters.providers import get_provider
from clusters.providers.base import AccountRef
from tests import builders
from tests.moto_harness import ACCOUNT_ID, EXTERNAL_ID, ROLE_ARN

from .cloudwatch_harness import Faults, datum, put_datapoints, seeding_client

OTHER_ACCOUNT_ID = "444455556666"
OTHER_ROLE_ARN = f"arn:aws:iam::{OTHER_ACCOUNT_ID}:role/msk-portal"
DAY1 = dt.date(2026, 10, 5)
SEEDED_DAYS = [DAY1 + dt.timedelta(days=n) for n in range(3)]  # the window is the first two; day 3 is outside
START, END = SEEDED_DAYS[0], SEEDED_DAYS[2]
METRICS = {"bytes_in": "BytesInPerSec", "bytes_out": "BytesOutPerSec"}


def midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


@pytest.fixture
def aws_usage(aws, settings):
    settings.MSK_PROVIDER = "aws"
    get_provider.cache_clear()
    yield aws
    get_provider.cache_clear()


def register(account_id: str, role_arn: str, name: str, team, *, cluster: str, topics: dict[str, int]):
    """An account with one active cluster and its topics (name → partitions), all alive since September."""
    account = builders.aws_account(account_id, name=name, role_arn=role_arn, external_id=EXTERNAL_ID)
    network = builders.network_profile(account, name=f"net-{name}")
    row = Cluster.objects.create(
        name=cluster,
        team=team,
        kind=Cluster.Kind.DEDICATED,
        environment="dev",
        account=account,
        region="us-east-1",
        network_profile=network,
        status=Cluster.Status.ACTIVE,
        active_since=dt.datetime(2026, 9, 1, tzinfo=dt.UTC),
        arn=f"arn:aws:kafka:us-east-1:{account_id}:cluster/{cluster}/0d6f5b7e-2b1c-4c55-9f5e-1e2d3c4b5a69-s1",
    )
    # In two statements: the 500-topic cases would otherwise spend ~1,000 round trips on the database.
    created = Topic.objects.bulk_create(
        Topic(cluster=row, team=team, name=topic_name, partitions=partitions, status=Topic.Status.ACTIVE)
        for topic_name, partitions in topics.items()
    )
    TopicPartitionChange.objects.bulk_create(
        TopicPartitionChange(
            topic=topic, partitions=topic.partitions, changed_at=dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
        )
        for topic in created
    )
    return row, AccountRef(
        account_id=account_id, region="us-east-1", role_arn=role_arn, external_id=EXTERNAL_ID
    )


def per_minute_samples(cluster: str, topics: dict[str, int], days, *, minutes=range(0, 1440, 7), scale=1):
    """Per-partition, per-minute samples (a sample every 7th minute, incl. 00:00 and 23:59's neighbour)
    with distinct integer rates, and the bytes each (topic, day, metric) should come to: Σ samples × 60."""
    data, expected = [], defaultdict(int)
    for t_index, (topic, partitions) in enumerate(sorted(topics.items())):
        for day in days:
            for metric, metric_name in METRICS.items():
                for minute in [*minutes, 1439]:
                    when = midnight(day) + dt.timedelta(minutes=minute)
                    for partition in range(partitions):
                        rate = scale * (1000 * (t_index + 1) + 10 * partition + minute % 97 + day.day)
                        rate *= 3 if metric == "bytes_out" else 1
                        data.append(datum(cluster, topic, metric_name, when, rate))
                        expected[(topic, day, metric)] += rate * 60
    return data, dict(expected)


def stored(cluster: Cluster | None = None) -> dict[tuple, int]:
    rows = TopicDailyUsage.objects.all()
    if cluster is not None:
        rows = rows.filter(cluster=cluster)
    return {(row.topic_name, row.day, row.metric): row.bytes for row in rows}


def in_window(expected: dict[tuple, int]) -> dict[tuple, int]:
    return {key: value for key, value in expected.items() if START <= key[1] < END}


def count_calls(client) -> list[dict]:
    """The params of every GetMetricData call the client makes (once per call, not per retry)."""
    calls: list[dict] = []
    client.meta.events.register(
        "provide-client-params.cloudwatch.GetMetricData", lambda params, **_: calls.append(dict(params))
    )
    return calls


# --- Exact bytes, over HTTP ---------------------------------------------------------------------------


def test_bytes_per_topic_and_day_are_the_sum_of_per_minute_samples_times_60(aws_usage, team_a):
    topics = {"orders": 3, "clicks": 1, "audit.log": 2}
    cluster, account = register(ACCOUNT_ID, ROLE_ARN, "main", team_a, cluster="team-a-dev", topics=topics)
    data, expected = per_minute_samples("team-a-dev", topics, SEEDED_DAYS)
    # Another cluster's topic of the same name in the same account, and an unknown topic: neither counts.
    data += [datum("someone-else", "orders", "BytesInPerSec", midnight(DAY1), 10**9)]
    data += [datum("team-a-dev", "not-in-inventory", "BytesInPerSec", midnight(DAY1), 10**9)]
    assert put_datapoints(seeding_client(aws_usage, ROLE_ARN), data) > 1  # ≤ 1000 a call
    calls = count_calls(aws_control.client(account, "cloudwatch"))

    result = collect_usage(START, END)

    assert result.failures == [] and result.accounts == 1 and result.topics == 3
    assert stored(cluster) == in_window(expected)  # the day after the window is not read
    assert len(stored(cluster)) == 3 * 2 * 2 == result.rows
    assert len(calls) == 1 and len(calls[0]["MetricDataQueries"]) == 6


def test_collecting_twice_changes_nothing(aws_usage, team_a):
    topics = {"orders": 2, "clicks": 1}
    cluster, _ = register(ACCOUNT_ID, ROLE_ARN, "main", team_a, cluster="team-a-dev", topics=topics)
    data, expected = per_minute_samples("team-a-dev", topics, SEEDED_DAYS[:2], minutes=range(0, 1440, 60))
    put_datapoints(seeding_client(aws_usage, ROLE_ARN), data)

    collect_usage(START, END)
    first = {
        (row.pk, row.topic_name, row.day, row.metric, row.bytes) for row in TopicDailyUsage.objects.all()
    }
    collect_usage(START, END)
    second = {
        (row.pk, row.topic_name, row.day, row.metric, row.bytes) for row in TopicDailyUsage.objects.all()
    }

    assert first == second and len(first) == 8
    assert stored(cluster) == expected


# --- Batching: ⌈2T/500⌉ calls, none over 500 queries ---------------------------------------------------


@pytest.mark.parametrize("topic_count", [250, 251, 500])
def test_topics_are_read_in_calls_of_at_most_500_queries(aws_usage, team_a, topic_count):
    topics = {f"t{n:04d}": 1 for n in range(topic_count)}
    cluster, account = register(ACCOUNT_ID, ROLE_ARN, "main", team_a, cluster="team-a-dev", topics=topics)
    # One sample per topic, day and metric is enough here: the values only have to be told apart.
    data, expected = per_minute_samples("team-a-dev", topics, SEEDED_DAYS[:1], minutes=[], scale=1)
    put_datapoints(seeding_client(aws_usage, ROLE_ARN), data)
    calls = count_calls(aws_control.client(account, "cloudwatch"))

    collect_usage(START, END)

    assert len(calls) == math.ceil(2 * topic_count / 500)
    assert max(len(call["MetricDataQueries"]) for call in calls) <= cloudwatch.MAX_QUERIES_PER_CALL == 500
    asked = [
        (
            query["MetricStat"]["Metric"]["MetricName"],
            tuple((d["Name"], d["Value"]) for d in query["MetricStat"]["Metric"]["Dimensions"]),
        )
        for call in calls
        for query in call["MetricDataQueries"]
    ]
    assert len(asked) == len(set(asked)) == 2 * topic_count  # every topic and metric, once
    assert stored(cluster) == expected


# --- Pagination: moto never returns NextToken, so the Stubber plays AWS's two pages -----------------


def test_next_token_page_is_requested_with_the_same_queries_and_both_pages_land(aws_usage, team_a):
    cluster, account = register(
        ACCOUNT_ID, ROLE_ARN, "main", team_a, cluster="team-a-dev", topics={"orders": 3}
    )
    client = aws_control.client(account, "cloudwatch")
    calls = count_calls(client)
    day1, day2 = (midnight(day) for day in SEEDED_DAYS[:2])
    first_page = {
        "MetricDataResults": [
            {"Id": "q0", "Timestamps": [day1], "Values": [1000.0], "StatusCode": "PartialData"},
            {"Id": "q1", "Timestamps": [day1], "Values": [2000.0], "StatusCode": "PartialData"},
        ],
        "NextToken": "page-2-token",
    }
    second_page = {
        "MetricDataResults": [
            {"Id": "q0", "Timestamps": [day2], "Values": [3000.0], "StatusCode": "Complete"},
            {"Id": "q1", "Timestamps": [day2], "Values": [4000.5], "StatusCode": "Complete"},
        ],
    }
    with Stubber(client) as stubber:
        stubber.add_response("get_metric_data", first_page)
        stubber.add_response("get_metric_data", second_page)
        result = collect_usage(START, END)
        stubber.assert_no_pending_responses()

    assert result.failures == []
    assert len(calls) == 2
    assert "NextToken" not in calls[0] and calls[1]["NextToken"] == "page-2-token"
    assert calls[1]["MetricDataQueries"] == calls[0]["MetricDataQueries"]
    assert {key: calls[1][key] for key in ("StartTime", "EndTime")} == {
        key: calls[0][key] for key in ("StartTime", "EndTime")
    }
    assert [query["MetricStat"]["Metric"]["MetricName"] for query in calls[0]["MetricDataQueries"]] == [
        "BytesInPerSec",
        "BytesOutPerSec",
    ]
    assert stored(cluster) == {
        ("orders", SEEDED_DAYS[0], "bytes_in"): 60_000,
        ("orders", SEEDED_DAYS[0], "bytes_out"): 120_000,
        ("orders", SEEDED_DAYS[1], "bytes_in"): 180_000,
        ("orders", SEEDED_DAYS[1], "bytes_out"): 240_030,
    }


# --- Throttling and access errors: per account, never blocking the others ----------------------------


@pytest.fixture
def two_accounts(aws_usage, team_a, settings):
    """Account 1 (team-a-dev, 3 topics) and account 2 (team-a-prod, 2 topics), both seeded over HTTP."""
    settings.AWS_MAX_ATTEMPTS = 3  # keeps the backoff short; the count is what is checked
    one = register(ACCOUNT_ID, ROLE_ARN, "one", team_a, cluster="team-a-dev", topics={"a": 1, "b": 2, "c": 1})
    two = register(
        OTHER_ACCOUNT_ID, OTHER_ROLE_ARN, "two", team_a, cluster="team-a-prod", topics={"x": 2, "y": 1}
    )
    seeded = {}
    for (cluster, _), role in ((one, ROLE_ARN), (two, OTHER_ROLE_ARN)):
        topics = dict(Topic.objects.filter(cluster=cluster).values_list("name", "partitions"))
        data, expected = per_minute_samples(
            cluster.name, topics, SEEDED_DAYS[:2], minutes=range(0, 1440, 120)
        )
        put_datapoints(seeding_client(aws_usage, role), data)
        seeded[cluster.pk] = expected
    return one, two, seeded


@pytest.mark.parametrize(
    "status, code", [(400, "Throttling"), (429, None)], ids=["Throttling", "429-no-body"]
)
def test_throttling_is_retried_then_transient_and_other_accounts_are_stored(
    two_accounts, settings, status, code, retry_waits
):
    (cluster_one, account_one), (cluster_two, _), seeded = two_accounts
    client = aws_control.client(account_one, "cloudwatch")
    faults = Faults(lambda attempt: (status, code))
    faults.install(client)

    result = collect_usage(START, END)

    assert faults.attempts == settings.AWS_MAX_ATTEMPTS == 3  # retried by botocore, then given up
    assert retry_waits.count >= 2 and retry_waits.seconds > 0  # backing off between attempts (not slept)
    assert result.transient is True and len(result.failures) == 1
    assert ACCOUNT_ID in result.failures[0] and "could not read CloudWatch metrics" in result.failures[0]
    assert stored(cluster_one) == {}
    assert stored(cluster_two) == seeded[cluster_two.pk]  # the other account is collected all the same

    faults.remove(client)  # throttling over: the retry collects the rest, the stored rows do not change
    again = collect_usage(START, END)
    assert again.failures == [] and stored(cluster_one) == seeded[cluster_one.pk]
    assert stored(cluster_two) == seeded[cluster_two.pk]


def test_a_throttle_that_passes_within_the_retries_loses_nothing(two_accounts, settings):
    (cluster_one, account_one), _, seeded = two_accounts
    faults = Faults(lambda attempt: (400, "Throttling") if attempt <= 2 else None)
    faults.install(aws_control.client(account_one, "cloudwatch"))

    result = collect_usage(START, END)

    assert faults.injected == 2 and result.failures == []
    assert stored(cluster_one) == seeded[cluster_one.pk]


def test_what_was_read_before_a_lasting_throttle_is_kept(aws_usage, team_a, settings):
    settings.AWS_MAX_ATTEMPTS = 2
    topics = {f"t{n:03d}": 1 for n in range(260)}  # two calls: 500 queries, then 20
    cluster, account = register(ACCOUNT_ID, ROLE_ARN, "main", team_a, cluster="team-a-dev", topics=topics)
    data, expected = per_minute_samples("team-a-dev", topics, SEEDED_DAYS[:1], minutes=[])
    put_datapoints(seeding_client(aws_usage, ROLE_ARN), data)
    client = aws_control.client(account, "cloudwatch")
    calls = count_calls(client)
    Faults(lambda attempt: (400, "Throttling") if attempt > 1 else None).install(client)

    result = collect_usage(START, END)

    assert result.transient is True and len(calls) == 2
    first_batch = {
        (d["Value"], q["MetricStat"]["Metric"]["MetricName"])
        for q in calls[0]["MetricDataQueries"]
        for d in q["MetricStat"]["Metric"]["Dimensions"]
        if d["Name"] == "Topic"
    }
    kept = stored(cluster)
    assert len(kept) == 500 and len(first_batch) == 500
    assert {(topic, METRICS[metric]) for topic, _, metric in kept} == first_batch
    assert all(expected[key] == value for key, value in kept.items())


def test_access_denied_in_one_account_does_not_block_the_other(two_accounts):
    (cluster_one, _), (cluster_two, account_two), seeded = two_accounts
    faults = Faults(lambda attempt: (403, "AccessDenied"))
    faults.install(aws_control.client(account_two, "cloudwatch"))

    result = collect_usage(START, END)

    assert faults.attempts == 1  # not retried
    assert result.transient is False and len(result.failures) == 1
    assert OTHER_ROLE_ARN in result.failures[0] and OTHER_ACCOUNT_ID in result.failures[0]
    assert "may not read CloudWatch metrics" in result.failures[0]
    assert stored(cluster_two) == {}
    assert stored(cluster_one) == seeded[cluster_one.pk]
