"""Forms and the API show every error at once, each on its field, keeping what the user entered (issue 11):
a field that does not parse no longer hides the service's checks of the others until the next submit."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from clusters import forms
from clusters.models import Cluster, Request, Topic
from tests import builders
from tests.clusters.test_views import HTMX, PRINCIPAL, topic_data
from tests.conftest import client_for


def api_post(user, token_for, name, body):
    return client_for(None).post(
        reverse(name),
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token_for(user)}"},
    )


@pytest.fixture
def eu_profile(platform_account):
    return builders.eu_network_profile(platform_account)


def cluster_data(team, account, profile, **overrides):
    data = {
        "team": team.pk,
        "name": "team-a-prod",
        "kind": "dedicated",
        "environment": "prod",
        "account": account.pk,
        "region": "us-east-1",
        "network_profile": profile.pk,
        "expected_write_mbps": "20",
        "expected_read_mbps": "40",
        "latency_class": "time_insensitive",
        "justification": "Production traffic.",
    }
    data.update(overrides)
    return data


# --- Topic: a bad name and partitions 0 -----------------------------------------------------------


@pytest.mark.parametrize("url", ["clusters:request-new-topic", "preview"])
def test_topic_form_shows_a_bad_name_and_zero_partitions_together(url, member_a, team_a, cluster_a):
    path = reverse("clusters:request-preview", args=["topic"]) if url == "preview" else reverse(url)
    response = client_for(member_a).post(
        path, topic_data(team_a, cluster_a, name="bad name!", partitions="0"), headers=HTMX
    )
    errors = response.context["form"].errors
    assert "Not allowed here: ' ' '!'" in errors["name"][0]
    assert errors["partitions"] == ["Enter a whole number from 1 to 100,000 partitions."]
    if url != "preview":
        assert 'value="bad name!"' in response.content.decode()  # what was typed stays


def test_topic_form_shows_a_kafka_collision_beside_a_parse_error(member_a, team_a, cluster_a):
    Topic.objects.create(cluster=cluster_a, team=team_a, name="team-a.x.auto", partitions=1, status="active")
    response = client_for(member_a).post(
        reverse("clusters:request-new-topic"),
        topic_data(team_a, cluster_a, name="x_auto", retention_ms="soon"),
    )
    errors = response.context["form"].errors
    assert "collides with team-a.x.auto" in errors["name"][0] and "retention_ms" in errors
    assert not Request.objects.exists()


def test_topic_api_answers_every_field_error_together(member_a, cluster_a, token_for):
    Topic.objects.create(cluster=cluster_a, team=cluster_a.team, name="team-a.x.auto", partitions=1)
    body = {
        "team": "team-a",
        "cluster": cluster_a.pk,
        "name": "x_auto",
        "partitions": 0,
        "expected_in_mbps": "1",
        "expected_out_mbps": "1",
        "max_message_bytes": 9_000_000,
        "access": [{"principal_arn": "arn:aws:iam::123456789012:role/app", "consume": True}],
    }
    response = api_post(member_a, token_for, "clusters-api:request-topic", body)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "message", "field_errors"} and body["code"] == "invalid"
    assert set(body["field_errors"]) == {"name", "partitions", "max_message_bytes", "access"}
    assert "collides with team-a.x.auto" in body["field_errors"]["name"][0]
    assert body["field_errors"]["access"] == ["Access #1: Consumers need a consumer-group prefix."]


# --- Cluster: a bad name and a network profile of another region -----------------------------------


def test_cluster_form_shows_a_bad_name_and_a_wrong_region_profile_together_and_keeps_the_profile(
    member_a, team_a, platform_account, network_profile, eu_profile
):
    response = client_for(member_a).post(
        reverse("clusters:request-new-cluster"),
        cluster_data(
            team_a,
            platform_account,
            eu_profile,
            name="-bad_name-",
            expected_read_mbps="-1",
        ),
    )
    errors = response.context["form"].errors
    assert "is not a valid MSK cluster name" in errors["name"][0]
    assert errors["network_profile"] == ["Choose a network profile of this account and region."]
    assert "expected_read_mbps" in errors
    page = response.content.decode()
    assert f'<option value="{eu_profile.pk}" selected>' in page and 'value="-bad_name-"' in page


def test_cluster_api_answers_every_field_error_together(
    member_a, team_a, platform_account, network_profile, eu_profile, token_for
):
    Cluster.objects.create(
        name="taken",
        team=team_a,
        kind="dedicated",
        environment="dev",
        account=platform_account,
        region="us-east-1",
        network_profile=network_profile,
    )
    body = {
        "team": "team-a",
        "name": "taken",
        "kind": "dedicated",
        "environment": "prod",
        "account": platform_account.pk,
        "region": "us-east-1",
        "network_profile": eu_profile.pk,
        "expected_write_mbps": "-1",
        "expected_read_mbps": "4",
        "contains_pii": False,
        "latency_class": "time_insensitive",
        "justification": " ",
    }
    response = api_post(member_a, token_for, "clusters-api:request-cluster", body)
    assert response.status_code == 400
    field_errors = response.json()["field_errors"]
    assert set(field_errors) == {"name", "network_profile", "expected_write_mbps", "justification"}
    assert field_errors["name"] == ["A cluster called “taken” already exists in us-east-1."]


# --- Topic change: partitions that do not parse and a bad retention -------------------------------


def change_data(topic: Topic, **overrides) -> dict:
    """The topic's change form as it opens (its own initial values: the topic's), with `overrides`."""
    topic.refresh_from_db()
    return {**forms.TopicUpdateForm(topic=topic).initial, **overrides}


@pytest.mark.parametrize("partitions", ["0", "two"])
def test_topic_change_form_shows_bad_partitions_and_bad_configs_together(partitions, member_a, topics):
    response = client_for(member_a).post(
        reverse("clusters:request-topic-update", args=[topics[0].pk]),
        change_data(topics[0], partitions=partitions, retention_ms="-9", max_message_bytes="0"),
    )
    errors = response.context["form"].errors
    assert set(errors) == {"partitions", "retention_ms", "max_message_bytes"}
    assert errors["retention_ms"] == ["Use a positive number of milliseconds, or -1 for unlimited."]
    assert not Request.objects.exists()


def test_topic_change_form_checks_partitions_against_throughput_only_when_it_parsed(member_a, topics):
    # The expected throughput did not parse: the partitions are not measured against the old one (50 MB/s
    # in needs 10), which the user may have been lowering.
    Topic.objects.filter(pk=topics[0].pk).update(expected_in_mbps=50)
    response = client_for(member_a).post(
        reverse("clusters:request-topic-update", args=[topics[0].pk]),
        change_data(topics[0], partitions="2", expected_in_mbps="lots", retention_ms="-9"),
    )
    assert set(response.context["form"].errors) == {"expected_in_mbps", "retention_ms"}


# --- Access: the topic list follows the chosen cluster ---------------------------------------------


@pytest.fixture
def second_cluster(team_a, platform_account, network_profile):
    return Cluster.objects.create(
        name="team-a-two",
        team=team_a,
        kind="dedicated",
        environment="dev",
        account=platform_account,
        region="us-east-1",
        network_profile=network_profile,
        status=Cluster.Status.ACTIVE,
    )


@pytest.fixture
def topics(team_a, cluster_a, second_cluster):
    return (
        Topic.objects.create(
            cluster=cluster_a, team=team_a, name="team-a.orders", partitions=1, status="active"
        ),
        Topic.objects.create(
            cluster=second_cluster, team=team_a, name="team-a.other", partitions=1, status="active"
        ),
    )


def test_the_topic_list_offers_the_chosen_clusters_topics_only(member_a, cluster_a, topics):
    page = client_for(member_a).get(reverse("clusters:request-new-access"), {"cluster": cluster_a.pk})
    choices = [topic.name for topic in page.context["form"].fields["topic"].queryset]
    assert choices == ["team-a.orders"]


def test_the_preview_swaps_in_the_topics_of_the_cluster_just_chosen(member_a, team_a, second_cluster, topics):
    response = client_for(member_a).post(
        reverse("clusters:request-preview", args=["access"]),
        {"team": team_a.pk, "cluster": second_cluster.pk},
        headers=HTMX,
    )
    body = response.content.decode()
    assert re.search(r'<select name="topic" [^>]*hx-swap-oob="true"', body)
    assert "team-a.other on team-a-two" in body and "team-a.orders" not in body


def test_without_javascript_a_topic_of_another_cluster_is_refused_in_words(
    member_a, team_a, cluster_a, second_cluster, topics
):
    response = client_for(member_a).post(
        reverse("clusters:request-new-access"),
        {
            "team": team_a.pk,
            "cluster": second_cluster.pk,
            "topic": topics[0].pk,
            "principal_arn": PRINCIPAL,
            "produce": "on",
        },
    )
    assert response.context["form"].errors["topic"] == [
        "team-a.orders is on team-a-dev, not on team-a-two: choose a topic of team-a-two."
    ]
    assert not Request.objects.exists()


def test_access_api_answers_every_field_error_together(member_a, cluster_a, topics, token_for):
    body = {
        "team": "team-a",
        "cluster": cluster_a.pk,
        "topic_prefix": "team-b.",
        "principal_arn": "arn:x",
        "produce": "maybe",
        "consume": True,
        "consumer_group_prefix": "s*",
    }
    response = api_post(member_a, token_for, "clusters-api:request-access", body)
    assert response.status_code == 400
    field_errors = response.json()["field_errors"]
    assert set(field_errors) == {"produce", "topic_prefix", "principal_arn", "consumer_group_prefix"}, (
        field_errors
    )


def test_a_read_cluster_without_source_is_said_even_when_the_account_is_missing(
    member_a, team_a, platform_account, network_profile
):
    data = {**cluster_data(team_a, platform_account, network_profile, kind="read"), "account": ""}
    errors = client_for(member_a).post(reverse("clusters:request-new-cluster"), data).context["form"].errors
    assert errors["account"] == ["This field is required."]
    assert errors["source_cluster"] == ["A read cluster is fed from a write cluster: choose it."]
