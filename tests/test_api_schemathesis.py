"""Property-based tests of the REST API against its own OpenAPI schema (schemathesis 4).

The schema served at /api/schema/ is loaded from the Django WSGI app in-process; every operation
in it becomes one test per persona (a team member and a platform admin, each with a personal API
token). For each operation schemathesis sends a bounded number of generated requests (examples,
coverage and fuzzing phases, valid and invalid input) and every response must:

- not be a server error (5xx);
- match the documented response schema and content type for its status code;
- answer only with status codes the schema documents;
- reject input that violates the schema (e.g. a malformed `page_size`) with a 4xx;
- need the token: the same request without it, or with a made-up one, must get 401/403.

`make test` runs all three phases (the coverage phase alone is ~2,200 boundary, wrong-type, missing-field
and unexpected-method requests). `make test-fast` (the "fast" Hypothesis profile, tests/conftest.py) runs
the examples and a tenth of the fuzzing, and leaves the coverage phase to `make test`.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from portal import access, services
from portal.models import User
from portal.wsgi import application
from tests import builders
from tests.conftest import HYPOTHESIS_PROFILE, examples

SCHEMA_PATH = "/api/schema/?format=json"
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    status_code_conformance,
    negative_data_rejection,
    ignored_auth,
]
# Slugs of the teams the fixtures create, mixed into generated input so that lookups also hit
# real rows (200 answers with bodies to validate), not only random strings (404).
KNOWN_SLUGS = ["team-a", "team-b"]

schema = schemathesis.openapi.from_wsgi(SCHEMA_PATH, application)
if HYPOTHESIS_PROFILE == "fast":
    schema.config.phases.update(phases=["examples", "fuzzing"])


@schema.hook
def before_generate_path_parameters(context, strategy):
    if context.operation is not None and "{slug}" in context.operation.path:
        return st.one_of(strategy, st.fixed_dictionaries({"slug": st.sampled_from(KNOWN_SLUGS)}))
    return strategy


@schema.hook
def before_generate_query(context, strategy):
    if context.operation is not None and any(p.name == "team" for p in context.operation.query):
        known = st.fixed_dictionaries({"team": st.sampled_from(KNOWN_SLUGS)})
        return st.one_of(strategy, known)
    return strategy


@pytest.fixture
def in_process_requests(db):
    """Keep the test's transaction open while the WSGI app handles requests.

    Django closes "unusable" connections at the start and end of every request, and a
    connection inside the test transaction counts as one. Its test client disconnects these
    handlers too; schemathesis calls the WSGI app directly, so do the same here.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(params=["member", "admin"])
def persona(request, member_a, member_b, admin) -> User:
    return {"member": member_a, "admin": admin}[request.param]


@pytest.fixture
def auth_headers(persona, in_process_requests) -> dict[str, str]:
    _, raw_key = services.api_token_create(user=persona, name="schemathesis")
    return {"Authorization": f"Bearer {raw_key}"}


@schema.parametrize()
@settings(
    max_examples=examples(25),
    deadline=None,
    database=None,
    # One database transaction (the function-scoped `db` fixture) for all examples of a test.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_api_conforms_to_its_schema(case, auth_headers):
    response = case.call_and_validate(headers=auth_headers, checks=CHECKS)
    assert response.status_code != 401, "a valid API token was rejected"


def test_token_authenticates_the_schema_requests(auth_headers, persona):
    """The fuzzing above really runs as the persona (not as anonymous, which would also be 'valid')."""
    case = schema["/api/v1/me/"]["GET"].Case()
    response = case.call_and_validate(headers=auth_headers, checks=CHECKS)
    assert response.status_code == 200
    assert response.json()["username"] == persona.username


@pytest.mark.parametrize(
    ("path", "path_parameters", "query"),
    [
        pytest.param("/api/v1/teams/", {}, {}, id="teams"),
        pytest.param("/api/v1/teams/{slug}/", {"slug": "team-a"}, {}, id="team-detail"),
        pytest.param("/api/v1/memberships/", {}, {}, id="memberships"),
        pytest.param("/api/v1/memberships/", {}, {"team": "team-a"}, id="memberships-of-team"),
    ],
)
def test_known_good_requests_conform(auth_headers, path, path_parameters, query):
    """Real rows in the answer, so the response schemas are checked against data, not empty lists."""
    case = schema[path]["GET"].Case(path_parameters=path_parameters, query=query)
    response = case.call_and_validate(headers=auth_headers, checks=CHECKS)
    assert response.status_code == 200
    body = response.json()
    if path_parameters:
        assert body["slug"] == path_parameters["slug"]
    else:
        assert body["count"] >= 1


def test_a_bulk_decision_conforms(auth_headers, persona, member_a, cluster_a):
    """A decision with real requests in it (one decided, one missing): the answer's lists are checked
    against the schema with entries in them, not only the empty lists random ids give."""
    request = builders.topic_request(member_a, cluster_a, "fuzzed")
    case = schema["/api/v1/requests/decisions/"]["POST"].Case(
        body={"ids": [request.pk, request.pk + 1000], "decision": "approve"}
    )
    response = case.call_and_validate(headers=auth_headers, checks=CHECKS)
    if access.is_platform_admin(persona):
        assert response.status_code == 200
        assert response.json()["approved"] == [request.pk]
        assert response.json()["skipped"] == [{"id": request.pk + 1000, "reason": "No such request."}]
    else:
        assert response.status_code == 403
