"""Bulk decisions on the approval queue: `services.decide_many` decides each request exactly as a single
approval or rejection would, and one that cannot be decided does not stop the others."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from clusters.models import Request, RequestEvent, Topic
from clusters.requests import services
from portal.errors import NotAllowed
from portal.models import Membership, User
from tests import builders
from tests.conftest import make_user


def topics(member, cluster, count: int, **fields) -> list[Request]:
    return [builders.topic_request(member, cluster, f"bulk-{i}", **fields) for i in range(count)]


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
