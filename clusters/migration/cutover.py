"""Step 5: each application's cutover, in the seed's order (steps 8-9: consumers first, then producers, then
stop replication), with a gate before every step.

    replicating → verified → consumers moved → producers moved → done

- **verified**: for every topic of the application, the target has the same partitions and, per partition,
  the records on the target (end − start) are within `threshold` of the monolith's (MM2 and MSK Replicator
  keep partition numbers: shared/reference/migration.md §2); and where the tool has its own lag signal (MSK
  Replicator's `MessageLag` in CloudWatch, source messages it has not consumed yet), that signal is fresh
  (at most `LAG_SIGNAL_MAX_AGE` old) and within `threshold` per partition. MirrorMaker 2 on MSK Connect
  publishes no lag metric to CloudWatch, so there the end offsets are the check;
- **consumers moved**: every consumer group of the application has a translated offset for every partition
  of its topics on the cluster its consumers move to (the consumer then starts there with
  `auto.offset.reset=earliest`, and must tolerate duplicates: translation is at-least-once). That cluster is
  the target, except in a write/read plan: there consumers read from the application's **read cluster**
  (where the plan files their access), fed from the write cluster by MSK Replicator, so the gate also
  compares the read cluster's replicated topics with the monolith (partitions, records per partition within
  `threshold`) and reads the translated offsets there;
- **producers moved**: lag is 0, the target (the write cluster in a write/read plan) holds exactly as many
  records per partition as the monolith (producers were stopped on the monolith and replication caught up),
  and MSK Replicator's `MessageLag` is 0;
- **done**: replication for these topics is stopped and the monolith's topics are recorded as migrated. When
  the portal started the replication, ticking "done" records the stop in the same transaction as the step
  (running/failed → stopping, intent first) and enqueues `tasks.stop_replication` on commit, which deletes
  the replicator or both connectors (`replication_launch.stop`); the gate waits while the replication is
  still being started. "done" is final: replication is stopped, so going back would need replication the
  other way (a deleted MSK Replicator restarts from the latest offsets: migration.md §1.2, §3), and
  rollback from it is refused.

A step is taken by compare-and-set on the step the person saw, by an admin, with who and when in the
append-only log; a gate that does not hold refuses the step and says why. Rollback goes one step back, with a
reason. The gates read offsets over the network first and only then open the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.timesince import timesince

from clusters.integrations.records import ReplicatorTopicLag
from clusters.migration import adapters, events, selectors, takeover
from clusters.migration.models import Application, ApplicationTopic, Cutover, MigrationPlan, Replication
from clusters.models import Cluster
from clusters.providers.base import ProviderError
from portal import access
from portal.dispatch import enqueue_on_commit

Step = Cutover.Step
DEFAULT_THRESHOLD = 100  # records per partition: MM2's offset.lag.max default granularity (migration.md §1.3)
# MSK Replicator's MessageLag is read over the last LAG_SIGNAL_WINDOW; its newest minute counts only when it
# is at most LAG_SIGNAL_MAX_AGE old (CloudWatch shows a minute a few minutes late; older is not "now").
LAG_SIGNAL_WINDOW = timedelta(minutes=15)
LAG_SIGNAL_MAX_AGE = timedelta(minutes=10)

CONSUMER_SETTINGS = (
    "group.id=<the same group id as on the monolith>\n"
    "auto.offset.reset=earliest\n"
    "bootstrap.servers={bootstrap}\n"
    "security.protocol=SASL_SSL\n"
    "sasl.mechanism=AWS_MSK_IAM\n"
    "sasl.jaas.config=software.amazon.msk.auth.iam.IAMLoginModule required;\n"
    "sasl.client.callback.handler.class=software.amazon.msk.auth.iam.IAMClientCallbackHandler\n"
)
DUPLICATE_WARNING = (
    "Replication is at-least-once and translated offsets are never ahead of what the consumer handled: after "
    "the move it re-reads up to the last offset sync (about 100 records per partition with MirrorMaker 2). "
    "The consumer must tolerate duplicates."
)


@dataclass
class Gate:
    holds: bool
    reasons: list[str] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)


def _require_admin(actor) -> None:
    access.require_migration_manager(actor, "Only platform admins move applications off the monolith.")


def start_cutovers(*, actor, plan_id: int) -> list[Cutover]:
    """One cutover per application of the accepted plan, smallest first (the least to lose while learning);
    none for an application taken over since the plan was computed (it places it with its previous owner)."""
    _require_admin(actor)
    plan = MigrationPlan.objects.select_related("monolith").get(pk=plan_id)
    if plan.status != MigrationPlan.Status.ACCEPTED:
        raise ValidationError("Cutovers follow the accepted plan.")
    rows = {row.application.name: row for row in selectors.application_rows(plan.monolith, plan.snapshot)}
    placed = {
        name: cluster["name"]
        for cluster in plan.result["clusters"]
        if cluster["side"] != "read"
        for name in cluster["applications"]
    }
    order = sorted(placed, key=lambda name: (rows[name].peak_in_mbps + rows[name].peak_out_mbps, name))
    created = []
    with transaction.atomic():
        # A takeover approved meanwhile waits for these locks, and then sees the cutovers (takeover.blockers).
        list(
            Application.objects.select_for_update().filter(
                pk__in=[rows[name].application.pk for name in order]
            )
        )
        stale = takeover.taken_over_since(plan)  # placed with their previous owner: a new version first
        for position, name in enumerate(order, start=1):
            application = rows[name].application
            if name in stale:
                continue
            cutover, is_new = Cutover.objects.get_or_create(
                application=application,
                defaults={"plan": plan, "target_cluster": placed[name], "position": position},
            )
            if is_new:
                created.append(cutover)
                events.record(
                    plan.monolith,
                    "cutover.started",
                    actor=actor,
                    obj=cutover,
                    to_status=cutover.step,
                    team=application.team,
                    details={
                        "application": name,
                        "target": placed[name],
                        "consumers": selectors.consumers_cluster_name(plan, name),
                    },
                )
    return created


def _active(name: str) -> Cluster | None:
    return Cluster.objects.filter(name=name, status=Cluster.Status.ACTIVE).select_related("account").first()


def target_cluster(cutover: Cutover) -> Cluster | None:
    """The live cluster replication from the monolith writes to and producers move to."""
    return _active(cutover.target_cluster)


def consumers_cluster_name(cutover: Cutover) -> str:
    """Where the application's consumers move: its read cluster in a write/read plan, else the target."""
    return selectors.consumers_cluster_name(cutover.plan, cutover.application.name)


