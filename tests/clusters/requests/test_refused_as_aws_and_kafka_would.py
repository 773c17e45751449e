"""Requests AWS, Kafka or the platform would refuse later are refused when they are filed, with a field
error a person understands (issue 11), through the API and the forms alike."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clusters.models import Cluster, Request
from tests import builders
from tests.conftest import client_for

ROLE = "arn:aws:iam::123456789012:role/orders-service"


def api_post(user, token_for, name, body):
    return client_for(None).post(
        reverse(name),
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token_for(user)}"},
    )


def access_body(cluster, **overrides):
    body = {
        "team": "team-a",
        "cluster": cluster.pk,
        "topic_prefix": "team-a.",
        "principal_arn": ROLE,
        "produce": True,
        "consume": False,
    }
    body.update(overrides)
    return body


@pytest.fixture
def eu_cluster(team_a, platform_account):
    profile = builders.eu_network_profile(platform_account)
    return builders.cluster(
        team_a,
        profile,
        "team-a-eu",
        arn="arn:aws:kafka:eu-west-1:123456789012:cluster/team-a-eu/5a1e0c3e-0000-4f00-9a7b-000000000001-s1",
    )


# --- 1. Role ARNs as IAM validates them -----------------------------------------------------------

BAD_ARNS = {
    "full-width digits": ("arn:aws:iam::１２３４５６７８９０１２:role/x", "only ASCII"),
    "Arabic-Indic digits": ("arn:aws:iam::١٢٣٤٥٦٧٨٩٠١٢:role/x", "only ASCII"),
    "65-character role name": ("arn:aws:iam::123456789012:role/" + "r" * 65, "IAM allows 64"),
    "path walking up": ("arn:aws:iam::123456789012:role/../../admin", "“..”"),
    "another partition": ("arn:aws-cn:iam::123456789012:role/x", "eu-west-1 is in the aws partition"),
}


@pytest.mark.parametrize("case", sorted(BAD_ARNS))
def test_known_bad_role_arns_are_a_field_error_on_access_requests(case, member_a, eu_cluster, token_for):
    arn, says = BAD_ARNS[case]
    response = api_post(
        member_a, token_for, "clusters-api:request-access", access_body(eu_cluster, principal_arn=arn)
    )
    assert response.status_code == 400, response.json()
    assert any(says in message for message in response.json()["field_errors"]["principal_arn"])
    assert not Request.objects.exists()


@pytest.mark.parametrize("case", sorted(BAD_ARNS))
def test_known_bad_role_arns_are_a_field_error_on_combined_topic_requests(
    case, member_a, eu_cluster, token_for
):
    arn, says = BAD_ARNS[case]
    body = {
        "team": "team-a",
        "cluster": eu_cluster.pk,
        "name": "orders",
        "expected_in_mbps": "1",
        "expected_out_mbps": "1",
        "access": [{"principal_arn": arn, "produce": True}],
    }
    response = api_post(member_a, token_for, "clusters-api:request-topic", body)
    assert response.status_code == 400, response.json()
    assert any(says in message for message in response.json()["field_errors"]["access"])


def test_known_bad_role_arn_is_shown_under_the_principal_field_of_the_form(member_a, eu_cluster):
    response = client_for(member_a).post(
        reverse("clusters:request-new-access"),
        {
            "team": eu_cluster.team_id,
            "cluster": eu_cluster.pk,
            "topic_prefix": "team-a.",
            "principal_arn": BAD_ARNS["full-width digits"][0],
            "produce": "on",
        },
    )
    assert response.status_code == 200
    assert "only ASCII" in " ".join(response.context["form"].errors["principal_arn"])
    assert not Request.objects.exists()


# --- 2. Roles in AWS accounts the portal cannot reach ---------------------------------------------


def test_a_role_in_an_unknown_account_is_refused_when_filed(member_a, cluster_a, token_for):
    response = api_post(
        member_a,
        token_for,
        "clusters-api:request-access",
        access_body(cluster_a, principal_arn="arn:aws:iam::999999999999:role/outsider"),
    )
    assert response.status_code == 400, response.json()
    [message] = response.json()["field_errors"]["principal_arn"]
    assert "account 999999999999 (an account the portal does not know)" in message
    assert "only grants access to roles in the cluster's own account" in message


def test_a_role_in_another_registered_account_is_refused_too_and_named(
    member_a, team_a, cluster_a, token_for
):
    builders.aws_account("210987654321", name="Team A own", ownership="team", team=team_a)
    body = {
        "team": "team-a",
        "cluster": cluster_a.pk,
        "name": "orders",
        "expected_in_mbps": "1",
        "expected_out_mbps": "1",
        "access": [{"principal_arn": "arn:aws:iam::210987654321:role/app", "produce": True}],
    }
    response = api_post(member_a, token_for, "clusters-api:request-topic", body)
    assert response.status_code == 400
    assert "(the portal's account “Team A own”)" in response.json()["field_errors"]["access"][0]


def test_admins_can_allow_cross_account_principals_in_the_platform_settings(db):
    from clusters.models import PlatformSettings
    from tests.conftest import make_user

    assert PlatformSettings.current().allow_cross_account_principals is False  # off unless an admin says so
    root = make_user("root", role="platform_admin", is_staff=True, is_superuser=True)
    page = client_for(root).get(reverse("admin:clusters_platformsettings_change", args=[1]))
    assert page.status_code == 200 and 'name="allow_cross_account_principals"' in page.content.decode()


# --- 3. Consumer-group prefixes on shared clusters ------------------------------------------------


@pytest.fixture
def shared_cluster(cluster_a, team_b):
    cluster_a.shared_with.add(team_b)
    return cluster_a


def consumer_body(cluster, prefix, **overrides):
    return access_body(cluster, produce=False, consume=True, consumer_group_prefix=prefix, **overrides)


@pytest.mark.parametrize("prefix", ["search", "s", "team-b.", "team"])
def test_a_group_prefix_outside_the_teams_namespace_is_refused_on_a_shared_cluster(
    prefix, member_a, shared_cluster, token_for
):
    response = api_post(
        member_a, token_for, "clusters-api:request-access", consumer_body(shared_cluster, prefix)
    )
    assert response.status_code == 400, response.json()
    [message] = response.json()["field_errors"]["consumer_group_prefix"]
    assert "starts with your team's namespace “team-a.”" in message
    assert not Request.objects.exists()


def test_the_same_rule_holds_for_the_team_the_cluster_was_opened_to(member_b, shared_cluster, team_b):
    from clusters.models import Topic

    Topic.objects.create(cluster=shared_cluster, team=team_b, name="team-b.clicks", partitions=1)
    response = client_for(member_b).post(
        reverse("clusters:request-new-access"),
        {
            "team": team_b.pk,
            "cluster": shared_cluster.pk,
            "topic_prefix": "team-b.",
            "principal_arn": ROLE,
            "consume": "on",
            "consumer_group_prefix": "team-a.",
        },
    )
    assert "namespace “team-b.”" in response.context["form"].errors["consumer_group_prefix"][0]


def test_on_a_cluster_only_the_team_uses_any_prefix_is_its_own(member_a, cluster_a, token_for):
    response = api_post(member_a, token_for, "clusters-api:request-access", consumer_body(cluster_a, "s"))
    assert response.status_code == 201, response.json()
    notes = [f["message"] for f in response.json()["assessment"]["findings"] if f["level"] == "info"]
    assert notes == [
        "Consumer groups starting with “s” on team-a-dev: only Team A's groups (no other team "
        "uses the cluster)."
    ]


def test_the_approver_sees_whose_groups_a_prefix_reaches(member_a, admin, shared_cluster, token_for):
    response = api_post(
        member_a, token_for, "clusters-api:request-access", consumer_body(shared_cluster, "team-a.billing")
    )
    assert response.status_code == 201, response.json()
    page = client_for(admin).get(reverse("clusters:request-detail", args=[response.json()["id"]]))
    assert "What it reaches" in page.content.decode()
    assert (
        "Consumer groups starting with “team-a.billing” on team-a-dev: only Team A&#x27;s groups (the "
        "cluster is shared)." in page.content.decode()
    )


def test_a_prefix_reaching_into_another_teams_namespace_is_flagged(member_a, shared_cluster, db):
    """A naming convention without a separator ('{team}-{name}') lets team-a's namespace 'team-a-' cover
    team 'team-a-x''s 'team-a-x-': approvers are warned whose groups are reached."""
    from clusters.models import PlatformSettings
    from clusters.requests import services
    from portal.models import Team

    settings_row = PlatformSettings.current()
    settings_row.topic_name_template = "{team}-{name}"
    settings_row.save()
    neighbour = Team.objects.create(
        name="Team A X", slug="team-a-x", cost_center="CC-X", contact_email="x@x.io"
    )
    shared_cluster.shared_with.add(neighbour)
    prepared = services.prepare_access_grant(
        actor=member_a,
        team=shared_cluster.team,
        cluster=shared_cluster,
        topic_prefix="team-a-",
        entry=services.AccessInput(ROLE, produce=False, consume=True, consumer_group_prefix="team-a-"),
    )
    assert [f.message for f in prepared.assessment.warnings] == [
        "Consumer groups starting with “team-a-” on team-a-dev: other teams' groups too: Team A X."
    ]


