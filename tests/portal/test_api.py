import pytest
from django.urls import resolve, reverse

from portal.models import Team
from tests.conftest import client_for


def _api(user, token_for):
    client = client_for(None)
    return client, {"Authorization": f"Bearer {token_for(user)}"}


def test_me_describes_the_user(member_a, token_for):
    client, headers = _api(member_a, token_for)
    body = client.get(reverse("api:me"), headers=headers).json()
    assert body["username"] == "member_a"
    assert body["role"] == "member"
    assert body["is_platform_admin"] is False
    assert body["teams"] == [{"slug": "team-a", "name": "Team A"}]


def test_session_auth_works_for_the_browser(member_a):
    assert client_for(member_a).get(reverse("api:me")).json()["username"] == "member_a"


def test_team_list_is_scoped_and_paginated(member_a, admin, team_b, token_for):
    for n in range(3):
        Team.objects.create(
            name=f"Extra {n}", slug=f"extra-{n}", cost_center="CC", contact_email="x@example.com"
        )
    client, headers = _api(member_a, token_for)
    body = client.get(reverse("api:team-list"), headers=headers).json()
    assert body["count"] == 1 and [t["slug"] for t in body["results"]] == ["team-a"]
    client, headers = _api(admin, token_for)
    page = client.get(reverse("api:team-list"), {"page_size": 2}, headers=headers).json()
    assert page["count"] == 5 and len(page["results"]) == 2 and page["next"]


def test_membership_filter_by_team(admin, member_a, member_b, token_for):
    client, headers = _api(admin, token_for)
    body = client.get(reverse("api:membership-list"), {"team": "team-b"}, headers=headers).json()
    assert [m["username"] for m in body["results"]] == ["member_b"]
    # A team the user does not see matches nothing, as one that does not exist.
    client, headers = _api(member_a, token_for)
    for slug in ("team-b", "no-such-team"):
        body = client.get(reverse("api:membership-list"), {"team": slug}, headers=headers).json()
        assert body["count"] == 0, slug


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not a slug!", "team: Use only letters, digits, hyphens and underscores."),
        ("", "team: Leave the parameter out or choose a value."),
        ("x" * 41, "team: At most 40 characters."),
    ],
)
def test_membership_filter_refuses_a_bad_team_in_the_error_shape(member_a, token_for, value, message):
    client, headers = _api(member_a, token_for)
    response = client.get(reverse("api:membership-list"), {"team": value}, headers=headers)
    assert response.status_code == 400
    assert response.json() == {"code": "invalid", "message": message, "field_errors": {"team": [message[6:]]}}


def test_errors_have_one_shape(member_b, team_a, token_for):
    client, headers = _api(member_b, token_for)
    not_found = client.get(reverse("api:team-detail", args=[team_a.slug]), headers=headers)
    assert not_found.status_code == 404
    assert set(not_found.json()) == {"code", "message", "field_errors"}
    assert not_found.json()["code"] == "not_found"

    unauthenticated = client_for(None).get(reverse("api:me"))
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["code"] == "not_authenticated"
    assert unauthenticated.headers["WWW-Authenticate"].startswith("Bearer")

    bad_page = client.get(reverse("api:team-list"), {"page": "999"}, headers=headers)
    assert bad_page.status_code == 404 and bad_page.json()["code"] == "not_found"

    malformed = client_for(None).get(reverse("api:me"), headers={"Authorization": "Bearer"})
    assert malformed.status_code == 401


def test_unknown_api_url_answers_json(member_a):
    response = client_for(member_a).get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_write_methods_are_not_allowed_on_read_only_endpoints(member_a, token_for):
    client, headers = _api(member_a, token_for)
    response = client.post(reverse("api:team-list"), {}, content_type="application/json", headers=headers)
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_validation_errors_carry_field_errors():
    from rest_framework import serializers

    from portal.api.errors import exception_handler

    response = exception_handler(
        serializers.ValidationError({"name": ["Too long."], "non_field_errors": ["Nope."]}), {}
    )
    assert response.status_code == 400
    assert response.data == {"code": "invalid", "message": "Nope.", "field_errors": {"name": ["Too long."]}}


def test_schema_lists_the_endpoints(client):
    response = client.get(reverse("api-schema"), {"format": "json"})
    paths = response.json()["paths"]
    assert {"/api/v1/me/", "/api/v1/teams/", "/api/v1/teams/{slug}/", "/api/v1/memberships/"} <= set(paths)
    assert "apiToken" in response.json()["components"]["securitySchemes"]


def test_docs_page_uses_bundled_assets(client):
    page = client.get(reverse("api-docs")).content.decode()
    assert "swagger-ui" in page
    assert "cdn.jsdelivr" not in page and "unpkg" not in page


def test_bad_page_size_is_a_field_error(member_a, token_for):
    client, headers = _api(member_a, token_for)
    for bad in ("0", "-1", "abc", "501"):
        response = client.get(reverse("api:team-list"), {"page_size": bad}, headers=headers)
        assert response.status_code == 400
        assert response.json()["field_errors"] == {"page_size": ["Must be a whole number from 1 to 500."]}


def test_an_empty_page_number_is_refused(member_a, token_for):
    client, headers = _api(member_a, token_for)
    response = client.get(reverse("api:team-list"), {"page": ""}, headers=headers)
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_schema_generates_without_warnings():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
    )
    assert result.returncode == 0, result.stderr


def _filterset_of(path: str):
    """The FilterSet of the view that answers GET `path` of the schema (None when it has none)."""
    concrete = path.replace("{month}", "2026-10").replace("{slug}", "team-a")
    concrete = concrete.replace("{id}", "1").replace("{pk}", "1")
    return getattr(resolve(concrete).func.cls, "filterset_class", None)


def test_every_list_filter_is_a_filterset_and_the_schema_documents_it(client):
    """No list parses its query string by hand: each query parameter of the schema (beside the pager's)
    is a filter of the view's FilterSet, with its help text, and each filter is in the schema."""
    schema = client.get(reverse("api-schema"), {"format": "json"}).json()
    documented = {}
    for path, operations in schema["paths"].items():
        if "get" not in operations:
            continue
        query = {
            parameter["name"]: parameter.get("description", "")
            for parameter in operations["get"].get("parameters", [])
            if parameter["in"] == "query" and parameter["name"] not in {"page", "page_size"}
        }
        filterset = _filterset_of(path)
        filters = filterset.base_filters if filterset else {}
        assert set(query) == set(filters), path
        for name, description in query.items():
            help_text = filters[name].extra.get("help_text")
            assert not help_text or description.startswith(str(help_text)), (path, name)
        documented[path] = set(query)
    assert documented["/api/v1/memberships/"] == {"team"}
    assert documented["/api/v1/billing/runs/{month}/lines/"] == {"team"}
    assert documented["/api/v1/requests/"] == {"status", "kind", "team", "mine"}
