"""Bulk decisions on the approval queue: `services.decide_many` decides each request exactly as a single
approval or rejection would, and one that cannot be decided does not stop the others; the queue's bulk bar
(`clusters.views.approvals.approval_bulk`) posts to it with or without JavaScript."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django.urls import reverse

from clusters import selectors
from clusters.models import AutoApprovalRule, Request, RequestEvent, SentNotification, Topic
from clusters.requests import services
from clusters.requests.notifications import notify_decided_together
from clusters.views import lists
from portal.errors import NotAllowed
from portal.models import Membership, User
from tests import builders
from tests.clusters.requests.test_api import api
from tests.clusters.requests.test_refused_as_aws_and_kafka_would import (  # noqa: F401  (fixtures)
    carried,
    decommission,
    shared_cluster,
)
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
    # Per request its provisioning, once the request's own transaction commits; then one mail task for all.
    assert len(callbacks) == 4


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


# --- One mail per requester ------------------------------------------------------------------------

BASE = "http://127.0.0.1:8000"


def decide(capture, ids, *, approve=True, reason="", actor=None):
    """`decide_many` with its on-commit tasks run (eager in tests); returns the mails it sent."""
    mail.outbox.clear()
    with capture(execute=True):
        services.decide_many(actor=actor, request_ids=ids, approve=approve, reason=reason)
    return list(mail.outbox)


def listed(body: str) -> list[str]:
    return [line for line in body.splitlines() if line.startswith("- #")]


def test_a_bulk_approval_mails_the_requester_once_listing_them_all(
    admin, member_a, cluster_a, django_capture_on_commit_callbacks
):
    requests = topics(member_a, cluster_a, 22)
    ids = [request.pk for request in requests]
    sent = decide(django_capture_on_commit_callbacks, ids, actor=admin)
    assert [(m.to, m.subject) for m in sent] == [
        (["member_a@example.com"], "[MSK portal] 22 requests of Alice (Team A) approved")
    ]
    body = sent[0].body
    assert body.startswith("admin approved 22 of your requests.\n\nApproved (22):\n")
    # The first 20 with their links, as the admins' digest lists them, then how many more.
    assert listed(body) == [
        f"- #{request.pk} {request.summary}: {BASE}/requests/{request.pk}/" for request in requests[:20]
    ]
    assert "\nand 2 more.\n\nYour requests: http://127.0.0.1:8000/requests/?mine=on\n" in body
    assert set(SentNotification.objects.filter(request_id__in=ids).values_list("request_id", "event")) == {
        (pk, "approved") for pk in ids
    }


def test_two_requesters_in_one_bulk_get_one_mail_each(
    admin, member_a, member_b, team_b, cluster_a, network_profile, django_capture_on_commit_callbacks
):
    cluster_b = builders.cluster(team_b, network_profile, name="team-b-dev")
    mine = topics(member_a, cluster_a, 2)
    theirs = topics(member_b, cluster_b, 3)
    ids = [mine[0].pk, theirs[0].pk, mine[1].pk, theirs[1].pk, theirs[2].pk]
    sent = decide(django_capture_on_commit_callbacks, ids, actor=admin)
    assert sorted((m.to, m.subject) for m in sent) == [
        (["member_a@example.com"], "[MSK portal] 2 requests of Alice (Team A) approved"),
        (["member_b@example.com"], "[MSK portal] 3 requests of Bob (Team B) approved"),
    ]
    by_recipient = {m.to[0]: listed(m.body) for m in sent}
    assert [line.split()[1] for line in by_recipient["member_a@example.com"]] == [f"#{r.pk}" for r in mine]
    assert [line.split()[1] for line in by_recipient["member_b@example.com"]] == [f"#{r.pk}" for r in theirs]


def test_each_bulk_action_mails_each_requester_once(
    admin, member_a, cluster_a, django_capture_on_commit_callbacks
):
    approved, rejected = topics(member_a, cluster_a, 2), topics(member_a, cluster_a, 2, first=2)
    first = decide(django_capture_on_commit_callbacks, [r.pk for r in approved], actor=admin)
    second = decide(
        django_capture_on_commit_callbacks,
        [r.pk for r in rejected],
        approve=False,
        reason="One topic per domain, please.",
        actor=admin,
    )
    assert [m.subject for m in first] == ["[MSK portal] 2 requests of Alice (Team A) approved"]
    assert [m.subject for m in second] == ["[MSK portal] 2 requests of Alice (Team A) rejected"]
    assert second[0].body.startswith(
        "admin rejected 2 of your requests.\n\nRejected (2), reason: One topic per domain, please.\n"
        f"- #{rejected[0].pk} "
    )
    assert "Approved" not in second[0].body


def test_approvals_and_rejections_in_one_digest_are_listed_apart(admin, member_a, cluster_a):
    """The digest reads each request's decision: given both (say, a digest task run late for ids whose
    mails nobody sent), it lists the approvals, then the rejections under their reason."""
    requests = topics(member_a, cluster_a, 4)
    approved, no, later = requests[:1], requests[1:3], requests[3:]
    services.decide_many(actor=admin, request_ids=[approved[0].pk], approve=True)
    services.decide_many(actor=admin, request_ids=[r.pk for r in no], approve=False, reason="No.")
    services.decide_many(actor=admin, request_ids=[later[0].pk], approve=False, reason="Later.")
    assert not mail.outbox  # their tasks never ran (no on-commit callbacks here)
    assert notify_decided_together(request_ids=[request.pk for request in requests]) == 4
    [sent] = mail.outbox
    assert sent.subject == "[MSK portal] 4 requests of Alice (Team A) decided: 1 approved, 3 rejected"
    line = {
        request.pk: f"- #{request.pk} {request.summary}: {BASE}/requests/{request.pk}/"
        for request in requests
    }
    assert sent.body == (
        "admin approved 1 and rejected 3 of your requests.\n\n"
        f"Approved (1):\n{line[approved[0].pk]}\n\n"
        f"Rejected (2), reason: No.\n{line[no[0].pk]}\n{line[no[1].pk]}\n\n"
        f"Rejected (1), reason: Later.\n{line[later[0].pk]}\n\n"
        "Your requests: http://127.0.0.1:8000/requests/?mine=on\n"
    )


def test_rerunning_the_digest_sends_nothing(admin, member_a, cluster_a, django_capture_on_commit_callbacks):
    from clusters.requests.tasks import notify_decided_together as task

    ids = [request.pk for request in topics(member_a, cluster_a, 3)]
    assert len(decide(django_capture_on_commit_callbacks, ids, actor=admin)) == 1
    assert notify_decided_together(request_ids=ids) == 0
    task.apply(args=[ids])  # the broker redelivers it (acks_late)
    assert len(mail.outbox) == 1
    assert SentNotification.objects.filter(request_id__in=ids).count() == 3


def test_a_bulk_stopped_by_an_error_still_mails_what_it_decided(
    admin, member_a, cluster_a, django_capture_on_commit_callbacks, monkeypatch
):
    done, broken = topics(member_a, cluster_a, 2)
    approve = services.approve_request

    def approve_or_fail(*, request_id, **kwargs):
        if request_id == broken.pk:
            raise RuntimeError("database went away")
        return approve(request_id=request_id, **kwargs)

    monkeypatch.setattr(services, "approve_request", approve_or_fail)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        services.decide_many(actor=admin, request_ids=[done.pk, broken.pk], approve=True)
    assert [m.subject for m in mail.outbox] == ["[MSK portal] 1 request of Alice (Team A) approved"]
    assert listed(mail.outbox[0].body) == [f"- #{done.pk} {done.summary}: {BASE}/requests/{done.pk}/"]


def test_single_decisions_and_rule_approvals_keep_their_own_mail(
    admin, member_a, cluster_a, token_for, django_capture_on_commit_callbacks
):
    AutoApprovalRule.objects.create(name="tiny", kind="topic.create", environment="dev", max_partitions=1)
    by_rule = builders.topic_request(member_a, cluster_a, "ruled", partitions=1)
    assert by_rule.approved_by_rule_id
    service, inline, page, over_api = topics(member_a, cluster_a, 4, partitions=2)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_request(request_id=service.pk, actor=admin)
        client_for(admin).post(
            reverse("clusters:request-reject", args=[inline.pk]),
            {"fragment": "row", "next": QUEUE, "reason": "No."},
            headers={"HX-Request": "true"},
        )
        client_for(admin).post(reverse("clusters:request-approve", args=[page.pk]))
        client, headers = api(admin, token_for)
        client.post(
            reverse("clusters-api:request-approve", args=[over_api.pk]),
            content_type="application/json",
            headers=headers,
        )
    assert [m.subject for m in mail.outbox] == [
        f"[MSK portal] Request #{service.pk} approved: {service.summary}",
        f"[MSK portal] Request #{inline.pk} rejected: {inline.summary}",
        f"[MSK portal] Request #{page.pk} approved: {page.summary}",
        f"[MSK portal] Request #{over_api.pk} approved: {over_api.summary}",
    ]
    # A digest never names a request a rule approved (here its own mail has not gone out yet: it is
    # `notify`'s, or beat's), nor one whose mail went out.
    assert not SentNotification.objects.filter(request=by_rule).exists()
    assert notify_decided_together(request_ids=[by_rule.pk, service.pk]) == 0
    assert len(mail.outbox) == 4


# --- A decommission that needs an override reason ----------------------------------------------------

CARRIED = (
    "team-a-dev still carries 2 live topics of 1 other team: Team B: team-b.clicks, team-b.views. Ask them to "
    "move or delete those topics first, or approve with an override reason (recorded in the request's history)."
)


@pytest.fixture
def needs_override(member_a, carried):  # noqa: F811
    """A decommission of team-a-dev, which carries two of Team B's live topics: approved only with an
    override reason, which a bulk decision does not give."""
    return decommission(member_a, carried)


def row_of(page: str, request: Request) -> str:
    start = page.index(f'<tr id="request-row-{request.pk}">')
    return page[start : page.index("</tr>", start)]


def test_a_bulk_approval_names_the_decommission_it_skips_with_why_and_the_queue_keeps_it(
    admin, member_a, needs_override
):
    """Approving it with others: the others are approved, it is named with the reason a single approval
    gives, and it stays in the queue, where its row says what it takes down and sends the admin to its page
    for the override instead of offering a one-click approval that would be refused."""
    other = topics(member_a, needs_override.cluster, 1)[0]
    response = bulk(admin, action="approve", ids=[needs_override.pk, other.pk])
    assert response.status_code == 302 and response["Location"] == QUEUE
    assert flash(response) == [("warning", f"Approved 1 of 2. Not decided: #{needs_override.pk}: {CARRIED}")]
    assert statuses([needs_override, other]) == [Request.Status.SUBMITTED, Request.Status.APPROVED]

    row = row_of(client_for(admin).get(QUEUE).content.decode(), needs_override)
    assert f'value="{needs_override.pk}" form="bulk-decisions"' in row  # still selectable (to reject)
    detail = reverse("clusters:request-detail", args=[needs_override.pk])
    assert (
        '<p class="override-needed">Approving takes down 2 live topics of 1 other team (Team B): '
        f'<a href="{detail}#decision-panel">approve it on its page<span class="visually-hidden"> (request '
        f"#{needs_override.pk})</span></a> with an override reason.</p>"
    ) in row
    assert reverse("clusters:request-approve", args=[needs_override.pk]) not in row
    assert reverse("clusters:request-reject", args=[needs_override.pk]) in row
    # Its page takes the override: the single decision the queue sent the admin to.
    page = client_for(admin).get(detail).content.decode()
    assert 'name="override_reason"' in page
    client_for(admin).post(
        reverse("clusters:request-approve", args=[needs_override.pk]),
        {"override_reason": "Team B moved to team-b-prod; these are leftovers."},
    )
    assert statuses([needs_override]) == [Request.Status.APPROVED]


def test_the_queue_offers_one_click_approval_again_once_nothing_of_other_teams_is_left(admin, needs_override):
    Topic.objects.filter(team__slug="team-b").update(status=Topic.Status.DELETED)
    row = row_of(client_for(admin).get(QUEUE).content.decode(), needs_override)
    assert "override-needed" not in row
    assert reverse("clusters:request-approve", args=[needs_override.pk]) in row
    assert flash(bulk(admin, action="approve", ids=[needs_override.pk])) == [("success", "Approved 1 of 1.")]


def test_a_bulk_rejection_needs_no_override(admin, needs_override):
    response = bulk(admin, action="reject", ids=[needs_override.pk], reason="Team B still uses it.")
    assert flash(response) == [("success", "Rejected 1 of 1.")]
    assert statuses([needs_override]) == [Request.Status.REJECTED]


def test_an_inline_approval_posted_anyway_is_refused_in_its_row(admin, needs_override):
    """The row offers none, but a stale page may still post one: the refusal comes back in the row."""
    response = client_for(admin).post(
        reverse("clusters:request-approve", args=[needs_override.pk]),
        {"fragment": "row", "next": QUEUE},
        headers={"HX-Request": "true"},
    )
    row = response.content.decode()
    assert response.status_code == 409 and row.lstrip().startswith(
        f'<tr id="request-row-{needs_override.pk}">'
    )
    assert CARRIED.replace("'", "&#39;") in row and "override-needed" in row
    assert statuses([needs_override]) == [Request.Status.SUBMITTED]


@pytest.mark.parametrize("role", ["anonymous", "member_a", "member_b", "finance", "admin"])
def test_who_sees_and_decides_a_decommission_that_needs_an_override(role, personas, needs_override):
    """Only admins see the queue and what the decommission takes down, and their bulk approval skips it by
    name; the requester's team (member_a), the team whose topics it carries (member_b) and finance get a
    403 for both, anonymous is sent to sign in; nothing is decided."""
    queue = client_for(personas[role]).get(QUEUE)
    response = bulk(personas[role], action="approve", ids=[needs_override.pk])
    if role == "anonymous":
        for answer in (queue, response):
            assert answer.status_code == 302 and answer["Location"].startswith(reverse("login"))
    elif role == "admin":
        assert "Approving takes down 2 live topics of 1 other team (Team B)" in queue.content.decode()
        assert flash(response) == [
            ("error", f"Approved 0 of 1. Not decided: #{needs_override.pk}: {CARRIED}")
        ]
    else:
        assert queue.status_code == 403 and response.status_code == 403
        assert "team-b.clicks" not in queue.content.decode() + response.content.decode()
    assert statuses([needs_override]) == [Request.Status.SUBMITTED]


def test_the_queue_asks_one_query_for_every_decommission_on_the_page(
    admin, member_a, team_a, team_b, network_profile, django_assert_num_queries
):
    """What each open decommission takes down is read for the whole page at once, not once per row."""
    from clusters.views.approvals import _queue_rows

    for i in range(5):
        cluster = builders.cluster(team_a, network_profile, name=f"team-a-old-{i}")
        cluster.shared_with.add(team_b)
        builders.topic(cluster, f"team-b.left-{i}", team=team_b)
        decommission(member_a, cluster)
    rows = selectors.open_request_rows(selectors.approval_queue(user=admin))
    request = RequestFactory().get(QUEUE)
    request.user = admin
    with django_assert_num_queries(1):  # what the decommissions take down (decision rights: none, an admin)
        marked = _queue_rows(request, rows)
    assert [row.needs_override for row in marked] == [
        "Approving takes down 1 live topic of 1 other team (Team B)"
    ] * 5


def test_the_approvers_mail_and_the_queue_say_why_a_decommission_is_flagged(admin, member_a, needs_override):
    """Flagged for the other teams' topics it takes down, not for a quota: the mail says so, and the queue's
    flag and intro name both reasons a request is flagged."""
    from clusters.requests.notifications import notify

    assert needs_override.has_warnings
    mail.outbox.clear()
    notify(request_id=needs_override.pk, event="submitted")
    [sent] = mail.outbox
    assert "It is flagged: it takes down other teams' live topics." in sent.body
    assert "soft limit" not in sent.body
    page = client_for(admin).get(QUEUE).content.decode()
    assert "or decommission a cluster that still carries other teams' live topics" in page
    assert "takes down other teams' live topics (the request's page says which)" in row_of(
        page, needs_override
    )