def consumer_settings(bootstrap: str) -> str:
    """The consumer's settings for the cluster it moves to (Java client names, MSK IAM)."""
    return CONSUMER_SETTINGS.format(bootstrap=bootstrap)


def board(plan: MigrationPlan) -> selectors.CutoverBoard:
    """The cutover page's board; each row carries the consumer settings for the cluster its consumers move
    to (write/read: the read cluster), with that cluster's bootstrap once it is live."""
    result = selectors.cutover_board(plan)
    names = {row.consumers_cluster for row in result.rows}
    live = dict(
        Cluster.objects.filter(name__in=names, status=Cluster.Status.ACTIVE).values_list(
            "name", "bootstrap_brokers"
        )
    )
    for row in result.rows:
        bootstrap = (
            live.get(row.consumers_cluster) or f"<bootstrap of {row.consumers_cluster}, once it is active>"
        )
        row.consumer_settings = consumer_settings(bootstrap)
    return result


def topics_and_groups(cutover: Cutover) -> tuple[list[str], list[str]]:
    row = next(
        row
        for row in selectors.application_rows(cutover.application.monolith, cutover.plan.snapshot)
        if row.application.pk == cutover.application_id
    )
    return [topic.name for topic in row.topics], row.consumer_groups


def check_gate(cutover: Cutover, to_step: str, *, threshold: int = DEFAULT_THRESHOLD) -> Gate:
    """Does the precondition of `to_step` hold now? Reads offsets from the monolith and the target."""
    if to_step == Step.DONE:
        return _stop_gate(cutover)
    cluster = target_cluster(cutover)
    if cluster is None:
        return Gate(False, [f"The target cluster {cutover.target_cluster} is not active yet."])
    topics, groups = topics_and_groups(cutover)
    try:
        if to_step == Step.CONSUMERS_MOVED:
            return _consumers_gate(cutover, cluster, topics, groups, threshold)
        source = adapters.monolith_offsets(cutover.application.monolith, topics)
        target = adapters.cluster_offsets(cluster, topics)
    except ProviderError as exc:
        return Gate(False, [f"Could not read offsets: {exc}"])
    allowed = threshold if to_step == Step.VERIFIED else 0
    offsets = _compare(topics, source, target, allowed)
    partitions = {topic: len(source[topic][1]) for topic in topics if topic in source}
    tool = _tool_lag(cutover, cluster, partitions, allowed)
    return Gate(offsets.holds and tool.holds, offsets.reasons + tool.reasons, offsets.figures + tool.figures)


