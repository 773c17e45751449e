"""In a real browser, with htmx: every error at once, each under its own field, what was entered kept; the
access form's topic list follows the chosen cluster (issue 11)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from clusters.models import Cluster, Request, Topic
from tests import builders
from tests.system.browser.test_request_flow import sign_in

pytestmark = pytest.mark.browser


def described(page: Page, label: str, pattern: str):
    field = page.get_by_label(label)
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_accessible_description(re.compile(pattern))
    return field


def test_topic_form_shows_a_bad_name_and_zero_partitions_at_once(
    page: Page, live_server, member_a, cluster_a
):
    page.set_default_timeout(10_000)
    sign_in(page, live_server, member_a.username)
    page.goto(f"{live_server.url}/requests/new/topic/")
    page.get_by_label("Cluster").select_option(label="team-a-dev (team-a, dev, us-east-1)")
    page.get_by_label("Name").fill("bad name!")
    page.get_by_label("Partitions").fill("0")
    page.get_by_role("button", name="Submit request").click()

    expect(described(page, "Name", r"Not allowed here: ' ' '!'\.")).to_have_value("bad name!")
    expect(
        described(page, "Partitions", r"Enter a whole number from 1 to 100,000 partitions\.")
    ).to_have_value("0")
    assert not Request.objects.exists()


def test_cluster_form_shows_a_bad_name_and_a_wrong_region_profile_at_once(
    page: Page, live_server, member_a, platform_account, network_profile
):
    eu = builders.eu_network_profile(platform_account)
    page.set_default_timeout(10_000)
    sign_in(page, live_server, member_a.username)
    page.goto(f"{live_server.url}/requests/new/cluster/")
    page.get_by_label("Name").fill("-bad_name-")
    page.get_by_label("Region").select_option("us-east-1")
    page.get_by_label("Network profile").select_option(str(eu.pk))
    page.get_by_label("Justification").fill("Production traffic.")
    page.get_by_role("button", name="Submit request").click()

    expect(described(page, "Name", r"not a valid MSK cluster name")).to_have_value("-bad_name-")
    profile = described(page, "Network profile", r"Choose a network profile of this account and region\.")
    expect(profile).to_have_value(str(eu.pk))  # the choice is kept
    assert not Cluster.objects.filter(name="-bad_name-").exists()


def test_access_form_narrows_topics_to_the_cluster_and_puts_errors_on_their_fields(
    page: Page, live_server, member_a, team_a, cluster_a, network_profile, platform_account
):
    other = Cluster.objects.create(
        name="team-a-two",
        team=team_a,
        kind="dedicated",
        environment="dev",
        account=platform_account,
        region="us-east-1",
        network_profile=network_profile,
        status=Cluster.Status.ACTIVE,
    )
    Topic.objects.create(cluster=cluster_a, team=team_a, name="team-a.orders", partitions=1, status="active")
    Topic.objects.create(cluster=other, team=team_a, name="team-a.other", partitions=1, status="active")
    page.set_default_timeout(10_000)
    sign_in(page, live_server, member_a.username)
    page.goto(f"{live_server.url}/requests/new/access/")
    topic = page.locator("#id_topic")
    expect(topic.locator("option")).to_have_count(3)  # "---------" and both clusters' topics

    page.get_by_label("Cluster").select_option(label="team-a-two (team-a, dev, us-east-1)")
    expect(topic.locator("option")).to_have_count(2)  # htmx swapped in team-a-two's list
    expect(topic.locator("option").nth(1)).to_have_text("team-a.other on team-a-two")
    topic.select_option(label="team-a.other on team-a-two")

    page.get_by_label("Principal (IAM role ARN)").fill("arn:aws:iam::123456789012:role/reader")
    page.get_by_label("May consume (read)").check()
    page.get_by_role("button", name="Submit request").click()

    described(page, "Consumer group prefix", r"Consumers need a consumer-group prefix\.")
    expect(page.get_by_label("Principal (IAM role ARN)")).not_to_have_attribute("aria-invalid", "true")
    expect(topic).to_have_value(str(Topic.objects.get(name="team-a.other").pk))
    assert not Request.objects.exists()
