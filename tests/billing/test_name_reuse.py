"""A topic name used by two topics in one month (topic-name template `{name}`: one team deletes "orders",
another creates "orders" again). CloudWatch knows names, not owners: each day's bytes of the name go to
the topics that had it that day, by the hours each was there; never by database row order."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from billing import chargeback
from billing.models import ChargebackLine
from clusters.models import Topic
from tests.billing.conftest import OCTOBER, at, make_topic
from tests.billing.test_chargeback_runs import GIB, platform_team, usage  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("platform_team")
DAY_BYTES = 13 * GIB  # divides by 13 hours without a remainder


def data_lines(run) -> dict[tuple[str, str], Decimal]:
    return {
        (line.team_name, line.charge_type): line.quantity
        for line in ChargebackLine.objects.filter(run=run, topic_name="orders")
    }


def orders_of(cluster, team, *changes) -> Topic:
    deleted = changes[-1][1] == 0
    return make_topic(
        cluster, team, "orders", *changes, status=Topic.Status.DELETED if deleted else Topic.Status.ACTIVE
    )


@pytest.mark.parametrize("b_first", [False, True], ids=["a-row-first", "b-row-first"])
def test_a_name_deleted_by_one_team_and_created_by_another_splits_by_day_and_hour(
    shared_cluster,
    team_a,
    team_b,
    b_first,
):
    # Team A's "orders" until the 10th 06:30 (its 00:00-06:00 hours: 7), team B's from 18:20 (18:00-23:00: 6).
    def a():
        return orders_of(shared_cluster, team_a, (at(1, month=9), 2), (at(10, 6, 30), 0))

    def b():
        return orders_of(shared_cluster, team_b, (at(10, 18, 20), 2))

    if b_first:  # the other row order: the same lines
        b(), a()
    else:
        a(), b()
    for day in range(1, 21):
        usage(shared_cluster, "orders", dt.date(2026, 10, day), bytes_in=DAY_BYTES, bytes_out=DAY_BYTES)
    run = chargeback.compute_run(OCTOBER)
    # Days 1-9 are A's, the 10th splits 7 : 6, days 11-20 are B's.
    assert data_lines(run) == {
        ("Team A", "data_in"): Decimal(9 * 13 + 7),
        ("Team A", "data_out"): Decimal(9 * 13 + 7),
        ("Team A", "partition_hours"): Decimal(2 * (9 * 24 + 7)),
        ("Team B", "data_in"): Decimal(10 * 13 + 6),
        ("Team B", "data_out"): Decimal(10 * 13 + 6),
        ("Team B", "partition_hours"): Decimal(2 * (21 * 24 + 6)),
        # 1-day retention: what each wrote that day; A on 10 days (9 × 13 + 7), B on 22 (10 × 13 + 6).
        ("Team A", "storage"): (Decimal(9 * 13 + 7) / 31).quantize(Decimal("0.000001")),
        ("Team B", "storage"): (Decimal(10 * 13 + 6) / 31).quantize(Decimal("0.000001")),
    }
    bases = set(
        ChargebackLine.objects.filter(run=run, topic_name="orders").values_list("allocation_basis", flat=True)
    )
    assert bases == {"topic_owner"}


def test_a_day_nobody_had_the_name_is_unattributed_not_dropped(
    shared_cluster,
    team_a,
    team_b,
):
    orders_of(shared_cluster, team_a, (at(1, month=9), 1), (at(5, 0, 0), 0))  # gone at 00:00:00 on the 5th
    orders_of(shared_cluster, team_b, (at(7, 9, 0), 1))
    for day in (4, 5, 6, 7):
        usage(shared_cluster, "orders", dt.date(2026, 10, day), bytes_in=GIB)
    run = chargeback.compute_run(OCTOBER)
    data_in = {
        (line.team_name, line.allocation_basis): line.quantity
        for line in ChargebackLine.objects.filter(run=run, topic_name="orders", charge_type="data_in")
    }
    # The 5th and the 6th: nobody had "orders" (a deletion at 00:00:00 is not there on its day).
    assert data_in == {
        ("Team A", "topic_owner"): Decimal(1),
        ("Team B", "topic_owner"): Decimal(1),
        ("Platform", "unattributed"): Decimal(2),
    }


def test_the_same_team_recreating_a_topic_does_not_carry_the_old_ones_bytes_into_its_storage(
    billed_cluster, team_a
):
    """7-day retention: the new topic keeps only what was written since it exists, not the old one's week."""
    configs = {"retention.ms": 7 * 86_400_000, "retention.bytes": -1}
    make_topic(
        billed_cluster,
        team_a,
        "orders",
        (at(1, month=9), 1),
        (at(20, 12, 0), 0),
        configs=configs,
        status=Topic.Status.DELETED,
    )
    make_topic(billed_cluster, team_a, "orders", (at(21, 0, 0), 1), configs=configs)
    for day in range(14, 32):
        usage(billed_cluster, "orders", dt.date(2026, 10, day), bytes_in=GIB)
    run = chargeback.compute_run(OCTOBER)
    [storage] = ChargebackLine.objects.filter(run=run, topic_name="orders", charge_type="storage")
    # Old topic, 14th-20th: 1..7 GiB kept (its own week). New topic, 21st-31st: 1..7, then 7 × 4 GiB.
    kept = sum(range(1, 8)) + sum(range(1, 8)) + 7 * 4
    assert storage.quantity == (Decimal(kept) / 31).quantize(Decimal("0.000001"))
    # Carrying the old one's bytes would have kept 7 GiB on every day from the 21st: more.
    assert storage.quantity < (Decimal(sum(range(1, 8)) + 7 * 11) / 31).quantize(Decimal("0.000001"))
    [data_in] = ChargebackLine.objects.filter(run=run, topic_name="orders", charge_type="data_in")
    assert data_in.quantity == 18  # one line per name and payer: both topics' bytes, each counted once


