"""Chargeback through a real browser: finance downloads last month's three CSVs; a member sees only their
own team's costs."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from playwright.sync_api import Page, expect

from billing import chargeback, months
from billing.models import TopicDailyUsage
from billing.pricing import usd
from clusters.models import Cluster, Topic, TopicPartitionChange
from tests.system.browser.test_login import sign_in

pytestmark = pytest.mark.browser
GIB = 2**30


@pytest.fixture
def last_month(cluster_a, team_a):
    """Team A's dedicated cluster, a topic and some traffic in last month, computed (provisional)."""
    month = months.previous_month(months.current_month())
    since = dt.datetime.combine(month - dt.timedelta(days=10), dt.time(), tzinfo=dt.UTC)
    Cluster.objects.filter(pk=cluster_a.pk).update(active_since=since)
    topic = Topic.objects.create(
        cluster=cluster_a,
        team=team_a,
        name="team-a.orders",
        partitions=2,
        status=Topic.Status.ACTIVE,
        configs={"retention.ms": 86_400_000, "retention.bytes": -1},
    )
    TopicPartitionChange.objects.create(topic=topic, partitions=2, changed_at=since)
    for metric in ("bytes_in", "bytes_out"):
        TopicDailyUsage.objects.create(
            cluster=cluster_a,
            topic_name=topic.name,
            day=month + dt.timedelta(days=2),
            metric=metric,
            bytes=GIB,
        )
    return chargeback.compute_run(month)


def test_finance_downloads_last_months_three_csvs(page: Page, live_server, finance, last_month, tmp_path):
    sign_in(page, live_server, finance.username)
    page.get_by_role("link", name="Finance", exact=True).click()
    label = last_month.label
    expect(page.get_by_role("heading", level=1)).to_contain_text(last_month.month.strftime("%B %Y"))
    expect(page.locator("#run-status")).to_have_text("Provisional")
    expect(page.locator("#grand-total")).to_have_text(usd(last_month.total_usd))

    for link, kind in (("Summary CSV", "summary"), ("Lines CSV", "lines"), ("FOCUS 1.2 CSV", "focus")):
        with page.expect_download() as download_info:
            page.get_by_role("link", name=link).click()
        download = download_info.value
        assert download.suggested_filename == f"chargeback-{label}-{kind}.csv"
        path = tmp_path / download.suggested_filename
        download.save_as(path)
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
        assert rows, kind
        if kind == "summary":
            assert rows[-1]["team"] == "All teams" and rows[-1]["cost_usd"] == str(last_month.total_usd)
        elif kind == "lines":
            assert {row["team"] for row in rows} == {"Team A"} and len(rows) == last_month.line_count
        else:
            assert {row["x_Provisional"] for row in rows} == {"true"}


def test_member_sees_only_their_own_team_costs(page: Page, live_server, member_a, team_b, last_month):
    sign_in(page, live_server, member_a.username)
    page.get_by_role("link", name="Costs").click()
    expect(page).to_have_url(f"{live_server.url}/billing/teams/team-a/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Team A costs")
    page.wait_for_load_state()
    page.get_by_role("textbox", name="Month").fill(last_month.label)
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(f"{live_server.url}/billing/teams/team-a/?month={last_month.label}")
    expect(page.locator("#team-total")).to_have_text(usd(last_month.total_usd))
    expect(page.locator("svg.trend")).to_be_visible()
    expect(page.get_by_role("link", name="Finance")).to_have_count(0)

    response = page.goto(f"{live_server.url}/billing/teams/team-b/")
    assert response.status == 404
    response = page.goto(f"{live_server.url}/billing/finance/")
    assert response.status == 403
    expect(page.locator("main")).not_to_contain_text("Team B")
