"""Step 4: the accepted plan becomes ordinary cluster, topic and access requests, filed by each team in one step
and decided by a platform admin other than the filer."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from clusters.migration import execution, inventory, planning
from clusters.migration.models import Application, MigrationPlan
from clusters.models import AccessGrant, Cluster, Replicator, Request, Topic
from clusters.requests import services
from portal.errors import NotAllowed
from portal.models import Membership
from tests.clusters.migration.test_planning import owned  # noqa: F401  (fixture)

PRODUCER = "arn:aws:iam::123456789012:role/orders-writer"
CONSUMER = "arn:aws:iam::123456789012:role/billing-reader"


def accepted_plan(admin, monolith, **options):
    """A new plan version of `monolith`, accepted by `admin`."""
    plan = planning.create_plan(actor=admin, monolith_id=monolith.pk, **options)
    return planning.accept_plan(actor=admin, plan_id=plan.pk)


def _declare_principals(member, name="orders"):
    application = Application.objects.get(name=name)
    inventory.update_requirements(
        actor=member,
        application_id=application.pk,
        producer_roles=PRODUCER,
        consumer_roles=f"{CONSUMER} billing",
    )


def _payments_sides(plan):
    """A write/read plan's write and read cluster of payments alone."""
    return [
        next(c for c in plan.result["clusters"] if c["side"] == side and c["applications"] == ["payments"])
        for side in ("write", "read")
    ]


def _by_state(items, state):
    return [item for item in items if item.state == state]


def _approve_all(admin, **filters):
    """Every waiting request matching `filters`, approved by `admin` (who filed none of them)."""
    for request in Request.objects.filter(status=Request.Status.SUBMITTED, **filters):
        services.approve_request(request_id=request.pk, actor=admin)


@pytest.fixture
def filer(member_a, team_a, second_admin):
    """An admin who is also in team A: files for the team like any member, and still may not approve."""
    Membership.objects.create(team=team_a, user=second_admin)
    return second_admin


def test_segregated_plan_becomes_clusters_topics_and_access_approved_by_another_admin(
    owned,  # noqa: F811
    admin,
    filer,
    member_a,
    team_a,
    network_profile,
):
    _declare_principals(member_a)
    plan = accepted_plan(admin, owned)

    first = execution.file_requests(actor=filer, plan_id=plan.pk, team=team_a)
    clusters = _by_state(first, execution.FILED)
    mine = sorted(c["name"] for c in plan.result["clusters"] if c["group"]["team"] == "team-a")
    assert sorted(item.cluster for item in clusters) == mine and {i.kind for i in clusters} == {"cluster"}
    waiting = _by_state(first, execution.WAITING)
    assert {item.kind for item in waiting} == {"topic", "access"}
    assert all("waits for approval" in item.note for item in waiting)
    for item in clusters:
        request = item.request
        assert request.requested_by == filer and request.team == team_a
        assert f"plan v{plan.version}" in request.justification
        assert f"/migration/plans/{plan.pk}/" in request.justification
        with pytest.raises(NotAllowed):  # four eyes: the filer is an admin, and still not the decider
            services.approve_request(request_id=request.pk, actor=filer)
    _approve_all(admin)

    second = execution.file_requests(actor=filer, plan_id=plan.pk, team=team_a)
    topics = {item.label: item.request for item in _by_state(second, execution.FILED)}
    assert set(topics) == {
        "Topic orders.created",
        "Topic orders.audit",
        "Topic payments.events",
        "Topic customers.pii",
    }
    created = topics["Topic orders.created"]
    assert created.kind == Request.Kind.TOPIC_CREATE and created.payload["name"] == "orders.created"
    assert created.payload["name_as_is"] is True and created.payload["partitions"] == 12
    assert created.payload["configs"]["retention.ms"] == 604800000
    assert created.cluster.name == next(i.cluster for i in clusters if "1" in i.cluster)
    assert topics["Topic orders.audit"].payload["configs"]["retention.ms"] == -1
    assert all("waits for approval" in item.note for item in _by_state(second, execution.WAITING))
    _approve_all(admin)
    assert Topic.objects.filter(name="orders.created", team=team_a, status=Topic.Status.PENDING).exists()

    third = execution.file_requests(actor=filer, plan_id=plan.pk, team=team_a)
    grants = {item.label: item.request for item in _by_state(third, execution.FILED)}
    assert set(grants) == {
        f"Produce on orders.created for {PRODUCER}",
        f"Produce on orders.audit for {PRODUCER}",
        f"Consume as billing on orders.created for {CONSUMER}",
        f"Consume as billing on orders.audit for {CONSUMER}",
    }
    consume = grants[f"Consume as billing on orders.created for {CONSUMER}"]
    assert consume.payload["consume"] and consume.payload["consumer_group_prefix"] == "billing"
    assert consume.payload["policy"]["Statement"][1]["Resource"].endswith("/orders.created")
    assert not _by_state(third, execution.WAITING)
    _approve_all(admin)
    assert AccessGrant.objects.filter(principal_arn=PRODUCER, can_produce=True, team=team_a).count() == 2

    count = Request.objects.count()
    fourth = execution.file_requests(actor=filer, plan_id=plan.pk, team=team_a)
    assert Request.objects.count() == count  # filing again files nothing new
    assert {item.state for item in fourth} == {execution.REQUESTED}


def test_filing_twice_before_approval_files_nothing_new(owned, admin, member_a, team_a, network_profile):  # noqa: F811
    plan = accepted_plan(admin, owned)
    first = execution.file_requests(actor=member_a, plan_id=plan.pk, team=team_a)
    count = Request.objects.count()
    assert count == len(_by_state(first, execution.FILED)) > 0
    again = execution.file_requests(actor=member_a, plan_id=plan.pk, team=team_a)
    assert Request.objects.count() == count
    assert not _by_state(again, execution.FILED)
    requested = _by_state(again, execution.REQUESTED)
    assert {item.request.pk for item in requested} == set(Request.objects.values_list("pk", flat=True))
    assert {item.note for item in requested} == {"waits for approval"}


