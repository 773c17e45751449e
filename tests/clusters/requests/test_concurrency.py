"""Two admins approving the same request at the same moment, on the real PostgreSQL: exactly one wins."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from clusters.models import Request, RequestEvent, Topic
from clusters.requests import services
from portal.errors import Conflict
from tests import builders
from tests.conftest import make_user


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(5))
def test_two_concurrent_approvals_one_wins(attempt, member_a, team_a, cluster_a):
    if connection.vendor != "postgresql":
        pytest.skip("row locks and concurrent transactions need PostgreSQL")
    admins = [make_user(f"admin{attempt}-{n}", role="platform_admin") for n in range(2)]
    prepared = services.prepare_topic_create(
        actor=member_a,
        team=team_a,
        cluster=cluster_a,
        name=f"race{attempt}",
        partitions=None,
        expected_in_mbps=Decimal(5),
        expected_out_mbps=Decimal(5),
    )
    request = services.submit_request(actor=member_a, prepared=prepared)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(admin):
        try:
            barrier.wait(timeout=10)
            services.approve_request(request_id=request.pk, actor=admin)
            outcomes.append("approved")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=approve, args=(admin,)) for admin in admins]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["approved", "conflict"]
    assert Request.objects.get(pk=request.pk).status == Request.Status.APPROVED
    assert Topic.objects.filter(name=f"team-a.race{attempt}").count() == 1
    assert RequestEvent.objects.filter(request=request, to_status="approved").count() == 1


def _race(*calls) -> list:
    """Run the calls at the same moment in threads; each outcome is its return value or its exception."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = call()
        except Exception as exc:  # the outcome is what the test compares
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_two_names_kafka_would_take_for_one_cannot_both_be_submitted_at_once(
    attempt, member_a, team_a, cluster_a
):
    """'x.auto' and 'x_auto' prepared and submitted at the same moment: the name check under the cluster's
    row lock lets exactly one in (issue 11)."""
    from django.core.exceptions import ValidationError

    if connection.vendor != "postgresql":
        pytest.skip("row locks and concurrent transactions need PostgreSQL")
    prepared = [
        services.prepare_topic_create(
            actor=member_a,
            team=team_a,
            cluster=cluster_a,
            name=f"x{attempt}{sep}auto",
            expected_in_mbps=Decimal(1),
            expected_out_mbps=Decimal(1),
        )
        for sep in "._"
    ]
    outcomes = _race(*(lambda p=p: services.submit_request(actor=member_a, prepared=p) for p in prepared))
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["Request", "ValidationError"]
    [refused] = [outcome for outcome in outcomes if isinstance(outcome, ValidationError)]
    assert "Kafka reads '.' and '_' in topic names as one" in refused.message_dict["name"][0]
    assert Request.objects.count() == 1


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_an_idempotent_twin_that_loses_the_name_check_gets_the_first_answer(member_a, team_a, cluster_a):
    from clusters.requests import idempotency

    if connection.vendor != "postgresql":
        pytest.skip("row locks and concurrent transactions need PostgreSQL")
    prepared = services.prepare_topic_create(
        actor=member_a,
        team=team_a,
        cluster=cluster_a,
        name="twin",
        expected_in_mbps=Decimal(1),
        expected_out_mbps=Decimal(1),
    )

    def submit():
        answer = idempotency.submit_once(
            user=member_a,
            key="k-twin",
            kind="topic.create",
            body={"name": "twin"},
            submit=lambda: services.submit_request(actor=member_a, prepared=prepared),
            render=lambda request: {"id": request.pk},
        )
        return answer.body["id"]

    outcomes = _race(submit, submit)
    assert len(set(outcomes)) == 1 and isinstance(outcomes[0], int), outcomes
    assert Request.objects.count() == 1


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_an_approval_that_loses_its_move_to_a_cancel_makes_nothing(member_a, team_a, cluster_a, monkeypatch):
    """The approval read the request as submitted; the requester's cancel commits before the approval's
    compare-and-set: the approval is a conflict, with no inventory and no event of its own."""
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions need PostgreSQL")
    admin = make_user("late-approver", role="platform_admin")
    request = builders.topic_request(member_a, cluster_a, "late")
    reassess, cancels = services._reassess, []

    def cancelled_meanwhile(seen):
        cancels.extend(_race(lambda: services.cancel_request(request_id=seen.pk, actor=member_a)))
        return reassess(seen)

    monkeypatch.setattr(services, "_reassess", cancelled_meanwhile)
    with pytest.raises(Conflict, match="already cancelled"):
        services.approve_request(request_id=request.pk, actor=admin)
    assert [type(outcome) for outcome in cancels] == [Request]
    request.refresh_from_db()
    assert request.status == Request.Status.CANCELLED and request.decided_by == member_a
    assert not Topic.objects.filter(name="team-a.late").exists()
    assert list(request.events.values_list("to_status", flat=True)) == ["submitted", "cancelled"]
