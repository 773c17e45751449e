"""The month to date in the first hour of a month (computed at 00:10 on the 1st) is one figure per team
wherever it shows: the member's dashboard card, the team's cost page, the finance page's subtotal, finance's
dashboard and the summary CSV's total row; and the same on SQLite and on PostgreSQL (the same world built
on both, tests/twin_database.py)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from django.db import transaction
from django.urls import reverse

from billing import chargeback, exports
from billing.models import ChargebackLine
from billing.pricing import usd
from clusters.models import Cluster
from portal.models import Membership, User
from tests import builders, twin_database
from tests.billing.conftest import make_topic
from tests.billing.test_chargeback_runs import GIB, usage
from tests.conftest import client_for

DATABASES = ["default", "twin"] if twin_database.available() else ["default"]
NOVEMBER = dt.date(2026, 11, 1)
DECEMBER = dt.date(2026, 12, 1)


def utc(month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=dt.UTC)


def one(pattern: str, text: str) -> str:
    found = re.findall(pattern, text)
    assert len(found) == 1, (pattern, found)
    return found[0]


def figures_at_ten_past_midnight(clock) -> dict:
    """Build the world in the current alias, compute November and December at 12-01 00:10, and read every
    page and the summary CSV: {(where, team): figure as shown}."""
    team_a, team_b = builders.team("team-a"), builders.team("team-b")
    alice = builders.user("alice", team=team_a)
    Membership.objects.create(team=team_b, user=alice)
    fred = builders.user("fred", role=User.Role.FINANCE)
    cluster = Cluster.objects.create(
        name="events-write",
        team=team_a,
        kind=Cluster.Kind.WRITE,
        environment="prod",
        account=(account := builders.aws_account()),
        region="us-east-1",
        network_profile=builders.network_profile(account),
        status=Cluster.Status.ACTIVE,
        active_since=utc(9, 1),
        arn="arn:aws:kafka:us-east-1:123456789012:cluster/events-write/0d6f5b7e-2b1c-4c55-9f5e-1e2d3c4b5a69-s1",
    )
    cluster.shared_with.add(team_b)
    make_topic(cluster, team_a, "team-a.orders", (utc(11, 3), 6), (utc(12, 1, 0, 5), 8))  # grows at 00:05
    make_topic(cluster, team_b, "team-b.clicks", (utc(12, 1), 2))  # created on the hour
    make_topic(cluster, team_b, "team-b.gone", (utc(11, 3), 4), (utc(12, 1), 0))  # deleted on the hour
    for day, scale in ((dt.date(2026, 11, 30), 5), (DECEMBER, 1)):
        usage(cluster, "team-a.orders", day, bytes_in=3 * scale * GIB, bytes_out=7 * scale * GIB)
        usage(cluster, "team-b.clicks", day, bytes_in=scale * GIB, bytes_out=scale * GIB)
    clock(utc(12, 1, 0, 10))
    chargeback.compute_run(NOVEMBER)
    run = chargeback.compute_run(DECEMBER)
    assert run.metered_until == utc(12, 1, 1)
    figures: dict = {("run", "all"): usd(run.total_usd)}
    for team in (team_a, team_b):
        lines = ChargebackLine.objects.filter(run=run, team=team)
        figures[("lines", team.slug)] = usd(sum(line.cost_usd for line in lines))
    member, finance = client_for(alice), client_for(fred)
    dashboard = member.get(reverse("portal:dashboard")).content.decode()
    finance_dashboard = finance.get(reverse("portal:dashboard")).content.decode()
    finance_page = finance.get(reverse("billing:finance"), {"month": "2026-12"}).content.decode()
    summary = finance.get(reverse("billing:run-csv", kwargs={"month": "2026-12", "kind": "summary"}))
    rows = list(csv.reader(io.StringIO(b"".join(summary.streaming_content).decode())))
    figures[("finance page", "all")] = one(r'<strong id="grand-total">([^<]*)</strong>', finance_page)
    figures[("finance page run", "all")] = one(r'<dd id="run-total">([^<]*)</dd>', finance_page)
    figures[("finance dashboard", "all")] = one(r'<span id="mtd-all">([^<]*)</span>', finance_dashboard)
    for team in (team_a, team_b):
        cost_page = member.get(reverse("billing:team-costs", kwargs={"slug": team.slug})).content.decode()
        figures[("cost page", team.slug)] = one(r'<dd id="team-total">([^<]*)</dd>', cost_page)
        figures[("dashboard", team.slug)] = one(
            rf'<dd id="mtd-{team.slug}"><a href="[^"]*">([^<]*)</a></dd>', dashboard
        )
        figures[("finance dashboard", team.slug)] = one(
            rf'<a href="/billing/teams/{team.slug}/">([^<]*)</a>', finance_dashboard
        )
        figures[("finance page", team.slug)] = one(
            rf'Total {team.name}</td><td class="num"><strong>([^<]*)</strong>', finance_page
        )
        total_row = [row for row in rows if row[1] == team.name and row[3] == exports.TOTAL]
        assert len(total_row) == 1, rows
        figures[("summary csv", team.slug)] = usd(total_row[0][-1])
    return figures


@pytest.mark.django_db(databases=DATABASES)
@pytest.mark.usefixtures("twin_test_database")
def test_the_first_hour_month_to_date_is_one_figure_everywhere_on_both_databases(clock):
    results = {}
    for alias in DATABASES:
        with twin_database.on(alias), transaction.atomic(using=alias):
            results[alias] = figures_at_ten_past_midnight(clock)
            transaction.set_rollback(True, using=alias)
    for figures in results.values():
        for team in ("team-a", "team-b"):
            shown = {where: value for (where, slug), value in figures.items() if slug == team}
            assert set(shown.values()) == {figures[("lines", team)]}, shown
        everywhere = {where: value for (where, slug), value in figures.items() if slug == "all"}
        assert set(everywhere.values()) == {figures[("run", "all")]}, everywhere
    if len(results) == 2:
        assert results["default"] == results["twin"]
    # One hour of the month: 1 cluster-hour, 8 + 2 partition-hours (team-b.gone none), a day's data.
    assert results["default"][("run", "all")] != "$0.00"
