from __future__ import annotations

from decimal import Decimal

from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from clusters.migration.models import ApplicationClaim, MigrationPlan, Monolith
from clusters.migration.selectors import unclaimed_topics
from portal.models import Team, User
from tests.conftest import client_for


@override_settings(DEBUG=True)
def test_the_demo_ships_a_monolith_with_inventory_claims_and_a_plan(db):
    call_command("seed_demo")
    call_command("seed_demo")  # idempotent
    monolith = Monolith.objects.get(name="legacy-kafka")
    assert monolith.snapshots.count() == 1 and monolith.snapshots.get().topics.count() == 8
    pending = ApplicationClaim.objects.get(
        status="pending"
    )  # analytics' on reporting, for an admin to decide
    assert (pending.application.name, pending.team.slug) == ("reporting", "analytics")
    assert {row.topic for row in unclaimed_topics(monolith)} == {"reports.daily"}
    plan = MigrationPlan.objects.get(monolith=monolith)
    assert plan.result["clusters"] and plan.result["backup"]["region"] == "us-west-2"
    assert {flag["job"] for flag in plan.result["flags"]} == {"exactly-once"}  # card-vault


@override_settings(DEBUG=True)
def test_the_demo_goes_as_far_as_an_accepted_plan_with_claimed_applications_and_their_requirements(db):
    """One step past a draft: every application a team owns has its requirements with the roles that get
    access, the plan is accepted, and its page lists what each team files, ready to press."""
    call_command("seed_demo")
    monolith = Monolith.objects.get(name="legacy-kafka")
    owned = monolith.applications.exclude(team=None).select_related("team")
    assert {(app.name, app.team.slug) for app in owned} == {
        ("payments-core", "payments"),
        ("card-vault", "payments"),
        ("clickstream", "analytics"),
        ("indexer", "search"),
    }
    for app in owned:
        assert app.requirements_updated_at is not None, app.name
        assert app.producer_roles and app.consumer_roles, app.name
    clickstream = monolith.applications.get(name="clickstream")
    assert clickstream.peak_in_mbps == Decimal("79.5")  # stated above the inventory's figure
    plan = MigrationPlan.objects.get(monolith=monolith)
    assert plan.status == MigrationPlan.Status.ACCEPTED and plan.result["unplaceable"] == []
    assert plan.result["unowned_applications"] == ["reporting"]

    alice = User.objects.get(username="alice")  # Payments
    page = client_for(alice).get(reverse("migration:plan-detail", args=[plan.pk])).content.decode()
    assert "Execute: requests from this plan" in page
    assert "File Payments's requests" in page
    assert "Cutover of this plan" in page

    # The next step is the visitor's: alice files Payments' share, ordinary requests for an admin.
    from clusters.migration import execution
    from clusters.models import Request

    payments = Team.objects.get(slug="payments")
    items = execution.file_requests(actor=alice, plan_id=plan.pk, team=payments)
    filed = [item for item in items if item.request is not None]
    assert filed and all(item.request.status == Request.Status.SUBMITTED for item in filed)


