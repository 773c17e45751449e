"""Starting replication for one application of an accepted plan, exactly once, and stopping it at the end of its
cutover (docs/migration.md, "Replication").

Intent first, as for clusters: an admin's click records a `Replication` row (status `requested`) and an event,
and enqueues `tasks.start_replication` on commit. The task moves it to `creating` by compare-and-set, then for
each part (the MSK Replicator, or MirrorMaker 2's source and checkpoint connectors) finds it by name and
adopts it, else creates it, and records the ARN. A crash between the create call and the record is healed by
the next delivery, which finds the part by name. `reconcile` reads the parts' states and moves the row to
`running` when all run or `failed` when one failed. No network call happens inside a transaction; transient
AWS errors (throttling, 5xx) propagate so Celery retries the task with backoff.

Stopping is intent first too: the cutover's last step records `stopping` in its own transaction
(`cutover._finish`) and enqueues `tasks.stop_replication`; `stop` deletes each part, by the ARN it recorded or
else by the name (so a part whose create answer was lost is not left running), skips one AWS already deletes,
and moves the row to `stopped`. Deleting what is already gone is not an error, so a redelivered or re-run task
is harmless; beat restarts a `stopping` row whose task was lost. A refusal (e.g. access denied) keeps it
`stopping` with AWS's words as the reason, and beat tries again.

Which tool (shared/reference/migration.md decision table): MSK Replicator when the monolith is MSK in the same
account as the target cluster; otherwise MirrorMaker 2 on MSK Connect with `replication.connector_configs`,
using the plugin and service execution role the admin registered on the monolith.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clusters.migration import adapters, cutover, events, replication
from clusters.migration.models import Cutover, MigrationPlan, Replication
from clusters.models import Cluster
from clusters.providers.base import (
    NameConflict,
    ProviderError,
    ReplicatorSpec,
    ReplicatorState,
    TransientError,
)
from portal import access
from portal.dispatch import enqueue_on_commit

Status = Replication.Status


def _require_admin(actor) -> None:
    access.require_migration_manager(actor, "Only platform admins start replication off the monolith.")


def replication_name(item: Cutover) -> str:
    """Stable and unique per application: the name the task adopts after a lost answer. MSK Replicator
    names allow letters, digits and hyphens only; long names keep the cutover's id to stay unique."""
    name = re.sub(r"[^0-9A-Za-z-]+", "-", f"mig-{item.application.monolith.name}-{item.application.name}")
    return name if len(name) <= 64 else f"{name[:54]}-c{item.pk}"


def _missing_settings(tool: str, monolith, cluster) -> list[str]:
    if tool == Replication.Tool.REPLICATOR:
        missing = []
        if not cluster.account.replicator_role_arn:
            missing.append(f"The account {cluster.account} has no MSK Replicator service role registered.")
        if not monolith.subnet_ids:
            missing.append(
                f"{monolith.name} has no subnets registered: MSK Replicator reaches the monolith through its "
                "own VPC (edit the monolith to add them)."
            )
        return missing
    missing = []
    if not monolith.mm2_plugin_arn:
        missing.append(f"{monolith.name} has no MirrorMaker 2 plugin ARN registered.")
    if not monolith.connect_role_arn:
        missing.append(f"{monolith.name} has no MSK Connect service execution role registered.")
    return missing


def request_replication(*, actor, cutover_id: int) -> Replication:
    """Record the intent to replicate this application and enqueue the task on commit. A failed replication
    is requested again by the same call (`events.move` failed → requested); any other is refused."""
    from clusters.migration import tasks

    _require_admin(actor)
    item = Cutover.objects.select_related("application__monolith", "plan").get(pk=cutover_id)
    monolith = item.application.monolith
    if item.plan.status != MigrationPlan.Status.ACCEPTED:
        raise ValidationError("Replication follows the accepted plan.")
    if item.step != Cutover.Step.REPLICATING:
        raise ValidationError(f"{item.application.name} is past replication ({item.get_step_display()}).")
    if not item.application.tolerates_duplicates:
        raise ValidationError(
            f"{item.application.name} cannot tolerate duplicates (its requirements say so), and MSK Replicator "
            "and MirrorMaker 2 are at-least-once: move it with the exactly-once stream job the plan names, "
            "or, if its consumers can take duplicates after all, its team changes that requirement first."
        )
    cluster = cutover.target_cluster(item)
    if cluster is None:
        raise ValidationError(f"The target cluster {item.target_cluster} is not live yet.")
    tool = monolith.replication_tool(cluster.account_id)
    missing = _missing_settings(tool, monolith, cluster)
    if missing:
        raise ValidationError(missing)
    team = item.application.team
    details = {"application": item.application.name, "tool": tool, "target": cluster.name}
    with transaction.atomic():
        row = Replication.objects.select_for_update().filter(cutover=item).first()
        if row is None:
            row = Replication.objects.create(
                cutover=item, tool=tool, name=replication_name(item), requested_by=actor
            )
            events.record(
                monolith,
                "replication.requested",
                actor=actor,
                obj=row,
                to_status=Status.REQUESTED,
                team=team,
                details=details,
            )
        elif not events.move(
            monolith,
            row,
            "replication.requested",
            from_status=Status.FAILED,
            to_status=Status.REQUESTED,
            actor=actor,
            team=team,
            details=details,
            fields={"tool": tool, "reason": "", "requested_by": actor, "status_changed_at": timezone.now()},
        ):
            row.refresh_from_db()
            raise ValidationError(
                f"Replication for {item.application.name} is already {row.get_status_display().lower()}."
            )
        enqueue_on_commit(tasks.start_replication, row.pk)  # broker down: beat's resume_replications sends it
    return row