STOPPABLE = (Replication.Status.RUNNING, Replication.Status.FAILED)
STOPPED = (Replication.Status.STOPPING, Replication.Status.STOPPED)


def _stop_gate(cutover: Cutover) -> Gate:
    """ "done" stops the replication the portal started; one still being started must run or fail first."""
    replication = Replication.objects.filter(cutover=cutover).first()
    if replication is None:
        return Gate(
            True,
            figures=[
                "Replication was not started by the portal: stop it yourself first (drop these topics from the "
                "MirrorMaker 2 topics regex); ticking marks the topics migrated and cannot be rolled back"
            ],
        )
    if replication.status in (Replication.Status.REQUESTED, Replication.Status.CREATING):
        return Gate(
            False,
            [
                f"{replication.get_tool_display()} {replication.name} is still being started "
                f"({replication.get_status_display().lower()}): stop it once it runs or has failed."
            ],
        )
    parts = (
        "deletes the replicator"
        if replication.tool == Replication.Tool.REPLICATOR
        else "deletes its source and checkpoint connectors"
    )
    return Gate(
        True,
        figures=[
            f"Ticking stops {replication.get_tool_display()} {replication.name} ({parts}) and marks the topics "
            "migrated; it cannot be rolled back (a deleted replicator restarts from the latest offsets)"
        ],
    )


def _finish(actor, cutover: Cutover) -> None:
    """Inside the transaction that moves the cutover to done, before its step: record the stop of the
    replication (intent first: running, or failed with parts that may exist, → stopping by compare-and-set
    before any delete call; the task is enqueued on commit) and mark the application's topics migrated."""
    from clusters.migration import tasks

    monolith, now = cutover.application.monolith, timezone.now()
    replication = Replication.objects.select_for_update().filter(cutover=cutover).first()
    if replication is not None and replication.status not in STOPPED:
        if replication.status not in STOPPABLE or not events.move(
            monolith,
            replication,
            "replication.stopping",
            from_status=replication.status,
            to_status=Replication.Status.STOPPING,
            actor=actor,
            team=cutover.application.team,
            details={"application": cutover.application.name, "tool": replication.tool},
            fields={"reason": "", "status_changed_at": now},
        ):
            raise ValidationError(
                f"{replication.name} is {replication.get_status_display().lower()}: stop it once it runs."
            )
        enqueue_on_commit(tasks.stop_replication, replication.pk)
    links = ApplicationTopic.objects.filter(application=cutover.application, migrated_at__isnull=True)
    names = sorted(links.values_list("topic", flat=True))
    links.update(migrated_at=now, migrated_to=cutover.target_cluster)
    events.record(
        monolith,
        "topics.migrated",
        actor=actor,
        obj=cutover.application,
        team=cutover.application.team,
        details={"application": cutover.application.name, "topics": names, "to": cutover.target_cluster},
    )


def _tool_lag(cutover: Cutover, cluster: Cluster, partitions: dict[str, int], allowed: int) -> Gate:
    """The replication tool's own lag signal, where it has one (migration.md §2): MSK Replicator's."""
    replication = Replication.objects.filter(cutover=cutover).first()
    if replication is None:
        return Gate(
            True, figures=["Replication was not started by the portal: the end offsets are the check"]
        )
    if replication.tool != Replication.Tool.REPLICATOR:
        return Gate(
            True,
            figures=[
                "MirrorMaker 2 on MSK Connect publishes no lag to CloudWatch: the end offsets are the check"
            ],
        )
    now = timezone.now()
    try:
        lags = adapters.replicator_lag(
            cluster, replication.name, list(partitions), now - LAG_SIGNAL_WINDOW, now
        )
    except ProviderError as exc:
        return Gate(False, [f"Could not read MSK Replicator's lag from CloudWatch: {exc}"])
    return tool_lag_gate(lags, partitions, allowed, now=now)


