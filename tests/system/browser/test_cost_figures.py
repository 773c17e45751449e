"""The same figures on every page, through a real browser: a member who reaches a shared cluster two ways
(her own team owns it, her other team may use it) sees her team's month to date and forecast on the
dashboard card and the cost page exactly as finance sees them on the finance page, and the clusters list
counts the shared cluster's topics once, as finance sees it."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import Browser, Page, expect

from billing import chargeback, months
from billing.models import ChargebackLine
from billing.pricing import usd
from portal.models import Membership, Team
from tests.billing.conftest import make_topic, shared_cluster  # noqa: F401 (fixture)
from tests.billing.test_chargeback_runs import GIB, usage
from tests.conftest import make_user
from tests.system.browser.test_login import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def alice(team_a, team_b):
    user = make_user("alice", first_name="Alice")
    for team in (team_a, team_b):
        Membership.objects.create(team=team, user=user)
    return user


@pytest.fixture
def months_computed(shared_cluster, team_a, team_b):  # noqa: F811
    """events-write (Team A's, opened to Teams B and C) with a topic per team of Alice's, traffic last month and this month,
    both months computed. Team A has a cost center of its own."""
    Team.objects.filter(pk=team_a.pk).update(cost_center="CC-PAYMENTS")
    team_c = Team.objects.create(
        name="Team C", slug="team-c", cost_center="CC-C", contact_email="c@example.com"
    )
    shared_cluster.shared_with.add(team_c)  # opened to two teams: a join would count its topics twice
    this_month = months.current_month()
    last_month = months.previous_month(this_month)
    created = dt.datetime.combine(last_month - dt.timedelta(days=10), dt.time(), tzinfo=dt.UTC)
    make_topic(shared_cluster, team_a, "team-a.orders", (created, 6))
    make_topic(shared_cluster, team_b, "team-b.clicks", (created, 6))
    for day in (last_month, last_month + dt.timedelta(days=5), this_month):
        usage(shared_cluster, "team-a.orders", day, bytes_in=3 * GIB, bytes_out=9 * GIB)
        usage(shared_cluster, "team-b.clicks", day, bytes_in=GIB, bytes_out=GIB)
    chargeback.compute_run(last_month)
    return chargeback.compute_run(this_month)


def figures_of(page: Page, *ids: str) -> dict[str, str]:
    return {element_id: page.locator(f"#{element_id}").inner_text().strip() for element_id in ids}


def cluster_row(page: Page, live_server, name: str) -> list[str]:
    page.goto(f"{live_server.url}/clusters/")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=name, exact=True))
    expect(row).to_have_count(1)
    return [cell.strip() for cell in row.locator("td").all_inner_texts()][-3:]


def test_a_members_dashboard_cost_page_and_clusters_list_match_what_finance_sees(
    browser: Browser, live_server, months_computed, alice, finance, team_a
):
    team_total = usd(
        sum(line.cost_usd for line in ChargebackLine.objects.filter(run=months_computed, team=team_a))
    )

    # Finance: the team's total on the finance page, its cost center's forecast, and the clusters list.
    finance_page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    sign_in(finance_page, live_server, finance.username)
    finance_page.get_by_role("link", name="Finance", exact=True).click()
    finance_page.get_by_role("textbox", name="Month").fill(months_computed.label)
    finance_page.get_by_role("button", name="Show").click()
    subtotal = finance_page.get_by_role("row").filter(has_text="Total Team A")
    expect(subtotal).to_have_count(1)
    finance_total = subtotal.locator("td.num").inner_text().strip()
    center = finance_page.locator("#cost-centers").get_by_role("row").filter(has_text="CC-PAYMENTS")
    center_cells = [cell.strip() for cell in center.locator("td.num").all_inner_texts()]
    finance_clusters = cluster_row(finance_page, live_server, "events-write")

    # Alice, on a phone: her card on the dashboard, then her team's cost page, then the clusters list.
    page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    sign_in(page, live_server, alice.username)
    card = figures_of(page, "mtd-team-a", "forecast-team-a", "last-month-team-a")
    page.locator("#mtd-team-a").get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Team A costs")
    cost_page = figures_of(page, "team-total", "team-forecast", "team-last-month")
    alice_clusters = cluster_row(page, live_server, "events-write")

    assert finance_total == card["mtd-team-a"] == cost_page["team-total"] == team_total
    forecast = card["forecast-team-a"].removesuffix(" by month end")
    assert forecast == cost_page["team-forecast"].removesuffix(" (forecast)")
    assert center_cells == [team_total, forecast, card["last-month-team-a"]]  # month to date, forecast, last
    assert card["last-month-team-a"] == cost_page["team-last-month"]
    # Two topics, 6 + 6 partitions, once each, for Alice as for finance.
    assert alice_clusters == finance_clusters and alice_clusters[:2] == ["2", "12"]
    assert re.fullmatch(r"\$[\d,]+\.\d\d", team_total)
