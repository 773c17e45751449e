"""The "replication verified" gate reads MSK Replicator's own lag signal beside the end offsets: MessageLag
(and ReplicationLatency) per topic from CloudWatch, over HTTP against moto in server mode, seeded with
PutMetricData under the role the portal assumes. The end offsets are faked at the adapter seam (the real
two-broker run is tests/clusters/integrations/kafka/test_migration_cutover.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from clusters.integrations.records import ReplicatorTopicLag
from clusters.migration import cutover
from clusters.migration.models import Replication
from tests.builders import PLATFORM_ACCOUNT_ID
from tests.clusters.integrations.aws.cloudwatch_harness import (
    put_datapoints,
    replicator_datum,
    seeding_client,
)
from tests.clusters.integrations.aws.conftest import aws, moto_url  # noqa: F401  (fixtures)
from tests.clusters.migration.test_cutover import fake, started  # noqa: F401  (fixtures)
from tests.clusters.migration.test_planning import owned  # noqa: F401  (fixture)
from tests.conftest import client_for

NAME = "mig-legacy-orders"
ROLE = f"arn:aws:iam::{PLATFORM_ACCOUNT_ID}:role/msk-portal"
TOPICS = ("orders.audit", "orders.created")


@pytest.fixture
def replicated(started, admin, fake):  # noqa: F811
    """orders replicated by a running MSK Replicator; the target holds every record the monolith has."""
    orders = started["orders"]
    Replication.objects.create(
        cutover=orders,
        tool=Replication.Tool.REPLICATOR,
        name=NAME,
        status=Replication.Status.RUNNING,
        resources={"replicator": "arn:aws:kafka:us-east-1:123456789012:replicator/mig-legacy-orders/3"},
        requested_by=admin,
    )
    fake.target = fake.source
    return orders


@pytest.fixture
def seed(aws):  # noqa: F811
    client = seeding_client(aws, ROLE)

    def put(minutes_ago: int, lag: dict[str, float], latency_ms: float = 850.0) -> None:
        when = timezone.now() - dt.timedelta(minutes=minutes_ago)
        put_datapoints(
            client,
            [replicator_datum(NAME, topic, "MessageLag", when, value) for topic, value in lag.items()]
            + [replicator_datum(NAME, topic, "ReplicationLatency", when, latency_ms) for topic in lag],
        )

    return put


def test_the_replicators_message_lag_blocks_although_the_end_offsets_agree(replicated, seed):
    seed(5, {"orders.created": 5000, "orders.audit": 0})
    gate = cutover.check_gate(replicated, "verified")
    assert not gate.holds
    assert gate.reasons == [
        "orders.created: MSK Replicator has 5,000 messages left to read from the monolith, more than 1,200 "
        "(100 per partition)."
    ]
    # Both signals are shown: the end offsets per partition and the tool's own lag with its age.
    assert "orders.created: target behind by at most 0 records per partition" in gate.figures
    lag_figure = next(
        f for f in gate.figures if f.startswith("orders.created: MSK Replicator MessageLag 5,000")
    )
    assert "ReplicationLatency up to 850 ms" in lag_figure and "\xa0minutes ago)" in lag_figure

    seed(1, {"orders.created": 40, "orders.audit": 0})  # a newer minute: caught up within 100 per partition
    gate = cutover.check_gate(replicated, "verified")
    assert gate.holds, gate.reasons
    assert any(f.startswith("orders.created: MSK Replicator MessageLag 40 as of") for f in gate.figures)


def test_a_stale_or_missing_signal_blocks_and_producers_wait_for_zero(replicated, seed):
    gate = cutover.check_gate(replicated, "verified")
    assert not gate.holds and all("reported no MessageLag in the last 15 minutes" in r for r in gate.reasons)
    assert len(gate.reasons) == len(TOPICS)

    seed(14, {"orders.created": 0, "orders.audit": 0})
    gate = cutover.check_gate(replicated, "verified")
    assert not gate.holds and "a fresh one (at most 10 minutes old) is needed" in gate.reasons[0]

    seed(1, {"orders.created": 3, "orders.audit": 0})
    replicated.step = "consumers_moved"
    gate = cutover.check_gate(replicated, "producers_moved")
    assert gate.reasons == [
        "orders.created: MSK Replicator has 3 messages left to read from the monolith (lag must be 0 before "
        "producers move)."
    ]


def test_mirrormaker_2_has_no_cloudwatch_lag_and_says_so(replicated, aws):  # noqa: F811
    Replication.objects.filter(cutover=replicated).update(tool=Replication.Tool.MM2)
    gate = cutover.check_gate(replicated, "verified")  # no datapoint anywhere: only the offsets count
    assert gate.holds
    assert "MirrorMaker 2 on MSK Connect publishes no lag to CloudWatch: the end offsets are the check" in (
        gate.figures
    )


def test_the_gate_panel_shows_both_signals_to_admins_only(replicated, seed, personas):
    seed(2, {"orders.created": 0, "orders.audit": 0})
    url = reverse("migration:cutover-gate", args=[replicated.pk])
    page = client_for(personas["admin"]).get(url)
    text = page.content.decode()
    assert page.status_code == 200 and "Ready for" in text
    assert "target behind by at most 0 records per partition" in text and "MessageLag 0 as of" in text
    for persona in ("member_a", "member_b", "finance"):
        assert client_for(personas[persona]).get(url).status_code == 403


# --- The gate's rule on its own -------------------------------------------------------------------------

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def _lag(topic: str, lag: float | None, minutes_ago: int = 2, latency: float | None = None):
    at = NOW - dt.timedelta(minutes=minutes_ago) if lag is not None else None
    return ReplicatorTopicLag(topic, lag, at, latency, at if latency is not None else None)


@pytest.mark.parametrize(
    ("lag", "allowed", "reason"),
    [
        (_lag("t", 600), 100, None),  # 6 partitions × 100
        (
            _lag("t", 601),
            100,
            "t: MSK Replicator has 601 messages left to read from the monolith, more than 600",
        ),
        (_lag("t", 0), 0, None),
        (_lag("t", 1), 0, "(lag must be 0 before producers move)"),
        (_lag("t", 0, minutes_ago=10), 0, None),
        (_lag("t", 0, minutes_ago=11), 0, "t: MSK Replicator's newest MessageLag is 11\xa0minutes old"),
        (_lag("t", None), 100, "t: MSK Replicator reported no MessageLag in the last 15 minutes"),
    ],
)
def test_tool_lag_rule(lag, allowed, reason):
    gate = cutover.tool_lag_gate({"t": lag}, {"t": 6}, allowed, now=NOW)
    assert gate.holds == (reason is None)
    if reason:
        assert len(gate.reasons) == 1 and reason in gate.reasons[0]


def test_a_topic_cloudwatch_does_not_know_blocks_and_the_age_is_shown():
    gate = cutover.tool_lag_gate({"a": _lag("a", 0, latency=1200.0)}, {"a": 3, "b": 3}, 100, now=NOW)
    assert gate.figures == [
        "a: MSK Replicator MessageLag 0 as of 11:58 UTC (2\xa0minutes ago), ReplicationLatency up to 1,200 ms"
    ]
    assert [reason.split(":")[0] for reason in gate.reasons] == ["b"]
