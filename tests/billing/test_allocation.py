"""Chargeback arithmetic on hand-computed cases (no database)."""

import datetime as dt
import random
from decimal import ROUND_HALF_UP, Decimal

import pytest

from billing.allocation import (
    Basis,
    ClusterRef,
    ClusterUsage,
    Payer,
    TopicUsage,
    allocate,
    split_cents,
    stored_gib_month,
)
from billing.metering import level_hours, lifetime_changes
from billing.pricing import LIST_PRICES

UTC = dt.UTC
OCT_START, OCT_END = dt.datetime(2026, 10, 1, tzinfo=UTC), dt.datetime(2026, 11, 1, tzinfo=UTC)
GIB = 2**30
A, B, PLATFORM = Payer("Team A", "CC-A", 1), Payer("Team B", "CC-B", 2), Payer("Platform", "CC-P", 3)
REF = ClusterRef(7, "events-write", "arn:aws:kafka:us-east-1:1:cluster/events-write/x-s1", "us-east-1", "1")


def t(day, hour=0, minute=0, month=10):
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC)


def test_a_whole_month_is_744_hours_in_october():
    assert level_hours(lifetime_changes(t(20, month=9), None), OCT_START, OCT_END) == 31 * 24


def test_cluster_hours_count_every_started_hour():
    # Active 10:20 on the 10th, deleted 12:05 on the 20th: 10:00 on the 10th → 13:00 on the 20th.
    hours = level_hours(lifetime_changes(t(10, 10, 20), t(20, 12, 5)), OCT_START, OCT_END)
    assert hours == 10 * 24 + 3


def test_a_cluster_deleted_mid_month_is_prorated_and_one_created_late_too():
    assert level_hours(lifetime_changes(t(1, month=9), t(16)), OCT_START, OCT_END) == 15 * 24
    assert level_hours(lifetime_changes(t(31, 23, 59), None), OCT_START, OCT_END) == 1


def test_a_level_that_lasted_no_time_is_not_charged():
    # Deleted the instant it became active (on the hour and mid-hour): it never existed, so costs nothing.
    assert level_hours(lifetime_changes(t(5, 1), t(5, 1)), OCT_START, OCT_END) == 0
    assert level_hours(lifetime_changes(t(5, 1, 30), t(5, 1, 30)), OCT_START, OCT_END) == 0
    # A topic with 4 partitions, briefly "8" and back at the same instant: the hour is charged at 4.
    changes = [(t(1, month=9), 4), (t(11, 10, 30), 8), (t(11, 10, 30), 4)]
    assert level_hours(changes, OCT_START, OCT_END) == 4 * 31 * 24


def test_a_partition_increase_mid_month_is_prorated_to_the_hour():
    # 3 partitions from before October, 6 from 10:30 on the 11th: the 10:00 hour is charged at 6.
    changes = [(t(1, month=9), 3), (t(11, 10, 30), 6)]
    expected = 3 * (10 * 24 + 10) + 6 * (31 * 24 - (10 * 24 + 10))
    assert level_hours(changes, OCT_START, OCT_END) == expected


def test_a_topic_deleted_exactly_on_the_hour_is_not_charged_for_that_hour():
    changes = [(t(1, 8, 10), 3), (t(1, 10, 30), 6), (t(1, 12), 0)]
    assert level_hours(changes, OCT_START, OCT_END) == 3 + 3 + 6 + 6


def test_created_and_deleted_within_one_hour_costs_one_hour():
    assert level_hours([(t(5, 9, 1), 4), (t(5, 9, 59), 0)], OCT_START, OCT_END) == 4


def test_split_cents_sums_exactly_with_largest_remainder():
    shares = split_cents(Decimal("10.00"), {A: 1, B: 1, PLATFORM: 1})
    assert sum(shares.values()) == Decimal("10.00")
    assert sorted(shares.values()) == [Decimal("3.33"), Decimal("3.33"), Decimal("3.34")]


