"""Every page and API answer carries the Content-Security-Policy and Cache-Control: no-store (they show
people, teams' costs and requests); the browser tests check the UI works under that policy."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse

from tests.conftest import client_for


def _assert_private(response) -> None:
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert response["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY


def test_the_policy_refuses_inline_script_eval_and_framing():
    policy = dict(part.strip().split(" ", 1) for part in settings.CONTENT_SECURITY_POLICY.split(";"))
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert "unsafe" not in settings.CONTENT_SECURITY_POLICY
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("api:me", {}),
        ("api:team-list", {}),
        ("clusters-api:request-list", {}),
        ("billing-api:run-list", {}),
        ("api:team-detail", {"slug": "no-such-team"}),
    ],
)
def test_api_answers_are_not_stored(admin, token_for, name, kwargs):
    response = client_for(None).get(
        reverse(name, kwargs=kwargs), headers={"Authorization": f"Bearer {token_for(admin)}"}
    )
    assert response.status_code in (200, 404)
    _assert_private(response)


@pytest.mark.parametrize("name", ["portal:dashboard", "portal:audit-list", "billing:finance", "login"])
def test_pages_are_not_stored(admin, name):
    response = client_for(admin if name != "login" else None).get(reverse(name))
    assert response.status_code == 200
    _assert_private(response)


def test_an_api_error_answer_is_not_stored_either(db):
    response = client_for(None).get("/api/v1/nothing-here/")
    assert response.status_code == 404
    _assert_private(response)
