"""A grant's pages show what it gives: a consumer-group prefix typed beside produce alone grants no group (its
IAM policy has no group statement), so neither the request's page nor the cluster's grants table shows one."""

from __future__ import annotations

from django.urls import reverse

from clusters.models import AccessGrant, Request
from tests import builders
from tests.clusters.test_views import PRINCIPAL, topic_data
from tests.conftest import client_for

GROUP_ACTIONS = ("kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup", "kafka-cluster:DeleteGroup")


def _group_statements(policy: dict) -> list[dict]:
    return [
        statement
        for statement in policy["Statement"]
        if set(statement["Action"]) & set(GROUP_ACTIONS) or ":group/" in statement["Resource"]
    ]


def test_producer_only_grant_shows_no_consumer_group_prefix(
    member_a, admin, team_a, cluster, topic, django_capture_on_commit_callbacks
):
    client = client_for(member_a)
    data = {"team": team_a.pk, "cluster": cluster.pk, "topic": topic.pk, "principal_arn": PRINCIPAL}
    response = client.post(
        reverse("clusters:request-new-access"), {**data, "produce": "on", "consumer_group_prefix": "ledger-"}
    )
    assert response.status_code == 302, response.context["form"].errors
    request = Request.objects.get()
    assert _group_statements(request.payload["policy"]) == []  # the policy grants no group
    assert request.payload["consumer_group_prefix"] == ""  # nor is the prefix filed

    page = client.get(response["Location"]).content.decode()
    assert "ledger-" not in page and "Consumer-group prefix" not in page

    builders.approve(request, admin, django_capture_on_commit_callbacks)
    grant = AccessGrant.objects.get()
    assert grant.can_produce and not grant.can_consume and _group_statements(grant.policy) == []
    assert grant.consumer_group_prefix == ""
    cluster_page = client.get(reverse("clusters:cluster-detail", args=[cluster.pk])).content.decode()
    row = cluster_page.split(f'id="grant-{grant.pk}"')[1].split("</tr>")[0]
    assert 'data-label="Consumer groups">—</td>' in row and "ledger-" not in cluster_page

    # A consumer's grant still shows its prefix, where its policy reaches the groups.
    client.post(
        reverse("clusters:request-new-access"), {**data, "consume": "on", "consumer_group_prefix": "ledger-"}
    )
    reader = Request.objects.filter(status=Request.Status.SUBMITTED).get()
    [groups] = _group_statements(reader.payload["policy"])
    assert groups["Resource"].endswith("/ledger-*")
    page = client.get(reverse("clusters:request-detail", args=[reader.pk])).content.decode()
    assert "Consumer-group prefix" in page and "<code>ledger-</code>" in page
    builders.approve(reader, admin, django_capture_on_commit_callbacks)
    consumer = AccessGrant.objects.get(can_consume=True)
    cluster_page = client.get(reverse("clusters:cluster-detail", args=[cluster.pk])).content.decode()
    row = cluster_page.split(f'id="grant-{consumer.pk}"')[1].split("</tr>")[0]
    assert "<code>ledger-*</code>" in row


def test_topic_request_access_rows_show_a_group_prefix_only_for_consumers(member_a, team_a, cluster):
    client = client_for(member_a)
    reader = PRINCIPAL.replace("payments", "audit")
    data = topic_data(
        team_a,
        cluster,
        access_1_principal_arn=PRINCIPAL,
        access_1_produce="on",
        access_1_consumer_group_prefix="writers-",
        access_2_principal_arn=reader,
        access_2_consume="on",
        access_2_consumer_group_prefix="audit-",
    )
    response = client.post(reverse("clusters:request-new-topic"), data)
    assert response.status_code == 302, response.context["form"].errors
    request = Request.objects.get()
    writer_policy, reader_policy = (entry["policy"] for entry in request.payload["access"])
    assert _group_statements(writer_policy) == [] and len(_group_statements(reader_policy)) == 1
    assert [entry["consumer_group_prefix"] for entry in request.payload["access"]] == ["", "audit-"]

    page = client.get(response["Location"]).content.decode()
    table = page.split("Access in the same request")[1].split("</table>")[0]
    assert "writers-" not in table and "audit-" in table
    assert "writers-" not in page  # nor in the policy documents shown for approval


def test_the_api_files_no_group_prefix_for_a_producer(member_a, cluster, topic, token_for):
    client = client_for(None)
    headers = {"Authorization": f"Bearer {token_for(member_a)}"}
    body = {
        "team": "team-a",
        "cluster": cluster.pk,
        "topic": topic.pk,
        "principal_arn": PRINCIPAL,
        "produce": True,
        "consume": False,
        "consumer_group_prefix": "ledger-",
        "justification": "The ledger writes here.",
    }
    response = client.post(
        reverse("clusters-api:request-access"), body, content_type="application/json", headers=headers
    )
    assert response.status_code == 201, response.json()
    assert response.json()["payload"]["consumer_group_prefix"] == ""
    assert Request.objects.get().payload["consumer_group_prefix"] == ""
