"""Pages that aggregate, seen by a user who reaches the same object two ways.

Alice is a member of Team A, which owns the shared cluster events-write, and of Team B, which the cluster
is opened to (and she belongs to a third team). A join over her memberships or over the cluster's
`shared_with` rows would count events-write's topics once per way in; every figure she sees must be the
figure everybody else sees.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.urls import reverse

from billing import chargeback, months
from billing.models import ChargebackLine
from billing.pricing import usd
from portal.models import Membership, Team
from tests.billing.conftest import at, make_topic
from tests.billing.test_chargeback_runs import GIB, platform_team, usage  # noqa: F401 (fixture)
from tests.conftest import client_for, make_user


def cell_texts(body: str, row_start: str) -> list[str]:
    """The text of each cell of the first table row that contains `row_start`."""
    row = re.search(r"<tr>(?:(?!</tr>).)*" + re.escape(row_start) + r".*?</tr>", body, re.S)
    assert row, f"no row with {row_start!r}"
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row[0], re.S)]


@pytest.fixture
def team_c(db) -> Team:
    return Team.objects.create(
        name="Team C", slug="team-c", cost_center="CC-C", contact_email="c@example.com"
    )


@pytest.fixture
def events_write(shared_cluster, team_a, team_b, team_c):
    """events-write (Team A's) opened to Team B and Team C, one topic per team: 3 topics, 14 partitions."""
    shared_cluster.shared_with.add(team_c)
    for team, name, partitions, write, read in (
        (team_a, "team-a.orders", 6, 12, 30),
        (team_b, "team-b.clicks", 6, 4, 8),
        (team_c, "team-c.views", 2, 2, 6),
    ):
        topic = make_topic(shared_cluster, team, name, (at(1, month=9), partitions))
        topic.expected_in_mbps, topic.expected_out_mbps = Decimal(write), Decimal(read)
        topic.save()
    return shared_cluster


@pytest.fixture
def alice(team_a, team_b, team_c):
    """A member of the owning team and of two teams the cluster is opened to."""
    user = make_user("alice", first_name="Alice")
    for team in (team_a, team_b, team_c):
        Membership.objects.create(team=team, user=user)
    return user


@pytest.fixture
def everyone(alice, member_a, member_b, admin, finance):
    return {"alice": alice, "member_a": member_a, "member_b": member_b, "admin": admin, "finance": finance}


def test_the_clusters_list_counts_each_topic_once_for_every_user(events_write, everyone):
    seen = {}
    for name, user in everyone.items():
        body = client_for(user).get(reverse("clusters:cluster-list")).content.decode()
        assert body.count(">events-write</a>") == 1, name
        seen[name] = cell_texts(body, ">events-write</a>")[-3:]
    # 3 live topics, 6 + 6 + 2 partitions; 18 of 200 MB/s written, 44 of 400 MB/s read, 14 of 2400 partitions.
    assert set(map(tuple, seen.values())) == {("3", "14", "9 % / 11 % / 1 %")}, seen


def test_the_cluster_page_and_api_show_each_topic_and_cluster_once(events_write, alice, token_for):
    body = client_for(alice).get(reverse("clusters:cluster-detail", args=[events_write.pk])).content.decode()
    rows = re.findall(r'<tr id="topic-\d+">\s*<td[^>]*>(?:<a [^>]*>)?<code>([^<]+)</code>', body)
    assert rows == ["team-a.orders", "team-b.clicks", "team-c.views"]
    api = client_for(None).get(
        reverse("clusters-api:cluster-list"), headers={"Authorization": f"Bearer {token_for(alice)}"}
    )
    assert api.json()["count"] == 1
    assert [row["name"] for row in api.json()["results"]] == ["events-write"]


# --- Costs: dashboard cards, team cost pages, the finance page -------------------------------------------


def text_of(body: str, element_id: str) -> str:
    found = re.search(rf'id="{re.escape(element_id)}"[^>]*>(.*?)</(dd|td|strong|span)>', body, re.S)
    assert found, f"no #{element_id}"
    return re.sub(r"<[^>]+>", "", found[1]).strip()


def finance_team_totals(body: str) -> dict[str, str]:
    return dict(
        re.findall(
            r'<tr class="subtotal"><td colspan="2">Total ([^<]+)</td><td class="num"><strong>([^<]+)<', body
        )
    )


@pytest.fixture
def this_month(events_write, platform_team):  # noqa: F811
    """This month's provisional run: traffic on each team's topic of the shared cluster on the 1st."""
    month = months.current_month()
    for name, gib in (("team-a.orders", 3), ("team-b.clicks", 2), ("team-c.views", 1)):
        usage(events_write, name, month, bytes_in=gib * GIB, bytes_out=gib * GIB)
    return chargeback.compute_run(month)


def team_totals_from_lines(run) -> dict[str, str]:
    totals = ChargebackLine.objects.filter(run=run).values_list("team_name").annotate(total=Sum("cost_usd"))
    return {name: usd(total) for name, total in totals.order_by()}


def test_every_cost_page_shows_a_team_the_same_figure_whoever_looks(this_month, everyone, alice):
    expected = team_totals_from_lines(this_month)
    assert set(expected) == {"Team A", "Team B", "Team C"}  # nothing unattributed here
    assert all(value != "$0.00" for value in expected.values())
    teams = {"Team A": "team-a", "Team B": "team-b", "Team C": "team-c"}
    seen_by = {}
    for name, user in everyone.items():
        client = client_for(user)
        dashboard = client.get(reverse("portal:dashboard")).content.decode()
        seen = {}
        for team, slug in teams.items():
            if f'id="mtd-{slug}"' not in dashboard:
                continue
            assert dashboard.count(f'id="mtd-{slug}"') == 1, (name, team)  # one card per team
            page = client.get(reverse("billing:team-costs", kwargs={"slug": slug})).content.decode()
            seen[team] = {text_of(dashboard, f"mtd-{slug}"), text_of(page, "team-total")}
        if user in (everyone["admin"], everyone["finance"]):
            finance = client.get(reverse("billing:finance"), {"month": this_month.label}).content.decode()
            for team, total in finance_team_totals(finance).items():
                seen.setdefault(team, set()).add(total)
            assert (
                text_of(dashboard, "mtd-all") == text_of(finance, "grand-total") == usd(this_month.total_usd)
            )
        seen_by[name] = seen
    assert seen_by["alice"].keys() == set(teams)  # her three teams
    assert seen_by["member_a"].keys() == {"Team A"} and seen_by["member_b"].keys() == {"Team B"}
    for name, seen in seen_by.items():
        assert seen == {team: {expected[team]} for team in seen}, name


def test_an_admin_in_several_teams_sees_the_finance_page_finance_sees(
    this_month, admin, finance, team_a, team_b
):
    for team in (team_a, team_b):
        Membership.objects.create(team=team, user=admin)
    pages = [
        client_for(user).get(reverse("billing:finance"), {"month": this_month.label}).content.decode()
        for user in (admin, finance)
    ]
    assert (
        finance_team_totals(pages[0]) == finance_team_totals(pages[1]) == team_totals_from_lines(this_month)
    )
    assert text_of(pages[0], "grand-total") == text_of(pages[1], "grand-total") == usd(this_month.total_usd)
