from __future__ import annotations

from django.core.management import call_command
from django.test import override_settings

from clusters.migration.models import ApplicationClaim, MigrationPlan, Monolith
from clusters.migration.selectors import unclaimed_topics


@override_settings(DEBUG=True)
def test_the_demo_ships_a_monolith_with_inventory_claims_and_a_plan(db):
    call_command("seed_demo")
    call_command("seed_demo")  # idempotent
    monolith = Monolith.objects.get(name="legacy-kafka")
    assert monolith.snapshots.count() == 1 and monolith.snapshots.get().topics.count() == 8
    assert ApplicationClaim.objects.filter(status="pending").count() == 1  # search's, for the admin to decide
    assert {row.topic for row in unclaimed_topics(monolith)} >= {"reports.daily", "search.documents"}
    plan = MigrationPlan.objects.get(monolith=monolith)
    assert plan.result["clusters"] and plan.result["backup"]["region"] == "us-west-2"
    assert {flag["job"] for flag in plan.result["flags"]} == {"exactly-once"}  # card-vault
