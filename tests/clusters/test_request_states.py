"""What the request list and the cluster page say about a request: who asked and who decided, and where
the work of an approved request is (provisioning, done, failed) next to the decision."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clusters import selectors
from clusters.models import (
    AccessGrant,
    AutoApprovalRule,
    DriftFinding,
    ProvisioningEvent,
    Request,
    Topic,
)
from clusters.requests import services
from clusters.selectors import WORK_DONE, WORK_FAILED, WORK_MOVING, work_stage
from clusters.templatetags.clusters_tags import request_people
from tests.clusters.test_views import PRINCIPAL, _query_count, submit_topic
from tests.conftest import client_for

Kind = Request.Kind


@pytest.mark.parametrize(
    ("kind", "statuses", "expected"),
    [
        (Kind.TOPIC_CREATE, ["pending"], WORK_MOVING),
        (Kind.TOPIC_CREATE, ["creating"], WORK_MOVING),
        (Kind.TOPIC_CREATE, ["active"], WORK_DONE),
        (Kind.TOPIC_CREATE, ["active", "pending"], WORK_MOVING),  # a grant of the topic still waits
        (Kind.TOPIC_CREATE, ["active", "failed"], WORK_FAILED),
        (Kind.TOPIC_CREATE, ["deleted"], WORK_DONE),  # created, later deleted: the creation was done
        (Kind.CLUSTER_CREATE, ["provisioning", None], WORK_MOVING),
        (Kind.CLUSTER_CREATE, ["active", "creating"], WORK_MOVING),  # the read cluster's replicator
        (Kind.CLUSTER_CREATE, ["active", "active"], WORK_DONE),
        (Kind.ACCESS_GRANT, ["applied"], WORK_DONE),
        (Kind.ACCESS_GRANT, ["failed"], WORK_FAILED),
        (Kind.TOPIC_DELETE, ["active"], WORK_MOVING),  # approved, the worker has not started yet
        (Kind.TOPIC_DELETE, ["deleting"], WORK_MOVING),
        (Kind.TOPIC_DELETE, ["deleted"], WORK_DONE),
        (Kind.ACCESS_REVOKE, ["revoked"], WORK_DONE),
        (Kind.CLUSTER_DECOMMISSION, ["failed"], WORK_FAILED),
        (Kind.TOPIC_CREATE, [None], ""),  # nothing to follow
    ],
)
def test_work_stage(kind, statuses, expected):
    assert work_stage(kind, statuses) == expected


def test_topic_change_is_done_once_a_step_is_logged_after_the_decision():
    assert work_stage(Kind.TOPIC_UPDATE, ["active"], change_applied=False) == WORK_MOVING
    assert work_stage(Kind.TOPIC_UPDATE, ["active"], change_applied=True) == WORK_DONE
    assert work_stage(Kind.TOPIC_UPDATE, ["failed"], change_applied=False) == WORK_FAILED


def _row(client, request) -> str:
    body = client.get(reverse("clusters:request-list")).content.decode()
    link = f'href="{reverse("clusters:request-detail", args=[request.pk])}"'
    start = body.index(link)
    return body[body.rindex("<tr", 0, start) : body.index("</tr>", start)]


def test_request_list_shows_where_the_work_is_next_to_the_decision(member_a, admin, team_a, cluster_a):
    submitted = submit_topic(member_a, team_a, cluster_a, name="waiting")
    approved = submit_topic(member_a, team_a, cluster_a, name="orders")
    services.approve_request(request_id=approved.pk, actor=admin)
    approved.refresh_from_db()
    client = client_for(member_a)

    row = _row(client, submitted)
    assert "Submitted" in row and "work-" not in row
    row = _row(client, approved)  # the worker has not picked it up yet
    assert "Approved" in row and '<span class="status work-moving">Provisioning</span>' in row

    Topic.objects.filter(pk=approved.topic_id).update(status=Topic.Status.ACTIVE)
    assert '<span class="status work-done">Done</span>' in _row(client, approved)
    Topic.objects.filter(pk=approved.topic_id).update(status=Topic.Status.FAILED)
    assert '<span class="status work-failed">Failed</span>' in _row(client, approved)


def test_topic_request_waits_for_the_grants_it_created(member_a, admin, team_a, cluster_a):
    request = submit_topic(
        member_a,
        team_a,
        cluster_a,
        name="with-access",
        access_entries=[services.AccessInput(PRINCIPAL, produce=True, consume=False)],
    )
    services.approve_request(request_id=request.pk, actor=admin)
    request.refresh_from_db()
    Topic.objects.filter(pk=request.topic_id).update(status=Topic.Status.ACTIVE)
    grant = AccessGrant.objects.get(topic_id=request.topic_id)
    client = client_for(member_a)
    assert "work-moving" in _row(client, request)
    AccessGrant.objects.filter(pk=grant.pk).update(status=AccessGrant.Status.FAILED)
    assert "work-failed" in _row(client, request)
    waiting = AccessGrant.objects.create(
        cluster=cluster_a, team=team_a, topic_id=request.topic_id, principal_arn=PRINCIPAL, can_consume=True
    )
    assert "work-failed" in _row(client, request)  # a failed grant outweighs one that waits
    AccessGrant.objects.filter(pk=grant.pk).update(status=AccessGrant.Status.APPLIED)
    assert "work-moving" in _row(client, request)
    AccessGrant.objects.filter(pk=waiting.pk).update(status=AccessGrant.Status.APPLIED)
    assert "work-done" in _row(client, request)


def test_removals_say_removing_until_gone(member_a, admin, team_a, cluster_a):
    topic = Topic.objects.create(
        cluster=cluster_a, team=team_a, name="team-a.old", partitions=1, status=Topic.Status.ACTIVE
    )
    request = services.submit_request(
        actor=member_a,
        prepared=services.prepare_topic_delete(actor=member_a, topic=topic, justification="Unused."),
    )
    services.approve_request(request_id=request.pk, actor=admin)
    client = client_for(member_a)
    assert '<span class="status work-moving">Removing</span>' in _row(client, request)
    Topic.objects.filter(pk=topic.pk).update(status=Topic.Status.DELETED)
    assert "work-done" in _row(client, request)


def test_a_page_of_topic_creations_reads_no_provisioning_steps(member_a, admin, team_a, cluster_a):
    """When a step was last logged on a topic matters to a topic change only: without one on the page,
    the query of the topics' work has no subquery for it."""
    services.approve_request(request_id=submit_topic(member_a, team_a, cluster_a, name="new").pk, actor=admin)
    client = client_for(member_a)
    client.get(reverse("clusters:request-list"))
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("clusters:request-list"))
    on_topics = [q["sql"] for q in queries.captured_queries if 'FROM "clusters_topic"' in q["sql"]]
    assert len(on_topics) == 1 and "clusters_provisioningevent" not in on_topics[0]