def test_a_version_computed_before_the_split_files_its_clusters_as_the_form_does(
    owned,  # noqa: F811
    admin,
    member_a,
    team_a,
    network_profile,
):
    """A version kept from before the plan's figures were split by request (no `cluster_priced`) files a write
    or dedicated cluster priced as one from the form: one cluster-month, its traffic being in its topics'
    requests. It used to price the cluster's whole expected throughput, which those topics' requests price
    again."""
    plan = accepted_plan(admin, owned)
    result = plan.result
    for planned in result["clusters"]:
        for key in ("cluster_priced", "cluster_usd", "topics_usd", "topic_costs"):
            del planned[key]
    MigrationPlan.objects.filter(pk=plan.pk).update(result=result)

    items = execution.file_requests(actor=member_a, plan_id=plan.pk, team=team_a)
    filed = [item.request for item in _by_state(items, execution.FILED)]
    assert filed and {request.kind for request in filed} == {Request.Kind.CLUSTER_CREATE}
    for request in filed:
        assert Decimal(request.payload["expected_write_mbps"]) > 0
        assert [line["charge_type"] for line in request.assessment["cost"]["lines"]] == ["cluster_hours"]
        assert request.estimated_monthly_cost == Decimal("547.50")
        assert request.payload["estimate_covers"].startswith("one cluster-month (730 cluster-hours).")


def test_a_rule_approval_lets_one_step_file_everything(owned, admin, member_a, team_a, network_profile):  # noqa: F811
    """What a rule approves at once (rules are written by an admin, never the filer) is filed in the same step."""
    from clusters.models import AutoApprovalRule

    for kind in (Request.Kind.CLUSTER_CREATE, Request.Kind.TOPIC_CREATE):
        AutoApprovalRule.objects.create(name=kind, kind=kind, require_headroom=False)
    _declare_principals(member_a)
    plan = accepted_plan(admin, owned)
    items = execution.file_requests(actor=member_a, plan_id=plan.pk, team=team_a)
    kinds = {item.kind for item in _by_state(items, execution.FILED)}
    assert kinds == {"cluster", "topic", "access"}
    access_requests = Request.objects.filter(kind=Request.Kind.ACCESS_GRANT)
    assert access_requests.count() == 4 and set(access_requests.values_list("status", flat=True)) == {
        "submitted"
    }


def test_write_read_plan_files_read_clusters_once_their_write_cluster_runs(
    owned,  # noqa: F811
    admin,
    member_a,
    team_a,
    network_profile,
):
    _declare_principals(member_a, "payments")
    plan = accepted_plan(admin, owned, strategy="write_read")
    write, read = _payments_sides(plan)

    items = {
        item.label: item for item in execution.file_requests(actor=member_a, plan_id=plan.pk, team=team_a)
    }
    assert items[f"Write cluster {write['name']}"].state == execution.FILED
    waiting = items[f"Read cluster {read['name']}"]
    assert waiting.state == execution.WAITING and "waits for approval" in waiting.note
    _approve_all(admin)
    items = {
        item.label: item for item in execution.file_requests(actor=member_a, plan_id=plan.pk, team=team_a)
    }
    waiting = items[f"Read cluster {read['name']}"]
    assert waiting.state == execution.WAITING
    assert f"Waits for write cluster {write['name']}, approved, waiting to be provisioned" in waiting.note
    assert items["Topic payments.events"].state == execution.FILED
    assert not Request.objects.filter(payload__name=read["name"]).exists()

    Cluster.objects.filter(name=write["name"]).update(status=Cluster.Status.ACTIVE)
    items = {
        item.label: item for item in execution.file_requests(actor=member_a, plan_id=plan.pk, team=team_a)
    }
    waiting = items[f"Read cluster {read['name']}"]
    assert (
        waiting.state == execution.WAITING and "payments.events" in waiting.note
    )  # its topic is not approved
    _approve_all(admin)

    items = {
        item.label: item for item in execution.file_requests(actor=member_a, plan_id=plan.pk, team=team_a)
    }
    filed = items[f"Read cluster {read['name']}"]
    assert filed.state == execution.FILED
    source = Cluster.objects.get(name=write["name"])
    assert filed.request.payload["kind"] == "read" and filed.request.payload["source_cluster_id"] == source.pk
    assert filed.request.payload["replicate_topics"] == ["payments.events"]
    assert items[f"Produce on payments.events for {PRODUCER}"].request.cluster == source
    consume = items[f"Consume as billing on payments.events for {CONSUMER}"]
    assert (
        consume.state == execution.WAITING and read["name"] in consume.note
    )  # consumers read on the read cluster
    _approve_all(admin)
    replicator = Replicator.objects.get(read_cluster__name=read["name"])
    assert replicator.source_cluster == source and replicator.topics == ["payments.events"]
    # The plan's figures are the requests' estimates, to the cent: the write cluster's request plus its topic's
    # (the replicator reads each record once: out = in), and the read cluster's request alone (nobody files
    # topics there; it carries its copied topics' partitions, data and storage and MSK Replicator's 83).
    write_request = Request.objects.get(kind=Request.Kind.CLUSTER_CREATE, payload__name=write["name"])
    topic_request = Request.objects.get(kind=Request.Kind.TOPIC_CREATE, payload__name="payments.events")
    assert topic_request.payload["expected_in_mbps"] == topic_request.payload["expected_out_mbps"] == "20.00"
    assert write_request.estimated_monthly_cost == Decimal(write["cluster_usd"])
    assert write_request.estimated_monthly_cost + topic_request.estimated_monthly_cost == Decimal(
        write["monthly_usd"]
    )
    assert (
        filed.request.estimated_monthly_cost == Decimal(read["monthly_usd"]) == Decimal(read["cluster_usd"])
    )
    assert "all of plan v1's figure" in filed.request.payload["estimate_covers"]

    items = {
        item.label: item for item in execution.file_requests(actor=member_a, plan_id=plan.pk, team=team_a)
    }
    consume = items[f"Consume as billing on payments.events for {CONSUMER}"]
    assert consume.state == execution.FILED and consume.request.cluster.name == read["name"]
    assert consume.request.payload["policy"]["Statement"][1]["Resource"].startswith(
        f"arn:aws:kafka:us-east-1:123456789012:topic/{read['name']}/"
    )