@override_settings(DEBUG=True)
def test_the_requests_filed_from_the_demo_plan_add_up_to_its_figures_to_the_cent(db):
    """The plan page's figure for a cluster is what the requests filed from it estimate: the cluster's request
    (a cluster-month and the compacted partitions MirrorMaker 2 keeps there) plus its topics' requests (their
    partitions, data in and out at the plan's figures, and storage), to the cent; the page shows the split."""
    from billing.pricing import usd
    from clusters.migration import execution
    from clusters.models import Request
    from clusters.requests import services

    call_command("seed_demo")
    plan = MigrationPlan.objects.get(monolith__name="legacy-kafka")
    ada = User.objects.get(username="ada")
    for username, slug in (("alice", "payments"), ("carol", "analytics")):
        member, team = User.objects.get(username=username), Team.objects.get(slug=slug)
        execution.file_requests(actor=member, plan_id=plan.pk, team=team)  # its clusters
        for request in Request.objects.filter(
            kind=Request.Kind.CLUSTER_CREATE, status=Request.Status.SUBMITTED
        ):
            services.approve_request(request_id=request.pk, actor=ada)
        execution.file_requests(actor=member, plan_id=plan.pk, team=team)  # its topics on them
    planned = {cluster["name"]: cluster for cluster in plan.result["clusters"]}
    page = client_for(ada).get(reverse("migration:plan-detail", args=[plan.pk])).content.decode()

    # Payments: every topic filed, so cluster request + topic requests = the plan's figure.
    figures = {}
    for name in ("legacy-kafka-payments-1", "legacy-kafka-payments-2"):
        cluster = planned[name]
        own = Request.objects.get(kind=Request.Kind.CLUSTER_CREATE, payload__name=name)
        topics = Request.objects.filter(kind=Request.Kind.TOPIC_CREATE, cluster__name=name)
        assert sorted(topic.payload["name"] for topic in topics) == sorted(cluster["topics"])
        topics_usd = sum((topic.estimated_monthly_cost for topic in topics), Decimal(0))
        assert own.estimated_monthly_cost == Decimal(cluster["cluster_usd"])
        assert topics_usd == Decimal(cluster["topics_usd"])
        assert own.estimated_monthly_cost + topics_usd == Decimal(cluster["monthly_usd"])
        for topic in topics:
            assert topic.estimated_monthly_cost == Decimal(
                cluster["topic_costs"][topic.payload["name"]]["monthly_usd"]
            )
        split = f"cluster request {usd(own.estimated_monthly_cost)} + {topics.count()} topic request"
        assert f'{usd(cluster["monthly_usd"])}<br><span class="muted">{split}' in page
        assert f"{usd(topics_usd)}</span>" in page
        figures[name] = (own.estimated_monthly_cost, topics_usd, Decimal(cluster["monthly_usd"]))
    assert figures == {
        "legacy-kafka-payments-1": (Decimal("581.45"), Decimal("24511.69"), Decimal("25093.14")),
        "legacy-kafka-payments-2": (Decimal("581.45"), Decimal("2440.68"), Decimal("3022.13")),
    }
    payments = next(row for row in plan.result["teams"] if row["team"] == "payments")
    assert Decimal(payments["after_usd"]) == sum(total for _, _, total in figures.values())
    own = Request.objects.get(kind=Request.Kind.CLUSTER_CREATE, payload__name="legacy-kafka-payments-1")
    detail = client_for(ada).get(reverse("clusters:request-detail", args=[own.pk])).content.decode()
    assert "Estimated cost covers" in detail and "31 compacted partitions MirrorMaker 2" in detail
    assert f"{usd('25093.14')} a month for it: {usd('581.45')} in this request" in own.justification

    # Analytics states a higher peak than the inventory saw (79.5 MB/s in, not 53): the topic request carries
    # the plan's share of it (clicks.sessions: 8 of 53 → 12 MB/s in, 16 of 106 → 24 out), priced as the plan.
    sessions = Request.objects.get(kind=Request.Kind.TOPIC_CREATE, payload__name="clicks.sessions")
    assert (sessions.payload["expected_in_mbps"], sessions.payload["expected_out_mbps"]) == ("12.00", "24.00")
    analytics = planned["legacy-kafka-analytics-1"]
    assert sessions.estimated_monthly_cost == Decimal(
        analytics["topic_costs"]["clicks.sessions"]["monthly_usd"]
    )
    cluster = Request.objects.get(kind=Request.Kind.CLUSTER_CREATE, payload__name="legacy-kafka-analytics-1")
    assert cluster.estimated_monthly_cost == Decimal(analytics["cluster_usd"])
    # clicks.raw needs 14 partitions at its share (67.5 MB/s in) and has 8: refused, so not in the requests.
    assert not Request.objects.filter(kind=Request.Kind.TOPIC_CREATE, payload__name="clicks.raw").exists()
