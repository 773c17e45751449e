"""POST /api/v1/requests/decisions/: the approval queue's bulk decision (`services.decide_many`) over the
REST API, for automation that would otherwise call approve or reject once per request."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from clusters.models import IdempotencyKey, Request, RequestEvent
from clusters.requests import services
from portal.models import Membership, User
from tests import builders
from tests.clusters.requests.test_api import api
from tests.clusters.requests.test_bulk_decisions import (  # noqa: F401  (fixtures)
    CARRIED,
    carried,
    needs_override,
    shared_cluster,
    statuses,
    topics,
)
from tests.conftest import client_for, make_user

URL = "/api/v1/requests/decisions/"


def decide(user, token_for, body, **headers):
    client, auth = api(user, token_for)
    return client.post(URL, body, content_type="application/json", headers={**auth, **headers})


def ids_of(requests: list[Request]) -> list[int]:
    return [request.pk for request in requests]


def test_the_url_fits_the_request_endpoints():
    assert reverse("clusters-api:request-decisions") == URL


def test_approve_many(admin, member_a, cluster_a, token_for):
    requests = topics(member_a, cluster_a, 5)
    response = decide(admin, token_for, {"ids": ids_of(requests), "decision": "approve"})
    assert response.status_code == 200, response.json()
    assert response.json() == {"approved": ids_of(requests), "rejected": [], "skipped": []}
    assert "Idempotent-Replayed" not in response.headers
    assert statuses(requests) == [Request.Status.APPROVED] * 5
    for request in requests:
        event = RequestEvent.objects.filter(request=request).last()
        assert (event.to_status, event.actor) == (Request.Status.APPROVED, admin)


def test_reject_many_with_one_reason(admin, member_a, cluster_a, token_for):
    requests = topics(member_a, cluster_a, 3)
    body = {"ids": ids_of(requests), "decision": "reject", "reason": "  One topic per domain, please. "}
    response = decide(admin, token_for, body)
    assert response.status_code == 200
    assert response.json() == {"approved": [], "rejected": ids_of(requests), "skipped": []}
    assert statuses(requests) == [Request.Status.REJECTED] * 3
    assert {Request.objects.get(pk=r.pk).decision_reason for r in requests} == {
        "One topic per domain, please."
    }


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_rejection_without_a_reason_is_a_field_error(admin, member_a, cluster_a, token_for, reason):
    requests = topics(member_a, cluster_a, 2)
    body = {"ids": ids_of(requests), "decision": "reject"}
    if reason is not None:
        body["reason"] = reason
    response = decide(admin, token_for, body)
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": f"reason: {services.REASON_REQUIRED}",
        "field_errors": {"reason": [services.REASON_REQUIRED]},
    }
    assert statuses(requests) == [Request.Status.SUBMITTED] * 2


def test_every_error_comes_at_once(admin, token_for):
    response = decide(admin, token_for, {"ids": ["x"], "decision": "reject", "reason": "x" * 4001})
    assert response.status_code == 400
    assert set(response.json()["field_errors"]) == {"ids", "reason"}
    missing = decide(admin, token_for, {"ids": [1, 0], "decision": "reject"})
    assert missing.json()["field_errors"] == {
        "ids": [
            "Not a request id: 0 (entry 2). Give ids as whole numbers from 1 to 2,147,483,647, such as 12."
        ],
        "reason": [services.REASON_REQUIRED],
    }


def test_an_approval_takes_no_reason(admin, member_a, cluster_a, token_for):
    requests = topics(member_a, cluster_a, 1)
    response = decide(admin, token_for, {"ids": ids_of(requests), "decision": "approve", "reason": "Fine."})
    assert response.status_code == 400 and list(response.json()["field_errors"]) == ["reason"]
    assert "Only a rejection takes a reason" in response.json()["message"]
    assert statuses(requests) == [Request.Status.SUBMITTED]
    blank = decide(admin, token_for, {"ids": ids_of(requests), "decision": "approve", "reason": ""})
    assert blank.status_code == 200


def test_mixed_outcomes_skip_with_the_reason_a_single_decision_gives(
    admin, member_a, team_a, cluster_a, token_for
):
    done, other = topics(member_a, cluster_a, 2)
    services.approve_request(request_id=done.pk, actor=make_user("admin2", role=User.Role.PLATFORM_ADMIN))
    Membership.objects.create(team=team_a, user=admin)
    own = builders.topic_request(admin, cluster_a, "mine")
    missing = own.pk + 100
    response = decide(admin, token_for, {"ids": [done.pk, other.pk, own.pk, missing], "decision": "approve"})
    assert response.status_code == 200
    assert response.json() == {
        "approved": [other.pk],
        "rejected": [],
        "skipped": [
            {"id": done.pk, "reason": f"Request #{done.pk} is already approved."},
            {
                "id": own.pk,
                "reason": "You cannot approve or reject a request you submitted; another admin must decide.",
            },
            {"id": missing, "reason": "No such request."},
        ],
    }
    assert statuses([done, other, own]) == [
        Request.Status.APPROVED,
        Request.Status.APPROVED,
        Request.Status.SUBMITTED,
    ]


@pytest.mark.parametrize("role", ["anonymous", "member_a", "member_b", "finance", "admin"])
def test_only_platform_admins_decide(role, personas, member_a, cluster_a, token_for):
    requests = topics(member_a, cluster_a, 2)
    body = {"ids": ids_of(requests), "decision": "approve"}
    user = personas.get(role)
    if user is None:
        response = client_for(None).post(URL, body, content_type="application/json")
        assert response.status_code == 401 and response.json()["code"] == "not_authenticated"
    else:
        response = decide(user, token_for, body)
        expected = 200 if role == "admin" else 403
        assert response.status_code == expected, response.json()
    decided = Request.Status.APPROVED if role == "admin" else Request.Status.SUBMITTED
    assert statuses(requests) == [decided] * 2
    if role not in {"anonymous", "admin"}:
        assert response.json() == {
            "code": "permission_denied",
            "message": "Only platform admins approve or reject requests.",
            "field_errors": {},
        }
        # Refused before the body is read: a member learns nothing about it, garbage or not.
        assert decide(user, token_for, {"ids": "garbage"}).status_code == 403


def test_a_retry_with_the_same_key_replays_the_answer_and_decides_nothing_twice(
    admin, member_a, cluster_a, token_for, django_capture_on_commit_callbacks
):
    requests = topics(member_a, cluster_a, 3)
    body = {"ids": ids_of(requests), "decision": "approve"}
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        first = decide(admin, token_for, body, **{"Idempotency-Key": "migration-batch-7"})
    events = RequestEvent.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        again = decide(admin, token_for, body, **{"Idempotency-Key": "migration-batch-7"})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() == {"approved": ids_of(requests), "rejected": [], "skipped": []}
    assert again.headers["Idempotent-Replayed"] == "true"
    assert RequestEvent.objects.count() == events
    assert len(mail.outbox) == 1  # the digest of the first attempt only
    # Another body with the key: refused; without a key a retry decides again, and skips what is decided.
    other = decide(
        admin, token_for, {**body, "ids": ids_of(requests)[:1]}, **{"Idempotency-Key": "migration-batch-7"}
    )
    assert other.status_code == 409 and "different request" in other.json()["message"]
    unkeyed = decide(admin, token_for, body)
    assert unkeyed.json()["approved"] == [] and len(unkeyed.json()["skipped"]) == 3
    assert RequestEvent.objects.count() == events
    # The key stands for the answer alone: a bulk decision files no request.
    assert IdempotencyKey.objects.get(key="migration-batch-7").request_id is None
    # A key first used to file a request is not a decision's key (keys are per user: the admin's own).
    Membership.objects.create(team=cluster_a.team, user=admin)
    client, headers = api(admin, token_for)
    filed = client.post(
        reverse("clusters-api:request-topic"),
        {
            "team": "team-a",
            "cluster": cluster_a.pk,
            "name": "keyed",
            "expected_in_mbps": "1",
            "expected_out_mbps": "1",
        },
        content_type="application/json",
        headers={**headers, "Idempotency-Key": "shared"},
    )
    assert filed.status_code == 201
    reused = decide(admin, token_for, body, **{"Idempotency-Key": "shared"})
    assert reused.status_code == 409 and "different request" in reused.json()["message"]
    assert RequestEvent.objects.count() == events + 1  # the filing's own event only


def test_a_refused_attempt_stores_nothing_under_its_key(admin, member_a, cluster_a, token_for):
    requests = topics(member_a, cluster_a, 1)
    bad = decide(
        admin, token_for, {"ids": ids_of(requests), "decision": "reject"}, **{"Idempotency-Key": "k"}
    )
    assert bad.status_code == 400 and not IdempotencyKey.objects.exists()
    member = decide(
        member_a, token_for, {"ids": ids_of(requests), "decision": "approve"}, **{"Idempotency-Key": "k"}
    )
    assert member.status_code == 403 and not IdempotencyKey.objects.exists()
    invalid_key = decide(
        admin, token_for, {"ids": ids_of(requests), "decision": "approve"}, **{"Idempotency-Key": " "}
    )
    assert invalid_key.status_code == 400 and invalid_key.json()["code"] == "invalid_idempotency_key"
    assert statuses(requests) == [Request.Status.SUBMITTED]


def test_more_than_fifty_is_refused(admin, member_a, cluster_a, token_for):
    requests = topics(member_a, cluster_a, 1)
    response = decide(
        admin, token_for, {"ids": [requests[0].pk, *range(10**6, 10**6 + 50)], "decision": "approve"}
    )
    assert response.status_code == 400
    assert response.json()["field_errors"] == {
        "ids": ["At most 50 request ids at a time (one page of the approval queue); this list has 51."]
    }
    repeated = decide(admin, token_for, {"ids": [requests[0].pk] * 51, "decision": "approve"})
    assert repeated.status_code == 400  # the limit counts the list as sent, as the schema's maxItems says
    flood = decide(admin, token_for, {"ids": list(range(1, 10_001)), "decision": "approve"})
    assert flood.status_code == 400
    assert flood.json()["field_errors"]["ids"] == [
        "At most 50 request ids at a time (one page of the approval queue); this list has 10,000."
    ]
    assert statuses(requests) == [Request.Status.SUBMITTED]


def test_a_repeated_id_is_decided_once_and_listed_once(admin, member_a, cluster_a, token_for):
    first, second = topics(member_a, cluster_a, 2)
    ids = [first.pk, second.pk, first.pk, first.pk]
    response = decide(admin, token_for, {"ids": ids, "decision": "approve"})
    assert response.json() == {"approved": [first.pk, second.pk], "rejected": [], "skipped": []}
    assert RequestEvent.objects.filter(request=first, to_status=Request.Status.APPROVED).count() == 1


GARBAGE = {
    "not an object": (
        [1, 2],
        {"non_field_errors"},
        "The request body must be a JSON object ({…}) of fields.",
    ),
    "ids not a list": ({"ids": 12, "decision": "approve"}, {"ids"}, "ids: Must be a list ([…])."),
    "ids as text": ({"ids": "1,2", "decision": "approve"}, {"ids"}, "ids: Must be a list ([…])."),
    "ids an object": ({"ids": {"1": 1}, "decision": "approve"}, {"ids"}, "ids: Must be a list ([…])."),
    "ids empty": ({"ids": [], "decision": "approve"}, {"ids"}, "ids: Must not be empty."),
    "ids null": (
        {"ids": None, "decision": "approve"},
        {"ids"},
        "ids: Give a value: it may not be empty or null.",
    ),
    "ids missing": ({"decision": "approve"}, {"ids"}, "ids: This field is required."),
    "strings, floats, booleans, zero, too large, lists": (
        {"ids": ["12", 3.0, True, 0, 2**31, [1], 5], "decision": "approve"},
        {"ids"},
        'ids: Not a request id: "12" (entry 1), 3.0 (entry 2), true (entry 3), 0 (entry 4), 2147483648 (entry 5) '
        "and 1 more. Give ids as whole numbers from 1 to 2,147,483,647, such as 12.",
    ),
    "decision missing": ({"ids": [1]}, {"decision"}, "decision: This field is required."),
    "decision unknown": (
        {"ids": [1], "decision": "delete"},
        {"decision"},
        "decision: Choose one of: approve, reject.",
    ),
    "decision not text": (
        {"ids": [1], "decision": True},
        {"decision"},
        "decision: Choose one of: approve, reject.",
    ),
    "reason too long": (
        {"ids": [1], "decision": "reject", "reason": "x" * 4001},
        {"reason"},
        "reason: At most 4000 characters.",
    ),
    "reason not text": (
        {"ids": [1], "decision": "reject", "reason": ["no"]},
        {"reason"},
        "reason: Must be text.",
    ),
    "unknown field": (
        {"ids": [1], "decision": "approve", "override_reason": "x"},
        {"override_reason"},
        "override_reason: “override_reason” is not a field of this request, so it is refused rather than "
        "ignored. The fields are: decision, ids, reason.",
    ),
}


@pytest.mark.parametrize("case", GARBAGE)
def test_garbage_is_refused_in_words_never_a_500(admin, member_a, cluster_a, token_for, case):
    body, fields, message = GARBAGE[case]
    response = decide(admin, token_for, body)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert set(response.json()["field_errors"]) == fields - {"non_field_errors"}
    assert response.json()["message"] == message


def test_not_json_is_a_parse_error(admin, token_for):
    client, headers = api(admin, token_for)
    response = client.post(URL, "ids=1", content_type="application/json", headers=headers)
    assert response.status_code == 400 and response.json()["code"] == "parse_error"


def test_each_requester_gets_one_mail_as_from_the_page(
    admin,
    member_a,
    member_b,
    team_b,
    cluster_a,
    network_profile,
    token_for,
    django_capture_on_commit_callbacks,
):
    cluster_b = builders.cluster(team_b, network_profile, name="team-b-dev")
    mine, theirs = topics(member_a, cluster_a, 2), topics(member_b, cluster_b, 3)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = decide(
            admin,
            token_for,
            {"ids": ids_of(mine + theirs), "decision": "reject", "reason": "Not this quarter."},
        )
    assert response.status_code == 200
    assert sorted((m.to, m.subject) for m in mail.outbox) == [
        (["member_a@example.com"], "[MSK portal] 2 requests of Alice (Team A) rejected"),
        (["member_b@example.com"], "[MSK portal] 3 requests of Bob (Team B) rejected"),
    ]
    # Keyed, the digest goes out once the decisions and the answer have committed together.
    more = topics(member_a, cluster_a, 2, first=2)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        decide(admin, token_for, {"ids": ids_of(more), "decision": "approve"}, **{"Idempotency-Key": "k"})
    assert [m.subject for m in mail.outbox] == ["[MSK portal] 2 requests of Alice (Team A) approved"]
    assert len(callbacks) == 3  # each approval's provisioning, then the one digest


# --- A decommission that needs an override reason ----------------------------------------------------


@pytest.mark.parametrize("role", ["anonymous", "member_a", "member_b", "finance", "admin"])
def test_a_decommission_needing_an_override_is_listed_under_skipped_with_why(
    role,
    personas,
    member_a,
    needs_override,  # noqa: F811
    token_for,
):
    """An admin's bulk approval approves the others and lists the decommission under `skipped` with the
    reason its own approve endpoint gives; it stays submitted, for that endpoint with an override reason.
    Nobody else decides anything (the requester's team, the team whose topics it carries, finance: 403;
    anonymous: 401)."""
    other = topics(member_a, needs_override.cluster, 1)[0]
    body = {"ids": [needs_override.pk, other.pk], "decision": "approve"}
    user = personas[role]
    if user is None:
        response = client_for(None).post(URL, body, content_type="application/json")
        assert response.status_code == 401
    else:
        response = decide(user, token_for, body)
    if role == "admin":
        assert response.status_code == 200
        assert response.json() == {
            "approved": [other.pk],
            "rejected": [],
            "skipped": [{"id": needs_override.pk, "reason": CARRIED}],
        }
        assert statuses([needs_override, other]) == [Request.Status.SUBMITTED, Request.Status.APPROVED]
        client, headers = api(user, token_for)
        single = client.post(
            reverse("clusters-api:request-approve", args=[needs_override.pk]),
            {"override_reason": "Team B moved to team-b-prod; these are leftovers."},
            content_type="application/json",
            headers=headers,
        )
        assert single.status_code == 200 and statuses([needs_override]) == [Request.Status.APPROVED]
    else:
        assert response.status_code in (401, 403) and "team-b.clicks" not in response.content.decode()
        assert statuses([needs_override, other]) == [Request.Status.SUBMITTED] * 2
