"""The month to date charges only what happened, at fixed clocks: cluster- and partition-hours up to and
including the current clock hour, storage by the days elapsed, data by what was collected; budget alerts
fire on that metered money only (never on the forecast)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from billing import chargeback, metering, selectors
from billing.models import BudgetAlert, ChargebackLine
from billing.pricing import usd
from clusters.models import Cluster
from portal.models import Team
from tests.billing.conftest import OCTOBER, at, make_topic
from tests.billing.test_chargeback_runs import GIB, usage
from tests.conftest import client_for

DECEMBER = dt.date(2026, 12, 1)


def quantities(run) -> dict[str, Decimal]:
    return dict(ChargebackLine.objects.filter(run=run).values_list("charge_type", "quantity"))


def dec(day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("now", "until", "days"),
    [
        (at(1, 0, 0), at(1, 1), 1),  # the first instant of the month: its first hour has started
        (at(1, 2, 50), at(1, 3), 1),
        (at(15, 12, 30), at(15, 13), 15),
        (at(31, 23, 59), dt.datetime(2026, 11, 1, tzinfo=dt.UTC), 31),
        (dt.datetime(2026, 11, 3, tzinfo=dt.UTC), dt.datetime(2026, 11, 1, tzinfo=dt.UTC), 31),  # over: all
        (at(20, month=9), at(1), 0),  # not begun: nothing
    ],
)
def test_metered_until_is_the_end_of_the_current_clock_hour(now, until, days):
    assert metering.metered_until(OCTOBER, now) == until
    assert len(metering.metered_days(OCTOBER, until)) == days


def test_the_issues_scenario_0250_on_the_1st_charges_three_hours_and_fires_no_alert(
    billed_cluster, team_a, member_a, clock, django_capture_on_commit_callbacks
):
    """`make run` on 2026-12-01 at 02:50: a cluster active since November held 744 cluster-hours ($558.00)
    and fired the 80 % and 100 % alerts of a $500.00 budget. It has had 3 started hours."""
    make_topic(billed_cluster, team_a, "team-a.orders", (at(1, month=9), 3))
    usage(
        billed_cluster, "team-a.orders", DECEMBER, bytes_in=GIB // 8, bytes_out=GIB // 8
    )  # collected so far
    Team.objects.filter(pk=team_a.pk).update(monthly_budget_usd=Decimal("500.00"))
    clock(dec(1, 2, 50))
    with django_capture_on_commit_callbacks(execute=True):
        run = chargeback.compute_run(DECEMBER)
    assert run.metered_until == dec(1, 3)
    assert quantities(run) == {
        "cluster_hours": Decimal(3),
        "partition_hours": Decimal(9),
        "data_in": Decimal("0.125"),
        "data_out": Decimal("0.125"),
        "storage": Decimal("0.004032"),  # ⅛ GiB kept on 1 day of 31
    }
    assert run.total_usd == Decimal("2.25") + Decimal("0.01") + Decimal("0.01") + Decimal("0.01")
    assert not BudgetAlert.objects.exists() and mail.outbox == []
    page = client_for(member_a).get(reverse("billing:team-costs", kwargs={"slug": "team-a"})).content.decode()
    assert f'<dd id="team-total">{usd(run.total_usd)}</dd>' in page
    assert '<dd id="metered-until">01 Dec 03:00 UTC' in page
    team_month = selectors.month_costs(user=member_a, month=DECEMBER).for_team(team_a)
    assert team_month.forecast > Decimal("500.00")  # the forecast is over budget; no alert is
    assert "budget reached" not in page


def test_mid_month_charges_the_hours_so_far_storage_by_days_elapsed_and_data_collected(
    billed_cluster, team_a, clock
):
    topic = make_topic(billed_cluster, team_a, "team-a.orders", (at(1, month=9), 2), (at(10, 6, 15), 4))
    for day in range(1, 17):  # the 16th's row stands for data that cannot have been collected yet
        usage(billed_cluster, topic.name, dt.date(2026, 10, day), bytes_in=GIB, bytes_out=2 * GIB)
    clock(at(15, 12, 30))
    run = chargeback.compute_run(OCTOBER)
    assert run.metered_until == at(15, 13)
    hours = 14 * 24 + 13  # the 1st 00:00 through the 15th 12:00, the current hour included
    # 2 partitions to the 10th 06:00, 4 from that hour on.
    assert quantities(run) == {
        "cluster_hours": Decimal(hours),
        "partition_hours": Decimal(2 * (9 * 24 + 6) + 4 * (hours - 9 * 24 - 6)),
        "data_in": Decimal(15),
        "data_out": Decimal(30),
        "storage": (Decimal(15) / 31).quantize(Decimal("0.000001")),  # 1-day retention, 15 days elapsed
    }


def test_the_first_hour_of_a_month_and_a_deletion_on_the_hour(billed_cluster, team_a, clock):
    november = dt.date(2026, 11, 1)
    kept = make_topic(billed_cluster, team_a, "team-a.kept", (at(1, month=9), 5))
    # Deleted at exactly 00:00:00 on the 1st: not there in any hour of November.
    make_topic(
        billed_cluster,
        team_a,
        "team-a.gone",
        (at(1, month=9), 7),
        (dt.datetime(2026, 11, 1, tzinfo=dt.UTC), 0),
    )
    usage(billed_cluster, kept.name, november, bytes_in=GIB)
    clock(dt.datetime(2026, 11, 1, 0, 20, tzinfo=dt.UTC))
    run = chargeback.compute_run(november)
    assert run.metered_until == dt.datetime(2026, 11, 1, 1, tzinfo=dt.UTC)
    lines = list(ChargebackLine.objects.filter(run=run).values_list("topic_name", "charge_type", "quantity"))
    assert sorted(lines) == [
        ("", "cluster_hours", Decimal(1)),
        ("team-a.kept", "data_in", Decimal(1)),
        ("team-a.kept", "partition_hours", Decimal(5)),
        ("team-a.kept", "storage", (Decimal(1) / 30).quantize(Decimal("0.000001"))),
    ]


def test_the_last_hour_of_a_month_is_the_whole_month(billed_cluster, team_a, clock):
    make_topic(billed_cluster, team_a, "team-a.orders", (at(1, month=9), 3))
    for day in range(1, 32):
        usage(billed_cluster, "team-a.orders", dt.date(2026, 10, day), bytes_in=GIB)
    clock(at(31, 23, 59))
    last_hour = chargeback.compute_run(OCTOBER)
    assert last_hour.metered_until == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    at_last_hour = quantities(last_hour)
    clock(dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC))
    closed = chargeback.compute_run(OCTOBER)
    assert quantities(closed) == at_last_hour and at_last_hour["cluster_hours"] == 744
    assert at_last_hour["storage"] == Decimal(1)  # a GiB kept (1-day retention) on each of the 31 days


def test_budget_alerts_fire_as_the_metered_money_crosses_them_not_before(
    billed_cluster, team_a, clock, django_capture_on_commit_callbacks
):
    """$0.75 a cluster-hour against a $300.00 budget: 80 % is $240.00 (320 hours: through the 14th's 07:00 hour),
    100 % is $300.00 (400 hours: through the 17th's 15:00 hour)."""
    Team.objects.filter(pk=team_a.pk).update(monthly_budget_usd=Decimal("300.00"))

    def alerts_at(moment) -> list[int]:
        clock(moment)
        with django_capture_on_commit_callbacks(execute=True):
            chargeback.compute_run(OCTOBER)
        return sorted(BudgetAlert.objects.values_list("threshold_percent", flat=True))

    assert alerts_at(at(1, 2, 50)) == []
    assert alerts_at(at(14, 6, 59)) == []  # 319 hours: $239.25
    assert alerts_at(at(14, 7, 0)) == [80]  # 320 hours: $240.00
    assert BudgetAlert.objects.get().spent_usd == Decimal("240.00")
    assert alerts_at(at(17, 14, 59)) == [80]  # 399 hours
    assert alerts_at(at(17, 15, 0)) == [80, 100]
    assert len(mail.outbox) == 2


def test_a_cluster_created_after_now_in_the_month_is_not_charged_yet(
    team_a, platform_account, network_profile, clock
):
    Cluster.objects.create(
        name="later",
        team=team_a,
        kind=Cluster.Kind.DEDICATED,
        environment="dev",
        account=platform_account,
        region="us-east-1",
        network_profile=network_profile,
        status=Cluster.Status.ACTIVE,
        active_since=at(20, 10),
        arn="arn:aws:kafka:us-east-1:123456789012:cluster/later/x-s1",
    )
    clock(at(15, 12, 30))
    run = chargeback.compute_run(OCTOBER)
    assert run.line_count == 0 and run.total_usd == Decimal("0.00")


def test_the_focus_csv_of_a_month_to_date_ends_its_charge_period_where_it_was_metered(billed_cluster, clock):
    from billing import exports

    clock(at(15, 12, 30))
    run = chargeback.compute_run(OCTOBER)
    csv = exports.export(run, "focus")
    row = dict(zip(csv.header, next(iter(csv.rows)), strict=True))
    assert (
        row["ChargePeriodEnd"] == "2026-10-15T13:00:00Z" and row["BillingPeriodEnd"] == "2026-11-01T00:00:00Z"
    )


def test_the_forecast_starts_where_the_run_stopped_metering_even_when_read_hours_later(
    billed_cluster, team_a, member_a, clock
):
    make_topic(billed_cluster, team_a, "team-a.orders", (at(1, month=9), 3))
    clock(dec(1, 2, 50))
    run = chargeback.compute_run(DECEMBER)
    clock(dec(1, 10, 15))  # the page is read before the next run
    costs = selectors.month_costs(user=member_a, month=DECEMBER)
    assert costs.forecast.metered_until == run.metered_until == dec(1, 3)
    rest = {line.charge_type: line.quantity for line in costs.remaining_lines}
    charged = quantities(run)
    # Month to date + the rest = the month, hour for hour: nothing between 03:00 and 10:15 is lost.
    assert charged["cluster_hours"] + rest["cluster_hours"] == 744
    assert charged["partition_hours"] + rest["partition_hours"] == 3 * 744
