"""Where the money goes: top topics with their trend and one sentence per notable change, on the team cost
page and per cost center on the finance page."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from billing import chargeback, selectors, trends
from billing.models import ChargebackLine, ChargebackRun
from billing.pricing import usd
from billing.trends import Figure, change_text, is_notable, notable_changes, top_topics
from portal.models import Team
from tests.billing.conftest import OCTOBER, at, make_topic
from tests.billing.test_chargeback_runs import GIB, usage
from tests.conftest import client_for

SEPTEMBER = dt.date(2026, 9, 1)


def figure(topic, charge_type, compared, last_month, *, cluster="events-write", team="Team A", cc="CC-A"):
    compared, last_month = Decimal(compared), Decimal(last_month)
    return Figure(team, cc, cluster, topic, charge_type, compared, compared, last_month)


@pytest.mark.parametrize(
    ("now", "before", "text"),
    [
        ("78.40", "28.00", "+180 %"),
        ("12.00", "20.00", "-40 %"),
        ("5.00", "0", "new"),
        ("0", "5.00", "stopped"),
        ("0", "0", "no change"),
        ("10.04", "10.00", "no change"),  # +0.4 % rounds to 0
    ],
)
def test_change_text(now, before, text):
    assert change_text(Decimal(now), Decimal(before)) == text


@pytest.mark.parametrize(
    ("now", "before", "notable"),
    [
        ("3.00", "2.00", True),  # +50 % and +$1.00: both thresholds, exactly
        ("2.99", "2.00", False),  # +49.5 %, $0.99
        ("1.40", "0.90", False),  # +56 % but only $0.50
        ("14.90", "10.00", False),  # $4.90 but +49 %
        ("5.00", "10.00", True),  # -50 %, -$5.00
        ("1.00", "0", True),  # new, $1.00
        ("0.99", "0", False),
        ("0", "1.00", True),  # stopped
    ],
)
def test_a_change_is_notable_from_50_percent_and_one_dollar(now, before, notable):
    assert trends.NOTABLE_PERCENT == 50 and Decimal("1.00") == trends.NOTABLE_USD
    assert is_notable(Decimal(now), Decimal(before)) is notable


def test_one_plain_sentence_per_notable_change_largest_first():
    figures = [
        figure("payments.orders", "data_out", "78.40", "28.00"),
        figure("payments.orders", "data_in", "10.00", "9.00"),  # +11 %: not notable
        figure("payments.refunds", "partition_hours", "2.16", "0"),
        figure("", "cluster_hours", "0", "558.00", cluster="old-cluster"),
        figure("audit.log", "storage", "1.50", "12.00", cluster="events-write"),
        figure("audit.log", "data_in", "0.50", "0.50", cluster="team-a-read"),  # same name elsewhere
    ]
    assert notable_changes(figures, forecast=True) == [
        "old-cluster cluster-hours stopped ($558.00 last month).",
        "payments.orders data out +180 % since last month ($28.00 → $78.40 forecast to month end).",
        "audit.log on events-write storage (estimate) -88 % since last month ($12.00 → $1.50 forecast to "
        "month end).",
        "payments.refunds partition-hours is new since last month ($2.16 forecast to month end).",
    ]
    assert notable_changes(figures[:1], forecast=False, with_team=True) == [
        "Team A: payments.orders data out +180 % since last month ($28.00 → $78.40 this month)."
    ]


def test_top_topics_add_up_a_topics_charges_and_leave_cluster_hours_out():
    figures = [
        figure("", "cluster_hours", "558.00", "558.00"),
        figure("b.topic", "data_in", "10.00", "5.00"),
        figure("b.topic", "data_out", "10.00", "5.00"),
        figure("a.topic", "storage", "20.00", "40.00"),
        figure("c.topic", "data_in", "1.00", "0"),
        figure("d.topic", "data_in", "0.50", "0"),
    ]
    top = top_topics(figures, count=3)
    assert [(t.topic, t.compared, t.last_month, t.trend) for t in top] == [
        ("a.topic", Decimal("20.00"), Decimal("40.00"), "-50 %"),  # ties broken by name
        ("b.topic", Decimal("20.00"), Decimal("10.00"), "+100 %"),
        ("c.topic", Decimal("1.00"), Decimal("0"), "new"),
    ]


# --- On the pages ------------------------------------------------------------------------------------------


def write_lines(run, team, cluster, rows):
    """`rows`: (topic, charge type, cost): one line each (quantities do not matter here)."""
    start = ChargebackLine.objects.filter(run=run).count()
    for position, (topic, charge_type, cost) in enumerate(rows, start=start + 1):
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
            topic_name=topic,
            charge_type=charge_type,
            quantity=Decimal(1),
            unit="GiB",
            unit_price_usd=Decimal(cost),
            cost_usd=Decimal(cost),
            allocation_basis="topic_owner",
            allocation_ratio=Decimal(1),
        )
    ChargebackRun.objects.filter(pk=run.pk).update(computed_at=at(1, month=11))


@pytest.fixture
def two_closed_months(shared_cluster, team_a, team_b):
    """September and October by hand: payments-like data out grows 180 %; Team C shares Team A's cost center."""
    team_c = Team.objects.create(
        name="Team C", slug="team-c", cost_center="CC-A", contact_email="c@example.com"
    )
    september = ChargebackRun.objects.create(month=SEPTEMBER)
    october = ChargebackRun.objects.create(month=OCTOBER)
    write_lines(
        september,
        team_a,
        shared_cluster,
        [
            ("team-a.orders", "data_out", "28.00"),
            ("team-a.orders", "data_in", "9.00"),
            ("", "cluster_hours", "300.00"),
        ],
    )
    write_lines(
        october,
        team_a,
        shared_cluster,
        [
            ("team-a.orders", "data_out", "78.40"),
            ("team-a.orders", "data_in", "10.00"),
            ("", "cluster_hours", "310.00"),
            ("team-a.refunds", "partition_hours", "2.16"),
        ],
    )
    write_lines(september, team_b, shared_cluster, [("team-b.clicks", "data_in", "40.00")])
    write_lines(october, team_b, shared_cluster, [("team-b.clicks", "data_in", "41.00")])
    write_lines(october, team_c, shared_cluster, [("team-c.views", "storage", "3.00")])
    return october