def test_storage_cap_follows_each_days_partition_count(billed_cluster, team_a):
    """retention.bytes is per partition: 1 partition until the 11th, 4 from then; 2 GiB written a day."""
    configs = {"retention.ms": 86_400_000, "retention.bytes": GIB // 2}
    topic = make_topic(
        billed_cluster, team_a, "orders", (at(1, month=9), 1), (at(11, 12, 0), 4), configs=configs
    )
    for day in range(1, 32):
        usage(billed_cluster, topic.name, dt.date(2026, 10, day), bytes_in=2 * GIB)
    run = chargeback.compute_run(OCTOBER)
    [storage] = ChargebackLine.objects.filter(run=run, charge_type="storage")
    # ½ GiB kept on the 1st-10th, 2 GiB (4 × ½, all of the day's 2 GiB) from the 11th: not 2 GiB every day.
    assert storage.quantity == ((Decimal("0.5") * 10 + 2 * 21) / 31).quantize(Decimal("0.000001"))


def test_the_forecast_of_a_recreated_topics_storage_counts_the_days_of_both_topics(
    billed_cluster, team_a, member_a, clock
):
    """The month to date's storage of "orders" holds the old topic's days (1st-10th) and the new one's
    (12th-20th): its pace per day is over the 20 days from the 1st, not the 9 since the re-creation."""
    from billing import forecast

    make_topic(
        billed_cluster, team_a, "orders", (at(1, month=9), 1), (at(10, 0, 30), 0), status=Topic.Status.DELETED
    )
    make_topic(billed_cluster, team_a, "orders", (at(12, 9, 0), 1))
    for day in range(1, 21):
        usage(billed_cluster, "orders", dt.date(2026, 10, day), bytes_in=GIB)
    now = clock(at(20, 12, 30))
    run = chargeback.compute_run(OCTOBER)
    [stored] = ChargebackLine.objects.filter(run=run, charge_type="storage")
    [rest] = [line for line in forecast.remaining(OCTOBER, now=now).lines if line.charge_type == "storage"]
    assert rest.quantity == (stored.quantity * 11 / 20).quantize(Decimal("0.000001"))