# --- 4. Kafka name collisions ---------------------------------------------------------------------


def topic_body(cluster, name, **overrides):
    body = {
        "team": "team-a",
        "cluster": cluster.pk,
        "name": name,
        "expected_in_mbps": "1",
        "expected_out_mbps": "1",
    }
    body.update(overrides)
    return body


def prepare_topic(member, cluster, name):
    from decimal import Decimal

    from clusters.requests import services

    return services.prepare_topic_create(
        actor=member,
        team=cluster.team,
        cluster=cluster,
        name=name,
        expected_in_mbps=Decimal(1),
        expected_out_mbps=Decimal(1),
    )


@pytest.mark.parametrize("name", [".", "..", "...", "_", "-"])
def test_names_without_a_letter_or_digit_are_refused(name, member_a, cluster_a, token_for):
    response = api_post(member_a, token_for, "clusters-api:request-topic", topic_body(cluster_a, name))
    assert response.status_code == 400, response.json()
    assert "use at least one letter or digit" in response.json()["field_errors"]["name"][0]


def test_a_name_colliding_with_a_live_topic_by_dot_and_underscore_is_refused_not_auto_approved(
    member_a, cluster_a, token_for
):
    from clusters.models import AutoApprovalRule, Topic

    AutoApprovalRule.objects.create(name="any topic", kind="topic.create")
    Topic.objects.create(
        cluster=cluster_a, team=cluster_a.team, name="team-a.x.auto", partitions=1, status=Topic.Status.ACTIVE
    )
    response = api_post(member_a, token_for, "clusters-api:request-topic", topic_body(cluster_a, "x_auto"))
    assert response.status_code == 400, response.json()
    assert response.json()["field_errors"]["name"] == [
        "team-a.x_auto collides with team-a.x.auto on team-a-dev: Kafka reads '.' and '_' in topic names as one."
    ]
    assert not Request.objects.exists() and Topic.objects.count() == 1