def test_the_team_page_shows_top_topics_their_trend_and_what_changed(two_closed_months, member_a, clock):
    clock(dt.datetime(2026, 11, 5, 9, tzinfo=dt.UTC))
    body = (
        client_for(member_a)
        .get(reverse("billing:team-costs", kwargs={"slug": "team-a"}), {"month": "2026-10"})
        .content.decode()
    )
    table = re.search(r'<table[^>]*id="top-topics"[^>]*>.*?</table>', body, re.S)[0]
    rows = re.findall(r'<tr><td>([^<]+)<br><span class="muted">([^<]+)</span></td>(.*?)</tr>', table)
    assert [(topic, cluster, re.findall(r">([^<]*)</td>", cells)) for topic, cluster, cells in rows] == [
        ("team-a.orders", "events-write", ["$88.40", "$37.00", "+139 %"]),
        ("team-a.refunds", "events-write", ["$2.16", "$0.00", "new"]),
    ]
    changes = re.search(r'<ul id="changes">(.*?)</ul>', body, re.S)[1]
    assert re.findall(r"<li>(.*?)</li>", changes) == [
        "team-a.orders data out +180 % since last month ($28.00 → $78.40 this month).",
        "team-a.refunds partition-hours is new since last month ($2.16 this month).",
    ]
    assert '<dd id="team-last-month">$337.00</dd>' in body and '<dd id="team-total">$400.56</dd>' in body
    assert "team-b.clicks" not in body  # another team's topics stay hidden


def test_a_month_without_a_run_shows_no_cost_rather_than_zero(two_closed_months, member_a, clock):
    """The team page's "Cost per month" said "No run · $0.00" for every month never computed (alice, the
    demo's January to October): nothing was computed, so no figure, as the finance page's "Last month —"."""
    clock(dt.datetime(2026, 11, 5, 9, tzinfo=dt.UTC))
    body = client_for(member_a).get(reverse("billing:team-costs", kwargs={"slug": "team-a"})).content.decode()
    table = re.search(r"<caption>Cost per month</caption>.*?</table>", body, re.S)[0]
    rows = dict(re.findall(r'month=(\d{4}-\d\d)">.*?<td class="num">(.*?)</td>', table))
    assert rows["2026-10"] == "$400.56" and rows["2026-09"] == "$337.00"
    assert "$" not in rows["2026-08"] and "—" in rows["2026-08"]


