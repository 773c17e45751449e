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
