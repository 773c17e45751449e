"""Each rule docs/billing.md states, tested as stated (the month to date: test_month_to_date.py; a name
used by two topics: test_name_reuse.py)."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from billing import chargeback
from billing.allocation import (
    ClusterRef,
    ClusterUsage,
    Payer,
    TopicUsage,
    allocate,
    split_cents,
    stored_gib_month,
)
from billing.models import ChargebackLine, RateCard
from billing.pricing import LIST_PRICES, Rates, combined, money, monthly_estimate, topic_monthly_estimate
from clusters.models import Cluster, Topic
from tests.billing.conftest import OCTOBER, at, make_topic
from tests.billing.test_chargeback_runs import GIB, platform_team, usage  # noqa: F401 (fixture)

NOVEMBER = dt.date(2026, 11, 1)
A, B, C = Payer("Team A", "CC-A", 1), Payer("Team B", "CC-B", 2), Payer("Team C", "CC-C", 3)
REF = ClusterRef(7, "events-write", "arn:aws:kafka:us-east-1:1:cluster/events-write/x-s1", "us-east-1", "1")


def lines_of(run, **filters) -> list[ChargebackLine]:
    return list(ChargebackLine.objects.filter(run=run, **filters).order_by("position"))


def test_the_command_refuses_to_recompute_a_finalized_month_with_exit_status_1(
    billed_cluster, team_a, finance
):
    make_topic(billed_cluster, team_a, "team-a.orders", (at(1, month=9), 2))
    call_command("chargeback", "--month", "2026-10", "--finalize", stdout=io.StringIO())
    before = list(ChargebackLine.objects.values_list("charge_type", "quantity", "cost_usd"))
    Topic.objects.update(partitions=9)  # an input changes; the finalized month must not
    with pytest.raises(CommandError, match="finalized and cannot change") as refused:
        call_command("chargeback", "--month", "2026-10", stdout=io.StringIO())
    assert refused.value.returncode == 1  # what manage.py exits with
    assert list(ChargebackLine.objects.values_list("charge_type", "quantity", "cost_usd")) == before


@pytest.mark.usefixtures("platform_team")
def test_unattributed_traffic_goes_to_a_dedicated_clusters_team_and_on_shared_ones_to_the_platform_team(
    billed_cluster, shared_cluster, team_a
):
    usage(billed_cluster, "legacy.unknown", dt.date(2026, 10, 3), bytes_in=GIB)
    usage(shared_cluster, "legacy.unknown", dt.date(2026, 10, 3), bytes_in=GIB)
    run = chargeback.compute_run(OCTOBER)
    [dedicated] = lines_of(run, cluster=billed_cluster, topic_name="legacy.unknown")
    [shared] = lines_of(run, cluster=shared_cluster, topic_name="legacy.unknown")
    assert (dedicated.team_name, dedicated.allocation_basis) == ("Team A", "dedicated")
    assert (shared.team_name, shared.allocation_basis) == ("Platform", "unattributed")


@pytest.mark.usefixtures("platform_team")
def test_a_cluster_is_shared_when_shared_with_teams_or_holding_another_teams_topic_that_month(
    billed_cluster, team_a, team_b, shared_cluster
):
    """billed_cluster is team A's, not shared with anyone: dedicated in October while team B's topic on it
    was deleted in September, shared in November when team B has a topic on it again."""
    make_topic(
        billed_cluster,
        team_b,
        "team-b.old",
        (at(1, month=8), 1),
        (at(10, month=9), 0),
        status=Topic.Status.DELETED,
    )
    make_topic(billed_cluster, team_b, "team-b.new", (at(5, month=11), 1))
    make_topic(shared_cluster, team_a, "team-a.clicks", (at(1, month=9), 1))
    october = chargeback.compute_run(OCTOBER)
    assert {line.allocation_basis for line in lines_of(october, cluster=billed_cluster)} == {"dedicated"}
    assert {line.allocation_basis for line in lines_of(october, cluster=shared_cluster)} == {
        "topic_owner",
        "even_split",
    }
    november = chargeback.compute_run(NOVEMBER)
    partitions = lines_of(november, cluster=billed_cluster, charge_type="partition_hours")
    assert [(line.team_name, line.allocation_basis) for line in partitions] == [("Team B", "topic_owner")]


def test_the_leftover_cent_goes_to_the_largest_remainder_then_the_larger_weight_then_the_name():
    # $1.00 in three equal parts: 33 + 33 + 33 and one cent left, all remainders and weights equal: Team A.
    assert split_cents(Decimal("1.00"), {C: 1, B: 1, A: 1}) == {
        A: Decimal("0.34"),
        B: Decimal("0.33"),
        C: Decimal("0.33"),
    }
    # 2 cents at 1 : 3: both remainders are ½ cent; the larger weight (B) gets the cent, not the name (A).
    assert split_cents(Decimal("0.02"), {A: 1, B: 3}) == {A: Decimal("0.00"), B: Decimal("0.02")}
    # 3 cents at 1 : 2 : 2: remainders 3/5, 1/5, 1/5 → A first.
    assert split_cents(Decimal("0.03"), {A: 1, B: 2, C: 2}) == {
        A: Decimal("0.01"),
        B: Decimal("0.01"),
        C: Decimal("0.01"),
    }


def test_split_lines_multiply_out_quantity_times_unit_price_is_the_cost():
    """1 cluster-hour ($0.75) split evenly: $0.38 and $0.37. Half an hour each at $0.75 would be $0.38
    twice; the $0.37 line's quantity is 0.37 ÷ 0.75 hours."""
    usage_ = ClusterUsage(
        REF,
        A,
        shared=True,
        cluster_hours=1,
        rates=LIST_PRICES,
        topics=[
            TopicUsage("a.x", owner=A, partition_hours=1),
            TopicUsage("b.y", owner=B, partition_hours=1),
        ],
    )
    hours = {line.payer: line for line in allocate(usage_, C) if line.charge_type == "cluster_hours"}
    assert {payer: line.cost for payer, line in hours.items()} == {A: Decimal("0.38"), B: Decimal("0.37")}
    assert hours[B].quantity == Decimal("0.493333") and hours[A].quantity == Decimal("0.506667")
    assert all(money(line.quantity * line.unit_price) == line.cost for line in hours.values())
    assert sum(line.quantity for line in hours.values()) == 1