def test_topic_change_is_applying_until_the_worker_logs_it(member_a, admin, team_a, cluster_a):
    topic = Topic.objects.create(
        cluster=cluster_a,
        team=team_a,
        name="team-a.grow",
        partitions=1,
        status=Topic.Status.ACTIVE,
        expected_in_mbps=Decimal(1),
        expected_out_mbps=Decimal(1),
        configs={
            "retention.ms": 604_800_000,
            "retention.bytes": -1,
            "max.message.bytes": 1_048_588,
            "compression.type": "producer",
            "message.timestamp.type": "CreateTime",
            "cleanup.policy": "delete",
        },
    )
    request = services.submit_request(
        actor=member_a,
        prepared=services.prepare_topic_update(
            actor=member_a,
            topic=topic,
            partitions=2,
            retention_ms=604_800_000,
            retention_bytes=-1,
            max_message_bytes=1_048_588,
            compression_type="producer",
            message_timestamp_type="CreateTime",
            expected_in_mbps=Decimal(1),
            expected_out_mbps=Decimal(1),
            justification="More consumers.",
        ),
    )
    services.approve_request(request_id=request.pk, actor=admin)
    client = client_for(member_a)
    assert '<span class="status work-moving">Applying</span>' in _row(client, request)
    ProvisioningEvent.objects.create(topic=topic, from_status="active", to_status="active", note="updated")
    assert "work-done" in _row(client, request)


def test_list_query_count_stays_constant_with_approved_requests(member_a, admin, team_a, cluster_a):
    client = client_for(member_a)
    url = reverse("clusters:request-list")
    for name in ("a", "b"):
        services.approve_request(
            request_id=submit_topic(member_a, team_a, cluster_a, name=name).pk, actor=admin
        )
    client.get(url)
    few = _query_count(client, url)
    for number in range(30):
        services.approve_request(
            request_id=submit_topic(member_a, team_a, cluster_a, name=f"t{number}").pk, actor=admin
        )
    assert _query_count(client, url) == few


def test_cluster_page_says_who_asked_and_who_decided(member_a, admin, team_a, cluster_a):
    waiting = submit_topic(member_a, team_a, cluster_a, name="waiting")
    approved = submit_topic(member_a, team_a, cluster_a, name="approved")
    services.approve_request(request_id=approved.pk, actor=admin)
    rejected = submit_topic(member_a, team_a, cluster_a, name="rejected")
    services.reject_request(request_id=rejected.pk, actor=admin, reason="Not now.")
    AutoApprovalRule.objects.create(name="Small dev topics", kind=Kind.TOPIC_CREATE, environment="dev")
    automatic = submit_topic(member_a, team_a, cluster_a, name="automatic")

    rows = {row.pk: row for row in selectors.cluster_requests(user=member_a, cluster=cluster_a)}
    assert request_people(rows[waiting.pk]) == "Requested by member_a"
    assert request_people(rows[approved.pk]) == "Requested by member_a · approved by admin"
    assert request_people(rows[rejected.pk]) == "Requested by member_a · rejected by admin"
    assert request_people(rows[automatic.pk]) == "Requested by member_a · approved by rule “Small dev topics”"
    page = client_for(member_a).get(reverse("clusters:cluster-detail", args=[cluster_a.pk])).content.decode()
    assert "Requested by member_a · approved by admin" in page
    assert '<span class="muted">by member_a' not in page  # it read "Approved by member_a"


