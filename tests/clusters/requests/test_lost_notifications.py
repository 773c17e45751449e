"""Notifications whose task was lost (the broker was down when the request changed) are sent again by
beat, once, after PROVISIONING_REDISPATCH_SECONDS and within NOTIFICATION_RESEND_MAX_AGE_SECONDS.

Losing them here: the on-commit callbacks that would publish the notification tasks are captured and
never run, which leaves the database exactly as a failed publish does (see test_broker_down.py for the
publish itself failing)."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from clusters.models import AutoApprovalRule, SentNotification
from clusters.requests import services
from clusters.requests.notifications import lost_notifications, resend_lost_notifications
from tests.clusters.requests.test_workflow import submit_topic

pytestmark = pytest.mark.django_db


def _later(seconds: float = 1) -> timezone.datetime:
    return timezone.now() + timedelta(seconds=settings.PROVISIONING_REDISPATCH_SECONDS + seconds)


@pytest.fixture
def broker_down(django_capture_on_commit_callbacks):
    """Every notification published on commit in the block is lost (the callbacks never run)."""

    def lose():
        return django_capture_on_commit_callbacks(execute=False)

    return lose


def test_a_lost_decision_is_sent_once_after_the_redispatch_window(
    member_a, admin, team_a, cluster_a, broker_down
):
    with broker_down() as callbacks:
        request = submit_topic(member_a, team_a, cluster_a)
        services.approve_request(request_id=request.pk, actor=admin)
    assert callbacks and not mail.outbox  # the sends were due, none happened

    assert lost_notifications() == []  # too young: its task may still be on its way
    # "Approval needed" is not worth sending any more: the request was decided meanwhile.
    assert lost_notifications(_later()) == [(request.pk, "approved")]
    assert resend_lost_notifications(now=_later()) == 1  # eager in tests: sent at once
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["member_a@example.com"], f"[MSK portal] Request #{request.pk} approved: {request.summary}")
    ]
    assert resend_lost_notifications(now=_later(60)) == 0
    assert len(mail.outbox) == 1
    assert SentNotification.objects.filter(request=request).count() == 1


def test_a_request_still_waiting_gets_its_approval_needed_mail(
    member_a, admin, team_a, cluster_a, broker_down
):
    with broker_down():
        request = submit_topic(member_a, team_a, cluster_a)
    assert lost_notifications(_later()) == [(request.pk, "submitted")]
    resend_lost_notifications(now=_later())
    assert [m.to for m in mail.outbox] == [["admin@example.com"]]
    assert "Approval needed" in mail.outbox[0].subject


def test_rejections_are_resent_cancellations_notify_nobody(member_a, admin, team_a, cluster_a, broker_down):
    with broker_down():
        rejected = submit_topic(member_a, team_a, cluster_a)
        services.reject_request(request_id=rejected.pk, actor=admin, reason="Too big.")
        cancelled = submit_topic(member_a, team_a, cluster_a, name="other")
        services.cancel_request(request_id=cancelled.pk, actor=member_a)
    assert lost_notifications(_later()) == [(rejected.pk, "rejected")]


def test_auto_approved_requests_only_announce_the_approval(member_a, admin, team_a, cluster_a, broker_down):
    AutoApprovalRule.objects.create(
        name="small dev topics", kind="topic.create", environment="dev", max_partitions=6
    )
    with broker_down():
        request = submit_topic(member_a, team_a, cluster_a)
    assert request.approved_by_rule_id
    assert lost_notifications(_later()) == [(request.pk, "approved")]


def test_notifications_already_sent_are_not_resent(
    member_a, admin, team_a, cluster_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        request = submit_topic(member_a, team_a, cluster_a)
        services.approve_request(request_id=request.pk, actor=admin)
    assert len(mail.outbox) == 2
    assert lost_notifications(_later()) == []


def test_old_events_do_not_mail_everyone(member_a, admin, team_a, cluster_a, broker_down):
    with broker_down():
        request = submit_topic(member_a, team_a, cluster_a)
    max_age = settings.NOTIFICATION_RESEND_MAX_AGE_SECONDS
    assert lost_notifications(timezone.now() + timedelta(seconds=max_age - 1)) == [(request.pk, "submitted")]
    assert lost_notifications(timezone.now() + timedelta(seconds=max_age + 1)) == []


def test_requests_filed_one_by_one_still_mail_the_approvers_each(
    member_a, admin, team_a, cluster_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = submit_topic(member_a, team_a, cluster_a)
        second = submit_topic(member_a, team_a, cluster_a, name="other")
    assert [m.subject for m in mail.outbox] == [
        f"[MSK portal] Approval needed: #{first.pk} {first.summary}",
        f"[MSK portal] Approval needed: #{second.pk} {second.summary}",
    ]


def test_a_digest_leaves_out_what_beat_mailed_first(member_a, admin, team_a, cluster_a, broker_down):
    """Filed without their own mail (`notify_approvers=False`): nothing is enqueued, so beat would find them;
    a digest claims the rest, and runs once."""
    from clusters.requests.notifications import notify_submitted_together
    from tests.clusters.requests.test_workflow import topic

    with broker_down() as callbacks:
        requests = [
            services.submit_request(
                actor=member_a, prepared=topic(member_a, team_a, cluster_a, name=name), notify_approvers=False
            )
            for name in ("one", "two", "three")
        ]
    assert not callbacks  # the caller took the approvers' mail over
    ids = [request.pk for request in requests]
    assert lost_notifications(_later()) == [(pk, "submitted") for pk in ids]
    from clusters.requests.notifications import notify

    notify(request_id=ids[0], event="submitted")  # beat got to the first one before the digest ran
    assert notify_submitted_together(request_ids=ids, source="a test.") == 2
    assert notify_submitted_together(request_ids=ids, source="a test.") == 0
    assert [m.subject for m in mail.outbox] == [
        f"[MSK portal] Approval needed: #{ids[0]} {requests[0].summary}",
        "[MSK portal] Approval needed: 2 requests from Alice (Team A)",
    ]
    assert f"#{ids[0]} " not in mail.outbox[1].body and f"- #{ids[2]} " in mail.outbox[1].body
    assert lost_notifications(_later()) == []


def test_beat_finds_nothing_a_bulk_digest_covered(
    member_a, admin, team_a, cluster_a, django_capture_on_commit_callbacks
):
    requests = [submit_topic(member_a, team_a, cluster_a, name=name) for name in ("one", "two", "three")]
    with django_capture_on_commit_callbacks(execute=True):
        services.decide_many(actor=admin, request_ids=[r.pk for r in requests[:2]], approve=True)
        services.decide_many(actor=admin, request_ids=[requests[2].pk], approve=False, reason="No.")
    assert [m.subject for m in mail.outbox] == [
        "[MSK portal] 2 requests of Alice (Team A) approved",
        "[MSK portal] 1 request of Alice (Team A) rejected",
    ]
    # Their "Approval needed" mails were never sent either, but they are decided: not worth sending.
    assert lost_notifications(_later()) == []


def test_a_lost_bulk_digest_leaves_beat_to_mail_them_one_by_one(
    member_a, admin, team_a, cluster_a, broker_down, django_capture_on_commit_callbacks
):
    """More mails, none lost: the decisions enqueue no mail of their own, so beat finds them; a digest
    that runs late then finds them sent."""
    from clusters.requests.tasks import notify_decided_together

    with django_capture_on_commit_callbacks(execute=True):
        requests = [submit_topic(member_a, team_a, cluster_a, name=name) for name in ("one", "two")]
    mail.outbox.clear()
    ids = [request.pk for request in requests]
    with broker_down() as callbacks:
        services.decide_many(actor=admin, request_ids=ids, approve=True)
    assert callbacks and not mail.outbox  # the digest (and provisioning) were due, none ran
    assert lost_notifications(_later()) == [(pk, "approved") for pk in ids]
    assert resend_lost_notifications(now=_later()) == 2
    assert [m.subject for m in mail.outbox] == [
        f"[MSK portal] Request #{r.pk} approved: {r.summary}" for r in requests
    ]
    assert notify_decided_together.apply(args=[ids]).get() == 0  # the digest, late: nothing left to say
    assert len(mail.outbox) == 2 and lost_notifications(_later()) == []


def test_a_digest_leaves_out_a_decision_beat_mailed_first(member_a, admin, team_a, cluster_a, broker_down):
    from clusters.requests.notifications import notify, notify_decided_together

    with broker_down():
        requests = [submit_topic(member_a, team_a, cluster_a, name=name) for name in ("one", "two", "three")]
        services.decide_many(actor=admin, request_ids=[r.pk for r in requests], approve=True)
    notify(request_id=requests[0].pk, event="approved")  # beat got to the first one before the digest ran
    assert notify_decided_together(request_ids=[r.pk for r in requests]) == 2
    assert [m.subject for m in mail.outbox] == [
        f"[MSK portal] Request #{requests[0].pk} approved: {requests[0].summary}",
        "[MSK portal] 2 requests of Alice (Team A) approved",
    ]
    assert f"#{requests[0].pk} " not in mail.outbox[1].body