def tool_lag_gate(
    lags: dict[str, ReplicatorTopicLag], partitions: dict[str, int], allowed: int, *, now: datetime
) -> Gate:
    """MSK Replicator's MessageLag per topic (source messages it has not consumed yet) holds when its newest
    minute is at most LAG_SIGNAL_MAX_AGE old and within `allowed` messages per partition of the topic (0 before
    producers move). A topic without any datapoint in the window blocks: nothing says it is caught up."""
    gate = Gate(True)
    window = round(LAG_SIGNAL_WINDOW.total_seconds() / 60)
    for topic, count in partitions.items():
        lag = lags.get(topic)
        if lag is None or lag.message_lag is None or lag.lag_at is None:
            gate.reasons.append(
                f"{topic}: MSK Replicator reported no MessageLag in the last {window} minutes (it reports once "
                "it runs and reads the topic)."
            )
            continue
        age = now - lag.lag_at
        figure = (
            f"{topic}: MSK Replicator MessageLag {lag.message_lag:,.0f} as of {lag.lag_at:%H:%M} UTC "
            f"({timesince(lag.lag_at, now)} ago)"
        )
        if lag.latency_ms is not None:
            figure += f", ReplicationLatency up to {lag.latency_ms:,.0f} ms"
        gate.figures.append(figure)
        limit = allowed * count
        if age > LAG_SIGNAL_MAX_AGE:
            gate.reasons.append(
                f"{topic}: MSK Replicator's newest MessageLag is {timesince(lag.lag_at, now)} old; a fresh one "
                f"(at most {round(LAG_SIGNAL_MAX_AGE.total_seconds() / 60)} minutes old) is needed."
            )
        elif lag.message_lag > limit:
            gate.reasons.append(
                f"{topic}: MSK Replicator has {lag.message_lag:,.0f} messages left to read from the monolith"
                + (
                    f", more than {limit:,} ({allowed} per partition)."
                    if allowed
                    else " (lag must be 0 before producers move)."
                )
            )
    gate.holds = not gate.reasons
    return gate


def _compare(topics, source, target, allowed: int, *, read_cluster: str = "") -> Gate:
    """Per partition, records (end − start) on the monolith against the target, or the named read cluster."""
    who = f"read cluster {read_cluster}" if read_cluster else "target"
    gate = Gate(True)
    for topic in topics:
        if topic not in source:
            gate.reasons.append(f"{topic} is not on the monolith any more.")
            continue
        if topic not in target:
            gate.reasons.append(f"{topic} does not exist on the {who} yet.")
            continue
        (src_start, src_end), (dst_start, dst_end) = source[topic], target[topic]
        if len(src_end) != len(dst_end):
            gate.reasons.append(
                f"{topic} has {len(src_end)} partitions on the monolith and {len(dst_end)} on the {who}."
            )
            continue
        behind = [
            (partition, (s_end - s_start) - (d_end - d_start))
            for partition, (s_start, s_end, d_start, d_end) in enumerate(
                zip(src_start, src_end, dst_start, dst_end, strict=True)
            )
        ]
        worst = max((gap for _, gap in behind), default=0)
        gate.figures.append(
            f"{topic}: {who} behind by at most {worst} record{'s' if worst != 1 else ''} per partition"
        )
        late = [f"{partition} ({gap})" for partition, gap in behind if abs(gap) > allowed]
        if late:
            gate.reasons.append(
                f"{topic}{f' on the read cluster {read_cluster}' if read_cluster else ''}: partitions "
                f"{', '.join(late)} differ by more than {allowed} record{'s' if allowed != 1 else ''}"
                + (" (lag must be 0 before producers move)" if allowed == 0 else "")
                + "."
            )
    gate.holds = not gate.reasons
    return gate


def _consumers_gate(cutover: Cutover, target: Cluster, topics, groups, threshold: int) -> Gate:
    """Consumers move to the target, or in a write/read plan to the read cluster: there the replicated topics
    must match the monolith's (within `threshold` records per partition) and every group have its offsets."""
    name = consumers_cluster_name(cutover)
    if name == target.name:
        return _groups_translated(target, topics, groups)
    if not name:
        return Gate(
            False, [f"Plan v{cutover.plan.version} puts {cutover.application.name} on no read cluster."]
        )
    read = _active(name)
    if read is None:
        return Gate(False, [f"The read cluster {name}, where the consumers move, is not active yet."])
    source = adapters.monolith_offsets(cutover.application.monolith, topics)
    offsets = adapters.cluster_offsets(read, topics)
    replicated = _compare(topics, source, offsets, threshold, read_cluster=read.name)
    # Every partition the monolith has, whether or not the read cluster has the topic yet.
    translated = _groups_translated(read, topics, groups, partitions=source)
    return Gate(
        replicated.holds and translated.holds,
        replicated.reasons + translated.reasons,
        replicated.figures + translated.figures,
    )