@pytest.mark.parametrize(
    ("first", "second"), [("x.auto", "x_auto"), ("x_auto", "x.auto"), ("x.auto", "x.auto")]
)
def test_a_second_request_for_the_same_kafka_name_is_refused_while_the_first_waits(
    first, second, member_a, cluster_a, token_for
):
    waiting = api_post(member_a, token_for, "clusters-api:request-topic", topic_body(cluster_a, first))
    assert waiting.status_code == 201
    response = api_post(member_a, token_for, "clusters-api:request-topic", topic_body(cluster_a, second))
    assert response.status_code == 400, response.json()
    [message] = response.json()["field_errors"]["name"]
    assert f"request #{waiting.json()['id']}, waiting for approval" in message
    assert Request.objects.count() == 1


def test_submission_checks_names_again_under_the_cluster_lock(member_a, cluster_a):
    """Both prepared before either was saved (as two people at once): the second submission is refused."""
    from django.core.exceptions import ValidationError

    from clusters.requests import services

    first, second = prepare_topic(member_a, cluster_a, "x.auto"), prepare_topic(member_a, cluster_a, "x_auto")
    services.submit_request(actor=member_a, prepared=first)
    with pytest.raises(ValidationError) as refused:
        services.submit_request(actor=member_a, prepared=second)
    assert "collides with team-a.x.auto, requested on team-a-dev" in refused.value.message_dict["name"][0]
    assert Request.objects.count() == 1


def test_approval_refuses_a_name_that_collides_with_a_topic_approved_since(member_a, admin, cluster_a):
    """Requests filed before submission checked collisions: the second approval is a conflict, not a topic
    Kafka would refuse."""
    from clusters.models import Topic
    from clusters.requests import services
    from portal.errors import Conflict

    prepared = prepare_topic(member_a, cluster_a, "x_auto")
    first = services.submit_request(actor=member_a, prepared=prepare_topic(member_a, cluster_a, "x.auto"))
    legacy = Request.objects.create(
        kind=prepared.kind,
        team=prepared.team,
        requested_by=member_a,
        environment="dev",
        summary=prepared.summary,
        payload=prepared.payload,
        cluster=cluster_a,
    )
    services.approve_request(request_id=first.pk, actor=admin)
    with pytest.raises(Conflict) as conflict:
        services.approve_request(request_id=legacy.pk, actor=admin)
    assert "collides with team-a.x.auto on team-a-dev" in conflict.value.message
    assert list(Topic.objects.values_list("name", flat=True)) == ["team-a.x.auto"]