def test_a_pii_read_cluster_is_not_fed_by_plain_replication(
    owned,  # noqa: F811
    admin,
    member_a,
    team_a,
    network_profile,
):
    """The write/read plan names a masking job for customers (PII): its read cluster is not filed with MSK
    Replicator copying the sensitive fields; its consumers' access says what it waits for."""
    _declare_principals(member_a, "customers")
    plan = accepted_plan(admin, owned, strategy="write_read")
    assert ("customers", "masking") in {(flag["application"], flag["job"]) for flag in plan.result["flags"]}
    read = next(
        c for c in plan.result["clusters"] if c["side"] == "read" and "customers" in c["applications"]
    )
    write = next(
        c for c in plan.result["clusters"] if c["side"] == "write" and "customers" in c["applications"]
    )
    execution.file_requests(actor=member_a, plan_id=plan.pk, team=team_a)
    _approve_all(admin)
    Cluster.objects.filter(name=write["name"]).update(status=Cluster.Status.ACTIVE)
    execution.file_requests(actor=member_a, plan_id=plan.pk, team=team_a)
    _approve_all(admin)

    items = {
        item.label: item for item in execution.file_requests(actor=member_a, plan_id=plan.pk, team=team_a)
    }
    refused = items[f"Read cluster {read['name']}"]
    assert refused.state == execution.REFUSED
    assert "carry PII" in refused.note and "masking stream job" in refused.note
    assert not Request.objects.filter(payload__name=read["name"]).exists()
    assert all("customers.pii" not in replicator.topics for replicator in Replicator.objects.all())
    consume = items[f"Consume as billing on customers.pii for {CONSUMER}"]
    assert consume.state == execution.WAITING
    assert (
        consume.note
        == f"Waits for read cluster {read['name']}, fed by a masking stream job the portal does not run."
    )
    assert (
        items[f"Produce on customers.pii for {PRODUCER}"].state == execution.FILED
    )  # the write side as usual


def test_a_shared_write_cluster_is_opened_to_the_teams_the_plan_puts_on_it(
    owned,  # noqa: F811
    admin,
    member_a,
    member_b,
    team_a,
    team_b,
    network_profile,
):
    plan = accepted_plan(admin, owned, strategy="write_read")
    shared = next(
        c for c in plan.result["clusters"] if c["side"] == "write" and "orders" in c["applications"]
    )
    assert execution.owner_team_slug(shared, plan) == "team-b"  # most throughput on it
    items = {i.label: i for i in execution.file_requests(actor=member_a, plan_id=plan.pk, team=team_a)}
    orders = items["Topic orders.created"]
    assert orders.state == execution.WAITING and "team team-b files it" in orders.note
    filed = {i.label: i for i in execution.file_requests(actor=member_b, plan_id=plan.pk, team=team_b)}
    request = filed[f"Write cluster {shared['name']}"].request
    assert request.payload["share_with"] == ["team-a"] and "Opened to team-a" in request.justification
    _approve_all(admin)
    assert list(Cluster.objects.get(name=shared["name"]).shared_with.all()) == [team_a]
    items = {i.label: i for i in execution.file_requests(actor=member_a, plan_id=plan.pk, team=team_a)}
    assert items["Topic orders.created"].state == execution.FILED
    assert items["Topic orders.created"].request.team == team_a


def test_names_and_roles_the_rules_refuse_are_reported_and_the_rest_is_filed(
    monolith, admin, member_a, team_a, team_b, network_profile
):
    content = (
        "topic,partitions,retention_ms,peak_in_mbps,peak_out_mbps,application,team,consumer_groups\n"
        "team-b.borrowed,3,604800000,1,1,ledger,team-a,\n"  # in team B's namespace
        "__ledger-state,1,604800000,1,1,ledger,team-a,\n"  # a name Kafka keeps for itself
        "ledger.hot,2,604800000,30,30,ledger,team-a,\n"  # 15 MB/s per partition
        "ledger.entries,3,604800000,1,1,ledger,team-a,\n"
    )
    inventory.import_csv(actor=admin, monolith_id=monolith.pk, content=content.encode())
    inventory.discover_applications(actor=admin, monolith_id=monolith.pk)
    ledger = Application.objects.get(name="ledger")
    claim = inventory.claim_application(actor=member_a, application_id=ledger.pk, team=team_a)
    inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=True)
    china = (
        "arn:aws-cn:iam::123456789012:role/ledger"  # a valid role ARN, in the wrong partition for us-east-1
    )
    inventory.update_requirements(actor=member_a, application_id=ledger.pk, producer_roles=china)
    plan = accepted_plan(admin, monolith)

    before = {item.label: item for item in execution.plan_items(plan, team_a)}
    assert "team team-b's namespace “team-b.”" in before["Topic team-b.borrowed"].note
    assert before["Topic team-b.borrowed"].state == execution.REFUSED
    assert "starts with “__”" in before["Topic __ledger-state"].note
    assert "needs 6 partitions, not 2" in before["Topic ledger.hot"].note
    execution.file_requests(actor=member_a, plan_id=plan.pk, team=team_a)
    _approve_all(admin)
    items = {
        item.label: item for item in execution.file_requests(actor=member_a, plan_id=plan.pk, team=team_a)
    }
    assert items["Topic ledger.entries"].state == execution.FILED
    refused = _by_state(items.values(), execution.REFUSED)
    assert len(refused) == 3 + 4  # three topics, and the producer role on each of the four topics
    assert "the aws partition" in items[f"Produce on ledger.entries for {china}"].note
    assert Request.objects.filter(kind=Request.Kind.TOPIC_CREATE).count() == 1


def test_only_the_team_files_and_only_the_accepted_plan(
    owned,  # noqa: F811
    admin,
    member_b,
    finance,
    team_a,
    network_profile,
):
    plan = accepted_plan(admin, owned)
    for actor in (member_b, finance, admin):  # another team's member, finance, an admin outside the team
        with pytest.raises(NotAllowed):
            execution.file_requests(actor=actor, plan_id=plan.pk, team=team_a)
    draft = planning.create_plan(actor=admin, monolith_id=owned.pk)
    with pytest.raises(ValidationError, match="accepted plan"):
        execution.file_requests(actor=member_b, plan_id=draft.pk, team=team_a)
    assert not Request.objects.exists()


def test_principals_are_checked_when_declared(owned, member_a):  # noqa: F811
    orders = Application.objects.get(name="orders")
    with pytest.raises(ValidationError) as excinfo:
        inventory.update_requirements(
            actor=member_a,
            application_id=orders.pk,
            producer_roles=f"{PRODUCER}\narn:aws:iam::12345:role/x",
            consumer_roles=CONSUMER,
        )
    errors = excinfo.value.message_dict
    assert errors["producer_roles"] == ["Line 2: “12345” is not an AWS account id: 12 digits 0–9."]
    assert errors["consumer_roles"] == ["Line 1: an IAM role ARN, a space, then its consumer group."]