def test_shared_cluster_links_the_owner_team_only_for_those_who_may_open_it(
    member_a, member_b, team_a, team_b, cluster_a
):
    cluster_a.shared_with.add(team_b)
    url = reverse("clusters:cluster-detail", args=[cluster_a.pk])
    team_a_page, team_b_page = (reverse("portal:team-detail", args=[t.slug]) for t in (team_a, team_b))
    as_owner = client_for(member_a).get(url).content.decode()
    assert f'<a href="{team_a_page}">Team A</a>' in as_owner
    assert "Team B" in as_owner and f'href="{team_b_page}"' not in as_owner
    as_other_team = client_for(member_b).get(url).content.decode()
    assert "<dd>Team A</dd>" in as_other_team and f'href="{team_a_page}"' not in as_other_team
    assert f'<a href="{team_b_page}">Team B</a>' in as_other_team
    assert client_for(member_b).get(team_a_page).status_code == 404  # the link it no longer gets


def test_an_admins_menu_reads_its_two_counts_in_one_query(member_a, admin, team_a, cluster_a):
    submit_topic(member_a, team_a, cluster_a, name="one")
    submit_topic(member_a, team_a, cluster_a, name="two")
    for n, resolved_at in enumerate((None, None, timezone.now())):
        DriftFinding.objects.create(
            account=cluster_a.account,
            region="us-east-1",
            arn=f"arn:{n}",
            kind="unknown",
            detail="x",
            resolved_at=resolved_at,
        )
    client = client_for(admin)
    client.get(reverse("portal:team-list"))
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("portal:team-list")).content.decode()
    assert 'id="approvals-count" class="approvals-count"> <span class="badge count">2<' in page
    assert '<span class="badge count">2<span class="visually-hidden"> open</span>' in page  # drift
    counting = [q["sql"] for q in queries.captured_queries if "clusters_driftfinding" in q["sql"]]
    assert len(counting) == 1 and "clusters_request" in counting[0]


def test_inline_decision_carries_the_new_approvals_count(member_a, admin, team_a, cluster_a):
    first = submit_topic(member_a, team_a, cluster_a, name="one")
    submit_topic(member_a, team_a, cluster_a, name="two")
    client = client_for(admin)
    assert 'id="approvals-count" class="approvals-count"> <span class="badge count">2<' in (
        client.get(reverse("clusters:approval-queue")).content.decode()
    )
    response = client.post(
        reverse("clusters:request-approve", args=[first.pk]),
        {"fragment": "row"},
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert body.lstrip().startswith(f'<tr id="request-row-{first.pk}"')
    for badge_id in ("approvals-count", "approvals-count-menu"):
        assert (
            f'<span id="{badge_id}" class="approvals-count" hx-swap-oob="true"> <span class="badge count">1<'
            in body
        )
    # The requester's own cancel answers without the admins' count.
    second = Request.objects.exclude(pk=first.pk).get()
    cancelled = client_for(member_a).post(
        reverse("clusters:request-cancel", args=[second.pk]), headers={"HX-Request": "true"}
    )
    assert "hx-swap-oob" not in cancelled.content.decode()


def test_work_of_every_kind_costs_the_same_queries_for_few_and_many_rows(member_a, admin, team_a, cluster_a):
    """Approved cluster, topic and access requests on one page: one small query per kind of object,
    however many rows of each."""
    client = client_for(member_a)
    url = reverse("clusters:request-list")

    def approved(count: int) -> None:
        for number in range(count):
            topic = Topic.objects.create(
                cluster=cluster_a, team=team_a, name=f"team-a.w{number}-{count}", partitions=1
            )
            grant = AccessGrant.objects.create(
                cluster=cluster_a, team=team_a, topic=topic, principal_arn=PRINCIPAL, can_consume=True
            )
            for kind, target in (
                (Kind.CLUSTER_DECOMMISSION, {"cluster": cluster_a}),
                (Kind.TOPIC_CREATE, {"cluster": cluster_a, "topic": topic}),
                (Kind.ACCESS_GRANT, {"cluster": cluster_a, "grant": grant}),
            ):
                Request.objects.create(
                    kind=kind,
                    team=team_a,
                    requested_by=member_a,
                    environment="dev",
                    summary=f"{kind} {number}",
                    payload={},
                    status=Request.Status.APPROVED,
                    decided_by=admin,
                    decided_at=timezone.now(),
                    **target,
                )

    approved(1)
    client.get(url)
    few = _query_count(client, url)
    body = client.get(url).content.decode()
    assert body.count("work-moving") == 3  # cluster not yet deleted, topic and grant pending
    approved(20)
    assert _query_count(client, url) == few