def _move(row: Replication, *, from_status: str, to_status: str, reason: str = "", details=None) -> bool:
    """Compare-and-set on the status the caller saw; False when another worker moved it first."""
    moved = events.move(
        row.cutover.application.monolith,
        row,
        f"replication.{to_status}",
        from_status=from_status,
        to_status=to_status,
        actor=None,
        reason=reason,
        details=details,
        fields={"reason": reason, "status_changed_at": timezone.now()},
    )
    row.refresh_from_db()
    return moved


def _record_part(row: Replication, part: str, state: ReplicatorState, *, adopted: bool) -> None:
    with transaction.atomic():
        locked = Replication.objects.select_for_update().get(pk=row.pk)
        if locked.status != Status.CREATING:
            return
        locked.resources = {**locked.resources, part: state.arn}
        locked.save(update_fields=["resources"])
        events.record(
            locked.cutover.application.monolith,
            "replication.adopted" if adopted else "replication.created",
            actor=None,
            obj=locked,
            details={"part": part, "arn": state.arn, "state": state.state},
        )
    row.refresh_from_db()


def _part_name(row: Replication, part: str) -> str:
    return row.name if part == "replicator" else f"{row.name}-{part}"


def _create_part(row: Replication, part: str, cluster, account) -> ReplicatorState:
    monolith = row.cutover.application.monolith
    topics, groups = cutover.topics_and_groups(row.cutover)
    profile = cluster.network_profile
    subnets, groups_sg = tuple(profile.subnet_ids), tuple(profile.security_group_ids)
    tags = {"migration": monolith.name, "application": row.cutover.application.name}
    if part == "replicator":
        # Only this application's topics and consumer groups, from the start of the monolith's topics
        # (migration.md §1.2: EARLIEST, identical names, offset sync); each cluster through its own VPC.
        spec = ReplicatorSpec(
            name=row.name,
            source_arn=monolith.msk_cluster_arn,
            target_arn=cluster.arn,
            topics=tuple(topics),
            consumer_groups=tuple(groups),
            starting_position="EARLIEST",
            source_subnet_ids=tuple(monolith.subnet_ids),
            source_security_group_ids=tuple(monolith.security_group_ids),
            target_subnet_ids=subnets,
            target_security_group_ids=groups_sg,
            service_execution_role_arn=cluster.account.replicator_role_arn,
            tags=tags,
        )
        return adapters.aws_control.create_replicator(account, spec)
    name = _part_name(row, part)
    config = replication.connector_configs(
        monolith, target_bootstrap=cluster.bootstrap_brokers, topics=topics, groups=groups
    )[part]
    return adapters.aws_control.create_mirror_connector(
        account,
        name=name,
        connector_configuration={**config, "name": name},
        target_bootstrap=cluster.bootstrap_brokers,
        subnet_ids=subnets,
        security_group_ids=groups_sg,
        plugin_arn=monolith.mm2_plugin_arn,
        plugin_revision=monolith.mm2_plugin_revision,
        service_execution_role_arn=monolith.connect_role_arn,
        tags=tags,
    )


def _find_part(row: Replication, part: str, account) -> ReplicatorState | None:
    if part == "replicator":
        return adapters.aws_control.find_replicator(account, row.name)
    return adapters.aws_control.find_mirror_connector(account, _part_name(row, part))


def _load(replication_id: int) -> Replication:
    return Replication.objects.select_related(
        "cutover__application__monolith", "cutover__plan", "cutover__application__team"
    ).get(pk=replication_id)


def start(replication_id: int) -> Replication:
    """The task's work: adopt or create every part, then reconcile once. Idempotent; raises TransientError
    for Celery to retry; any other AWS refusal moves the row to failed with AWS's words."""
    row = _load(replication_id)
    if row.status == Status.REQUESTED:
        _move(row, from_status=Status.REQUESTED, to_status=Status.CREATING)
    if row.status != Status.CREATING:
        return row
    cluster = cutover.target_cluster(row.cutover)
    if cluster is None:
        _move(
            row,
            from_status=Status.CREATING,
            to_status=Status.FAILED,
            reason="The target cluster is not live.",
        )
        return row
    account = adapters.cluster_account(cluster)
    try:
        for part in row.parts:
            if part in row.resources:
                continue
            state, adopted = _find_part(row, part, account), True
            if state is None:
                try:
                    state, adopted = _create_part(row, part, cluster, account), False
                except NameConflict:
                    # Someone created it between our look-up and our call: adopt it.
                    state = _find_part(row, part, account)
                    if state is None:
                        raise TransientError(
                            f"{_part_name(row, part)} exists but cannot be found yet."
                        ) from None
            _record_part(row, part, state, adopted=adopted)
    except TransientError:
        raise
    except ProviderError as exc:
        _move(row, from_status=Status.CREATING, to_status=Status.FAILED, reason=str(exc))
        return row
    return reconcile(row.pk)


