"""Forecast to month end at fixed instants: month to date (the run's lines, as computed) + the rest of the
month at the current inventory and this month's pace. Never in the month to date, the lines, the CSVs or
a budget alert."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest
from django.urls import reverse

from billing import chargeback, forecast, selectors
from billing.models import BudgetAlert, ChargebackLine
from billing.pricing import usd
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


def test_mid_month_forecast_is_the_month_to_date_plus_the_remaining_hours_and_pace(
    orders, team_a, member_a, clock
):
    now = clock(at(15, 12, 30))
    run = chargeback.compute_run(OCTOBER)
    remaining = forecast.remaining(OCTOBER, now=now)
    # Metered through the 12:00 hour of the 15th: 14 × 24 + 13 = 349 hours gone, 744 − 349 = 395 to go.
    assert remaining.metered_until == at(15, 13) and remaining.remaining_hours == 395
    month_to_date_storage = ChargebackLine.objects.get(run=run, charge_type="storage").quantity
    assert month_to_date_storage == Decimal("0.967742")  # 15 days × 2 GiB kept for a day / 31 days
    assert remaining.today == dt.date(2026, 10, 15) and remaining.full_days == 14
    assert by_charge_type(remaining.lines) == {
        "cluster_hours": (Decimal(395), Decimal("296.25")),  # × $0.75
        "partition_hours": (Decimal(1185), Decimal("1.78")),  # 3 × 395 × $0.0015
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
    assert team_month.total == lines_total(run, team_a) == run.total_usd  # the month to date: the lines
    assert team_month.forecast == expected
    body = client_for(member_a).get(reverse("billing:team-costs", kwargs={"slug": "team-a"})).content.decode()
    assert f'<dd id="team-total">{usd(run.total_usd)}</dd>' in body
    assert f'<dd id="team-forecast">{usd(expected)} <span class="muted">(forecast)</span></dd>' in body
    assert "395 hours to go" in body and "over the 14 full days so far" in body
    assert "Month to date" in body and "Forecast to month end" in body


def test_first_hour_of_a_month_projects_hours_and_storage_but_no_data_before_a_full_day(
    orders, billed_cluster, team_a, member_a, clock
):
    # A full day's worth already reported for the 1st at 00:20 (the local provider does that): a pace
    # taken from it would multiply a day's traffic by 24 for each hour left.
    usage(billed_cluster, orders.name, NOVEMBER, bytes_in=GIB // 4)
    now = clock(dt.datetime(2026, 11, 1, 0, 20, tzinfo=dt.UTC))
    run = chargeback.compute_run(NOVEMBER)
    remaining = forecast.remaining(NOVEMBER, now=now)
    # The 00:00 hour is the month to date; 30 × 24 − 1 = 719 hours to go.
    assert remaining.remaining_hours == 719 and remaining.full_days == 0
    month_to_date_storage = ChargebackLine.objects.get(run=run, charge_type="storage").quantity
    assert by_charge_type(remaining.lines) == {
        "cluster_hours": (Decimal(719), Decimal("539.25")),
        "partition_hours": (Decimal(2157), Decimal("3.24")),
        # The 1st counted so far, 29 days after it.
        "storage": ((month_to_date_storage * 29).quantize(Decimal("0.000001")), Decimal("0.02")),
    }
    dashboard = client_for(member_a).get(reverse("portal:dashboard")).content.decode()
    expected = lines_total(run, team_a) + sum(line.cost for line in remaining.lines)
    assert f'<dd id="forecast-team-a">{usd(expected)} <span class="muted">(forecast)</span></dd>' in dashboard
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


def test_the_forecast_never_enters_the_lines_the_csvs_or_a_budget_alert(orders, team_a, finance, clock):
    clock(at(15, 12, 30))
    run = chargeback.compute_run(OCTOBER)
    team_month = selectors.month_costs(user=finance, month=OCTOBER).for_team(team_a)
    # A budget the month to date is under 80 % of, and the forecast is over.
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
        name="team-b-read", team=team_b, kind=Cluster.Kind.READ, source_cluster=shared_cluster,
        environment="prod", account=shared_cluster.account, region="us-east-1", network_profile=network_profile,
        status=Cluster.Status.ACTIVE, active_since=at(2, 8),
        arn="arn:aws:kafka:us-east-1:123456789012:cluster/team-b-read/7f1c2d3e-0000-4000-8000-000000000001-s1",
    )  # fmt: skip
    Replicator.objects.create(
        read_cluster=read,
        source_cluster=shared_cluster,
        topics=[clicks.name],
        status=Replicator.Status.ACTIVE,
    )
    now = clock(at(10, 23, 5))  # 240 hours gone, 504 to go
    chargeback.compute_run(OCTOBER)
    remaining = forecast.remaining(OCTOBER, now=now)
    assert remaining.remaining_hours == 504
    shared = [line for line in remaining.lines if line.cluster.name == "events-write"]
    hours = {line.payer.name: line for line in shared if line.charge_type == "cluster_hours"}
    # Pace per hour observed: team A 2 GiB/24 h since the 1st; team B 6 GiB/24 h since the 6th (120 h
    # observed, not 240); unattributed 1 GiB/24 h. So 2 : 6 : 1 of 504 × $0.75 = $378.00.
    assert {name: line.cost for name, line in hours.items()} == {
        "Team A": Decimal("84.00"),
        "Team B": Decimal("252.00"),
        "Platform": Decimal("42.00"),
    }
    partitions = {
        (line.cluster.name, line.topic): line.quantity
        for line in remaining.lines
        if line.charge_type == "partition_hours"
    }
    # The deleted topic costs nothing more; the replica on the read cluster costs its source's partitions.
    assert partitions == {
        ("events-write", "team-a.clicks"): 2 * 504,
        ("events-write", "team-b.new"): 4 * 504,
        ("team-b-read", "team-a.clicks"): 2 * 504,
    }
    read_hours = [
        line
        for line in remaining.lines
        if line.cluster.name == "team-b-read" and line.charge_type == "cluster_hours"
    ]
    assert [(line.payer.name, line.quantity) for line in read_hours] == [("Team B", Decimal(504))]
    # A member sees their own team's forecast only.
    costs = selectors.month_costs(user=member_b, month=OCTOBER, now=now)
    assert set(costs.remaining_totals) == {(team_b.pk,)}
    assert costs.remaining_totals[(team_b.pk,)] == sum(
        (line.cost for line in remaining.lines if line.payer.team_id == team_b.pk), Decimal(0)
    )
