"""The cutover's last step stops the replication the portal started, intent first: "done" records `stopping`
with the step (and marks the monolith's topics migrated) before any call; the task then deletes the MSK
Replicator or both MSK Connect connectors and records `stopped`. boto3 goes over HTTP to moto (STS) and
botocore's Stubber answers kafka and kafkaconnect, which moto does not implement."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from clusters.migration import cutover, replication_launch, tasks
from clusters.migration.models import ApplicationTopic, Cutover, MigrationEvent, Replication
from tests.clusters.integrations.aws.conftest import aws, moto_url  # noqa: F401  (fixtures)
from tests.clusters.migration.test_cutover import fake, started  # noqa: F401  (fixtures)
from tests.clusters.migration.test_planning import owned  # noqa: F401  (fixture)
from tests.clusters.migration.test_replication_launch import (  # noqa: F401  (fixtures)
    CHECKPOINT_ARN,
    REPLICATOR_ARN,
    SOURCE_ARN,
    account,
    connect,
    kafka,
    orders,
)
from tests.conftest import client_for

TOPICS = ["orders.audit", "orders.created"]


def _replicating(item: Cutover, admin, tool: str, resources: dict, status: str = "running") -> Replication:
    """orders at "producers moved", its replication started by the portal."""
    Cutover.objects.filter(pk=item.pk).update(step=Cutover.Step.PRODUCERS_MOVED)
    return Replication.objects.create(
        cutover=item,
        tool=tool,
        name="mig-legacy-orders",
        status=status,
        resources=resources,
        requested_by=admin,
    )


def _connector(stub, name: str, arn: str | None, state: str = "RUNNING") -> None:
    found = [{"connectorName": name, "connectorArn": arn, "connectorState": state}] if arn else []
    stub.add_response("list_connectors", {"connectors": found}, expected_params={"connectorNamePrefix": name})


def _deleted(stub, arn: str) -> None:
    stub.add_response(
        "delete_connector",
        {"connectorArn": arn, "connectorState": "DELETING"},
        expected_params={"connectorArn": arn},
    )


def _actions(row) -> list[str]:
    return list(
        MigrationEvent.objects.filter(object_type="replication", object_id=str(row.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )


MM2_PARTS = {"source": SOURCE_ARN, "checkpoint": CHECKPOINT_ARN}


def test_done_records_the_stop_first_then_the_task_deletes_both_connectors(
    orders,  # noqa: F811
    admin,
    connect,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    row = _replicating(orders, admin, "mm2", MM2_PARTS)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        item = cutover.advance(actor=admin, cutover_id=orders.pk, expected_step="producers_moved")
        # Inside the step's transaction, before any AWS call: the intent and the topics' mark.
        row.refresh_from_db()
        assert (item.step, row.status) == ("done", "stopping")
        marked = ApplicationTopic.objects.filter(application=orders.application, migrated_at__isnull=False)
        assert sorted(marked.values_list("topic", flat=True)) == TOPICS
        assert set(marked.values_list("migrated_to", flat=True)) == {orders.target_cluster}
        _connector(connect, "mig-legacy-orders-source", SOURCE_ARN)
        _deleted(connect, SOURCE_ARN)
        _connector(connect, "mig-legacy-orders-checkpoint", CHECKPOINT_ARN)
        _deleted(connect, CHECKPOINT_ARN)
    assert len(callbacks) == 1  # the stop task, on commit (eager here: it ran)
    row.refresh_from_db()
    assert row.status == "stopped"
    assert _actions(row) == ["replication.stopping", "replication.stopped"]
    event = MigrationEvent.objects.get(action="replication.stopped")
    assert event.details == {"source": "deleted", "checkpoint": "deleted"} and event.actor_label == "system"
    assert MigrationEvent.objects.get(action="topics.migrated").details["topics"] == TOPICS
    replication_launch.stop(row.pk)  # a late duplicate delivery calls nothing (the Stubber has no answers)


def test_a_worker_killed_mid_stop_is_finished_by_beat_without_deleting_twice(
    orders,  # noqa: F811
    admin,
    connect,  # noqa: F811
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    row = _replicating(orders, admin, "mm2", MM2_PARTS)
    with django_capture_on_commit_callbacks():  # not executed: the broker lost the task
        cutover.advance(actor=admin, cutover_id=orders.pk, expected_step="producers_moved")
    row.refresh_from_db()
    assert row.status == "stopping"
    assert replication_launch.replications_to_stop(lost_after_seconds=120) == []  # not lost yet

    _connector(connect, "mig-legacy-orders-source", SOURCE_ARN)
    _deleted(connect, SOURCE_ARN)
    real = replication_launch._delete_part

    def killed_after_the_first_delete(part):
        if part == "checkpoint":
            raise SystemExit("worker killed")
        return real(part)

    with monkeypatch.context() as patch:
        patch.setattr(replication_launch, "_delete_part", killed_after_the_first_delete)
        _connector(connect, "mig-legacy-orders-checkpoint", CHECKPOINT_ARN)
        with pytest.raises(SystemExit):
            replication_launch.stop(row.pk)
    row.refresh_from_db()
    assert row.status == "stopping"

    Replication.objects.filter(pk=row.pk).update(
        status_changed_at=timezone.now() - timezone.timedelta(minutes=5)
    )
    assert replication_launch.replications_to_stop(lost_after_seconds=120) == [row.pk]
    # Beat runs it again: the source is already being deleted (not deleted twice), the checkpoint is deleted.
    _connector(connect, "mig-legacy-orders-source", SOURCE_ARN, state="DELETING")
    _connector(connect, "mig-legacy-orders-checkpoint", CHECKPOINT_ARN)
    _deleted(connect, CHECKPOINT_ARN)
    assert tasks.resume_replications.apply().get() == 1
    row.refresh_from_db()
    assert row.status == "stopped"
    assert MigrationEvent.objects.get(action="replication.stopped").details == {
        "source": "already deleting",
        "checkpoint": "deleted",
    }


def test_the_replicator_is_deleted_by_its_arn_and_one_already_gone_is_no_error(
    orders,  # noqa: F811
    admin,
    kafka,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    row = _replicating(orders, admin, "replicator", {"replicator": REPLICATOR_ARN})
    kafka.add_response(
        "list_replicators", {"Replicators": []}, expected_params={"ReplicatorNameFilter": "mig-legacy-orders"}
    )
    kafka.add_client_error(
        "delete_replicator",
        service_error_code="NotFoundException",
        http_status_code=404,
        expected_params={"ReplicatorArn": REPLICATOR_ARN},
    )
    with django_capture_on_commit_callbacks(execute=True):  # the stop task runs on commit
        cutover.advance(actor=admin, cutover_id=orders.pk, expected_step="producers_moved")
    row.refresh_from_db()
    assert row.status == "stopped"


def test_a_part_whose_create_answer_was_lost_is_found_by_name_and_deleted(
    orders,  # noqa: F811
    admin,
    kafka,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    row = _replicating(orders, admin, "replicator", {}, status="failed")  # created, never recorded
    kafka.add_response(
        "list_replicators",
        {
            "Replicators": [
                {
                    "ReplicatorName": "mig-legacy-orders",
                    "ReplicatorArn": REPLICATOR_ARN,
                    "ReplicatorState": "RUNNING",
                }
            ]
        },
        expected_params={"ReplicatorNameFilter": "mig-legacy-orders"},
    )
    kafka.add_response(
        "delete_replicator",
        {"ReplicatorArn": REPLICATOR_ARN, "ReplicatorState": "DELETING"},
        expected_params={"ReplicatorArn": REPLICATOR_ARN},
    )
    with django_capture_on_commit_callbacks(execute=True):  # the stop task runs on commit
        cutover.advance(actor=admin, cutover_id=orders.pk, expected_step="producers_moved")
    row.refresh_from_db()
    assert row.status == "stopped" and _actions(row) == ["replication.stopping", "replication.stopped"]


def test_a_refusal_keeps_it_stopping_with_aws_words_once_and_a_later_run_stops_it(
    orders,  # noqa: F811
    admin,
    kafka,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    row = _replicating(orders, admin, "replicator", {"replicator": REPLICATOR_ARN})
    for _ in range(2):
        kafka.add_response("list_replicators", {"Replicators": []})
        kafka.add_client_error(
            "delete_replicator",
            service_error_code="AccessDeniedException",
            service_message="not allowed to kafka:DeleteReplicator",
            http_status_code=403,
        )
    with django_capture_on_commit_callbacks(execute=True):  # the stop task runs on commit
        cutover.advance(actor=admin, cutover_id=orders.pk, expected_step="producers_moved")
    row = replication_launch.stop(row.pk)
    assert row.status == "stopping" and "kafka:DeleteReplicator" in row.reason
    assert _actions(row) == ["replication.stopping", "replication.stop_refused"]  # once per reason
    kafka.add_response("list_replicators", {"Replicators": []})
    kafka.add_response("delete_replicator", {"ReplicatorArn": REPLICATOR_ARN, "ReplicatorState": "DELETING"})
    row = replication_launch.stop(row.pk)
    assert row.status == "stopped"


def test_done_waits_while_replication_is_still_being_started(orders, admin):  # noqa: F811
    row = _replicating(orders, admin, "mm2", {}, status="creating")
    gate = cutover.check_gate(orders, "done")
    assert not gate.holds and "is still being started (creating)" in gate.reasons[0]
    with pytest.raises(ValidationError, match="still being started"):
        cutover.advance(actor=admin, cutover_id=orders.pk, expected_step="producers_moved")
    row.refresh_from_db()
    assert row.status == "creating"
    assert not ApplicationTopic.objects.filter(migrated_at__isnull=False).exists()


def test_done_without_a_portal_replication_marks_the_topics_and_enqueues_nothing(
    started,  # noqa: F811
    admin,
    django_capture_on_commit_callbacks,
):
    item = started["orders"]
    Cutover.objects.filter(pk=item.pk).update(step=Cutover.Step.PRODUCERS_MOVED)
    assert "stop it yourself first" in cutover.check_gate(item, "done").figures[0]
    with django_capture_on_commit_callbacks() as callbacks:
        cutover.advance(actor=admin, cutover_id=item.pk, expected_step="producers_moved")
    assert callbacks == []
    assert ApplicationTopic.objects.filter(migrated_at__isnull=False).count() == len(TOPICS)


def test_done_cannot_be_rolled_back_and_the_pages_show_it_migrated(
    orders,  # noqa: F811
    admin,
    connect,  # noqa: F811
    personas,
    django_capture_on_commit_callbacks,
):
    row = _replicating(orders, admin, "mm2", MM2_PARTS)
    with django_capture_on_commit_callbacks():  # not executed: the task has not run yet
        cutover.advance(actor=admin, cutover_id=orders.pk, expected_step="producers_moved")
    with pytest.raises(ValidationError, match="cannot step back"):
        cutover.rollback(actor=admin, cutover_id=orders.pk, expected_step="done", reason="changed our mind")
    client = client_for(personas["admin"])
    response = client.post(
        reverse("migration:cutover-step", args=[orders.pk, "rollback"]),
        {"expected_step": "done", "reason": "changed our mind"},
        follow=True,
    )
    assert "cannot step back" in response.content.decode()
    assert Cutover.objects.get(pk=orders.pk).step == "done"
    row.refresh_from_db()
    assert row.status == "stopping"

    board = client.get(reverse("migration:cutovers", args=[orders.plan_id])).content.decode()
    assert "Stopping" in board and f"Migrated to {orders.target_cluster}" in board
    assert "<code>orders.created</code>" in board
    assert reverse("migration:cutover-step", args=[orders.pk, "rollback"]) not in board
    for persona in ("member_a", "member_b", "finance"):
        page = client_for(personas[persona]).get(
            reverse("migration:monolith-detail", args=[orders.application.monolith_id])
        )
        assert page.status_code == 200
        assert page.content.decode().count(f"Migrated to {orders.target_cluster}") == len(TOPICS)