def test_an_object_removed_after_approval_is_not_requested_again(
    owned,  # noqa: F811
    admin,
    member_a,
    team_a,
    network_profile,
):
    """Approved once is requested: a topic deleted since (or a grant revoked) was someone's decision."""
    plan = accepted_plan(admin, owned)
    execution.file_requests(actor=member_a, plan_id=plan.pk, team=team_a)
    _approve_all(admin)
    execution.file_requests(actor=member_a, plan_id=plan.pk, team=team_a)
    _approve_all(admin)
    Topic.objects.filter(name="orders.audit").update(status=Topic.Status.DELETED)
    count = Request.objects.count()
    items = {
        item.label: item for item in execution.file_requests(actor=member_a, plan_id=plan.pk, team=team_a)
    }
    assert Request.objects.count() == count
    assert (
        items["Topic orders.audit"].state == execution.REQUESTED
        and items["Topic orders.audit"].note == "approved"
    )


def test_a_shared_cluster_is_filed_by_the_busiest_claimed_team_not_by_nobody(
    owned,  # noqa: F811
    admin,
    team_a,
    network_profile,
):
    """An unclaimed application carrying most of a write cluster's traffic must not leave it without a filer."""
    Application.objects.filter(name__in=["clicks", "search"]).update(
        team=None
    )  # team B's busiest, unclaimed now
    plan = accepted_plan(admin, owned, strategy="write_read")
    shared = next(
        c for c in plan.result["clusters"] if c["side"] == "write" and "orders" in c["applications"]
    )
    assert set(shared["applications"]) >= {"clicks", "search", "orders"}  # 260 MB/s in + out unclaimed
    assert execution.owner_team_slug(shared, plan) == "team-a"  # orders: 92 MB/s, the busiest claimed one
    filed = next(i for i in execution.plan_items(plan, team_a) if i.cluster == shared["name"])
    assert filed.label == f"Write cluster {shared['name']}" and filed.state == "ready"


# --- The admins' one mail per filing ------------------------------------------------------------------------


def _ledger_plan(monolith, admin, member_a, team_a, topics: int):
    """An accepted plan whose one application (team A's ledger) has `topics` small topics on one cluster."""
    rows = "".join(f"ledger.t{i:03},1,604800000,0.1,0.1,ledger,team-a,\n" for i in range(topics))
    content = (
        "topic,partitions,retention_ms,peak_in_mbps,peak_out_mbps,application,team,consumer_groups\n" + rows
    )
    inventory.import_csv(actor=admin, monolith_id=monolith.pk, content=content.encode())
    inventory.discover_applications(actor=admin, monolith_id=monolith.pk)
    claim = inventory.claim_application(
        actor=member_a, application_id=Application.objects.get(name="ledger").pk, team=team_a
    )
    inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=True)
    return accepted_plan(admin, monolith)


def _later():
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    return timezone.now() + timedelta(seconds=settings.PROVISIONING_REDISPATCH_SECONDS + 1)


def _filed_topics():
    return list(Request.objects.filter(kind=Request.Kind.TOPIC_CREATE).order_by("pk"))


def test_filing_many_topics_sends_the_admins_one_mail(
    monolith, admin, second_admin, member_a, team_a, network_profile, django_capture_on_commit_callbacks
):
    from django.core import mail

    from clusters.migration.models import MigrationEvent
    from clusters.requests.notifications import lost_notifications

    plan = _ledger_plan(monolith, admin, member_a, team_a, topics=25)
    execution.file_requests(
        actor=member_a, plan_id=plan.pk, team=team_a
    )  # the cluster (its mail not run here)
    _approve_all(admin)
    with django_capture_on_commit_callbacks(execute=True):
        items = execution.file_requests(actor=member_a, plan_id=plan.pk, team=team_a)
    assert len(_by_state(items, execution.FILED)) == 25 == len(_filed_topics())

    assert len(mail.outbox) == 1  # one digest, not 25 "Approval needed" mails
    digest = mail.outbox[0]
    assert sorted(digest.to) == ["admin2@example.com", "admin@example.com"]
    assert digest.subject == "[MSK portal] Approval needed: 25 requests from Alice (Team A)"
    assert "filed 25 requests that wait for approval" in digest.body
    assert f"accepted migration plan v{plan.version} of legacy" in digest.body
    assert f"/migration/plans/{plan.pk}/" in digest.body
    assert "Estimated cost: $" in digest.body and "per month in total" in digest.body
    first = _filed_topics()[0]
    assert f"- #{first.pk} {first.summary}: $" in digest.body
    assert digest.body.count("\n- #") == 20 and "and 5 more." in digest.body
    assert (
        "Review them in the approval queue: http://" in digest.body
        and "/approvals/?team=team-a\n" in digest.body
    )
    assert (
        "Flagged (more than the soft limit of a quota, or taking down other teams' topics): 0." in digest.body
    )

    # Every request the digest names is claimed: beat does not mail them one by one, and a second run sends nothing.
    topic_ids = {request.pk for request in _filed_topics()}
    assert not [lost for lost in lost_notifications(_later()) if lost[0] in topic_ids]
    event = MigrationEvent.objects.filter(action="plan.requests_filed").first()
    assert execution.mail_filing_digest(event.pk) == 0
    from clusters.migration import tasks

    assert tasks.mail_filing_digest.delay(event.pk).get() == 0
    assert len(mail.outbox) == 1


def test_the_digest_names_only_what_waits_for_a_person(
    monolith, admin, member_a, team_a, network_profile, django_capture_on_commit_callbacks
):
    """A request a rule approved at once is not in the admins' mail (the requester hears of the approval)."""
    from django.core import mail

    from clusters.models import AutoApprovalRule

    AutoApprovalRule.objects.create(name="clusters", kind=Request.Kind.CLUSTER_CREATE, require_headroom=False)
    plan = _ledger_plan(monolith, admin, member_a, team_a, topics=3)
    with django_capture_on_commit_callbacks(execute=True):
        execution.file_requests(actor=member_a, plan_id=plan.pk, team=team_a)
    cluster_request = Request.objects.get(kind=Request.Kind.CLUSTER_CREATE)
    assert cluster_request.status == Request.Status.APPROVED and len(_filed_topics()) == 3
    digests = [m for m in mail.outbox if "Approval needed" in m.subject]
    assert len(digests) == 1 and "3 requests" in digests[0].subject
    assert cluster_request.summary not in digests[0].body
    assert [m.subject for m in mail.outbox if m not in digests] == [
        f"[MSK portal] Request #{cluster_request.pk} approved: {cluster_request.summary}"
    ]


