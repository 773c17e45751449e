from decimal import Decimal

from django.urls import reverse

from clusters.models import Request, Topic
from tests.conftest import client_for


def api(user, token_for):
    client = client_for(None)
    headers = {"Authorization": f"Bearer {token_for(user)}"}
    return client, headers


def post(client, headers, name, body, **extra_headers):
    return client.post(
        reverse(name), body, content_type="application/json", headers={**headers, **extra_headers}
    )


def topic_body(cluster, **overrides):
    body = {
        "team": "team-a",
        "cluster": cluster.pk,
        "name": "orders",
        "expected_in_mbps": "12",
        "expected_out_mbps": "10",
    }
    body.update(overrides)
    return body


def test_create_list_detail(member_a, cluster_a, token_for):
    client, headers = api(member_a, token_for)
    response = post(client, headers, "clusters-api:request-topic", topic_body(cluster_a))
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["status"] == "submitted" and created["payload"]["partitions"] == 3
    assert created["events"][0]["to_status"] == "submitted"
    listed = client.get(reverse("clusters-api:request-list"), {"status": "submitted"}, headers=headers).json()
    assert [r["id"] for r in listed["results"]] == [created["id"]]
    detail = client.get(reverse("clusters-api:request-detail", args=[created["id"]]), headers=headers)
    assert detail.json()["summary"].startswith("Topic team-a.orders")


