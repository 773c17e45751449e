"""Applications are claimed by teams and the claims decided by an admin other than the claimer."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from clusters.migration import inventory, selectors
from clusters.migration.models import ApplicationClaim, MigrationEvent
from portal.errors import NotAllowed
from portal.models import AuditEvent, Membership
from tests.clusters.migration.test_inventory_csv import GOOD


@pytest.fixture
def orders(monolith, admin, team_a, team_b):
    inventory.import_csv(actor=admin, monolith_id=monolith.pk, content=GOOD.encode())
    inventory.discover_applications(actor=admin, monolith_id=monolith.pk)
    return monolith.applications.get(name="orders")


def test_member_claims_admin_approves_and_the_team_owns_it(orders, member_a, team_a, admin):
    claim = inventory.claim_application(actor=member_a, application_id=orders.pk, team=team_a, note="ours")
    assert claim.status == ApplicationClaim.Status.PENDING
    inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=True)
    orders.refresh_from_db()
    assert orders.team == team_a
    actions = list(MigrationEvent.objects.order_by("id").values_list("action", "from_status", "to_status"))
    assert ("claim.approved", "pending", "approved") in actions
    assert AuditEvent.objects.filter(action="migration.claim.approved", team=team_a).exists()


def test_nobody_decides_their_own_claim(orders, admin, team_a):
    Membership.objects.create(team=team_a, user=admin)
    claim = inventory.claim_application(actor=admin, application_id=orders.pk, team=team_a)
    with pytest.raises(NotAllowed):
        inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=True)


def test_members_cannot_decide_nor_claim_for_other_teams(orders, member_a, member_b, team_a, team_b):
    with pytest.raises(NotAllowed):
        inventory.claim_application(actor=member_b, application_id=orders.pk, team=team_a)
    claim = inventory.claim_application(actor=member_a, application_id=orders.pk, team=team_a)
    with pytest.raises(NotAllowed):
        inventory.decide_claim(actor=member_b, claim_id=claim.pk, approve=True)


def test_one_pending_claim_at_a_time_and_a_decision_happens_once(
    orders, member_a, member_b, team_a, team_b, admin, second_admin
):
    claim = inventory.claim_application(actor=member_a, application_id=orders.pk, team=team_a)
    with pytest.raises(ValidationError, match="already has a claim waiting"):
        inventory.claim_application(actor=member_b, application_id=orders.pk, team=team_b)
    inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=False, reason="It is team B's")
    with pytest.raises(ValidationError, match="already rejected"):
        inventory.decide_claim(actor=second_admin, claim_id=claim.pk, approve=True)
    orders.refresh_from_db()
    assert orders.team is None


def test_a_second_claim_is_refused_naming_the_team_whose_claim_waits(
    orders, member_a, member_b, team_a, team_b
):
    inventory.claim_application(actor=member_a, application_id=orders.pk, team=team_a)
    with pytest.raises(ValidationError) as refused:
        inventory.claim_application(actor=member_b, application_id=orders.pk, team=team_b)
    assert refused.value.message_dict == {
        "team": [
            "orders already has a claim waiting for an admin by Team A: a new claim can be made once it is "
            "decided."
        ]
    }
    assert ApplicationClaim.objects.filter(application=orders).count() == 1


def test_another_team_asks_to_take_over_an_owned_application_and_an_admin_decides(
    orders, member_a, member_b, team_a, team_b, admin
):
    """Claiming an application another team owns is a takeover request: it waits for an admin like any claim,
    its event names the current owner, and approved it changes owner (the decision keeps the previous one)."""
    claim = inventory.claim_application(actor=member_a, application_id=orders.pk, team=team_a)
    inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=True)
    with pytest.raises(ValidationError, match="Team A already owns orders"):
        inventory.claim_application(actor=member_a, application_id=orders.pk, team=team_a)
    takeover = inventory.claim_application(
        actor=member_b, application_id=orders.pk, team=team_b, note="We run it since March"
    )
    submitted = MigrationEvent.objects.filter(action="claim.submitted", object_id=str(takeover.pk)).get()
    assert submitted.details == {"application": "orders", "team": "team-b", "owner": "team-a"}
    orders.refresh_from_db()
    assert orders.team == team_a  # until an admin decides
    inventory.decide_claim(actor=admin, claim_id=takeover.pk, approve=True)
    orders.refresh_from_db()
    assert orders.team == team_b
    approved = MigrationEvent.objects.filter(action="claim.approved", object_id=str(takeover.pk)).get()
    assert approved.details["previous_team"] == "team-a"


def test_rejection_needs_a_reason(orders, member_a, team_a, admin):
    claim = inventory.claim_application(actor=member_a, application_id=orders.pk, team=team_a)
    with pytest.raises(ValidationError, match="Say why"):
        inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=False, reason=" ")


def test_unclaimed_topics_are_listed_until_their_application_is_owned(
    orders, monolith, member_a, team_a, admin
):
    assert [row.topic for row in selectors.unclaimed_topics(monolith)] == [
        "clicks",
        "orders.audit",
        "orders.created",
    ]
    claim = inventory.claim_application(actor=member_a, application_id=orders.pk, team=team_a)
    inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=True)
    assert [row.topic for row in selectors.unclaimed_topics(monolith)] == ["clicks"]


def test_migration_events_read_as_words_in_the_audit_trail(orders, member_a, team_a, admin):
    from portal.audit_wording import action_label

    claim = inventory.claim_application(actor=member_a, application_id=orders.pk, team=team_a)
    inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=True)
    codes = set(AuditEvent.objects.filter(action__startswith="migration.").values_list("action", flat=True))
    assert {"migration.claim.submitted", "migration.claim.approved", "migration.inventory.imported"} <= codes
    assert action_label("migration.claim.approved") == "Application claim approved"
    assert action_label("migration.") == "Migration"
