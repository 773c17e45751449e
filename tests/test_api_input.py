"""What the API does with input it cannot use: bodies it cannot parse, fields it does not know, ids the
caller may not see. Every answer is a 400 (or 404) in the one error shape, in words a person understands."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clusters import services
from clusters.models import Request
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
        actor=member_a, team=team_a, cluster=cluster_a, name="orders",
        expected_in_mbps=Decimal(1), expected_out_mbps=Decimal(1),
    )  # fmt: skip
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