def reconcile(replication_id: int) -> Replication:
    """Read each part's state: all RUNNING → running; any FAILED → failed with AWS's message; else it
    stays creating and beat looks again (`replications_to_resume`)."""
    row = _load(replication_id)
    if row.status != Status.CREATING or set(row.parts) - set(row.resources):
        return row
    cluster = cutover.target_cluster(row.cutover)
    if cluster is None:
        return row
    account = adapters.cluster_account(cluster)
    states = {}
    for part in row.parts:
        describe = (
            adapters.aws_control.describe_replicator
            if part == "replicator"
            else adapters.aws_control.describe_mirror_connector
        )
        states[part] = describe(account, row.resources[part])
    details = {part: state.state for part, state in states.items()}
    failed = [
        f"{part}: {state.message or 'FAILED'}" for part, state in states.items() if state.state == "FAILED"
    ]
    if failed:
        _move(
            row,
            from_status=Status.CREATING,
            to_status=Status.FAILED,
            reason="; ".join(failed),
            details=details,
        )
    elif all(state.state == "RUNNING" for state in states.values()):
        _move(row, from_status=Status.CREATING, to_status=Status.RUNNING, details=details)
    return row


def replications_to_resume(*, lost_after_seconds: int) -> list[int]:
    """For beat: every replication AWS is still creating (to reconcile), and requested ones whose task was
    lost (older than `lost_after_seconds`). `start` is idempotent, so both simply run it again."""
    lost_before = timezone.now() - timezone.timedelta(seconds=lost_after_seconds)
    return list(
        Replication.objects.filter(status=Status.CREATING)
        .union(Replication.objects.filter(status=Status.REQUESTED, status_changed_at__lt=lost_before))
        .values_list("pk", flat=True)
    )


# --- Stopping, at the end of the cutover -----------------------------------------------------------------


def _delete_part(part: str):
    return (
        adapters.aws_control.delete_replicator
        if part == "replicator"
        else adapters.aws_control.delete_mirror_connector
    )


def _stop_refused(row: Replication, reason: str) -> None:
    """A permanent refusal: the row stays stopping (beat tries again) with AWS's words, logged once each."""
    with transaction.atomic():
        locked = Replication.objects.select_for_update().get(pk=row.pk)
        if locked.status != Status.STOPPING or locked.reason == reason:
            return
        locked.reason = reason
        locked.save(update_fields=["reason"])
        events.record(
            locked.cutover.application.monolith,
            "replication.stop_refused",
            actor=None,
            obj=locked,
            reason=reason,
        )
    row.refresh_from_db()


def stop(replication_id: int) -> Replication:
    """The stop task's work: delete every part, then stopping → stopped. Idempotent; raises TransientError
    for Celery to retry; any other refusal stays stopping with the reason (beat runs it again)."""
    row = _load(replication_id)
    if row.status != Status.STOPPING:
        return row
    cluster = Cluster.objects.filter(name=row.cutover.target_cluster).select_related("account").first()
    if cluster is None:
        _stop_refused(row, f"The target cluster {row.cutover.target_cluster} is not in the inventory.")
        return row
    account = adapters.cluster_account(cluster)
    outcome = {}
    try:
        for part in row.parts:
            state = _find_part(row, part, account)
            arn = state.arn if state is not None else row.resources.get(part)
            if arn is None:
                outcome[part] = "never created"
            elif state is not None and state.state == "DELETING":
                outcome[part] = "already deleting"
            else:
                _delete_part(part)(account, arn)  # an ARN already gone is not an error
                outcome[part] = "deleted"
    except TransientError:
        raise
    except ProviderError as exc:
        _stop_refused(row, str(exc))
        return row
    _move(row, from_status=Status.STOPPING, to_status=Status.STOPPED, details=outcome)
    return row


def replications_to_stop(*, lost_after_seconds: int) -> list[int]:
    """For beat: replications recorded as stopping longer ago than `lost_after_seconds` (task lost, or AWS
    refused): `stop` is idempotent, so it simply runs again."""
    lost_before = timezone.now() - timezone.timedelta(seconds=lost_after_seconds)
    return list(
        Replication.objects.filter(status=Status.STOPPING, status_changed_at__lt=lost_before).values_list(
            "pk", flat=True
        )
    )