def test_storage_estimate_keeps_the_retention_window_capped_by_retention_bytes():
    days = [dt.date(2026, 10, d) for d in range(1, 32)]
    daily = {day: GIB for day in days}  # 1 GiB written per day
    # 2-day retention: 2 GiB kept every day (1 GiB on the 1st: nothing collected for Sept 30).
    two_days = stored_gib_month(
        daily,
        month_days=31,
        partitions_on=dict.fromkeys(days, 3),
        retention_ms=2 * 86_400_000,
        retention_bytes=-1,
    )
    assert two_days == (Decimal(1 + 2 * 30) / 31).quantize(Decimal("0.000001"))
    capped = stored_gib_month(
        daily,
        month_days=31,
        partitions_on=dict.fromkeys(days, 2),
        retention_ms=2 * 86_400_000,
        retention_bytes=GIB // 4,
    )  # ≤ 0.5 GiB
    assert capped == Decimal("0.500000")


def test_storage_is_capped_each_day_by_that_days_partition_count():
    """retention.bytes is per partition: 1 partition on the 1st-10th, 4 from the 11th (not 4 all month)."""
    days = [dt.date(2026, 10, d) for d in range(1, 32)]
    daily = {day: GIB for day in days}
    partitions = {day: 1 if day.day <= 10 else 4 for day in days}
    capped = stored_gib_month(
        daily, month_days=31, partitions_on=partitions, retention_ms=2 * 86_400_000, retention_bytes=GIB // 4
    )
    # 0.25 GiB a day on 10 days, then min(2 GiB, 1 GiB) on 21 days.
    assert capped == ((Decimal("0.25") * 10 + Decimal(1) * 21) / 31).quantize(Decimal("0.000001"))


def _stored_by_definition(daily, month_days, partitions_on, window_days, per_partition):
    """The estimate written as its definition: for each day counted, Σ bytes of the window's days, capped
    by that day's partitions."""
    total = 0
    for day in month_days:
        if day in partitions_on:
            kept = sum(daily.get(day - dt.timedelta(days=back), 0) for back in range(window_days))
            total += min(kept, per_partition * partitions_on[day]) if per_partition is not None else kept
    return (Decimal(total) / GIB / len(month_days)).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)


