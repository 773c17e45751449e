"""Bulk decisions on the approval queue: `services.decide_many` decides each request exactly as a single
approval or rejection would, and one that cannot be decided does not stop the others; the queue's bulk bar
(`clusters.views.approvals.approval_bulk`) posts to it with or without JavaScript."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse

from clusters.models import Request, RequestEvent, Topic
from clusters.requests import services
from clusters.views import lists
from portal.errors import NotAllowed
from portal.models import Membership, User
from tests import builders
from tests.conftest import client_for, make_user


def topics(member, cluster, count: int, *, first: int = 0, **fields) -> list[Request]:
    return [
        builders.topic_request(member, cluster, f"bulk-{i}", **fields) for i in range(first, first + count)
    ]


def statuses(requests: list[Request]) -> list[str]:
    return [Request.objects.get(pk=request.pk).status for request in requests]


def test_bulk_approve_decides_each_as_one_approval_would(
    admin, member_a, cluster_a, django_capture_on_commit_callbacks
):
    requests = topics(member_a, cluster_a, 3)
    with django_capture_on_commit_callbacks() as callbacks:
        outcome = services.decide_many(
            actor=admin, request_ids=[request.pk for request in requests], approve=True
        )
    assert outcome.approved == [request.pk for request in requests] and outcome.skipped == []
    assert outcome.summary() == "Approved 3 of 3."
    assert statuses(requests) == [Request.Status.APPROVED] * 3
    for request in requests:
        event = RequestEvent.objects.filter(request=request).last()
        assert (event.to_status, event.actor) == (Request.Status.APPROVED, admin)
        assert event.data["topic_id"] == Request.objects.get(pk=request.pk).topic_id
    assert Topic.objects.filter(name__startswith="team-a.bulk-").count() == 3
    # Per request: its provisioning and the requester's mail, once the request's own transaction commits.
    assert len(callbacks) == 6


def test_bulk_reject_needs_a_reason_and_gives_it_to_each(admin, member_a, cluster_a):
    requests = topics(member_a, cluster_a, 2)
    ids = [request.pk for request in requests]
    for blank in ("", "   "):
        with pytest.raises(ValidationError) as refused:
            services.decide_many(actor=admin, request_ids=ids, approve=False, reason=blank)
        assert refused.value.message_dict == {"reason": [services.REASON_REQUIRED]}
    assert statuses(requests) == [Request.Status.SUBMITTED] * 2
    outcome = services.decide_many(actor=admin, request_ids=ids, approve=False, reason=" Use one topic. ")
    assert outcome.rejected == ids and outcome.summary() == "Rejected 2 of 2."
    assert {Request.objects.get(pk=pk).decision_reason for pk in ids} == {"Use one topic."}
    assert statuses(requests) == [Request.Status.REJECTED] * 2


def test_mixed_outcomes_skip_what_cannot_be_decided_and_decide_the_rest(admin, member_a, team_a, cluster_a):
    first, over_quota, decided_elsewhere, last = (
        builders.topic_request(member_a, cluster_a, name, expected_in_mbps=Decimal(mbps))
        for name, mbps in (("first", 60), ("big", 150), ("other", 1), ("last", 60))
    )
    services.reject_request(
        request_id=decided_elsewhere.pk,
        actor=make_user("admin2", role=User.Role.PLATFORM_ADMIN),
        reason="No.",
    )
    Membership.objects.create(team=team_a, user=admin)
    own = builders.topic_request(admin, cluster_a, "mine")
    missing = Request.objects.order_by("-pk").first().pk + 100

    ids = [first.pk, over_quota.pk, decided_elsewhere.pk, own.pk, missing, last.pk]
    outcome = services.decide_many(actor=admin, request_ids=ids, approve=True)

    assert outcome.approved == [first.pk, last.pk]
    assert [skipped.request_id for skipped in outcome.skipped] == [
        over_quota.pk,
        decided_elsewhere.pk,
        own.pk,
        missing,
    ]
    assert statuses([first, over_quota, decided_elsewhere, own, last]) == [
        Request.Status.APPROVED,
        Request.Status.SUBMITTED,
        Request.Status.REJECTED,
        Request.Status.SUBMITTED,
        Request.Status.APPROVED,
    ]
    summary = outcome.summary()
    assert summary.startswith(
        f"Approved 2 of 6. Not decided: #{over_quota.pk}: This request no longer fits: "
    )
    assert "write throughput" in summary
    assert f" #{decided_elsewhere.pk} is already rejected." in summary
    assert (
        f" #{own.pk}: You cannot approve or reject a request you submitted; another admin must decide."
        in summary
    )
    assert summary.endswith(f" #{missing}: No such request.")


def test_only_platform_admins_decide_in_bulk(member_a, finance, cluster_a):
    requests = topics(member_a, cluster_a, 1)
    for actor in (member_a, finance):
        with pytest.raises(NotAllowed):
            services.decide_many(actor=actor, request_ids=[requests[0].pk], approve=True)
    assert statuses(requests) == [Request.Status.SUBMITTED]


def test_a_selection_is_one_page_at_most(admin, member_a, cluster_a):
    assert services.BULK_DECISION_LIMIT == 50
    with pytest.raises(ValidationError) as empty:
        services.decide_many(actor=admin, request_ids=[], approve=True)
    assert empty.value.message_dict == {"ids": ["Select at least one request."]}
    with pytest.raises(ValidationError) as too_many:
        services.decide_many(actor=admin, request_ids=list(range(1, 10_001)), approve=True)
    assert too_many.value.message_dict == {
        "ids": ["Select at most 50 requests at a time (one page of the queue); this selection has 10,000."]
    }
    request = topics(member_a, cluster_a, 1)[0]
    twice = services.decide_many(actor=admin, request_ids=[request.pk] * 60, approve=True)
    assert twice.approved == [request.pk] and twice.skipped == []


# --- The queue's bulk bar -------------------------------------------------------------------------

QUEUE = "/approvals/?sort=newest"


def flash(response) -> list[tuple[str, str]]:
    return [(message.level_tag, message.message) for message in get_messages(response.wsgi_request)]


def bulk(user, **data):
    """A bulk decision posted by `user` (a client of its own: no message left over from another post)."""
    return client_for(user).post(reverse("clusters:approval-bulk"), {"next": QUEUE, **data})


def test_the_queue_offers_a_checkbox_on_each_row_the_admin_may_decide(admin, member_a, team_a, cluster_a):
    requests = topics(member_a, cluster_a, 2)
    Membership.objects.create(team=team_a, user=admin)
    own = builders.topic_request(admin, cluster_a, "mine")
    body = client_for(admin).get(QUEUE).content.decode()
    for request in requests:
        assert (
            f'<input type="checkbox" name="ids" value="{request.pk}" form="bulk-decisions" '
            f'aria-label="Select request #{request.pk}">'
        ) in body
    assert f'value="{own.pk}" form="bulk-decisions"' not in body
    assert f'<input type="hidden" name="on_page" value="{requests[1].pk} {requests[0].pk}">' in body
    assert "Select all 2 on this page" in body and f'name="next" value="{QUEUE}"' in body
    # Only their own requests waiting: nothing to select, no bar.
    Request.objects.filter(pk__in=[request.pk for request in requests]).update(
        status=Request.Status.CANCELLED
    )
    assert 'id="bulk-decisions"' not in client_for(admin).get(QUEUE).content.decode()


def test_bulk_approve_without_javascript_returns_to_the_same_page(admin, member_a, cluster_a):
    requests = topics(member_a, cluster_a, 3)
    response = bulk(admin, action="approve", ids=[request.pk for request in requests])
    assert response.status_code == 302 and response["Location"] == QUEUE
    assert flash(response) == [("success", "Approved 3 of 3.")]
    assert statuses(requests) == [Request.Status.APPROVED] * 3


def test_bulk_reject_needs_a_reason(admin, member_a, cluster_a):
    requests = topics(member_a, cluster_a, 2)
    ids = [request.pk for request in requests]
    missing = bulk(admin, action="reject", ids=ids, reason="  ")
    assert missing.status_code == 302 and missing["Location"] == QUEUE
    assert flash(missing) == [("error", services.REASON_REQUIRED)]
    too_long = bulk(admin, action="reject", ids=ids, reason="x" * 4001)
    assert flash(too_long) == [("error", "Ensure this value has at most 4000 characters (it has 4001).")]
    assert statuses(requests) == [Request.Status.SUBMITTED] * 2
    done = bulk(admin, action="reject", ids=ids, reason="One topic per domain, please.")
    assert flash(done) == [("success", "Rejected 2 of 2.")]
    assert statuses(requests) == [Request.Status.REJECTED] * 2


def test_select_all_on_this_page_works_without_javascript(admin, member_a, cluster_a):
    requests = topics(member_a, cluster_a, 3)
    page = " ".join(str(request.pk) for request in requests)
    response = bulk(admin, action="approve", all_on_page="1", on_page=page, ids=[requests[0].pk])
    assert flash(response) == [("success", "Approved 3 of 3.")]  # a row ticked as well counts once
    unticked = topics(member_a, cluster_a, 1, first=3)[0]
    ignored = bulk(admin, action="approve", on_page=str(unticked.pk), ids=[])
    assert flash(ignored) == [("error", "Select at least one request.")]  # the page's ids only when asked
    assert statuses([unticked]) == [Request.Status.SUBMITTED]


def test_mixed_outcomes_are_summed_up_in_one_warning(admin, member_a, team_a, cluster_a):
    done, other = topics(member_a, cluster_a, 2)
    services.approve_request(request_id=done.pk, actor=make_user("admin2", role=User.Role.PLATFORM_ADMIN))
    Membership.objects.create(team=team_a, user=admin)
    own = builders.topic_request(admin, cluster_a, "mine")
    missing = own.pk + 100
    response = bulk(admin, action="approve", ids=[done.pk, other.pk, own.pk, missing])
    assert response.status_code == 302 and response["Location"] == QUEUE
    assert flash(response) == [
        (
            "warning",
            f"Approved 1 of 4. Not decided: #{done.pk} is already approved. #{own.pk}: You cannot approve or "
            f"reject a request you submitted; another admin must decide. #{missing}: No such request.",
        )
    ]
    nothing = bulk(admin, action="approve", ids=[done.pk])
    assert flash(nothing) == [("error", f"Approved 0 of 1. Not decided: #{done.pk} is already approved.")]
    page = client_for(admin).get(QUEUE)
    assert "flash-warning" not in page.content.decode()  # shown once


@pytest.mark.parametrize("role", ["anonymous", "member_a", "finance", "admin"])
def test_only_platform_admins_may_post_a_bulk_decision(role, personas, cluster_a, member_a):
    request = topics(member_a, cluster_a, 1)[0]
    response = bulk(personas[role], action="approve", ids=[request.pk])
    if role == "anonymous":
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    elif role == "admin":
        assert response.status_code == 302 and response["Location"] == QUEUE
    else:
        assert response.status_code == 403
    expected = Request.Status.APPROVED if role == "admin" else Request.Status.SUBMITTED
    assert statuses([request]) == [expected]


def test_garbage_is_refused_in_words_never_a_500(admin, member_a, cluster_a):
    request = topics(member_a, cluster_a, 1)[0]
    cases = {
        "missing action": ({"ids": [request.pk]}, "Choose “Approve selected” or “Reject selected”."),
        "unknown action": (
            {"action": "delete", "ids": [request.pk]},
            "Choose “Approve selected” or “Reject selected”.",
        ),
        "not a number": ({"action": "approve", "ids": [request.pk, "12a"]}, "“12a” is not a request number."),
        "not an ASCII number": ({"action": "approve", "ids": ["１２"]}, "“１２” is not a request number."),
        "out of range": (
            {"action": "approve", "ids": ["99999999999"]},
            "“99999999999” is not a request number.",
        ),
        "zero": ({"action": "approve", "ids": ["0"]}, "“0” is not a request number."),
        "nothing selected": ({"action": "approve"}, "Select at least one request."),
        "10,000 on the page": (
            {"action": "approve", "all_on_page": "1", "on_page": " ".join(map(str, range(1, 10_001)))},
            "Select at most 50 requests at a time (one page of the queue); this selection has 10,000.",
        ),
    }
    for case, (data, message) in cases.items():
        response = bulk(admin, **data)
        assert response.status_code == 302 and response["Location"] == QUEUE, case
        assert flash(response) == [("error", message)], case
    # More fields than Django reads (DATA_UPLOAD_MAX_NUMBER_FIELDS): its 400, before anything is decided.
    flood = bulk(admin, action="approve", ids=list(range(1, 10_001)))
    assert flood.status_code == 400
    offsite = bulk(admin, action="approve", ids=[request.pk], next="https://evil.example/")
    assert offsite["Location"] == reverse("clusters:approval-queue")
    assert statuses([request]) == [Request.Status.APPROVED]


def test_the_limit_is_one_page_of_the_queue():
    assert services.BULK_DECISION_LIMIT == lists.PAGE_SIZE


def test_an_inline_decision_still_answers_with_its_row(admin, member_a, cluster_a):
    """The rows' template answers a single inline decision too: a refused rejection keeps its checkbox."""
    request = topics(member_a, cluster_a, 1)[0]
    client = client_for(admin)
    url = reverse("clusters:request-reject", args=[request.pk])
    refused = client.post(url, {"fragment": "row", "next": QUEUE}, headers={"HX-Request": "true"})
    row = refused.content.decode()
    assert refused.status_code == 422 and row.lstrip().startswith(f'<tr id="request-row-{request.pk}">')
    assert f'aria-label="Select request #{request.pk}"' in row
    approve = reverse("clusters:request-approve", args=[request.pk])
    approved = client.post(approve, {"fragment": "row", "next": QUEUE}, headers={"HX-Request": "true"})
    assert approved.status_code == 200 and "status-approved" in approved.content.decode()
    assert 'form="bulk-decisions"' not in approved.content.decode()