def test_field_errors_are_readable(member_a, cluster_a, token_for):
    client, headers = api(member_a, token_for)
    response = post(
        client,
        headers,
        "clusters-api:request-topic",
        topic_body(cluster_a, name="bad name!", partitions=1, retention_ms=-5),
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert "retention_ms" in body["field_errors"]
    response = post(
        client, headers, "clusters-api:request-topic", topic_body(cluster_a, name="bad name!", partitions=1)
    )
    assert set(response.json()["field_errors"]) == {"name", "partitions"}


def test_idempotency_key_replays_and_refuses_reuse(member_a, cluster_a, token_for):
    client, headers = api(member_a, token_for)
    first = post(
        client, headers, "clusters-api:request-topic", topic_body(cluster_a), **{"Idempotency-Key": "k-1"}
    )
    again = post(
        client, headers, "clusters-api:request-topic", topic_body(cluster_a), **{"Idempotency-Key": "k-1"}
    )
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert Request.objects.count() == 1
    other = post(
        client,
        headers,
        "clusters-api:request-topic",
        topic_body(cluster_a, name="other"),
        **{"Idempotency-Key": "k-1"},
    )
    assert other.status_code == 409 and "different request" in other.json()["message"]
    assert Request.objects.count() == 1


def test_approve_reject_cancel_over_the_api(member_a, admin, cluster_a, token_for):
    member, member_headers = api(member_a, token_for)
    admin_client, admin_headers = api(admin, token_for)
    ids = [
        post(member, member_headers, "clusters-api:request-topic", topic_body(cluster_a, name=n)).json()["id"]
        for n in ("one", "two", "three")
    ]

    # The body is JSON (an optional override_reason) or none at all, as on every endpoint.
    approved = admin_client.post(
        reverse("clusters-api:request-approve", args=[ids[0]]),
        content_type="application/json",
        headers=admin_headers,
    )
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    twice = admin_client.post(
        reverse("clusters-api:request-approve", args=[ids[0]]),
        content_type="application/json",
        headers=admin_headers,
    )
    assert twice.status_code == 409 and twice.json()["code"] == "conflict"
    assert Topic.objects.count() == 1

    missing = admin_client.post(
        reverse("clusters-api:request-reject", args=[ids[1]]),
        {},
        content_type="application/json",
        headers=admin_headers,
    )
    assert missing.status_code == 400 and "reason" in missing.json()["field_errors"]
    rejected = admin_client.post(
        reverse("clusters-api:request-reject", args=[ids[1]]),
        {"reason": "Too many"},
        content_type="application/json",
        headers=admin_headers,
    )
    assert rejected.json()["decision_reason"] == "Too many"
    assert (
        member.get(reverse("clusters-api:request-detail", args=[ids[1]]), headers=member_headers).json()[
            "decision_reason"
        ]
        == "Too many"
    )

    not_yours = admin_client.post(
        reverse("clusters-api:request-cancel", args=[ids[2]]), headers=admin_headers
    )
    assert not_yours.status_code == 403
    cancelled = member.post(reverse("clusters-api:request-cancel", args=[ids[2]]), headers=member_headers)
    assert cancelled.json()["status"] == "cancelled"


def test_four_eyes_and_other_teams(member_a, member_b, admin, finance, team_a, cluster_a, token_for):
    from portal.models import Membership

    Membership.objects.create(team=team_a, user=admin)
    admin_client, admin_headers = api(admin, token_for)
    own = post(admin_client, admin_headers, "clusters-api:request-topic", topic_body(cluster_a)).json()["id"]
    refused = admin_client.post(reverse("clusters-api:request-approve", args=[own]), headers=admin_headers)
    assert refused.status_code == 403 and "another admin" in refused.json()["message"]

    for outsider in (member_b, finance):
        client, headers = api(outsider, token_for)
        assert (
            client.get(reverse("clusters-api:request-detail", args=[own]), headers=headers).status_code == 404
        )
        assert (
            client.post(reverse("clusters-api:request-approve", args=[own]), headers=headers).status_code
            == 404
        )
        assert client.get(reverse("clusters-api:request-list"), headers=headers).json()["count"] == 0
    client, headers = api(member_b, token_for)
    response = post(client, headers, "clusters-api:request-topic", topic_body(cluster_a))
    assert response.status_code == 400  # team-a and its cluster are not choices for member_b
    assert set(response.json()["field_errors"]) == {"team", "cluster"}


def test_extreme_but_valid_inputs_do_not_break_the_estimate(member_a, cluster_a, token_for):
    client, headers = api(member_a, token_for)
    body = topic_body(cluster_a, expected_in_mbps="99999.99", partitions=100000, retention_ms=2**63 - 1)
    response = post(client, headers, "clusters-api:request-topic", body)
    assert response.status_code == 400  # over the cluster's quotas, but a readable answer, not a 500
    assert "expected_in_mbps" in response.json()["field_errors"]
    # Within quotas, with retention at Kafka's maximum: saved, with a (huge) storage estimate.
    saved = post(client, headers, "clusters-api:request-topic", topic_body(cluster_a, retention_ms=2**63 - 1))
    assert saved.status_code == 201, saved.json()
    assert Decimal(saved.json()["estimated_monthly_cost"]) > Decimal(10**9)
    too_long = post(client, headers, "clusters-api:request-topic", topic_body(cluster_a, retention_ms=2**63))
    assert too_long.status_code == 400 and "retention_ms" in too_long.json()["field_errors"]


def test_list_filters_are_validated(member_a, token_for):
    client, headers = api(member_a, token_for)
    for query in ({"status": "nope"}, {"status": ""}, {"kind": ""}, {"mine": ""}, {"mine": "maybe"}):
        response = client.get(reverse("clusters-api:request-list"), query, headers=headers)
        assert response.status_code == 400, query
        assert set(response.json()["field_errors"]) == set(query)


def test_mine_keeps_the_callers_requests_of_their_teams(filed_by_several, member_a, token_for):
    client, headers = api(member_a, token_for)
    ids = {request.pk: who for who, request in filed_by_several.items()}

    def listed(query):
        results = client.get(reverse("clusters-api:request-list"), query, headers=headers).json()["results"]
        return {ids[row["id"]] for row in results}

    assert listed({}) == listed({"mine": "false"}) == {"mine", "teammate's"}
    assert listed({"mine": "true"}) == listed({"mine": "on"}) == listed({"mine": "1"}) == {"mine"}


def test_nul_bytes_are_refused_before_the_database(member_a, cluster_a, token_for):
    client, headers = api(member_a, token_for)
    response = post(
        client, headers, "clusters-api:request-access", {"team": "\x00x", "cluster": cluster_a.pk}
    )
    assert response.status_code == 400 and "team" in response.json()["field_errors"]
    memberships = client.get(reverse("api:membership-list"), {"team": "a\x00"}, headers=headers)
    assert memberships.status_code == 400 and "team" in memberships.json()["field_errors"]