def test_a_lost_digest_leaves_each_request_to_beat(
    monolith, admin, member_a, team_a, network_profile, django_capture_on_commit_callbacks
):
    """The digest task never ran (the broker was down): beat mails each waiting request on its own, once."""
    from django.core import mail

    from clusters.migration.models import MigrationEvent
    from clusters.requests.notifications import lost_notifications, resend_lost_notifications

    plan = _ledger_plan(monolith, admin, member_a, team_a, topics=3)
    execution.file_requests(actor=member_a, plan_id=plan.pk, team=team_a)
    _approve_all(admin)
    with django_capture_on_commit_callbacks(execute=False):  # lost
        execution.file_requests(actor=member_a, plan_id=plan.pk, team=team_a)
    assert not mail.outbox
    topics = [request.pk for request in _filed_topics()]
    assert [lost for lost in lost_notifications(_later()) if lost[0] in topics] == [
        (pk, "submitted") for pk in topics
    ]
    resend_lost_notifications(now=_later())
    assert len([m for m in mail.outbox if "Approval needed" in m.subject]) == 3
    late = MigrationEvent.objects.filter(action="plan.requests_filed").first()  # the newest
    assert execution.mail_filing_digest(late.pk) == 0  # a late digest finds them mailed


# --- The filing job (clusters/migration/filing.py) -----------------------------------------------------------


def _press(member_a, plan, team_a, capture):
    """A press of the button: the filing recorded, its task enqueued on commit but not run (returned)."""
    from clusters.migration import filing

    with capture(execute=False) as enqueued:
        job = filing.start(actor=member_a, plan_id=plan.pk, team=team_a)
    return job, enqueued


def _filing_events(job):
    from clusters.migration.models import MigrationEvent

    return list(
        MigrationEvent.objects.filter(object_type="filing", object_id=str(job.pk))
        .order_by("id")
        .values_list("action", "from_status", "to_status")
    )


def test_the_filing_task_files_writes_its_progress_and_completes_the_record(
    monolith, admin, member_a, team_a, network_profile, django_capture_on_commit_callbacks, monkeypatch
):
    from django.core import mail

    from clusters.migration import filing, tasks
    from clusters.migration.models import Filing

    plan = _ledger_plan(monolith, admin, member_a, team_a, topics=5)
    execution.file_requests(actor=member_a, plan_id=plan.pk, team=team_a)  # the cluster
    _approve_all(admin)
    mail.outbox.clear()
    job, enqueued = _press(member_a, plan, team_a, django_capture_on_commit_callbacks)
    assert len(enqueued) == 1 and not _filed_topics()  # the press files nothing itself

    seen = []
    file_items = execution.file_items

    def watched(**kwargs):
        progress = kwargs.pop("progress")

        def spy(done, total, item):
            progress(done, total, item)
            seen.append(Filing.objects.values_list("status", "done_count", "total").get(pk=job.pk))

        return file_items(progress=spy, **kwargs)

    monkeypatch.setattr(filing.execution, "file_items", watched)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.run_filing.delay(job.pk).get() == "done"

    assert seen == [("running", done, 5) for done in range(6)]
    job.refresh_from_db()
    topics = _filed_topics()
    assert (job.status, job.done_count, job.total, job.attempt) == ("done", 5, 5, 1)
    assert job.started_at and job.finished_at and job.filed_request_ids == [request.pk for request in topics]
    assert [(row["state"], row["request"]) for row in job.result if row["kind"] == "topic"] == [
        ("filed", request.pk) for request in topics
    ]
    assert _filing_events(job) == [
        ("filing.queued", "", "queued"),
        ("filing.running", "queued", "running"),
        ("filing.done", "running", "done"),
    ]
    assert len([m for m in mail.outbox if "Approval needed: 5 requests" in m.subject]) == 1  # the one digest

    # A redelivered task leaves a finished filing alone; a new press files nothing new.
    assert filing.run(job.pk) == "done"
    second, enqueued = _press(member_a, plan, team_a, django_capture_on_commit_callbacks)
    enqueued[0]()
    second.refresh_from_db()
    assert second.status == "done" and second.total == 0 and len(_filed_topics()) == 5
    assert not [row for row in second.result if row["state"] == "filed"]


def test_a_second_press_while_the_filing_is_queued_or_running_is_refused(
    monolith, admin, member_a, team_a, network_profile, django_capture_on_commit_callbacks
):
    from clusters.migration import filing
    from clusters.migration.models import Filing
    from portal.errors import Conflict

    plan = _ledger_plan(monolith, admin, member_a, team_a, topics=2)
    job, _ = _press(member_a, plan, team_a, django_capture_on_commit_callbacks)
    for status in ("queued", "running"):
        Filing.objects.filter(pk=job.pk).update(status=status)
        with pytest.raises(Conflict, match="Team A's requests from this plan are being filed already"):
            filing.start(actor=member_a, plan_id=plan.pk, team=team_a)
    assert Filing.objects.count() == 1 and not Request.objects.exists()
    with pytest.raises(NotAllowed):  # and only the team's members press
        filing.start(actor=admin, plan_id=plan.pk, team=team_a)


class _WorkerDied(BaseException):
    """The worker process ends mid-way (not an error the task could record)."""