def test_replicated_topics_on_a_read_cluster_count_as_live(member_a, team_a, cluster_a, platform_account):
    from django.core.exceptions import ValidationError

    from clusters.models import Replicator

    read = Cluster.objects.create(
        name="team-a-read",
        team=team_a,
        kind=Cluster.Kind.READ,
        environment="dev",
        account=platform_account,
        region="us-east-1",
        network_profile=cluster_a.network_profile,
        source_cluster=cluster_a,
        status=Cluster.Status.ACTIVE,
    )
    Replicator.objects.create(read_cluster=read, source_cluster=cluster_a, topics=["team-a.orders.v1"])
    with pytest.raises(ValidationError) as refused:
        prepare_topic(member_a, read, "orders_v1")
    assert "collides with team-a.orders.v1 on team-a-read" in refused.value.message_dict["name"][0]


# --- 5. Decommissioning a cluster that carries other teams' topics --------------------------------


@pytest.fixture
def carried(shared_cluster, team_b):
    from clusters.models import Topic

    for name in ("team-b.clicks", "team-b.views"):
        Topic.objects.create(cluster=shared_cluster, team=team_b, name=name, partitions=1, status="active")
    Topic.objects.create(
        cluster=shared_cluster, team=team_b, name="team-b.gone", partitions=1, status="deleted"
    )
    return shared_cluster


def decommission(member, cluster):
    from clusters.requests import services

    prepared = services.prepare_cluster_decommission(actor=member, cluster=cluster, justification="Retired.")
    return services.submit_request(actor=member, prepared=prepared)


def test_the_requester_sees_which_teams_and_topics_go_before_and_after_filing(member_a, carried):
    form = (
        client_for(member_a).get(reverse("clusters:request-decommission", args=[carried.pk])).content.decode()
    )
    assert "Decommissioning takes down other teams' live topics" in form
    assert (
        "Team B: <code>team-b.clicks</code>, <code>team-b.views</code>" in form and "team-b.gone" not in form
    )
    request = decommission(member_a, carried)
    assert request.has_warnings and request.payload["other_teams_topics"] == {
        "Team B": ["team-b.clicks", "team-b.views"]
    }
    page = client_for(member_a).get(reverse("clusters:request-detail", args=[request.pk])).content.decode()
    assert "takes down 2 live topics of 1 other team: Team B: team-b.clicks, team-b.views" in page


def test_approval_is_refused_while_other_teams_topics_remain(member_a, admin, carried, token_for):
    request = decommission(member_a, carried)
    page = client_for(admin).get(reverse("clusters:request-detail", args=[request.pk])).content.decode()
    assert 'name="override_reason"' in page and "Team B: <code>team-b.clicks</code>" in page
    response = client_for(None).post(
        reverse("clusters-api:request-approve", args=[request.pk]),
        {},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token_for(admin)}"},
    )
    assert response.status_code == 409
    assert response.json()["message"] == (
        "team-a-dev still carries 2 live topics of 1 other team: Team B: team-b.clicks, team-b.views. Ask them "
        "to move or delete those topics first, or approve with an override reason (recorded in the request's "
        "history)."
    )
    html = client_for(admin).post(
        reverse("clusters:request-approve", args=[request.pk]), {"override_reason": " "}
    )
    assert html.status_code == 302  # back to the page, with the refusal as a message
    request.refresh_from_db()
    assert request.status == Request.Status.SUBMITTED


def test_an_explicit_override_with_a_reason_approves_and_is_recorded(member_a, admin, carried, token_for):
    from clusters.models import RequestEvent

    request = decommission(member_a, carried)
    response = client_for(None).post(
        reverse("clusters-api:request-approve", args=[request.pk]),
        {"override_reason": "Team B moved to team-b-prod last week; these are leftovers."},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token_for(admin)}"},
    )
    assert response.status_code == 200, response.json()
    event = RequestEvent.objects.get(request=request, to_status="approved")
    assert event.note == (
        "approved over 2 live topics of 1 other team: Team B: team-b.clicks, team-b.views — override: "
        "Team B moved to team-b-prod last week; these are leftovers."
    )
    assert event.data["other_teams_topics"] == {"Team B": ["team-b.clicks", "team-b.views"]}
    assert event.actor_label == "admin"
    assert "override: Team B moved" in response.json()["events"][-1]["note"]


def test_once_the_other_teams_topics_are_gone_no_override_is_needed(member_a, admin, carried):
    from clusters.models import Topic
    from clusters.requests import services

    request = decommission(member_a, carried)
    Topic.objects.filter(team__slug="team-b").update(status="deleted")
    services.approve_request(request_id=request.pk, actor=admin)
    request.refresh_from_db()
    assert request.status == Request.Status.APPROVED


def test_a_rule_never_approves_a_decommission_over_other_teams_topics(member_a, carried):
    from clusters.models import AutoApprovalRule

    AutoApprovalRule.objects.create(name="decommissions", kind="cluster.decommission", require_headroom=False)
    request = decommission(member_a, carried)
    assert request.status == Request.Status.SUBMITTED
    assert "not auto-approved" in request.events.order_by("pk").last().note
