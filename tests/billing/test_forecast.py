"""Forecast to month end at fixed instants: the month to date (the run's lines) + the rest of the month at
the current inventory and this month's pace. Never in the month to date, the lines, the CSVs or a budget
alert.

The rest of the month's hours are the month's hours less those the month-to-date lines charge, so the
tests give the forecast month-to-date lines two ways: written as a run metering through the current hour
would write them (the started-hour rule), and as `compute_run` computes them today."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest
from django.urls import reverse

from billing import chargeback, forecast, selectors
from billing.models import BudgetAlert, ChargebackLine, ChargebackRun
from billing.pricing import money, usd
from clusters.models import Cluster, Replicator
from portal.models import Team
from tests.billing.conftest import OCTOBER, at, make_topic
from tests.billing.test_chargeback_runs import GIB, platform_team, usage  # noqa: F401 (fixture)
from tests.conftest import client_for

NOVEMBER = dt.date(2026, 11, 1)


def by_charge_type(lines) -> dict[str, tuple[Decimal, Decimal]]:
    return {line.charge_type: (line.quantity, line.cost) for line in lines}


def lines_total(run, team) -> Decimal:
    return sum((line.cost_usd for line in ChargebackLine.objects.filter(run=run, team=team)), Decimal("0.00"))


@pytest.fixture
def orders(billed_cluster, team_a):
    """team-a-dev (active since September) with a 3-partition topic, 2 GiB in and 4 GiB out a day on the
    first 15 days of October (1-day retention: storage keeps one day)."""
    topic = make_topic(billed_cluster, team_a, "team-a.orders", (at(1, month=9), 3))
    for day in range(1, 16):
        usage(billed_cluster, topic.name, dt.date(2026, 10, day), bytes_in=2 * GIB, bytes_out=4 * GIB)
    return topic


def month_to_date(month, cluster, team, *, computed_at, **quantities):
    """A provisional run whose lines charge `quantities` (charge type → quantity) on `cluster` for `team`,
    at the list prices, topic "team-a.orders" for everything but cluster-hours."""
    prices = {
        "cluster_hours": "0.75",
        "partition_hours": "0.0015",
        "data_in": "0.10",
        "data_out": "0.05",
        "storage": "0.10",
    }
    run = ChargebackRun.objects.create(month=month, computed_at=computed_at)
    for position, (charge_type, quantity) in enumerate(quantities.items(), start=1):
        ChargebackLine.objects.create(
            run=run,
            position=position,
            team=team,
            team_name=team.name,
            cost_center=team.cost_center,
            cluster=cluster,
            cluster_name=cluster.name,
            region="us-east-1",
            account_id="123456789012",
            topic_name="" if charge_type == "cluster_hours" else "team-a.orders",
            charge_type=charge_type,
            quantity=Decimal(quantity),
            unit="-",
            unit_price_usd=Decimal(prices[charge_type]),
            cost_usd=money(Decimal(quantity) * Decimal(prices[charge_type])),
            allocation_basis="dedicated",
            allocation_ratio=Decimal(1),
        )
    return run


def test_mid_month_forecast_is_the_month_to_date_plus_the_remaining_hours_and_pace(
    orders, billed_cluster, team_a, member_a, clock
):
    now = clock(at(15, 12, 30))
    # Metered through the 12:00 hour of the 15th: 14 × 24 + 13 = 349 hours; 744 − 349 = 395 to go.
    run = month_to_date(
        OCTOBER,
        billed_cluster,
        team_a,
        computed_at=now,
        cluster_hours=349,
        partition_hours=3 * 349,
        data_in=30,
        data_out=60,
        storage="0.967742",  # 15 days × 2 GiB kept for a day / 31 days
    )
    remaining = forecast.remaining(OCTOBER, now=now)
    assert remaining.metered_until == at(15, 13) and remaining.remaining_hours == 395
    assert remaining.today == dt.date(2026, 10, 15) and remaining.full_days == 14
    assert by_charge_type(remaining.lines) == {
        "cluster_hours": (Decimal(395), Decimal("296.25")),  # 744 − 349, × $0.75
        "partition_hours": (Decimal(1185), Decimal("1.78")),  # 3 × 744 − 1047, × $0.0015
        # 2 GiB a day in, 4 out over the 14 full days (the 15th is in the month to date, not the average),
        # for 395 / 24 days: × $0.10 and × $0.05.
        "data_in": (Decimal("32.916667"), Decimal("3.29")),
        "data_out": (Decimal("65.833333"), Decimal("3.29")),
        # 0.967742 GiB-month over the 15 days counted so far, for the 16 days after the 15th.
        "storage": (Decimal("1.032258"), Decimal("0.10")),
    }
    assert {line.payer.team_id for line in remaining.lines} == {team_a.pk}
    expected = lines_total(run, team_a) + Decimal("304.71")

    costs = selectors.month_costs(user=member_a, month=OCTOBER)
    team_month = costs.for_team(team_a)
    assert team_month.total == lines_total(run, team_a)  # the month to date: the lines
    assert team_month.forecast == expected
    body = client_for(member_a).get(reverse("billing:team-costs", kwargs={"slug": "team-a"})).content.decode()
    assert f'<dd id="team-total">{usd(team_month.total)}</dd>' in body
    assert f'<dd id="team-forecast">{usd(expected)} <span class="muted">(forecast)</span></dd>' in body
    assert "395 hours to go" in body and "over the 14 full days so far" in body
    assert "Month to date" in body and "Forecast to month end" in body


def test_with_the_run_as_computed_the_month_to_date_and_the_rest_make_the_whole_months_hours(
    orders, billed_cluster, team_a, member_a, clock
):
    now = clock(at(15, 12, 30))
    run = chargeback.compute_run(OCTOBER)
    remaining = forecast.remaining(OCTOBER, now=now)
    charged = {line.charge_type: line for line in ChargebackLine.objects.filter(run=run)}
    rest = {line.charge_type: line for line in remaining.lines}
    for charge_type, month_hours, month_cost in (
        ("cluster_hours", 744, Decimal("558.00")),
        ("partition_hours", 3 * 744, Decimal("3.35")),
    ):
        left = rest[charge_type].quantity if charge_type in rest else 0
        assert charged[charge_type].quantity + left == month_hours
        assert charged[charge_type].cost_usd + (rest[charge_type].cost if charge_type in rest else 0) == (
            month_cost
        )
    team_month = selectors.month_costs(user=member_a, month=OCTOBER).for_team(team_a)
    assert team_month.forecast == run.total_usd + sum(line.cost for line in remaining.lines)


def test_first_hour_of_a_month_projects_hours_and_storage_but_no_data_before_a_full_day(
    orders, billed_cluster, team_a, member_a, clock
):
    # A full day's worth already reported for the 1st at 00:20 (the local provider does that): a pace
    # taken from it would multiply a day's traffic by 24 for each hour left.
    usage(billed_cluster, orders.name, NOVEMBER, bytes_in=GIB // 4)
    now = clock(dt.datetime(2026, 11, 1, 0, 20, tzinfo=dt.UTC))
    run = month_to_date(
        NOVEMBER,
        billed_cluster,
        team_a,
        computed_at=now,
        cluster_hours=1,
        partition_hours=3,
        data_in="0.25",
        storage="0.008333",  # ¼ GiB kept for the 1st / 30 days
    )
    remaining = forecast.remaining(NOVEMBER, now=now)
    # The 00:00 hour is the month to date; 30 × 24 − 1 = 719 hours to go.
    assert remaining.remaining_hours == 719 and remaining.full_days == 0
    assert by_charge_type(remaining.lines) == {
        "cluster_hours": (Decimal(719), Decimal("539.25")),
        "partition_hours": (Decimal(2157), Decimal("3.24")),
        "storage": (Decimal("0.241657"), Decimal("0.02")),  # the 1st counted so far, 29 days after it
    }
    dashboard = client_for(member_a).get(reverse("portal:dashboard")).content.decode()
    expected = lines_total(run, team_a) + Decimal("542.51")
    assert (
        f'<dt>Forecast</dt><dd id="forecast-team-a">{usd(expected)} <span class="muted">by month end</span></dd>'
        in (dashboard)
    )
    assert f">{usd(lines_total(run, team_a))}</a></dd>" in dashboard  # the month to date, apart
    page = client_for(member_a).get(reverse("billing:team-costs", kwargs={"slug": "team-a"})).content.decode()
    assert "no full day of traffic yet" in page


def test_last_hour_of_a_month_has_nothing_left_to_forecast(orders, team_a, member_a, clock):
    now = clock(at(31, 23, 40))
    run = chargeback.compute_run(OCTOBER)
    remaining = forecast.remaining(OCTOBER, now=now)
    assert remaining.metered_until == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert remaining.remaining_hours == 0 and remaining.lines == ()
    team_month = selectors.month_costs(user=member_a, month=OCTOBER).for_team(team_a)
    assert team_month.forecast == team_month.total == run.total_usd


def test_a_past_month_has_no_forecast(orders, team_a, member_a, clock):
    clock(at(20, 9))
    chargeback.compute_run(OCTOBER)
    clock(dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC))
    costs = selectors.month_costs(user=member_a, month=OCTOBER)
    assert not costs.is_current and costs.forecast is None and costs.for_team(team_a).forecast is None
    body = (
        client_for(member_a)
        .get(reverse("billing:team-costs", kwargs={"slug": "team-a"}), {"month": "2026-10"})
        .content.decode()
    )
    assert "Forecast to month end" not in body and 'id="team-forecast"' not in body


def test_the_forecast_never_enters_the_lines_the_csvs_or_a_budget_alert(
    billed_cluster, team_a, finance, clock
):
    topic = make_topic(billed_cluster, team_a, "team-a.orders", (at(1, month=9), 3))
    for day in (1, 2, 3):
        usage(billed_cluster, topic.name, dt.date(2026, 10, day), bytes_out=200 * GIB)  # $10.00 a day
    clock(at(3, 12, 30))
    run = chargeback.compute_run(OCTOBER)
    team_month = selectors.month_costs(user=finance, month=OCTOBER).for_team(team_a)
    # A budget the month to date is under 80 % of, and the forecast is over (683 hours of $10.00 a day).
    budget = Decimal(math.ceil(run.total_usd / Decimal("0.79")))
    assert run.total_usd * 100 < budget * 80 and team_month.forecast > budget
    Team.objects.filter(pk=team_a.pk).update(monthly_budget_usd=budget)
    lines_before = list(
        ChargebackLine.objects.filter(run=run).values_list("charge_type", "quantity", "cost_usd")
    )
    client = client_for(finance)
    csv_before = b"".join(
        client.get(reverse("billing:run-csv", args=["2026-10", "summary"])).streaming_content
    )
    page = client.get(reverse("billing:team-costs", kwargs={"slug": "team-a"})).content.decode()
    again = chargeback.compute_run(OCTOBER)
    assert BudgetAlert.objects.count() == 0
    assert again.total_usd == run.total_usd
    assert list(
        ChargebackLine.objects.filter(run=again).values_list("charge_type", "quantity", "cost_usd")
    ) == (lines_before)
    assert b"".join(
        client.get(reverse("billing:run-csv", args=["2026-10", "summary"])).streaming_content
    ) == (csv_before)
    assert f"{usd(run.total_usd)} of {usd(budget)}" in page  # budget vs the month to date, not the forecast
    assert "80 % of the budget reached" not in page


def test_shared_clusters_split_the_rest_of_the_month_by_the_pace_of_each_payer(
    shared_cluster,
    team_a,
    team_b,
    platform_team,  # noqa: F811
    member_b,
    network_profile,
    clock,
):
    clicks = make_topic(shared_cluster, team_a, "team-a.clicks", (at(1, month=9), 2))
    make_topic(shared_cluster, team_b, "team-b.orders", (at(1, month=9), 1), (at(5, 10), 0))  # deleted
    for day in range(1, 11):
        usage(shared_cluster, clicks.name, dt.date(2026, 10, day), bytes_in=GIB, bytes_out=GIB)
        usage(shared_cluster, "legacy.unknown", dt.date(2026, 10, day), bytes_in=GIB)
    for day in range(6, 11):  # team B's new topic since the 6th: 3 GiB a day in and out
        usage(shared_cluster, "team-b.new", dt.date(2026, 10, day), bytes_in=3 * GIB, bytes_out=3 * GIB)
    make_topic(shared_cluster, team_b, "team-b.new", (at(6, 0, 10), 4))
    read = Cluster.objects.create(
        name="team-b-read",
        team=team_b,
        kind=Cluster.Kind.READ,
        source_cluster=shared_cluster,
        environment="prod",
        account=shared_cluster.account,
        region="us-east-1",
        network_profile=network_profile,
        status=Cluster.Status.ACTIVE,
        active_since=at(2, 8),
        arn="arn:aws:kafka:us-east-1:123456789012:cluster/team-b-read/7f1c2d3e-0000-4000-8000-000000000001-s1",
    )
    Replicator.objects.create(
        read_cluster=read,
        source_cluster=shared_cluster,
        topics=[clicks.name],
        status=Replicator.Status.ACTIVE,
    )
    now = clock(at(10, 23, 5))  # 240 hours gone, 504 to go; no run yet: every hour of the month is left
    remaining = forecast.remaining(OCTOBER, now=now)
    assert remaining.remaining_hours == 504
    shared = [line for line in remaining.lines if line.cluster.name == "events-write"]
    hours = {line.payer.name: line for line in shared if line.charge_type == "cluster_hours"}
    # Pace over the full days (1st-9th): team A 2 GiB a day since the 1st; team B 6 GiB a day since the 6th
    # (4 full days, not 9); unattributed 1 GiB a day. So 2 : 6 : 1 of 744 × $0.75 = $558.00.
    assert {name: line.cost for name, line in hours.items()} == {
        "Team A": Decimal("124.00"),
        "Team B": Decimal("372.00"),
        "Platform": Decimal("62.00"),
    }
    partitions = {
        (line.cluster.name, line.topic): line.quantity
        for line in remaining.lines
        if line.charge_type == "partition_hours"
    }
    # The deleted topic is no more; team-b.new since the 6th (26 days); the replica on the read cluster
    # has its source's 2 partitions since the read cluster became active (2nd, 08:00: 712 hours).
    assert partitions == {
        ("events-write", "team-a.clicks"): 2 * 744,
        ("events-write", "team-b.new"): 4 * 26 * 24,
        ("team-b-read", "team-a.clicks"): 2 * 712,
    }
    read_hours = [
        line
        for line in remaining.lines
        if line.cluster.name == "team-b-read" and line.charge_type == "cluster_hours"
    ]
    assert [(line.payer.name, line.quantity) for line in read_hours] == [("Team B", Decimal(712))]
    # A member sees their own team's forecast only, computed over the clusters where it pays (both here),
    # and the same as the forecast over every cluster.
    run = chargeback.compute_run(OCTOBER)
    assert forecast.clusters_paid_by(OCTOBER, [team_b.pk]) == {shared_cluster.pk, read.pk}
    everywhere = forecast.remaining(OCTOBER, now=run.computed_at).remaining_by_payer()
    costs = selectors.month_costs(user=member_b, month=OCTOBER, now=now)
    assert costs.remaining_lines and {line.payer.team_id for line in costs.remaining_lines} == {team_b.pk}
    assert costs.remaining_totals == {
        (team_b.pk,): next(cost for payer, cost in everywhere.items() if payer.team_id == team_b.pk)
    }
