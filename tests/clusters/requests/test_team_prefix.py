"""The team prefix typed twice: topics are named "<team>.<name>", and a member of team-a who types the full
name "team-a.orders" means the topic team-a.orders. It used to become team-a.team-a.orders (and its access
policy named that topic). Now one prefix comes off what was typed, in the form, the preview and the API
alike; an access prefix, which is always typed in full, says how to write it when the namespace is missing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clusters import rules
from clusters.models import Request
from tests import builders
from tests.clusters.test_views import HTMX, PRINCIPAL, topic_data
from tests.conftest import client_for
from tests.portal.test_api_input import _json_post, _topic_body

TYPED_AND_FULL_NAMES = [
    ("team-a.orders", "team-a.orders"),  # was team-a.team-a.orders
    (" team-a.billing ", "team-a.billing"),
    ("team-a.team-a.audit", "team-a.team-a.audit"),  # a name that really repeats it, asked for in full
    ("refunds", "team-a.refunds"),
    ("team-a-ledger", "team-a.team-a-ledger"),  # not the prefix: "team-a." is
    ("team-b.clicks", "team-a.team-b.clicks"),  # another team's prefix is part of the name
]


def test_the_form_takes_the_name_with_or_without_the_teams_prefix(member_a, team_a, cluster_a):
    client = client_for(member_a)
    for typed, full_name in TYPED_AND_FULL_NAMES:
        response = client.post(
            reverse("clusters:request-new-topic"), topic_data(team_a, cluster_a, name=typed)
        )
        assert response.status_code == 302, (typed, response.context["form"].errors)
        assert Request.objects.latest("pk").payload["name"] == full_name, typed


def test_the_preview_shows_the_prefix_once(member_a, team_a, cluster_a):
    response = client_for(member_a).post(
        reverse("clusters:request-preview", args=["topic"]),
        topic_data(team_a, cluster_a, name="team-a.orders"),
        headers=HTMX,
    )
    body = response.content.decode()
    assert "team-a.orders" in body and "team-a.team-a" not in body


def test_the_api_takes_the_full_name_too_and_the_combined_requests_policy_names_that_topic(
    member_a, cluster_a, token_for
):
    body = _topic_body(
        cluster_a, name="team-a.orders", access=[{"principal_arn": PRINCIPAL, "produce": True}]
    )
    response = _json_post(member_a, token_for, "clusters-api:request-topic", body)
    assert response.status_code == 201, response.json()
    payload = Request.objects.get().payload
    assert payload["name"] == "team-a.orders" and payload["short_name"] == "orders"
    [grant] = payload["access"]
    assert "team-a.team-a" not in str(grant["policy"])
    assert ":topic/team-a-dev/" in str(grant["policy"]) and "/team-a.orders" in str(grant["policy"])


def test_the_same_topic_asked_for_with_and_without_the_prefix_is_a_clash(member_a, team_a, cluster_a):
    builders.topic_request(member_a, cluster_a, "orders")
    response = client_for(member_a).post(
        reverse("clusters:request-new-topic"), topic_data(team_a, cluster_a, name="team-a.orders")
    )
    assert "team-a.orders" in response.context["form"].errors["name"][0]
    assert Request.objects.count() == 1


def test_the_prefix_alone_is_not_a_name(member_a, team_a, cluster_a, token_for):
    response = client_for(member_a).post(
        reverse("clusters:request-new-topic"), topic_data(team_a, cluster_a, name="team-a.")
    )
    assert response.context["form"].errors["name"] == ["Give the topic a name."]
    api = _json_post(
        member_a, token_for, "clusters-api:request-topic", _topic_body(cluster_a, name="team-a.")
    )
    assert api.json()["field_errors"] == {"name": ["Give the topic a name."]}


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("orders", "A prefix must start with your team's namespace “team-a.”, such as “team-a.orders”."),
        ("team-a", "A prefix must start with your team's namespace “team-a.”, such as “team-a.”."),
        ("team-b.", "A prefix must start with your team's namespace “team-a.”, such as “team-a.team-b.”."),
        ("team-a.o*", f"{rules.TOPIC_NAME_RULE} Not allowed here: '*'."),
    ],
)
def test_an_access_prefix_without_the_namespace_says_how_to_write_it(
    member_a, team_a, cluster_a, token_for, prefix, message
):
    data = {"team": team_a.pk, "cluster": cluster_a.pk, "topic_prefix": prefix, "principal_arn": PRINCIPAL}
    response = client_for(member_a).post(reverse("clusters:request-new-access"), {**data, "produce": "on"})
    assert response.context["form"].errors["topic_prefix"] == [message]
    body = {**data, "team": "team-a", "produce": True}
    api = _json_post(member_a, token_for, "clusters-api:request-access", body)
    assert api.json()["field_errors"] == {"topic_prefix": [message]}