def test_a_filing_whose_worker_died_is_run_again_by_beat_and_files_nothing_twice(
    monolith, admin, member_a, team_a, network_profile, django_capture_on_commit_callbacks, monkeypatch
):
    from clusters.migration import filing, tasks

    plan = _ledger_plan(monolith, admin, member_a, team_a, topics=5)
    execution.file_requests(actor=member_a, plan_id=plan.pk, team=team_a)
    _approve_all(admin)
    job, enqueued = _press(member_a, plan, team_a, django_capture_on_commit_callbacks)
    submit = services.submit_request
    calls = []

    def dies_after_two(**kwargs):
        if len(calls) == 2:
            raise _WorkerDied
        calls.append(1)
        return submit(**kwargs)

    monkeypatch.setattr(services, "submit_request", dies_after_two)
    with pytest.raises(_WorkerDied):
        enqueued[0]()
    monkeypatch.setattr(services, "submit_request", submit)
    job.refresh_from_db()
    assert (job.status, job.done_count, job.total, len(job.filed_request_ids)) == ("running", 2, 5, 2)

    assert filing.requeue_lost(lost_after_seconds=120) == []  # not lost yet: it moved just now
    with django_capture_on_commit_callbacks(execute=True):  # beat, later: queued again and run
        assert filing.requeue_lost(lost_after_seconds=120, now=_later()) == [job.pk]
    job.refresh_from_db()
    topics = _filed_topics()
    assert len(topics) == len({request.payload["name"] for request in topics}) == 5  # no duplicates
    assert (job.status, job.attempt, job.done_count, job.total) == ("done", 2, 3, 3)  # the rerun's three
    assert sorted(job.filed_request_ids) == [request.pk for request in topics]
    assert sum(row["state"] == "filed" for row in job.result) == 5  # the first run's two still show filed
    assert [event[0] for event in _filing_events(job)] == [
        "filing.queued",
        "filing.running",
        "filing.queued",  # by beat: no progress, its worker was lost
        "filing.running",
        "filing.done",
    ]
    assert tasks.requeue_lost_filings.delay().get() == 0  # nothing left to pick up
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["migration-requeue-lost-filings"]
    assert entry == {
        "task": tasks.requeue_lost_filings.name,
        "schedule": settings.PROVISIONING_REDISPATCH_SECONDS,
    }


def test_a_filing_whose_task_was_never_sent_is_sent_by_beat(
    monolith, admin, member_a, team_a, network_profile, django_capture_on_commit_callbacks
):
    from clusters.migration import filing

    plan = _ledger_plan(monolith, admin, member_a, team_a, topics=2)
    job, _ = _press(member_a, plan, team_a, django_capture_on_commit_callbacks)  # the broker was down
    with django_capture_on_commit_callbacks(execute=True):
        assert filing.requeue_lost(lost_after_seconds=120, now=_later()) == [job.pk]
    job.refresh_from_db()
    assert job.status == "done" and Request.objects.filter(kind=Request.Kind.CLUSTER_CREATE).count() == 1


def test_a_filing_the_plan_no_longer_allows_fails_with_the_reason(
    monolith, admin, member_a, team_a, network_profile, django_capture_on_commit_callbacks
):
    from clusters.migration import filing
    from clusters.migration.models import MigrationPlan

    plan = _ledger_plan(monolith, admin, member_a, team_a, topics=2)
    job, _ = _press(member_a, plan, team_a, django_capture_on_commit_callbacks)
    MigrationPlan.objects.filter(pk=plan.pk).update(status=MigrationPlan.Status.SUPERSEDED)
    assert filing.run(job.pk) == "failed"
    job.refresh_from_db()
    assert job.reason == "Only the accepted plan becomes requests." and job.finished_at
    assert not Request.objects.exists()


def test_a_slow_run_beat_gave_to_a_new_attempt_stops_and_does_not_finish_the_filing(
    monolith, admin, member_a, team_a, network_profile, django_capture_on_commit_callbacks, monkeypatch
):
    from clusters.migration import filing
    from clusters.migration.models import Filing

    plan = _ledger_plan(monolith, admin, member_a, team_a, topics=2)
    job, _ = _press(member_a, plan, team_a, django_capture_on_commit_callbacks)
    file_items = execution.file_items

    def overtaken(**kwargs):  # meanwhile beat requeued it and a new run started: attempt 2
        Filing.objects.filter(pk=job.pk).update(attempt=2)
        return file_items(**kwargs)

    monkeypatch.setattr(filing.execution, "file_items", overtaken)
    assert filing.run(job.pk) == "superseded"
    job.refresh_from_db()
    assert (job.status, job.attempt, job.result) == ("running", 2, [])  # left to the newer run
    assert not Request.objects.exists()  # stopped at its first progress update, before filing anything


# --- The next stages by themselves (clusters/migration/autofiling.py) ----------------------------------------


def _press_opting_in(member, plan, team, capture, *, next_stages=True):
    """A press with "File the next stages by themselves" ticked, its filing run by the worker."""
    from clusters.migration import autofiling

    with capture(execute=True):
        return autofiling.press(actor=member, plan_id=plan.pk, team=team, next_stages=next_stages)


def _auto_events(plan):
    from clusters.migration.models import MigrationEvent

    return list(
        MigrationEvent.objects.filter(action__startswith="autofiling.")
        .order_by("id")
        .values_list("action", "actor_label", "reason")
    )


