"""The observability pages per role and against other teams' objects; the remedy's pre-filled form."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clusters.observability import alerts
from clusters.observability.collect import floor_point
from tests.conftest import client_for

from .conftest import STEP, lags, make_topic, rates

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(cluster_a, team_a, team_b, member_a, member_b, admin, finance):
    """Team A's cluster, opened to team B; A's hot topic with a lagging group, B's quiet topic on it."""
    cluster_a.shared_with.add(team_b)
    now = timezone.now()
    hot = make_topic(cluster_a, team_a, "team-a.orders", partitions=3)
    quiet = make_topic(cluster_a, team_b, "team-b.audit", partitions=1)
    first = floor_point(now) - 4 * STEP
    rates(hot, first, [13, 13, 13.5, 13.5])
    rates(quiet, first, [0.5, 0.5, 0.5, 0.5])
    lags(hot, "team-a.billing-app", first, [100, 200, 300, 400])
    alerts.evaluate(now)
    return {"hot": hot, "quiet": quiet, "cluster": cluster_a}


@pytest.mark.parametrize(
    "persona, hot_topic, quiet_topic",
    # Team A owns the cluster: its members see every topic on it (the existing rule); B sees only its own.
    [("member_a", 200, 200), ("member_b", 404, 200), ("admin", 200, 200), ("finance", 200, 200)],
)
def test_topic_pages_follow_the_access_rule(world, personas, persona, hot_topic, quiet_topic):
    client = client_for(personas[persona])
    assert client.get(f"/topics/{world['hot'].pk}/").status_code == hot_topic
    assert client.get(f"/topics/{world['quiet'].pk}/").status_code == quiet_topic
    assert client.get("/topics/999999/").status_code == 404


def test_anonymous_is_sent_to_sign_in(world):
    client = client_for(None)
    for url in (f"/topics/{world['hot'].pk}/", f"/clusters/{world['cluster'].pk}/traffic/", "/traffic/"):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_topic_page_shows_throughput_against_its_limit_groups_lag_and_history(world, member_a):
    page = client_for(member_a).get(f"/topics/{world['hot'].pk}/?range=2d").content.decode()
    assert '<svg class="trend throughput"' in page and "15.00 MB/s in, 30.00 MB/s out" in page
    assert "13.50 MB/s in (90 %)" in page
    assert "<code>team-a.billing-app</code>" in page and "6 min" in page  # 400 s behind
    assert "keeping up" not in page and "UTC</strong>" in page  # falling behind since the episode began
    assert "Alert history" in page and "used 90% of its 3 partitions" in page
    assert f'href="/requests/new/topic-update/{world["hot"].pk}/?remedy=partitions"' in page
    assert "Add partitions (3 → 4)" in page


def test_only_members_of_the_owning_team_get_the_remedy_link(world, admin, finance):
    for user in (admin, finance):
        page = client_for(user).get(f"/topics/{world['hot'].pk}/").content.decode()
        assert "Needs 4 partitions" in page and "?remedy=partitions" not in page


def test_the_prefilled_change_request_explains_the_number_and_is_refused_to_other_teams(
    world, member_a, member_b
):
    url = f"/requests/new/topic-update/{world['hot'].pk}/?remedy=partitions"
    page = client_for(member_a).get(url).content.decode()
    assert 'name="partitions" value="4"' in page
    assert (
        "Suggested: 4 partitions (now 3). Peak in 13.5 MB/s ÷ (80 % of 5 MB/s per partition) = 4 partitions."
        in page
    )
    plain = client_for(member_a).get(url.split("?")[0]).content.decode()
    assert 'name="partitions" value="3"' in plain and "Suggested" not in plain
    assert client_for(member_b).get(url).status_code == 404


def test_a_shared_cluster_shows_its_totals_but_only_the_visitors_own_topics(world, member_b, member_a):
    url = f"/clusters/{world['cluster'].pk}/traffic/"
    page_b = client_for(member_b).get(url).content.decode()
    assert "team-b.audit" in page_b and "team-a.orders" not in page_b and "team-a.billing-app" not in page_b
    assert "14.00 MB/s in" in page_b  # the cluster's ingress counts every topic on it
    page_a = client_for(member_a).get(url).content.decode()
    assert "team-a.orders" in page_a and "team-a.billing-app" in page_a and "team-b.audit" in page_a  # owner


def test_the_fleet_view_lists_only_visible_clusters_busiest_first(
    world, member_a, admin, team_b, network_profile, platform_account
):
    from clusters.models import Cluster

    other = Cluster.objects.create(
        name="team-b-dev",
        team=team_b,
        kind="dedicated",
        environment="dev",
        account=platform_account,
        region="us-east-1",
        network_profile=network_profile,
        status="active",
    )
    assert "team-b-dev" not in client_for(member_a).get("/traffic/").content.decode()
    page = client_for(admin).get("/traffic/").content.decode()
    assert page.index("team-a-dev") < page.index(other.name)
    assert "team-a.orders" in page and "team-a.billing-app" in page


def test_the_dashboard_puts_what_needs_attention_first_for_the_owning_team_only(world, member_a, member_b):
    page = client_for(member_a).get("/").content.decode()
    attention = page.index("Needs attention")
    assert attention < page.index("Your teams")
    assert page.index("used 90% of its 3 partitions", attention) < page.index("team-a.billing-app", attention)
    assert "Needs attention" not in client_for(member_b).get("/").content.decode()


def test_the_dashboard_reads_what_needs_attention_in_one_query(world, member_a):
    """Only the columns it shows (`only`): nothing of an episode, its rule, topic or cluster is read later."""
    client = client_for(member_a)
    client.get("/")
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/").content.decode()
    assert "used 90% of its 3 partitions" in page and "team-a.billing-app" in page
    reading = [
        q["sql"] for q in queries.captured_queries if "alert" in q["sql"] or "clusters_topic" in q["sql"]
    ]
    assert len(reading) == 1
    assert '"clusters_topic"."partitions"' not in reading[0] and '"portal_team"' not in reading[0]


def test_the_topic_page_reads_the_same_number_of_queries_whatever_the_groups(
    world, member_a, django_assert_num_queries
):
    client = client_for(member_a)
    url = f"/topics/{world['hot'].pk}/"

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    few = count()
    first = floor_point(timezone.now()) - 4 * STEP
    for n in range(30):
        lags(world["hot"], f"group-{n}", first, [1, 2, 3, 4])
    assert count() == few


def test_pages_never_call_aws_nor_the_provider(world, admin, monkeypatch):
    from clusters.integrations import aws_control
    from clusters.providers.local.provider import LocalProvider

    def refuse(*args, **kwargs):
        raise AssertionError("a page called out")

    for target, name in (
        (aws_control, "client"),
        (LocalProvider, "metric_points"),
        (LocalProvider, "consumer_groups"),
    ):
        monkeypatch.setattr(target, name, refuse)
    client = client_for(admin)
    for url in (
        f"/topics/{world['hot'].pk}/?range=60d",
        f"/clusters/{world['cluster'].pk}/traffic/",
        "/traffic/",
        "/",
    ):
        assert client.get(url).status_code == 200