def test_finance_sees_the_same_per_cost_center(two_closed_months, finance, clock):
    clock(dt.datetime(2026, 11, 5, 9, tzinfo=dt.UTC))
    body = client_for(finance).get(reverse("billing:finance"), {"month": "2026-10"}).content.decode()
    table = re.search(r'<table id="cost-centers"[^>]*>.*?</table>', body, re.S)[0]
    rows = re.findall(
        r'<th scope="row">([^<]+)<br><span class="muted">([^<]+)</span></th>'
        r'<td class="num">([^<]+)</td><td class="num">([^<]+)</td>',
        table,
    )
    # CC-A: Team A $400.56 + Team C $3.00 (Team A $337.00 in September); CC-B: Team B.
    assert rows == [("CC-A", "Team A, Team C", "$403.56", "$337.00"), ("CC-B", "Team B", "$41.00", "$40.00")]
    assert "Team A: team-a.orders data out +180 % since last month ($28.00 → $78.40 this month)." in body
    assert "Team C: team-c.views storage (estimate) is new since last month ($3.00 this month)." in body
    assert "team-b.clicks" in body and "+3 %" in body  # Team B's top topic, not a notable change


def test_this_months_trend_compares_the_forecast_with_last_month(billed_cluster, team_a, member_a, clock):
    """September's data out vs October's forecast: the month to date alone would look like a drop."""
    topic = make_topic(billed_cluster, team_a, "team-a.orders", (at(1, month=9), 1))
    for day in range(20, 31):
        usage(billed_cluster, topic.name, dt.date(2026, 9, day), bytes_out=10 * GIB)  # 110 GiB: $5.50
    clock(at(30, 23, month=9))
    chargeback.compute_run(SEPTEMBER)
    for day in range(1, 11):
        usage(billed_cluster, topic.name, dt.date(2026, 10, day), bytes_out=10 * GIB)  # 100 GiB so far
    clock(at(10, 23, 30))  # 240 h gone, 504 to go: 100 GiB + 210 GiB = 310 GiB forecast: $15.50
    chargeback.compute_run(OCTOBER)
    costs = selectors.month_costs(user=member_a, month=OCTOBER)
    [data_out] = [
        f for f in selectors.cost_figures(user=member_a, costs=costs) if f.charge_type == "data_out"
    ]
    assert (data_out.month_to_date, data_out.compared, data_out.last_month) == (
        Decimal("5.00"),
        Decimal("15.50"),
        Decimal("5.50"),
    )
    body = client_for(member_a).get(reverse("billing:team-costs", kwargs={"slug": "team-a"})).content.decode()
    assert "team-a.orders data out +182 % since last month ($5.50 → $15.50 forecast to month end)." in body
    assert usd(costs.for_team(team_a).forecast) in body


def test_no_trend_before_the_first_full_day_or_without_last_month(
    two_closed_months, shared_cluster, team_a, member_a, clock
):
    november = ChargebackRun.objects.create(month=dt.date(2026, 11, 1))
    write_lines(november, team_a, shared_cluster, [("team-a.orders", "data_out", "1.20")])
    ChargebackRun.objects.filter(pk=november.pk).update(
        computed_at=dt.datetime(2026, 11, 1, 0, 20, tzinfo=dt.UTC)
    )
    clock(dt.datetime(2026, 11, 1, 0, 30, tzinfo=dt.UTC))
    client = client_for(member_a)
    body = client.get(reverse("billing:team-costs", kwargs={"slug": "team-a"})).content.decode()
    # 20 minutes of traffic against a whole October would read "data out -98 %": not shown.
    assert "Comparisons with last month start after this month's first full day of traffic." in body
    table = re.search(r'<table[^>]*id="top-topics"[^>]*>.*?</table>', body, re.S)[0]
    assert "Top topics by cost, month to date" in table and "Trend" not in table and "$1.20" in table
    assert 'id="team-forecast"' in body  # the team's forecast (hours, storage) is still there
    body = client.get(
        reverse("billing:team-costs", kwargs={"slug": "team-a"}), {"month": "2026-09"}
    ).content.decode()
    assert "Last month was not computed: nothing to compare with." in body and "Trend" not in body
