"""Step 5 gates and transitions, with the offset reads faked at the adapter seam (the real two-broker run is
tests/clusters/integrations/kafka/test_migration_cutover.py)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from clusters.migration import adapters, cutover, planning
from clusters.migration.models import Cutover, MigrationEvent
from clusters.models import Cluster
from portal.errors import NotAllowed
from tests import builders
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


# --- Write/read: consumers move to the application's read cluster, producers to its write cluster ----------


def _live(name, kind, team, profile, bootstrap) -> Cluster:
    return builders.cluster(team, profile, name, kind=kind, environment="prod", bootstrap_brokers=bootstrap)


@pytest.fixture
def write_read(owned, admin, network_profile, team_a):  # noqa: F811
    plan = planning.create_plan(actor=admin, monolith_id=owned.pk, strategy="write_read")
    plan = planning.accept_plan(actor=admin, plan_id=plan.pk)
    cutovers = cutover.start_cutovers(actor=admin, plan_id=plan.pk)
    orders = next(c for c in cutovers if c.application.name == "orders")
    read = next(
        c["name"] for c in plan.result["clusters"] if c["side"] == "read" and "orders" in c["applications"]
    )
    write = next(
        c["name"] for c in plan.result["clusters"] if c["side"] == "write" and "orders" in c["applications"]
    )
    assert orders.target_cluster == write != read
    _live(write, Cluster.Kind.WRITE, team_a, network_profile, "b-1.write.example:9098")
    return {"plan": plan, "orders": orders, "write": write, "read": read}


@pytest.fixture
def per_cluster(monkeypatch):
    """Offsets answered per cluster name: the monolith, the write cluster and the read cluster differ."""
    source = {"orders.created": ((0,) * 12, (1000,) * 12), "orders.audit": ((0, 0, 0), (50, 50, 50))}
    state = {"source": source, "clusters": {}, "groups": {}}
    monkeypatch.setattr(adapters, "monolith_offsets", lambda monolith, topics: state["source"])
    monkeypatch.setattr(adapters, "cluster_offsets", lambda c, topics: state["clusters"].get(c.name, {}))
    monkeypatch.setattr(
        adapters, "cluster_group_offsets", lambda c, group: state["groups"].get((c.name, group), {})
    )
    return state


def _translated(cluster: str) -> dict:
    full = {"orders.created": {p: 940 for p in range(12)}, "orders.audit": {0: 50, 1: 50, 2: 50}}
    return {(cluster, group): full for group in ("billing", "shipping", "audit")}


def test_write_read_consumers_move_to_the_read_cluster_and_producers_to_the_write_cluster(
    write_read, per_cluster, admin, team_a, network_profile
):
    orders, write, read = write_read["orders"], write_read["write"], write_read["read"]
    started = MigrationEvent.objects.get(action="cutover.started", object_id=str(orders.pk))
    assert started.details["target"] == write and started.details["consumers"] == read
    source = per_cluster["source"]
    per_cluster["clusters"][write] = source  # replication from the monolith lands on the write cluster
    orders = cutover.advance(actor=admin, cutover_id=orders.pk, expected_step="replicating")

    # Offsets translated on the write cluster do not move consumers that read from the read cluster.
    per_cluster["groups"] = _translated(write)
    gate = cutover.check_gate(orders, "consumers_moved")
    assert not gate.holds and gate.reasons == [
        f"The read cluster {read}, where the consumers move, is not active yet."
    ]
    _live(read, Cluster.Kind.READ, team_a, network_profile, "b-1.read.example:9098")
    gate = cutover.check_gate(orders, "consumers_moved")
    assert not gate.holds
    assert f"orders.created does not exist on the read cluster {read} yet." in gate.reasons
    assert any(
        "Group billing has no translated offset on orders.created partitions" in r for r in gate.reasons
    )
    assert all(read in reason for reason in gate.reasons)

    # The read cluster's replicated topics are compared with the monolith, within the threshold.
    per_cluster["clusters"][read] = {
        "orders.created": ((0,) * 12, (800,) * 12),
        "orders.audit": ((0, 0, 0), (50, 50, 50)),
    }
    per_cluster["groups"] |= _translated(read)
    with pytest.raises(
        ValidationError,
        match=rf"orders\.created on the read cluster {read}: partitions .* differ by more than 100 records",
    ):
        cutover.advance(actor=admin, cutover_id=orders.pk, expected_step="verified")
    per_cluster["clusters"][read] = {
        "orders.created": ((0,) * 12, (950,) * 12),
        "orders.audit": ((0, 0, 0), (50, 50, 50)),
    }
    orders = cutover.advance(actor=admin, cutover_id=orders.pk, expected_step="verified")
    assert orders.step == Cutover.Step.CONSUMERS_MOVED
    checks = MigrationEvent.objects.get(action="cutover.consumers_moved").details["checks"]
    assert f"orders.created: read cluster {read} behind by at most 50 records per partition" in checks
    assert f"Group billing: translated offsets on 15 partitions of {read}" in checks

    # Producers move to the write cluster: its lag must be 0, whatever the read cluster holds.
    per_cluster["clusters"][write] = {
        "orders.created": ((0,) * 12, (999,) * 12),
        "orders.audit": source["orders.audit"],
    }
    with pytest.raises(ValidationError, match="lag must be 0"):
        cutover.advance(actor=admin, cutover_id=orders.pk, expected_step="consumers_moved")
    per_cluster["clusters"][write] = source
    orders = cutover.advance(actor=admin, cutover_id=orders.pk, expected_step="consumers_moved")
    assert orders.step == Cutover.Step.PRODUCERS_MOVED


def test_a_segregated_plan_moves_consumers_to_the_target(started, admin, fake):
    orders = started["orders"]
    assert cutover.consumers_cluster_name(orders) == orders.target_cluster
    started_event = MigrationEvent.objects.get(action="cutover.started", object_id=str(orders.pk))
    assert started_event.details["consumers"] == orders.target_cluster


def test_the_consumer_settings_name_the_read_clusters_bootstrap(write_read, admin, team_a, network_profile):
    rows = {row.cutover.application.name: row for row in cutover.board(write_read["plan"]).rows}
    orders = rows["orders"]
    assert orders.consumers_cluster == write_read["read"]
    assert (
        f"bootstrap.servers=<bootstrap of {write_read['read']}, once it is active>"
        in orders.consumer_settings
    )
    _live(write_read["read"], Cluster.Kind.READ, team_a, network_profile, "b-1.read.example:9098")
    orders = next(r for r in cutover.board(write_read["plan"]).rows if r.cutover.application.name == "orders")
    assert "bootstrap.servers=b-1.read.example:9098\n" in orders.consumer_settings
    assert "auto.offset.reset=earliest\n" in orders.consumer_settings
    assert "write.example" not in orders.consumer_settings


def test_the_cutover_page_shows_the_consumer_settings_for_the_read_cluster(
    write_read, per_cluster, admin, team_a, network_profile
):
    from django.urls import reverse

    from tests.conftest import client_for

    orders, read = write_read["orders"], write_read["read"]
    _live(read, Cluster.Kind.READ, team_a, network_profile, "b-1.read.example:9098")
    per_cluster["clusters"][write_read["write"]] = per_cluster["source"]
    cutover.advance(actor=admin, cutover_id=orders.pk, expected_step="replicating")
    page = client_for(admin).get(reverse("migration:cutovers", args=[write_read["plan"].pk])).content.decode()
    assert f"producers: {write_read['write']}<br>consumers: {read}" in page
    assert f"<summary>Consumer settings for {read}</summary>" in page
    assert "bootstrap.servers=b-1.read.example:9098\nsecurity.protocol=SASL_SSL" in page
    assert "auto.offset.reset=earliest" in page and "The consumer must tolerate duplicates." in page


def test_the_board_shows_each_step_with_who_and_why_and_the_monolith_shrinking(started, admin, fake):
    """Issue 13 §5: every application's step, who ticked it when, a rollback's reason, the plan's flags, and
    the monolith's remaining traffic and cost falling as applications finish."""
    from django.urls import reverse

    from tests.conftest import client_for

    orders, plan = started["orders"], started["plan"]
    client, url = client_for(admin), reverse("migration:cutovers", args=[plan.pk])
    page = client.get(url).content.decode()
    # 429 MB/s in + out on the monolith (the file's peaks), $12,000 a month: nothing has moved yet.
    assert "<strong>100.0 %</strong> of its traffic (429.0 of 429.0 MB/s in + out)" in page
    assert "about $12,000.00 a month of its cost" in page
    assert page.count('<span class="badge">Replicating</span>') == len(started["cutovers"])
    flagged = (
        'payments<p class="muted">Needs an exactly-once stream job, not plain replication (see the plan)</p>'
    )
    assert f'<td data-label="Application">{flagged}</td>' in page
    assert '<td data-label="Application">orders</td>' in page

    fake.target = fake.source
    cutover.advance(actor=admin, cutover_id=orders.pk, expected_step="replicating")
    step = reverse("migration:cutover-step", args=[orders.pk, "rollback"])
    refused = client.post(step, {"expected_step": "verified", "reason": " "}, follow=True).content.decode()
    assert "orders: Say why the step is rolled back." in refused
    client.post(step, {"expected_step": "verified", "reason": "Latency SLO missed"})
    page = client.get(url).content.decode()
    assert "admin, " in page and ": “Latency SLO missed”" in page

    fake.groups = {
        g: {"orders.created": dict.fromkeys(range(12), 1000), "orders.audit": {0: 50, 1: 50, 2: 50}}
        for g in ("billing", "shipping", "audit")
    }
    for expected in ("replicating", "verified", "consumers_moved", "producers_moved"):
        cutover.advance(actor=admin, cutover_id=orders.pk, expected_step=expected)
    page = client.get(url).content.decode()
    # orders (31 in + 61 out) is off the monolith: 337 of 429 MB/s and 337/429 of its cost remain.
    assert "<strong>78.6 %</strong> of its traffic (337.0 of 429.0 MB/s in + out)" in page
    assert "about $9,426.57 a month of its cost" in page
    assert '<span class="badge">Replication stopped, topics migrated</span>' in page
