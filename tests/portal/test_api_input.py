"""What the API does with input it cannot use: bodies it cannot parse, fields it does not know, ids the
caller may not see. Every answer is a 400 (or 404) in the one error shape, in words a person understands."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from clusters.models import Request, Topic
from clusters.requests import services
from tests import builders
from tests.conftest import client_for

CREATE_ENDPOINTS = [
    "clusters-api:request-cluster",
    "clusters-api:request-topic",
    "clusters-api:request-topic-update",
    "clusters-api:request-topic-delete",
    "clusters-api:request-access",
    "clusters-api:request-access-revoke",
    "clusters-api:request-decommission",
]

UNPARSEABLE = {
    "nested-arrays": ("[" * 2000, "more than 20 levels deep"),
    "nested-objects": ('{"a":' * 300 + "1" + "}" * 300, "more than 20 levels deep"),
    "nested-under-the-recursion-limit": ("[" * 25 + "]" * 25, "more than 20 levels deep"),
    "huge-number": ('{"partitions": ' + "1" * 5000 + "}", "more than 40 digits"),
    "not-json": ("team=a", "not valid JSON: expecting value at line 1, column 1"),
    "truncated": ('{"team": "team-a"', "not valid JSON"),
    "nan": ('{"expected_in_mbps": NaN}', "NaN is not a number in JSON"),
}


def _api_post(user, token_for, name, body: str | bytes, args=None, **headers):
    client = client_for(None)
    return client.post(
        reverse(name, args=args),
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token_for(user)}", **headers},
    )


def _assert_error_shape(response, status: int = 400) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "field_errors"}
    assert "sys." not in body["message"] and "char " not in body["message"]
    return body


@pytest.mark.parametrize("name", CREATE_ENDPOINTS)
@pytest.mark.parametrize("case", sorted(UNPARSEABLE))
def test_unparseable_bodies_are_a_400_on_every_create(member_a, token_for, name, case):
    raw, expected = UNPARSEABLE[case]
    body = _assert_error_shape(_api_post(member_a, token_for, name, raw))
    assert body["code"] == "parse_error"
    assert expected in body["message"]
    assert Request.objects.count() == 0


@pytest.mark.parametrize("case", ["nested-arrays", "huge-number", "not-json"])
def test_unparseable_bodies_with_an_idempotency_key(member_a, token_for, case):
    raw, expected = UNPARSEABLE[case]
    response = _api_post(member_a, token_for, "clusters-api:request-topic", raw, **{"Idempotency-Key": "k"})
    assert expected in _assert_error_shape(response)["message"]


def test_invalid_utf8_is_a_400(member_a, token_for):
    response = _api_post(member_a, token_for, "clusters-api:request-topic", b'{"name": "\xff\xfe"}')
    assert "not valid utf-8 text" in _assert_error_shape(response)["message"]


@pytest.mark.parametrize("case", sorted(UNPARSEABLE))
def test_unparseable_reject_reason_is_a_400(member_a, admin, team_a, cluster_a, token_for, case):
    from decimal import Decimal

    prepared = services.prepare_topic_create(
        actor=member_a,
        team=team_a,
        cluster=cluster_a,
        name="orders",
        expected_in_mbps=Decimal(1),
        expected_out_mbps=Decimal(1),
    )
    request = services.submit_request(actor=member_a, prepared=prepared)
    raw, expected = UNPARSEABLE[case]
    response = _api_post(admin, token_for, "clusters-api:request-reject", raw, args=[request.pk])
    assert expected in _assert_error_shape(response)["message"]
    request.refresh_from_db()
    assert request.status == Request.Status.SUBMITTED


def test_a_body_over_the_size_limit_is_a_400(member_a, token_for, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = _api_post(member_a, token_for, "clusters-api:request-topic", '{"name": "' + "x" * 2000 + '"}')
    assert "larger than 1,000 bytes" in _assert_error_shape(response)["message"]


def test_a_page_size_with_thousands_of_digits_is_a_400(member_a, token_for):
    client = client_for(None)
    response = client.get(
        reverse("api:team-list"),
        {"page_size": "1" * 5000},
        headers={"Authorization": f"Bearer {token_for(member_a)}"},
    )
    assert "page_size" in _assert_error_shape(response)["field_errors"]


# --- Unknown and fixed fields -------------------------------------------------------------------------


def _topic_body(cluster, **overrides) -> dict:
    body = {
        "team": "team-a",
        "cluster": cluster.pk,
        "name": "orders",
        "expected_in_mbps": "1",
        "expected_out_mbps": "1",
    }
    return {**body, **overrides}


def _json_post(user, token_for, name, body: dict, args=None):
    return _api_post(user, token_for, name, json.dumps(body), args=args)


@pytest.mark.parametrize(
    "extra", [{"configs": {"min.insync.replicas": 3}}, {"min_insync_replicas": 2}, {"non_field_errors": 1}]
)
def test_unknown_fields_are_refused_by_name(member_a, cluster_a, token_for, extra):
    response = _json_post(member_a, token_for, "clusters-api:request-topic", _topic_body(cluster_a, **extra))
    body = _assert_error_shape(response)
    [name] = extra
    assert f"“{name}” is not a field of this request, so it is refused rather than ignored" in body["message"]
    assert "cleanup_policy" in body["message"]  # lists the fields there are
    if name != "non_field_errors":  # that one is the general message, not a field's
        assert list(body["field_errors"]) == [name]
    assert Request.objects.count() == 0


def test_unknown_fields_inside_access_entries_are_refused(member_a, cluster_a, token_for):
    entry = {"principal_arn": "arn:aws:iam::123456789012:role/app", "produce": True, "acls": "ALL"}
    response = _json_post(
        member_a, token_for, "clusters-api:request-topic", _topic_body(cluster_a, access=[entry])
    )
    errors = _assert_error_shape(response)["field_errors"]
    assert list(errors) == ["access"]
    assert errors["access"][0].startswith("#1 acls: “acls” is not a field of this request")


def test_unknown_fields_are_reported_with_the_other_errors(member_a, cluster_a, token_for):
    body = _topic_body(cluster_a, configs={}, partitions=0)
    del body["name"]
    errors = _assert_error_shape(_json_post(member_a, token_for, "clusters-api:request-topic", body))[
        "field_errors"
    ]
    assert set(errors) == {"configs", "partitions", "name"}


def _live_topic(cluster, name: str = "team-a.orders"):
    return Topic.objects.create(cluster=cluster, team=cluster.team, name=name, partitions=3, status="active")


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("cleanup_policy", "compact", "fixed when it is created"),
        ("name", "renamed", "name cannot change"),
        ("cluster", 1, "cannot move to another cluster"),
        ("team", "team-b", "team cannot change"),
    ],
)
def test_fixed_fields_of_a_topic_update_are_refused(member_a, cluster_a, token_for, field, value, words):
    topic = _live_topic(cluster_a)
    body = {"topic": topic.pk, "partitions": 4, field: value}
    response = _json_post(member_a, token_for, "clusters-api:request-topic-update", body)
    errors = _assert_error_shape(response)["field_errors"]
    assert list(errors) == [field] and words in errors[field][0]
    assert Request.objects.count() == 0


def test_the_schema_refuses_unknown_properties_on_every_request_body(admin, token_for):
    client = client_for(admin)
    schema = client.get(reverse("api-schema"), {"format": "json"}).json()
    bodies = [
        operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        for path in schema["paths"].values()
        for operation in path.values()
        if "requestBody" in operation
    ]
    assert len(bodies) >= 8
    components = schema["components"]["schemas"]
    for name in [*bodies, "AccessEntryInputRequest"]:
        assert components[name].get("additionalProperties") is False, name


# --- Messages a person understands ----------------------------------------------------------------

DRF_JARGON = [
    "Invalid pk",
    "object does not exist",
    "Expected a dictionary",
    "Expected a list of items",
    "non_field_errors",
    "Ensure th",
    "Must be a valid",
    "is not a valid choice",
    "A valid integer",
    "A valid number",
    "Incorrect type",
    "Object with",
    "sys.",
    "Invalid data",
    "String value too large",
    "may not be null",
]

BAD_TOPIC_BODIES = {
    "body-is-a-list": [],
    "body-is-a-number": 7,
    "pk-minus-one": {"team": "team-a", "cluster": -1},
    "pk-as-text": {"team": "team-a", "cluster": "abc"},
    "pk-as-object": {"team": "team-a", "cluster": {"id": 1}},
    "access-as-object": {"team": "team-a", "access": {}},
    "access-entry-as-text": {"team": "team-a", "access": ["x"]},
    "access-entry-null": {"team": "team-a", "access": [None]},
    "number-as-text": {"team": "team-a", "partitions": "many", "expected_in_mbps": "fast"},
    "number-too-big": {"team": "team-a", "partitions": 10**30, "expected_in_mbps": "1" * 30},
    "decimal-places": {"team": "team-a", "expected_in_mbps": "1.2345"},
    "bad-choice": {"team": "team-a", "cleanup_policy": "sometimes", "compression_type": 3},
    "nulls": {"team": None, "cluster": None, "name": None},
    "blank": {"team": "", "name": ""},
    "boolean-words": {"team": "team-a", "access": [{"principal_arn": "x", "produce": "perhaps"}]},
    "team-unknown": {"team": "no-such-team"},
    "team-not-a-slug": {"team": "a b\u0000"},
}


@pytest.mark.parametrize("case", sorted(BAD_TOPIC_BODIES))
def test_messages_are_in_plain_words(member_a, cluster_a, token_for, case):
    response = _json_post(member_a, token_for, "clusters-api:request-topic", BAD_TOPIC_BODIES[case])
    body = _assert_error_shape(response)
    text = json.dumps(body, ensure_ascii=False)
    assert not [jargon for jargon in DRF_JARGON if jargon in text], text
    for name, messages in body["field_errors"].items():
        assert messages and all(message.strip() for message in messages), name


def test_the_four_messages_from_the_issue(member_a, cluster_a, token_for):
    post = lambda body: _json_post(member_a, token_for, "clusters-api:request-topic", body).json()  # noqa: E731
    assert post({"team": "team-a", "cluster": -1})["field_errors"]["cluster"] == [
        "No cluster with id -1 that you can use."
    ]
    assert post([])["message"] == "The request body must be a JSON object ({…}) of fields."
    assert post({"access": {}})["field_errors"]["access"] == ["Must be a list of objects ([{…}, …])."]
    huge = _api_post(member_a, token_for, "clusters-api:request-topic", '{"partitions": ' + "9" * 4400 + "}")
    assert huge.json()["message"] == "A number in the request body has more than 40 digits."
    choice = post({"cleanup_policy": "sometimes"})["field_errors"]["cleanup_policy"]
    assert choice == ["Choose one of: delete, compact."]


def test_missing_and_unauthenticated_answers_say_what_to_do(member_a, token_for):
    client = client_for(None)
    anonymous = client.get(reverse("clusters-api:request-list"))
    assert anonymous.status_code == 401 and "Bearer" in anonymous.json()["message"]
    assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    form = client.post(
        reverse("clusters-api:request-topic"),
        "a=b",
        content_type="text/plain",
        headers={"Authorization": f"Bearer {token_for(member_a)}"},
    )
    assert form.status_code == 415 and "application/json" in form.json()["message"]


# --- An id the caller may not see answers exactly as one that does not exist --------------------------


def _same_answer_before_and_after_deleting(send, obj) -> None:
    """`send()` about `obj` gives byte for byte the same answer as once `obj` no longer exists."""
    hidden = send()
    type(obj).objects.filter(pk=obj.pk).delete()
    missing = send()
    assert hidden.status_code == missing.status_code == 400
    assert hidden.content == missing.content, (hidden.content, missing.content)


def test_another_teams_topic_answers_as_a_missing_one(member_b, team_b, cluster_a, token_for):
    cluster_a.shared_with.add(team_b)  # the cluster is visible to team B, its topics of team A are not
    topic = _live_topic(cluster_a)
    for name, body in [
        ("clusters-api:request-topic-delete", {"topic": topic.pk, "justification": "not needed"}),
        ("clusters-api:request-topic-update", {"topic": topic.pk, "partitions": 6}),
    ]:
        answer = _json_post(member_b, token_for, name, body)
        assert answer.status_code == 400
        assert answer.json()["field_errors"] == {"topic": [f"No topic with id {topic.pk} that you can use."]}
    _same_answer_before_and_after_deleting(
        lambda: _json_post(
            member_b,
            token_for,
            "clusters-api:request-topic-delete",
            {"topic": topic.pk, "justification": "not needed"},
        ),
        topic,
    )


def test_another_teams_grant_cluster_and_account_answer_as_missing_ones(
    member_b, team_a, cluster_a, platform_account, token_for
):
    from clusters.models import AccessGrant, Cluster

    grant = AccessGrant.objects.create(
        cluster=cluster_a, team=team_a, principal_arn="arn:aws:iam::123456789012:role/app", can_produce=True
    )
    _same_answer_before_and_after_deleting(
        lambda: _json_post(member_b, token_for, "clusters-api:request-access-revoke", {"grant": grant.pk}),
        grant,
    )
    spare = Cluster.objects.create(
        name="team-a-spare",
        team=team_a,
        kind="dedicated",
        environment="dev",
        account=cluster_a.account,
        region="us-east-1",
        network_profile=cluster_a.network_profile,
    )
    _same_answer_before_and_after_deleting(
        lambda: _json_post(
            member_b,
            token_for,
            "clusters-api:request-decommission",
            {"cluster": spare.pk, "justification": "gone"},
        ),
        spare,
    )
    team_account = builders.aws_account("210987654321", name="Team A's own", ownership="team", team=team_a)
    body = {
        "team": "team-b",
        "name": "b-dev",
        "kind": "dedicated",
        "environment": "dev",
        "account": team_account.pk,
        "region": "us-east-1",
        "network_profile": cluster_a.network_profile_id,
        "expected_write_mbps": "1",
        "expected_read_mbps": "1",
        "contains_pii": False,
        "latency_class": "standard",
        "justification": "x",
    }
    _same_answer_before_and_after_deleting(
        lambda: _json_post(member_b, token_for, "clusters-api:request-cluster", body), team_account
    )
