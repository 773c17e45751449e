"""The migration assistant's workflow rows move like the provisioning engine's: by compare-and-set through
`events.move` (`portal.transitions.move`), only along the {from: {to}} table on the model, one event a move."""

from __future__ import annotations

import pytest

from clusters.migration import events, replication_launch
from clusters.migration.models import (
    ApplicationClaim,
    AutoFiling,
    Cutover,
    Filing,
    MigrationEvent,
    MigrationPlan,
    Replication,
)
from tests.clusters.migration.test_cutover import started  # noqa: F401  (fixture)
from tests.clusters.migration.test_planning import owned  # noqa: F401  (fixture)

Claim, Plan, Step = ApplicationClaim.Status, MigrationPlan.Status, Cutover.Step


@pytest.mark.parametrize(
    "model, states",
    [
        (ApplicationClaim, Claim),
        (MigrationPlan, Plan),
        (Cutover, Step),
        (Replication, Replication.Status),
        (Filing, Filing.Status),
        (AutoFiling, AutoFiling.Status),
    ],
)
def test_every_status_has_a_row_naming_only_statuses_of_its_model(model, states):
    assert set(model.TRANSITIONS) == set(states.values)
    for targets in model.TRANSITIONS.values():
        assert set(targets) <= set(states.values)


def test_the_cutover_table_is_one_step_forward_or_back_and_nothing_from_done():
    for before, after in zip(Cutover.ORDER, Cutover.ORDER[1:], strict=False):
        assert after in Cutover.TRANSITIONS[before]
        if after != Step.DONE:
            assert before in Cutover.TRANSITIONS[after]
    assert Cutover.TRANSITIONS[Step.DONE] == set()


@pytest.fixture
def rows(started, admin, member_a, member_b, team_a, team_b):  # noqa: F811
    """One row of each workflow model, with its monolith, its status field, the status it has and one it may
    take."""
    orders, monolith = started["orders"], started["plan"].monolith
    claim = ApplicationClaim.objects.create(application=orders.application, team=team_b, claimed_by=member_b)
    replication = Replication.objects.create(
        cutover=orders, tool=Replication.Tool.MM2, name="mig-legacy-orders", requested_by=admin
    )
    filing = Filing.objects.create(plan=started["plan"], team=team_a, requested_by=member_a)
    auto = AutoFiling.objects.create(plan=started["plan"], team=team_a, requested_by=member_a)
    return {
        "filing": (filing, monolith, "status", Filing.Status.QUEUED, Filing.Status.RUNNING),
        "autofiling": (auto, monolith, "status", AutoFiling.Status.ON, AutoFiling.Status.OFF),
        "claim": (claim, monolith, "status", Claim.PENDING, Claim.APPROVED),
        "plan": (started["plan"], monolith, "status", Plan.ACCEPTED, Plan.SUPERSEDED),
        "cutover": (orders, monolith, "step", Step.REPLICATING, Step.VERIFIED),
        "replication": (
            replication,
            monolith,
            "status",
            Replication.Status.REQUESTED,
            Replication.Status.CREATING,
        ),
    }


def _events(obj) -> list[tuple[str, str, str]]:
    return list(
        MigrationEvent.objects.filter(object_type=obj._meta.model_name, object_id=str(obj.pk))
        .order_by("id")
        .values_list("action", "from_status", "to_status")
    )


REFUSED = {  # a move each table leaves out
    "claim": (Claim.APPROVED, Claim.PENDING),
    "plan": (Plan.SUPERSEDED, Plan.ACCEPTED),
    "cutover": (Step.DONE, Step.PRODUCERS_MOVED),
    "replication": (Replication.Status.REQUESTED, Replication.Status.RUNNING),
    "filing": (Filing.Status.DONE, Filing.Status.QUEUED),  # a finished filing stays finished
    "autofiling": (AutoFiling.Status.OFF, AutoFiling.Status.ON),  # opting in again is a new row
}


@pytest.mark.parametrize("kind", REFUSED)
def test_a_move_the_table_does_not_list_is_refused_and_writes_nothing(rows, admin, kind):
    obj, monolith, field, _, _ = rows[kind]
    from_status, to_status = REFUSED[kind]
    type(obj).objects.filter(pk=obj.pk).update(**{field: from_status})
    before = _events(obj)

    with pytest.raises(ValueError, match=f"{type(obj).__name__} may not move from '{from_status}'"):
        events.move(
            monolith,
            obj,
            f"{kind}.{to_status}",
            status_field=field,
            from_status=from_status,
            to_status=to_status,
            actor=admin,
        )

    obj.refresh_from_db()
    assert getattr(obj, field) == from_status
    assert _events(obj) == before


def test_the_replication_task_helper_refuses_a_skipped_step(rows):
    replication = rows["replication"][0]
    with pytest.raises(ValueError, match="Replication may not move from 'requested' to 'running'"):
        replication_launch._move(replication, from_status="requested", to_status="running")
    replication.refresh_from_db()
    assert replication.status == "requested" and _events(replication) == []


@pytest.mark.parametrize("kind", ["claim", "plan", "cutover", "replication", "filing", "autofiling"])
def test_two_moves_from_the_same_status_one_wins_and_one_event_is_written(rows, admin, kind):
    """Two workers (or two admins) loaded the row with the same status and both move it: the first
    compare-and-set wins, the second changes nothing and logs nothing."""
    obj, monolith, field, from_status, to_status = rows[kind]
    first, second = type(obj).objects.get(pk=obj.pk), type(obj).objects.get(pk=obj.pk)
    before = _events(obj)

    outcomes = [
        events.move(
            monolith,
            row,
            f"{kind}.{to_status}",
            status_field=field,
            from_status=from_status,
            to_status=to_status,
            actor=admin,
        )
        for row in (first, second)
    ]

    assert outcomes == [True, False]
    obj.refresh_from_db()
    assert getattr(obj, field) == to_status and getattr(first, field) == to_status
    assert _events(obj) == [*before, (f"{kind}.{to_status}", from_status, to_status)]


def test_two_replication_workers_racing_on_creating_one_wins(rows):
    """reconcile (all parts RUNNING) and a redelivered start (a part FAILED) hold the same creating row."""
    replication = rows["replication"][0]
    Replication.objects.filter(pk=replication.pk).update(status=Replication.Status.CREATING)
    one, other = Replication.objects.get(pk=replication.pk), Replication.objects.get(pk=replication.pk)

    assert replication_launch._move(one, from_status="creating", to_status="running")
    assert not replication_launch._move(other, from_status="creating", to_status="failed", reason="late")

    assert other.status == "running" and other.reason == ""  # the loser reads the winner's row
    assert _events(replication) == [("replication.running", "creating", "running")]