def _groups_translated(cluster, topics, groups, *, partitions=None) -> Gate:
    """Every group has a committed offset on `cluster` for every partition of its topics (counted in
    `partitions`, offsets per topic; by default the cluster's own)."""
    gate = Gate(True)
    if not groups:
        gate.figures.append("No consumer group reads these topics on the monolith.")
    target_partitions = adapters.cluster_offsets(cluster, topics) if partitions is None else partitions
    for group in groups:
        committed = adapters.cluster_group_offsets(cluster, group)
        for topic in topics:
            count = len(target_partitions.get(topic, ((), ()))[1])
            have = committed.get(topic, {})
            missing = [str(p) for p in range(count) if p not in have]
            if missing:
                gate.reasons.append(
                    f"Group {group} has no translated offset on {topic} partitions {', '.join(missing)} on "
                    f"{cluster.name} yet."
                )
        gate.figures.append(
            f"Group {group}: translated offsets on {sum(len(v) for v in committed.values())} partitions of "
            f"{cluster.name}"
        )
    gate.holds = not gate.reasons
    return gate


def next_step(step: str) -> str | None:
    index = Cutover.ORDER.index(step)
    return Cutover.ORDER[index + 1] if index + 1 < len(Cutover.ORDER) else None


def _move(actor, cutover: Cutover, action: str, *, from_step: str, to_step: str, reason="", details) -> None:
    """Compare-and-set the step the person saw, with its event; refused when someone else moved it meanwhile."""
    if not events.move(
        cutover.application.monolith,
        cutover,
        action,
        status_field="step",
        from_status=from_step,
        to_status=to_step,
        actor=actor,
        reason=reason,
        team=cutover.application.team,
        details=details,
        fields={"step_changed_at": timezone.now()},
    ):
        cutover.refresh_from_db()
        raise ValidationError(
            f"Someone else moved {cutover.application.name} to “{cutover.get_step_display()}” meanwhile."
        )


def advance(*, actor, cutover_id: int, expected_step: str, threshold: int = DEFAULT_THRESHOLD) -> Cutover:
    """Tick the next step: refused unless its gate holds now and nobody else moved the cutover meanwhile."""
    _require_admin(actor)
    cutover = Cutover.objects.select_related("application__monolith", "plan").get(pk=cutover_id)
    to_step = next_step(expected_step)
    if to_step is None:
        raise ValidationError("This application is already migrated.")
    gate = check_gate(cutover, to_step, threshold=threshold)  # network: before the transaction
    if not gate.holds:
        raise ValidationError(gate.reasons)
    with transaction.atomic():  # a step that loses the race takes back the stop recorded by _finish
        if to_step == Step.DONE:
            _finish(actor, cutover)
        _move(
            actor,
            cutover,
            f"cutover.{to_step}",
            from_step=expected_step,
            to_step=to_step,
            details={"application": cutover.application.name, "checks": gate.figures},
        )
    return cutover


def rollback(*, actor, cutover_id: int, expected_step: str, reason: str) -> Cutover:
    """One step back, with the reason recorded. Before producers moved this is safe (consumers go back to
    their old offsets on the monolith and re-read: duplicates, not loss); after, it needs reverse replication.
    Never from done: replication is stopped (see the module's docstring)."""
    _require_admin(actor)
    if expected_step == Step.DONE:
        raise ValidationError(
            "This application is migrated: its replication is stopped and its topics are marked migrated, so "
            "it cannot step back. Going back needs replication from the new cluster to the monolith (a "
            "deleted MSK Replicator restarts from the latest offsets), i.e. a new migration."
        )
    if not reason.strip():
        raise ValidationError({"reason": ["Say why the step is rolled back."]})
    cutover = Cutover.objects.select_related("application__monolith").get(pk=cutover_id)
    index = Cutover.ORDER.index(expected_step)
    if index == 0:
        raise ValidationError("Nothing to roll back: replication has only started.")
    _move(
        actor,
        cutover,
        "cutover.rolled_back",
        from_step=expected_step,
        to_step=Cutover.ORDER[index - 1],
        reason=reason.strip(),
        details={"application": cutover.application.name},
    )
    return cutover
