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
from django.urls import reverse

from portal.models import Membership, Team
from tests.billing.conftest import at, make_topic
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
    assert set(map(tuple, seen.values())) == {("3", "14", "9% / 11% / 1%")}, seen


def test_the_cluster_page_and_api_show_each_topic_and_cluster_once(events_write, alice, token_for):
    body = client_for(alice).get(reverse("clusters:cluster-detail", args=[events_write.pk])).content.decode()
    rows = re.findall(r'<tr id="topic-\d+">\s*<td><code>([^<]+)</code>', body)
    assert rows == ["team-a.orders", "team-b.clicks", "team-c.views"]
    api = client_for(None).get(
        reverse("clusters-api:cluster-list"), headers={"Authorization": f"Bearer {token_for(alice)}"}
    )
    assert api.json()["count"] == 1
    assert [row["name"] for row in api.json()["results"]] == ["events-write"]
