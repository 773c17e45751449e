"""The cost pages on a phone and on a desktop with the longest names the portal allows in them: a 100-character
team name and a 200-character topic name without a space. On a 390 px phone every money figure of their
tables (the finance page's Cost column with its subtotals and grand total, the team page's breakdowns) is on
screen, not behind a table's scroll edge; at either width no page is wider than the viewport."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Browser, expect

from billing import chargeback, months
from clusters.models import Cluster
from portal.models import Team
from tests import builders
from tests.billing.conftest import make_topic
from tests.billing.test_chargeback_runs import GIB, usage
from tests.system.browser.test_login import sign_in

pytestmark = pytest.mark.browser

LONG_TEAM = "Payments" + "X" * 92  # Team.name's 100 characters
LONG_TOPIC = "payments.orders." + "y" * 184
WIDTHS = (390, 1280)

# The page's width, and the right edge of every money cell of its tables (a figure or a "Cost" heading).
GEOMETRY_JS = """() => {
  const money = [...document.querySelectorAll('main table .num')]
    .filter((cell) => cell.innerText.includes('$') || /Cost/.test(cell.innerText));
  return {
    documentWidth: document.documentElement.scrollWidth,
    viewport: window.innerWidth,
    moneyCells: money.length,
    pastTheEdge: money.filter((cell) => cell.getBoundingClientRect().right > window.innerWidth + 0.5)
      .map((cell) => `${cell.innerText.trim()} at ${Math.round(cell.getBoundingClientRect().right)} px`),
  };
}"""


@pytest.fixture
def long_names_month(cluster_a, team_a):
    """Team A, renamed to 100 characters, with a 200-character topic and a day of traffic last month, computed."""
    Team.objects.filter(pk=team_a.pk).update(name=LONG_TEAM)
    month = months.previous_month(months.current_month())
    since = dt.datetime.combine(month - dt.timedelta(days=10), dt.time(), tzinfo=dt.UTC)
    Cluster.objects.filter(pk=cluster_a.pk).update(active_since=since)
    make_topic(cluster_a, team_a, LONG_TOPIC, (since, 3))
    usage(cluster_a, LONG_TOPIC, month + dt.timedelta(days=2), bytes_in=1500 * GIB, bytes_out=2 * GIB)
    return chargeback.compute_run(month)


def test_cost_pages_keep_money_on_a_phone_screen_and_long_names_inside_the_page(
    browser: Browser, live_server, finance, long_names_month
):
    label = long_names_month.label
    pages = {  # the long name each page shows in a table
        f"/billing/finance/?month={label}": LONG_TEAM,
        f"/billing/teams/team-a/?month={label}": LONG_TOPIC,
    }
    measured = {}
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 844})
        page = context.new_page()
        try:
            sign_in(page, live_server, finance.username)
            for path, name in pages.items():
                page.goto(live_server.url + path)
                expect(page.get_by_role("table").filter(has_text=name).first).to_be_visible()
                measured[width, path] = page.evaluate(GEOMETRY_JS)
        finally:
            context.close()

    for (width, path), geometry in measured.items():
        assert geometry["documentWidth"] <= width, (width, path, geometry)
        assert geometry["moneyCells"] >= 5, (width, path, geometry)  # headings and figures were measured
        assert not geometry["pastTheEdge"], (width, path, geometry)


def test_a_requests_estimate_keeps_its_money_and_rates_on_a_phone_screen(
    browser: Browser, live_server, member_a, cluster_a
):
    """The estimate's rates read as money per unit (`$0.0015 per partition-hour`): in their own column on a
    desktop, under each charge's name on a phone, where the USD / month column stays on screen."""
    request = builders.topic_request(member_a, cluster_a, "phone-priced")
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 844})
        page = context.new_page()
        try:
            sign_in(page, live_server, member_a.username)
            page.goto(f"{live_server.url}/requests/{request.pk}/")
            estimate = page.get_by_role("region", name="Estimated monthly cost")
            rates = estimate.get_by_text("$0.0015 per partition-hour")
            expect(rates.filter(visible=True)).to_have_count(1)  # a column's cell or a line under the name
            geometry = page.evaluate(GEOMETRY_JS)
            assert geometry["documentWidth"] <= width and geometry["moneyCells"] >= 4, (width, geometry)
            assert not geometry["pastTheEdge"], (width, geometry)
        finally:
            context.close()