def test_the_storage_estimate_uses_kafkas_default_retention_of_7_days_when_none_is_set():
    days = [dt.date(2026, 10, d) for d in range(1, 32)]
    daily = {day: GIB for day in days}

    def stored(retention_ms):
        return stored_gib_month(
            daily,
            month_days=31,
            partitions_on=dict.fromkeys(days, 1),
            retention_ms=retention_ms,
            retention_bytes=None,
        )

    assert stored(None) == stored(0) == stored(7 * 86_400_000) != stored(86_400_000)
    assert stored(None) == (Decimal(1 + 2 + 3 + 4 + 5 + 6 + 7 * 25) / 31).quantize(Decimal("0.000001"))


def test_a_deletion_at_exactly_hh_00_00_is_not_charged_for_that_hour(billed_cluster, team_a):
    Cluster.objects.filter(pk=billed_cluster.pk).update(status="deleted", deleted_at=at(16, 12, 0))
    make_topic(
        billed_cluster,
        team_a,
        "team-a.orders",
        (at(1, month=9), 2),
        (at(16, 12, 0), 0),
        status=Topic.Status.DELETED,
    )
    run = chargeback.compute_run(OCTOBER)
    quantities = {line.charge_type: line.quantity for line in lines_of(run)}
    # The 1st 00:00 through the 16th 11:00: 15 × 24 + 12 hours; the 12:00 hour is not charged.
    assert quantities == {"cluster_hours": 372, "partition_hours": 2 * 372}


def test_a_run_uses_the_rate_card_in_force_on_the_1st(billed_cluster, team_a):
    """A card from the 15th of October prices November on, not the second half of October."""
    RateCard.objects.create(
        region="us-east-1",
        effective_from=dt.date(2026, 10, 15),
        cluster_hour=Decimal("1.00"),
        partition_hour=Decimal("0.002"),
        gib_in=Decimal("0.2"),
        gib_out=Decimal("0.1"),
        gib_month=Decimal("0.2"),
    )
    october, november = chargeback.compute_run(OCTOBER), chargeback.compute_run(NOVEMBER)
    [october_hours] = lines_of(october, charge_type="cluster_hours")
    [november_hours] = lines_of(november, charge_type="cluster_hours")
    assert october_hours.unit_price_usd == LIST_PRICES.cluster_hour and october_hours.cost_usd == Decimal(
        "558.00"
    )
    assert november_hours.unit_price_usd == Decimal("1.00") and november_hours.cost_usd == Decimal("720.00")


def test_estimates_combined_add_up_to_the_sum_of_their_rounded_totals():
    """Rounding: a total is a sum of rounded lines. A migration plan's cluster is its requests' estimates
    combined (docs/migration.md, "What the plan's figures are"), so its figure is their sum to the cent even
    where pricing it in one go would round otherwise: 31 partitions ($33.945 → $33.95) and a topic's 1
    ($1.095 → $1.10) are $35.05 apart, where 32 partitions at once are $35.04."""
    cluster = monthly_estimate(LIST_PRICES, clusters=1, partitions=31)
    topic = topic_monthly_estimate(
        LIST_PRICES, partitions=1, in_mbps=Decimal(1), out_mbps=Decimal(0), retention_ms=1, retention_bytes=-1
    )
    together = combined([cluster, topic])
    assert (
        together.total
        == cluster.total + topic.total
        == Decimal("547.50") + Decimal("35.05") + Decimal("244.75")
    )
    assert [(line.charge_type, line.quantity, line.cost) for line in together.lines] == [
        ("cluster_hours", Decimal(730), Decimal("547.50")),
        ("partition_hours", Decimal(730 * 32), Decimal("35.05")),
        ("data_in", Decimal("2447.516"), Decimal("244.75")),
    ]
    assert monthly_estimate(LIST_PRICES, partitions=32).total == Decimal("35.04")
    other_card = Rates(
        Decimal(1),
        *(getattr(LIST_PRICES, name) for name in ("partition_hour", "gib_in", "gib_out", "gib_month")),
    )
    with pytest.raises(ValueError, match="two rates"):
        combined([cluster, monthly_estimate(other_card, clusters=1)])
