"""Step 5 gates and transitions, with the offset reads faked at the adapter seam (the real two-broker run is
tests/clusters/integrations/kafka/test_migration_cutover.py)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from clusters.migration import adapters, cutover, planning
from clusters.migration.models import Cutover, MigrationEvent
from clusters.models import Cluster
from portal.errors import NotAllowed
from tests.clusters.migration.test_planning import owned  # noqa: F401  (fixture)


@pytest.fixture
def started(owned, admin, network_profile, platform_account, team_a):  # noqa: F811
    plan = planning.create_plan(actor=admin, monolith_id=owned.pk)
    plan = planning.accept_plan(actor=admin, plan_id=plan.pk)
    cutovers = cutover.start_cutovers(actor=admin, plan_id=plan.pk)
    orders = next(c for c in cutovers if c.application.name == "orders")
    Cluster.objects.create(
        name=orders.target_cluster,
        team=team_a,
        kind=Cluster.Kind.DEDICATED,
        environment="prod",
        account=platform_account,
        region="us-east-1",
        network_profile=network_profile,
        status=Cluster.Status.ACTIVE,
        arn="arn:aws:kafka:us-east-1:123456789012:cluster/x/y",
        bootstrap_brokers="b-1.example:9098",
    )
    return {"plan": plan, "cutovers": cutovers, "orders": orders}


class FakeOffsets:
    """What the two clusters answer; tests set it."""

    def __init__(self):
        self.source = {"orders.created": ((0,) * 12, (1000,) * 12), "orders.audit": ((0, 0, 0), (50, 50, 50))}
        self.target = {}
        self.groups = {}


@pytest.fixture
def fake(monkeypatch):
    offsets = FakeOffsets()
    monkeypatch.setattr(adapters, "monolith_offsets", lambda monolith, topics: offsets.source)
    monkeypatch.setattr(adapters, "cluster_offsets", lambda cluster, topics: offsets.target)
    monkeypatch.setattr(
        adapters, "cluster_group_offsets", lambda cluster, group: offsets.groups.get(group, {})
    )
    return offsets


def test_cutovers_start_smallest_first_one_per_application(started, admin):
    positions = [(c.position, c.application.name) for c in started["cutovers"]]
    assert positions[0][1] == "tiny" and positions == sorted(positions)
    assert cutover.start_cutovers(actor=admin, plan_id=started["plan"].pk) == []  # once


def test_each_step_waits_for_its_gate_in_the_seeds_order(started, admin, fake):
    orders = started["orders"]
    with pytest.raises(ValidationError, match="does not exist on the target"):
        cutover.advance(actor=admin, cutover_id=orders.pk, expected_step="replicating")
    fake.target = {"orders.created": ((0,) * 12, (950,) * 12), "orders.audit": ((0, 0, 0), (50, 50, 50))}
    with pytest.raises(ValidationError, match="differ by more than 10 records"):
        cutover.advance(actor=admin, cutover_id=orders.pk, expected_step="replicating", threshold=10)
    orders = cutover.advance(actor=admin, cutover_id=orders.pk, expected_step="replicating")  # 50 ≤ 100
    assert orders.step == Cutover.Step.VERIFIED

    with pytest.raises(ValidationError, match=r"Group billing has no translated offset on orders\.created"):
        cutover.advance(actor=admin, cutover_id=orders.pk, expected_step="verified")
    full = {p: 940 for p in range(12)}
    fake.groups = {
        g: {"orders.created": full, "orders.audit": {0: 50, 1: 50, 2: 50}}
        for g in ("billing", "shipping", "audit")
    }
    orders = cutover.advance(actor=admin, cutover_id=orders.pk, expected_step="verified")
    assert orders.step == Cutover.Step.CONSUMERS_MOVED

    with pytest.raises(ValidationError, match="lag must be 0"):
        cutover.advance(actor=admin, cutover_id=orders.pk, expected_step="consumers_moved")
    fake.target = fake.source
    orders = cutover.advance(actor=admin, cutover_id=orders.pk, expected_step="consumers_moved")
    orders = cutover.advance(actor=admin, cutover_id=orders.pk, expected_step="producers_moved")
    assert orders.step == Cutover.Step.DONE
    steps = list(
        MigrationEvent.objects.filter(object_type="cutover", object_id=str(orders.pk))
        .order_by("id")
        .values_list("to_status", "actor_label")
    )
    assert steps == [
        ("replicating", "admin"),
        ("verified", "admin"),
        ("consumers_moved", "admin"),
        ("producers_moved", "admin"),
        ("done", "admin"),
    ]


def test_a_step_is_compare_and_set_and_rollback_needs_a_reason(started, admin, fake):
    orders = started["orders"]
    fake.target = fake.source
    cutover.advance(actor=admin, cutover_id=orders.pk, expected_step="replicating")
    with pytest.raises(ValidationError, match="Someone else moved"):
        cutover.advance(actor=admin, cutover_id=orders.pk, expected_step="replicating")
    with pytest.raises(ValidationError, match="Say why"):
        cutover.rollback(actor=admin, cutover_id=orders.pk, expected_step="verified", reason="")
    back = cutover.rollback(
        actor=admin, cutover_id=orders.pk, expected_step="verified", reason="Latency SLO missed"
    )
    assert back.step == Cutover.Step.REPLICATING
    event = MigrationEvent.objects.filter(action="cutover.rolled_back").get()
    assert event.reason == "Latency SLO missed" and event.from_status == "verified"


def test_members_do_not_tick_steps(started, member_a, fake):
    with pytest.raises(NotAllowed):
        cutover.advance(actor=member_a, cutover_id=started["orders"].pk, expected_step="replicating")


def test_a_target_not_yet_live_blocks_with_a_reason(started, admin, fake):
    tiny = next(c for c in started["cutovers"] if c.application.name == "tiny")
    gate = cutover.check_gate(tiny, "verified")
    assert not gate.holds and "is not active yet" in gate.reasons[0]
