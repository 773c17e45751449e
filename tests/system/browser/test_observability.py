"""A member sees a consumer group falling behind on the dashboard, follows it to the topic page, opens the
partition change request the alert pre-filled, and submits it — through a real browser."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from clusters.models import Request
from clusters.observability import alerts
from clusters.observability.collect import floor_point
from tests.clusters.observability.conftest import STEP, lags, make_topic, rates
from tests.system.browser.test_request_flow import sign_in
from tests.system.browser.test_tour import OVERFLOW_JS, WIDTHS

pytestmark = pytest.mark.browser


def test_a_member_goes_from_a_lagging_group_to_a_submitted_partition_request(
    page: Page, live_server, team_a, member_a, cluster_a
):
    page.set_default_timeout(10_000)
    topic = make_topic(cluster_a, team_a, "team-a.refunds", partitions=1)
    first = floor_point(timezone.now()) - 4 * STEP
    rates(topic, first, [4.6, 4.7, 4.8, 4.9], [3, 3, 3, 3])  # above 80 % of one partition's 5 MB/s
    lags(topic, "team-a.refunds-reader", first, [300, 420, 540, 660])  # 11 minutes behind and growing
    alerts.evaluate()

    sign_in(page, live_server, member_a.username)
    attention = page.get_by_role("region", name="Needs attention")
    expect(attention).to_contain_text(
        "Consumer group team-a.refunds-reader is 11 min behind on team-a.refunds"
    )
    expect(attention).to_contain_text("used 98% of its 1 partition's throughput")
    attention.get_by_role("link", name="team-a.refunds").first.click()

    expect(page).to_have_url(f"{live_server.url}/topics/{topic.pk}/")
    groups = page.get_by_role("table").filter(has_text="Consumer group")
    expect(groups.get_by_role("row", name=re.compile("team-a.refunds-reader"))).to_contain_text("11 min")
    expect(page.get_by_role("img", name="team-a.refunds: MB/s in and out")).to_be_visible()
    remedy = page.get_by_role("region", name="Needs 2 partitions")
    expect(remedy).to_contain_text("Peak in 4.9 MB/s ÷ (80 % of 5 MB/s per partition) = 2 partitions.")
    page.get_by_role("link", name="Add partitions (1 → 2)").click()

    expect(page).to_have_url(f"{live_server.url}/requests/new/topic-update/{topic.pk}/?remedy=partitions")
    expect(page.get_by_label("Partitions")).to_have_value("2")
    expect(page.get_by_text("Suggested: 2 partitions (now 1).")).to_be_visible()
    page.get_by_role("button", name="Submit request").click()

    expect(page).to_have_url(re.compile(r"/requests/\d+/$"))
    request = Request.objects.get()
    assert request.kind == "topic.update" and request.topic == topic and request.payload["partitions"] == 2


# What a phone shows: every cell of every table on screen, not behind the scroll edge of a table that
# scrolls sideways (the tour's overflow check accepts a table that scrolls; these pages' tables become cards).
CELLS_PAST_THE_EDGE_JS = """() => [...document.querySelectorAll('main td, main th')]
  .filter((cell) => {
    const rect = cell.getBoundingClientRect();
    const hiddenHead = cell.closest('thead') && getComputedStyle(cell.closest('thead')).position === 'absolute';
    return rect.width > 0 && !hiddenHead && rect.right > window.innerWidth + 0.5;
  })
  .map((cell) => `${cell.closest('table').id || 'table'}: "${cell.innerText.trim().slice(0, 40)}"`)"""


def test_the_traffic_pages_fit_a_phone_screen(browser: Browser, live_server, team_a, member_a, cluster_a):
    topic = make_topic(cluster_a, team_a, "team-a.payments-refunds", partitions=1)
    first = floor_point(timezone.now()) - 4 * STEP
    rates(topic, first, [4.6, 4.7, 4.8, 4.9], [13, 13, 13, 13])
    lags(topic, "team-a.payments-refunds-reader", first, [3000, 4200, 5400, 6600])
    alerts.evaluate()
    context = browser.new_context(viewport=WIDTHS["phone"])
    page = context.new_page()
    page.set_default_timeout(10_000)
    past_the_edge = {}
    try:
        sign_in(page, live_server, member_a.username)
        for path in ("/traffic/", f"/clusters/{cluster_a.pk}/traffic/", f"/topics/{topic.pk}/"):
            page.goto(live_server.url + path)
            page.locator("main details").evaluate_all(
                "all => all.forEach((details) => { details.open = true; })"
            )
            expect(page.get_by_role("table").first).to_be_visible()
            overflow = page.evaluate(OVERFLOW_JS)
            assert overflow["documentScrollWidth"] <= overflow["innerWidth"], (path, overflow)
            assert not overflow["elements"], (path, overflow["elements"])
            past_the_edge[path] = page.evaluate(CELLS_PAST_THE_EDGE_JS)
    finally:
        context.close()
    assert not any(past_the_edge.values()), past_the_edge