@pytest.mark.parametrize("seed", range(40))
def test_storage_estimate_equals_its_definition(seed):
    rng = random.Random(seed)
    days = [dt.date(2026, 10, d) for d in range(1, 32)]
    # Collected days before, in and after the month, with gaps; alive for part of the month.
    daily = {
        dt.date(2026, 10, 1) + dt.timedelta(days=offset): rng.randrange(0, 5 * GIB)
        for offset in rng.sample(range(-420, 45), rng.randrange(0, 120))
    }
    alive = set(days[rng.randrange(0, 31) : rng.randrange(0, 32)])
    retention_ms = rng.choice([-1, 0, None, 3_600_000, 86_400_000, 3 * 86_400_000 + 1, 7 * 86_400_000])
    retention_bytes = rng.choice([None, -1, 0, GIB // 3, 2 * GIB])
    partitions_on = {day: rng.randrange(1, 7) for day in sorted(alive)}
    window = {-1: 400, 0: 7, None: 7, 3_600_000: 1, 86_400_000: 1, 3 * 86_400_000 + 1: 4}.get(retention_ms, 7)
    per_partition = retention_bytes if retention_bytes not in (None, -1) and retention_bytes > 0 else None
    assert stored_gib_month(
        daily,
        month_days=31,
        partitions_on=partitions_on,
        retention_ms=retention_ms,
        retention_bytes=retention_bytes,
    ) == _stored_by_definition(daily, days, partitions_on, window, per_partition)


def test_dedicated_cluster_costs_all_go_to_its_team():
    usage = ClusterUsage(
        REF,
        A,
        shared=False,
        cluster_hours=744,
        rates=LIST_PRICES,
        topics=[
            TopicUsage("b.orders", owner=B, partition_hours=744 * 2, bytes_in=10 * GIB, bytes_out=20 * GIB),
        ],
    )
    lines = allocate(usage, PLATFORM)
    assert {line.payer for line in lines} == {A} and {line.basis for line in lines} == {Basis.DEDICATED}
    costs = {line.charge_type: line.cost for line in lines}
    assert costs == {
        "cluster_hours": Decimal("558.00"),  # 744 × 0.75
        "partition_hours": Decimal("2.23"),  # 1,488 × 0.0015 = 2.232
        "data_in": Decimal("1.00"),  # 10 GiB × 0.10
        "data_out": Decimal("1.00"),  # 20 GiB × 0.05
    }


def test_shared_cluster_topics_go_to_owners_and_cluster_hours_by_bytes_share():
    usage = ClusterUsage(
        REF,
        A,
        shared=True,
        cluster_hours=100,
        rates=LIST_PRICES,
        topics=[
            TopicUsage("a.clicks", owner=A, partition_hours=100, bytes_in=1 * GIB, bytes_out=2 * GIB),
            TopicUsage("b.orders", owner=B, partition_hours=300, bytes_in=3 * GIB, bytes_out=3 * GIB),
        ],
    )
    lines = allocate(usage, PLATFORM)
    hours = {line.payer: line for line in lines if line.charge_type == "cluster_hours"}
    # $75.00 split 3 : 6 bytes → $25.00 / $50.00.
    assert hours[A].cost == Decimal("25.00") and hours[B].cost == Decimal("50.00")
    assert hours[A].basis == hours[B].basis == Basis.USAGE_SHARE
    assert hours[A].ratio == Decimal("0.333333") and hours[B].quantity == Decimal("66.666667")
    b_topic = [line for line in lines if line.topic == "b.orders"]
    assert {line.payer for line in b_topic} == {B} and {line.basis for line in b_topic} == {Basis.TOPIC_OWNER}
    assert sum(line.cost for line in lines) == Decimal("75.00") + Decimal("0.15") + Decimal("0.45") + Decimal(
        "0.10"
    ) + Decimal("0.10") + Decimal("0.30") + Decimal("0.15")


def test_shared_cluster_without_traffic_is_split_evenly_and_sums_to_the_cent():
    usage = ClusterUsage(
        REF,
        A,
        shared=True,
        cluster_hours=1,
        rates=LIST_PRICES,
        topics=[
            TopicUsage("a.x", owner=A, partition_hours=1),
            TopicUsage("b.y", owner=B, partition_hours=1),
            TopicUsage("c.z", owner=Payer("Team C", "CC-C", 9), partition_hours=1),
        ],
    )
    hours = [line for line in allocate(usage, PLATFORM) if line.charge_type == "cluster_hours"]
    assert {line.basis for line in hours} == {Basis.EVEN_SPLIT}
    assert sorted(line.cost for line in hours) == [Decimal("0.25"), Decimal("0.25"), Decimal("0.25")]
    assert sum(line.cost for line in hours) == Decimal("0.75")


def test_unowned_usage_is_charged_to_the_platform_team_as_unattributed():
    usage = ClusterUsage(
        REF,
        A,
        shared=True,
        cluster_hours=10,
        rates=LIST_PRICES,
        topics=[
            TopicUsage("a.x", owner=A, bytes_in=GIB),
            TopicUsage("legacy.unknown", owner=None, bytes_in=GIB),
        ],
    )
    lines = allocate(usage, PLATFORM)
    unowned = [line for line in lines if line.payer == PLATFORM]
    assert {line.basis for line in unowned} == {Basis.UNATTRIBUTED}
    assert {(line.topic, line.charge_type) for line in unowned} == {
        ("legacy.unknown", "data_in"),
        ("", "cluster_hours"),
    }
    assert sum(line.cost for line in lines if line.charge_type == "cluster_hours") == Decimal("7.50")


def test_a_shared_cluster_nobody_uses_is_unattributed_not_dropped():
    usage = ClusterUsage(REF, A, shared=True, cluster_hours=744, rates=LIST_PRICES, topics=[])
    [line] = allocate(usage, PLATFORM)
    assert line.payer == PLATFORM and line.basis == Basis.UNATTRIBUTED and line.cost == Decimal("558.00")