def test_an_opt_in_files_the_topics_once_the_cluster_is_approved_in_the_filers_name(
    monolith, admin, member_a, team_a, network_profile, django_capture_on_commit_callbacks
):
    from django.core import mail

    from clusters.migration import autofiling, tasks
    from clusters.migration.models import AutoFiling, Filing, MigrationEvent

    plan = _ledger_plan(monolith, admin, member_a, team_a, topics=3)
    first = _press_opting_in(member_a, plan, team_a, django_capture_on_commit_callbacks)
    auto = AutoFiling.objects.get()
    assert (auto.plan, auto.team, auto.requested_by, auto.status) == (plan, team_a, member_a, "on")
    assert _auto_events(plan) == [("autofiling.on", "member_a", "")]
    first.refresh_from_db()
    assert first.status == "done" and first.auto_filing is None  # the press itself
    assert Request.objects.filter(kind=Request.Kind.CLUSTER_CREATE).count() == 1 and not _filed_topics()

    assert autofiling.file_next_stages() == []  # the topics wait for the cluster's approval
    assert AutoFiling.objects.get().status == "on"
    _approve_all(admin)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        (started,) = autofiling.file_next_stages()
        assert autofiling.file_next_stages() == []  # beat again before it ran: still one filing
    job = Filing.objects.get(pk=started)
    assert (job.status, job.requested_by, job.auto_filing, len(enqueued)) == ("queued", member_a, auto, 1)
    event = MigrationEvent.objects.get(action="filing.filed_automatically")
    assert event.actor is None and event.object_id == str(job.pk)
    assert event.reason.startswith("Filed automatically for Alice, who opted in on ")
    assert event.reason.endswith(": 3 items became ready to file.")

    with django_capture_on_commit_callbacks(execute=True):
        enqueued[0]()  # the worker runs it, as any filing
    job.refresh_from_db()
    topics = _filed_topics()
    assert job.status == "done" and len(topics) == 3
    assert {(request.requested_by, request.team, request.status) for request in topics} == {
        (member_a, team_a, Request.Status.SUBMITTED)
    }
    assert [m.subject for m in mail.outbox] == [
        "[MSK portal] Approval needed: 3 requests from Alice (Team A)"
    ]
    with pytest.raises(NotAllowed):  # four eyes: the person who opted in never approves what it filed
        services.approve_request(request_id=topics[0].pk, actor=member_a)

    # Nothing is left to file: beat starts nothing more and the opt-in stops by itself, recorded.
    assert tasks.file_next_stages.delay().get() == 0
    assert Filing.objects.count() == 2 and len(_filed_topics()) == 3
    auto.refresh_from_db()
    assert auto.status == "off" and auto.stopped_by is None and auto.stopped_at
    assert _auto_events(plan)[-1] == (
        "autofiling.stopped",
        "system",
        "Nothing remains to file by itself: everything of the plan for Team A is filed.",
    )
    from django.conf import settings

    assert settings.CELERY_BEAT_SCHEDULE["migration-file-next-stages"] == {
        "task": tasks.file_next_stages.name,
        "schedule": settings.PROVISIONING_REDISPATCH_SECONDS,
    }


def test_an_opt_in_files_a_read_cluster_once_its_write_cluster_is_active(
    owned,  # noqa: F811
    admin,
    member_a,
    team_a,
    network_profile,
    django_capture_on_commit_callbacks,
):
    from clusters.migration import autofiling
    from clusters.migration.models import Filing

    plan = accepted_plan(admin, owned, strategy="write_read")
    write, read = _payments_sides(plan)
    _press_opting_in(member_a, plan, team_a, django_capture_on_commit_callbacks)
    _approve_all(admin)

    with django_capture_on_commit_callbacks(execute=True):
        assert len(autofiling.file_next_stages()) == 1  # the topics, now that their clusters are approved
    assert Request.objects.get(payload__name="payments.events").requested_by == member_a
    _approve_all(admin)
    with django_capture_on_commit_callbacks(execute=True):
        assert autofiling.file_next_stages() == []  # the read cluster waits for its write cluster to run
    assert not Request.objects.filter(payload__name=read["name"]).exists()

    Cluster.objects.filter(name=write["name"]).update(status=Cluster.Status.ACTIVE)  # provisioned
    with django_capture_on_commit_callbacks(execute=True):
        (started,) = autofiling.file_next_stages()
    filed = Request.objects.get(payload__name=read["name"])
    assert filed.payload["kind"] == "read" and filed.requested_by == member_a
    assert Filing.objects.get(pk=started).status == "done"


def test_without_an_opt_in_nothing_is_filed_by_itself(
    monolith, admin, member_a, team_a, network_profile, django_capture_on_commit_callbacks
):
    from clusters.migration import autofiling
    from clusters.migration.models import AutoFiling, Filing

    plan = _ledger_plan(monolith, admin, member_a, team_a, topics=2)
    _press_opting_in(member_a, plan, team_a, django_capture_on_commit_callbacks, next_stages=False)
    _approve_all(admin)
    assert autofiling.file_next_stages() == []
    assert not AutoFiling.objects.exists() and Filing.objects.count() == 1 and not _filed_topics()


def test_turning_it_off_stops_it_and_is_for_the_team_and_admins(
    monolith, admin, member_a, member_b, finance, team_a, network_profile, django_capture_on_commit_callbacks
):
    from clusters.migration import autofiling
    from clusters.migration.models import AutoFiling, Filing

    plan = _ledger_plan(monolith, admin, member_a, team_a, topics=2)
    _press_opting_in(member_a, plan, team_a, django_capture_on_commit_callbacks)
    for outsider in (member_b, finance):
        with pytest.raises(NotAllowed):
            autofiling.turn_off(actor=outsider, plan_id=plan.pk, team=team_a)
    assert autofiling.turn_off(actor=member_a, plan_id=plan.pk, team=team_a) is True
    assert autofiling.turn_off(actor=admin, plan_id=plan.pk, team=team_a) is False  # off already
    auto = AutoFiling.objects.get()
    assert (auto.status, auto.stopped_by, auto.reason) == ("off", member_a, "Turned off by Alice.")
    assert _auto_events(plan)[-1] == ("autofiling.off", "member_a", "Turned off by Alice.")
    _approve_all(admin)
    assert autofiling.file_next_stages() == [] and Filing.objects.count() == 1 and not _filed_topics()

    # Opting in again is a new opt-in; an admin (not in the team) may turn it off, not opt in.
    _press_opting_in(member_a, plan, team_a, django_capture_on_commit_callbacks)
    assert AutoFiling.objects.filter(status="on").count() == 1 and AutoFiling.objects.count() == 2
    assert len(_filed_topics()) == 2  # that press filed the topics itself: nothing left for beat
    with pytest.raises(NotAllowed):
        autofiling.opt_in(actor=admin, plan=plan, team=team_a)
    assert autofiling.turn_off(actor=admin, plan_id=plan.pk, team=team_a) is True


def test_it_stops_by_itself_when_the_person_leaves_the_team(
    monolith, admin, member_a, team_a, network_profile, django_capture_on_commit_callbacks
):
    from clusters.migration import autofiling
    from clusters.migration.models import AutoFiling, Filing

    plan = _ledger_plan(monolith, admin, member_a, team_a, topics=2)
    _press_opting_in(member_a, plan, team_a, django_capture_on_commit_callbacks)
    _approve_all(admin)
    Membership.objects.filter(user=member_a, team=team_a).delete()
    assert autofiling.file_next_stages() == []
    auto = AutoFiling.objects.get()
    reason = "Alice is no longer a member of Team A who may file its requests."
    assert (auto.status, auto.stopped_by, auto.reason) == ("off", None, reason)
    assert _auto_events(plan)[-1] == ("autofiling.stopped", "system", reason)
    assert Filing.objects.count() == 1 and not _filed_topics()


