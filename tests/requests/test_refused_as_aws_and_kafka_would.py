"""Requests AWS, Kafka or the platform would refuse later are refused when they are filed, with a field
error a person understands (issue 11), through the API and the forms alike."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clusters.models import Cluster, NetworkProfile, Request
from tests.conftest import client_for

ROLE = "arn:aws:iam::123456789012:role/orders-service"


def api_post(user, token_for, name, body):
    return client_for(None).post(
        reverse(name), body, content_type="application/json",
        headers={"Authorization": f"Bearer {token_for(user)}"},
    )  # fmt: skip


def access_body(cluster, **overrides):
    body = {"team": "team-a", "cluster": cluster.pk, "topic_prefix": "team-a.", "principal_arn": ROLE,
            "produce": True, "consume": False}  # fmt: skip
    body.update(overrides)
    return body


@pytest.fixture
def eu_cluster(team_a, platform_account):
    profile = NetworkProfile.objects.create(
        account=platform_account, region="eu-west-1", name="eu-vpc", vpc_id="vpc-0123456789abcdef1",
        subnets=[{"id": "subnet-0123456789abcdef2", "az": "eu-west-1a"},
                 {"id": "subnet-0123456789abcdef3", "az": "eu-west-1b"}],
    )  # fmt: skip
    return Cluster.objects.create(
        name="team-a-eu", team=team_a, kind=Cluster.Kind.DEDICATED, environment="dev", account=platform_account,
        region="eu-west-1", network_profile=profile, status=Cluster.Status.ACTIVE,
        arn="arn:aws:kafka:eu-west-1:123456789012:cluster/team-a-eu/5a1e0c3e-0000-4f00-9a7b-000000000001-s1",
    )  # fmt: skip


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
    response = api_post(member_a, token_for, "clusters-api:request-access",
                        access_body(eu_cluster, principal_arn=arn))  # fmt: skip
    assert response.status_code == 400, response.json()
    assert any(says in message for message in response.json()["field_errors"]["principal_arn"])
    assert not Request.objects.exists()


@pytest.mark.parametrize("case", sorted(BAD_ARNS))
def test_known_bad_role_arns_are_a_field_error_on_combined_topic_requests(
    case, member_a, eu_cluster, token_for
):
    arn, says = BAD_ARNS[case]
    body = {"team": "team-a", "cluster": eu_cluster.pk, "name": "orders", "expected_in_mbps": "1",
            "expected_out_mbps": "1", "access": [{"principal_arn": arn, "produce": True}]}  # fmt: skip
    response = api_post(member_a, token_for, "clusters-api:request-topic", body)
    assert response.status_code == 400, response.json()
    assert any(says in message for message in response.json()["field_errors"]["access"])


def test_known_bad_role_arn_is_shown_under_the_principal_field_of_the_form(member_a, eu_cluster):
    response = client_for(member_a).post(reverse("clusters:request-new-access"), {
        "team": eu_cluster.team_id, "cluster": eu_cluster.pk, "topic_prefix": "team-a.",
        "principal_arn": BAD_ARNS["full-width digits"][0], "produce": "on",
    })  # fmt: skip
    assert response.status_code == 200
    assert "only ASCII" in " ".join(response.context["form"].errors["principal_arn"])
    assert not Request.objects.exists()


# --- 2. Roles in AWS accounts the portal cannot reach ---------------------------------------------


def test_a_role_in_an_unknown_account_is_refused_when_filed(member_a, cluster_a, token_for):
    response = api_post(member_a, token_for, "clusters-api:request-access",
                        access_body(cluster_a, principal_arn="arn:aws:iam::999999999999:role/outsider"))  # fmt: skip
    assert response.status_code == 400, response.json()
    [message] = response.json()["field_errors"]["principal_arn"]
    assert "account 999999999999 (an account the portal does not know)" in message
    assert "only grants access to roles in the cluster's own account" in message


def test_a_role_in_another_registered_account_is_refused_too_and_named(
    member_a, team_a, cluster_a, token_for
):
    from clusters.models import AwsAccount

    AwsAccount.objects.create(name="Team A own", account_id="210987654321", ownership="team", team=team_a,
                              role_arn="arn:aws:iam::210987654321:role/msk-portal")  # fmt: skip
    body = {"team": "team-a", "cluster": cluster_a.pk, "name": "orders", "expected_in_mbps": "1",
            "expected_out_mbps": "1",
            "access": [{"principal_arn": "arn:aws:iam::210987654321:role/app", "produce": True}]}  # fmt: skip
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