def test_it_stops_by_itself_when_the_plan_is_superseded(
    monolith, admin, member_a, team_a, network_profile, django_capture_on_commit_callbacks
):
    from clusters.migration import autofiling
    from clusters.migration.models import AutoFiling, Filing

    plan = _ledger_plan(monolith, admin, member_a, team_a, topics=2)
    _press_opting_in(member_a, plan, team_a, django_capture_on_commit_callbacks)
    _approve_all(admin)
    newer = accepted_plan(admin, monolith, headroom_percent=60)
    assert newer.version == plan.version + 1
    assert autofiling.file_next_stages() == []
    auto = AutoFiling.objects.get()
    assert (auto.status, auto.reason) == ("off", f"Plan v{plan.version} is no longer the accepted version.")
    assert _auto_events(plan)[-1][0] == "autofiling.stopped"
    assert Filing.objects.count() == 1 and not _filed_topics()


def test_what_was_rejected_is_not_filed_again_by_itself(
    monolith, admin, member_a, team_a, network_profile, django_capture_on_commit_callbacks
):
    """A rejected request makes its item ready again: a person files it again, not beat (every look would
    undo the admin's decision)."""
    from clusters.migration import autofiling
    from clusters.migration.models import AutoFiling

    plan = _ledger_plan(monolith, admin, member_a, team_a, topics=2)
    _press_opting_in(member_a, plan, team_a, django_capture_on_commit_callbacks)
    _approve_all(admin)
    with django_capture_on_commit_callbacks(execute=True):
        assert len(autofiling.file_next_stages()) == 1
    rejected = _filed_topics()[0]
    services.reject_request(request_id=rejected.pk, actor=admin, reason="not this one")
    assert autofiling.file_next_stages() == [] and len(_filed_topics()) == 2
    auto = AutoFiling.objects.get()
    assert auto.status == "off" and auto.reason.endswith(
        "1 item filed before and rejected, cancelled or refused waits for a person to file it again."
    )


def test_what_a_failed_filing_filed_and_was_rejected_is_not_filed_again_by_itself(
    monolith, admin, member_a, team_a, network_profile, django_capture_on_commit_callbacks, monkeypatch
):
    """An automatic filing that stops half-way (an unexpected error: it is `failed`, what it filed stays filed)
    still counts as having filed: once an admin rejects one of its requests, beat files the rest but not that
    one again (it would undo the admin's decision)."""
    from clusters.migration import autofiling
    from clusters.migration.models import Filing

    plan = _ledger_plan(monolith, admin, member_a, team_a, topics=3)
    _press_opting_in(member_a, plan, team_a, django_capture_on_commit_callbacks)
    _approve_all(admin)
    submit = services.submit_request

    def fails_after_one(**kwargs):
        if _filed_topics():
            raise RuntimeError("the database went away")
        return submit(**kwargs)

    monkeypatch.setattr(services, "submit_request", fails_after_one)
    with django_capture_on_commit_callbacks(execute=True):  # the task's error is logged by the enqueue
        assert len(autofiling.file_next_stages()) == 1
    monkeypatch.setattr(services, "submit_request", submit)
    job = Filing.objects.order_by("-pk").first()
    assert job.status == "failed" and job.auto_filing is not None
    (first,) = _filed_topics()
    assert job.filed_request_ids == [first.pk]

    services.reject_request(request_id=first.pk, actor=admin, reason="not this one")
    with django_capture_on_commit_callbacks(execute=True):
        assert len(autofiling.file_next_stages()) == 1  # the two it did not get to
    names = [request.payload["name"] for request in _filed_topics()]
    assert len(names) == 3 and names.count(first.payload["name"]) == 1  # the rejected one is not filed again


def test_an_automatic_filing_started_for_other_items_leaves_a_rejected_one_to_a_person(
    monolith, admin, member_a, team_a, network_profile, django_capture_on_commit_callbacks
):
    """Beat starts a filing because other items became ready (access, once the topics were approved): that
    filing files those, not the topic an admin rejected meanwhile; a person's press still files it."""
    from clusters.migration import autofiling

    plan = _ledger_plan(monolith, admin, member_a, team_a, topics=2)
    _declare_principals(member_a, name="ledger")
    _press_opting_in(member_a, plan, team_a, django_capture_on_commit_callbacks)
    _approve_all(admin)  # the cluster
    with django_capture_on_commit_callbacks(execute=True):
        assert len(autofiling.file_next_stages()) == 1  # the two topics
    rejected, kept = _filed_topics()
    services.reject_request(request_id=rejected.pk, actor=admin, reason="not this one")
    _approve_all(admin)  # the other topic: its access becomes ready

    with django_capture_on_commit_callbacks(execute=True):
        assert len(autofiling.file_next_stages()) == 1  # the access to the kept topic
    assert Request.objects.filter(kind=Request.Kind.ACCESS_GRANT).exists()
    assert [request.payload["name"] for request in _filed_topics()] == [
        rejected.payload["name"],
        kept.payload["name"],
    ]  # not filed again by itself

    _press_opting_in(member_a, plan, team_a, django_capture_on_commit_callbacks, next_stages=False)
    assert [request.payload["name"] for request in _filed_topics()].count(rejected.payload["name"]) == 2


@pytest.mark.django_db(transaction=True)
def test_the_request_ids_a_filing_kept_before_0010_stay_filed(
    owned,  # noqa: F811
    admin,
    member_a,
    team_a,
):
    """Before 0010 a filing that failed (or was still running) kept what it filed only in `filed_request_ids`,
    its `result` being written once done: migrating keeps them, so the page still says what it filed and a
    rerun still shows them as filed."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from clusters.migration.models import Filing

    plan = accepted_plan(admin, owned)
    failed = Filing.objects.create(plan=plan, team=team_a, requested_by=member_a, status="failed")
    app, before = "migration_assistant", ("migration_assistant", "0009_auto_filing")
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes(app)
    try:
        executor.migrate([before])
        old = MigrationExecutor(connection).loader.project_state([before]).apps
        old.get_model(app, "Filing").objects.filter(pk=failed.pk).update(filed_request_ids=[7, 5])
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
    finally:
        MigrationExecutor(connection).migrate(latest)
    assert Filing.objects.get(pk=failed.pk).filed_request_ids == [7, 5]
