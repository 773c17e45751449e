"""Reads for the migration assistant's pages: the newest inventory, what changed since the one before, the
topics nobody owns yet, and applications with the demand they bring to a plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Max, Prefetch

from clusters.migration.models import (
    Application,
    ApplicationClaim,
    ApplicationTopic,
    InventorySnapshot,
    InventoryTopic,
    MigrationPlan,
    Monolith,
)
from portal import access


def monoliths_visible_to(user):
    return Monolith.objects.all() if access.can_view_migration(user) else Monolith.objects.none()


def latest_snapshot(monolith: Monolith) -> InventorySnapshot | None:
    return monolith.snapshots.order_by("-number").first()


@dataclass
class InventoryChanges:
    """What changed between two snapshots of one monolith."""

    before: InventorySnapshot | None
    after: InventorySnapshot
    topics_added: list[str] = field(default_factory=list)
    topics_removed: list[str] = field(default_factory=list)
    topics_changed: list[tuple[str, list[str]]] = field(default_factory=list)  # (topic, sentences)
    groups_added: list[str] = field(default_factory=list)
    groups_removed: list[str] = field(default_factory=list)
    groups_changed: list[tuple[str, list[str]]] = field(default_factory=list)  # (group, sentences)

    @property
    def nothing(self) -> bool:
        return not (
            self.topics_added
            or self.topics_removed
            or self.topics_changed
            or self.groups_added
            or self.groups_removed
            or self.groups_changed
        )

    @property
    def summary(self) -> str:
        """One line: "2 new topics, 1 topic changed, 1 new consumer group" or "nothing changed"."""
        counts = (
            (self.topics_added, "new topic", "new topics"),
            (self.topics_removed, "topic gone", "topics gone"),
            (self.topics_changed, "topic changed", "topics changed"),
            (self.groups_added, "new consumer group", "new consumer groups"),
            (self.groups_removed, "consumer group gone", "consumer groups gone"),
            (self.groups_changed, "consumer group changed", "consumer groups changed"),
        )
        parts = [f"{len(items)} {one if len(items) == 1 else many}" for items, one, many in counts if items]
        return ", ".join(parts) or "nothing changed"

    _LISTS = (
        "topics_added",
        "topics_removed",
        "topics_changed",
        "groups_added",
        "groups_removed",
        "groups_changed",
    )

    def as_record(self) -> dict:
        """What `InventorySnapshot.changes` keeps (JSON), written with the snapshot."""
        return {"before": self.before.number if self.before else None} | {
            name: getattr(self, name) for name in self._LISTS
        }

    @classmethod
    def from_record(cls, after: InventorySnapshot, before: InventorySnapshot | None) -> InventoryChanges:
        record = after.changes
        changes = cls(before=before, after=after, **{name: list(record.get(name, [])) for name in cls._LISTS})
        changes.topics_changed = [(name, sentences) for name, sentences in changes.topics_changed]
        changes.groups_changed = [(name, sentences) for name, sentences in changes.groups_changed]
        return changes


_WATCHED_CONFIGS = (
    "cleanup.policy",
    "retention.ms",
    "retention.bytes",
    "max.message.bytes",
    "compression.type",
)


_COMPARED = ("snapshot_id", "name", "partitions", "configs", "retention_ms")


def inventory_changes(after: InventorySnapshot, before: InventorySnapshot | None = None) -> InventoryChanges:
    """Compare a snapshot with the one before it (by default the previous number)."""
    if before is None:
        before = after.monolith.snapshots.filter(number__lt=after.number).order_by("-number").first()
    changes = InventoryChanges(before=before, after=after)
    new_topics = {topic.name: topic for topic in after.topics.only(*_COMPARED)}
    new_groups = dict(after.groups.values_list("group_id", "topics"))
    if before is None:
        changes.topics_added = sorted(new_topics)
        changes.groups_added = sorted(new_groups)
        return changes
    old_topics = {topic.name: topic for topic in before.topics.only(*_COMPARED)}
    old_groups = dict(before.groups.values_list("group_id", "topics"))
    changes.topics_added = sorted(set(new_topics) - set(old_topics))
    changes.topics_removed = sorted(set(old_topics) - set(new_topics))
    for name in sorted(set(new_topics) & set(old_topics)):
        new, old = new_topics[name], old_topics[name]
        sentences = []
        if new.partitions != old.partitions:
            sentences.append(f"partitions {old.partitions} → {new.partitions}")
        for key in _WATCHED_CONFIGS:
            was, now = old.configs.get(key), new.configs.get(key)
            if was != now and (was is not None or now is not None) and after.source == before.source:
                sentences.append(f"{key} {was or '(unset)'} → {now or '(unset)'}")
        if new.retention_ms != old.retention_ms and not any(s.startswith("retention.ms") for s in sentences):
            sentences.append(f"retention {old.retention_ms} → {new.retention_ms} ms")
        if sentences:
            changes.topics_changed.append((name, sentences))
    changes.groups_added = sorted(set(new_groups) - set(old_groups))
    changes.groups_removed = sorted(set(old_groups) - set(new_groups))
    for group in sorted(set(new_groups) & set(old_groups)):
        now, was = set(new_groups[group]), set(old_groups[group])
        sentences = [f"now reads {topic}" for topic in sorted(now - was)]
        sentences += [f"no longer reads {topic}" for topic in sorted(was - now)]
        if sentences:
            changes.groups_changed.append((group, sentences))
    return changes


def recent_changes(monolith: Monolith, *, readings: int = 6) -> list[InventoryChanges]:
    """What each of the newest `readings` snapshots changed against the one before it, newest first (with
    beat reading the cluster every hour, "since the previous one" alone would mostly say "nothing"), as
    kept when each was written. A snapshot written before changes were kept is compared now if it is the
    newest, and left out otherwise."""
    snapshots = list(monolith.snapshots.select_related("taken_by").order_by("-number")[:readings])
    numbers = {record for snapshot in snapshots if (record := snapshot.changes.get("before"))}
    before = {
        snapshot.number: snapshot
        for snapshot in monolith.snapshots.filter(number__in=numbers - {s.number for s in snapshots})
    } | {snapshot.number: snapshot for snapshot in snapshots}
    history = []
    for index, snapshot in enumerate(snapshots):
        if snapshot.changes:
            history.append(InventoryChanges.from_record(snapshot, before.get(snapshot.changes.get("before"))))
        elif index == 0:
            history.append(inventory_changes(snapshot))
    return history


def monoliths_to_reread() -> list[tuple[int, int]]:
    """For beat: (monolith id, its newest snapshot number) of every monolith the portal reads from the
    cluster, i.e. one with a bootstrap that has been read from the cluster at least once (the demo's and
    other file-only monoliths are not tried)."""
    read = (
        Monolith.objects.exclude(bootstrap="")
        .filter(snapshots__source=InventorySnapshot.Source.CLUSTER)
        .values_list("pk", flat=True)
        .distinct()
    )
    return list(
        InventorySnapshot.objects.filter(monolith_id__in=read)
        .values("monolith_id")
        .annotate(newest=Max("number"))
        .values_list("monolith_id", "newest")
        .order_by("monolith_id")
    )


def last_read_failure(monolith: Monolith):
    """The newest failed reading of the cluster (a MigrationEvent) when no reading succeeded since."""
    from clusters.migration.models import MigrationEvent

    failure = (
        MigrationEvent.objects.filter(monolith=monolith, action="inventory.read_failed")
        .order_by("-created_at", "-id")
        .first()
    )
    newest = monolith.snapshots.filter(source=InventorySnapshot.Source.CLUSTER).order_by("-number").first()
    if failure is None or (newest is not None and newest.taken_at >= failure.created_at):
        return None
    return failure


def inventory_topics(snapshot: InventorySnapshot) -> list[InventoryTopic]:
    """The snapshot's topics, each with `migrated`: its application link once its cutover is done (replication
    stopped, moved to `migrated_to`), else None."""
    migrated = {
        link.topic: link
        for link in ApplicationTopic.objects.filter(monolith=snapshot.monolith, migrated_at__isnull=False)
    }
    topics = list(snapshot.topics.all())
    for topic in topics:
        topic.migrated = migrated.get(topic.name)
    return topics


@dataclass(frozen=True)
class UnclaimedTopic:
    topic: str
    application: str  # "" when no application holds it yet
    pending_claim: str  # the team waiting for a decision, if any


def unclaimed_topics(monolith: Monolith) -> list[UnclaimedTopic]:
    """Topics of the newest snapshot whose application no team owns yet: the list to chase."""
    snapshot = latest_snapshot(monolith)
    if snapshot is None:
        return []
    links = {
        link.topic: link.application
        for link in ApplicationTopic.objects.filter(monolith=monolith).select_related("application")
    }
    pending = dict(
        ApplicationClaim.objects.filter(
            application__monolith=monolith, status=ApplicationClaim.Status.PENDING
        ).values_list("application_id", "team__name")
    )
    rows = []
    for name in snapshot.topics.order_by("name").values_list("name", flat=True):
        application = links.get(name)
        if application is None or application.team_id is None:
            rows.append(
                UnclaimedTopic(
                    topic=name,
                    application=application.name if application else "",
                    pending_claim=pending.get(application.pk, "") if application else "",
                )
            )
    return rows


@dataclass
class ApplicationDemandRow:
    """An application with the figures a plan packs: its requirements where the team gave them, else the
    newest inventory's figures for its topics."""

    application: Application
    topics: list[InventoryTopic]
    consumer_groups: list[str]
    peak_in_mbps: Decimal
    peak_out_mbps: Decimal
    throughput_from: str  # "requirements" or "inventory"
    missing_throughput: list[str]  # topics without any figure (counted as 0)

    @property
    def partitions(self) -> int:
        return sum(topic.partitions for topic in self.topics)


def application_rows(
    monolith: Monolith, snapshot: InventorySnapshot | None = None
) -> list[ApplicationDemandRow]:
    snapshot = snapshot or latest_snapshot(monolith)
    if snapshot is None:
        return []
    topics = {topic.name: topic for topic in snapshot.topics.all()}
    readers: dict[str, list[str]] = {}
    for group in snapshot.groups.all():
        for topic in group.topics:
            readers.setdefault(topic, []).append(group.group_id)
    applications = (
        monolith.applications.select_related("team", "suggested_team")
        .prefetch_related(Prefetch("topic_links", queryset=ApplicationTopic.objects.order_by("topic")))
        .order_by("name")
    )
    rows = []
    for application in applications:
        mine = [topics[link.topic] for link in application.topic_links.all() if link.topic in topics]
        missing = [topic.name for topic in mine if topic.peak_in_mbps is None]
        inventory_in = sum((topic.peak_in_mbps or Decimal(0) for topic in mine), Decimal(0))
        inventory_out = sum((topic.peak_out_mbps or Decimal(0) for topic in mine), Decimal(0))
        stated = application.peak_in_mbps is not None or application.peak_out_mbps is not None
        rows.append(
            ApplicationDemandRow(
                application=application,
                topics=mine,
                consumer_groups=sorted({group for topic in mine for group in readers.get(topic.name, [])}),
                peak_in_mbps=application.peak_in_mbps
                if application.peak_in_mbps is not None
                else inventory_in,
                peak_out_mbps=application.peak_out_mbps
                if application.peak_out_mbps is not None
                else inventory_out,
                throughput_from="requirements" if stated else "inventory",
                missing_throughput=[] if stated else missing,
            )
        )
    return rows


def plans_of(monolith: Monolith):
    return MigrationPlan.objects.filter(monolith=monolith).select_related("created_by").order_by("-version")


def pending_claims(monolith: Monolith, *, with_takeover_checks: bool = False):
    """Claims waiting for an admin, oldest first. `with_takeover_checks`: also what `takeover.blockers_of`
    reads of their applications (their topics), in one query for all of them instead of one each."""
    claims = (
        ApplicationClaim.objects.filter(
            application__monolith=monolith, status=ApplicationClaim.Status.PENDING
        )
        .select_related("application__team", "application__monolith", "team", "claimed_by")
        .order_by("created_at")
    )
    return claims.prefetch_related("application__topic_links") if with_takeover_checks else claims


def consumers_cluster_name(plan: MigrationPlan, application: str) -> str:
    """The planned cluster an application's consumers move to: in a write/read plan its read cluster (where
    the plan files its consumers' access), else its own cluster; "" when the plan places it nowhere."""
    reads_apart = plan.strategy == MigrationPlan.Strategy.WRITE_READ
    return next(
        (
            cluster["name"]
            for cluster in plan.result.get("clusters", [])
            if (cluster["side"] == "read") == reads_apart and application in cluster["applications"]
        ),
        "",
    )


@dataclass
class CutoverRow:
    cutover: object
    last_event: object  # MigrationEvent of the current step (who, when), or None
    peak_mbps: Decimal
    migrated_topics: list = field(default_factory=list)  # ApplicationTopic rows marked migrated
    consumers_cluster: str = ""  # where its consumers move (write/read: its read cluster)
    consumer_settings: str = ""  # filled by `cutover.board`: the settings for that cluster
    flags: list = field(default_factory=list)  # the plan's "not plain replication" flags for this application


@dataclass
class CutoverBoard:
    rows: list[CutoverRow]
    remaining_mbps: Decimal  # in + out still on the monolith
    total_mbps: Decimal
    remaining_cost_usd: Decimal | None  # the monolith's cost × the share of traffic still on it

    @property
    def remaining_percent(self) -> Decimal:
        return (
            (self.remaining_mbps * 100 / self.total_mbps).quantize(Decimal("0.1"))
            if self.total_mbps
            else Decimal(0)
        )


def cutover_board(plan: MigrationPlan) -> CutoverBoard:
    from clusters.migration.models import Cutover, MigrationEvent

    rows_by_app = {row.application.pk: row for row in application_rows(plan.monolith, plan.snapshot)}
    cutovers = list(
        Cutover.objects.filter(plan=plan)
        .select_related("application__team", "replication")
        .prefetch_related(
            Prefetch(
                "application__topic_links",
                queryset=ApplicationTopic.objects.filter(migrated_at__isnull=False).order_by("topic"),
                to_attr="migrated_links",
            )
        )
        .order_by("position")
    )
    latest = {}
    for event in MigrationEvent.objects.filter(
        object_type="cutover", object_id__in=[str(c.pk) for c in cutovers]
    ).order_by("id"):
        latest[event.object_id] = event
    rows, remaining = [], Decimal(0)
    total = sum((row.peak_in_mbps + row.peak_out_mbps for row in rows_by_app.values()), Decimal(0))
    moved = Decimal(0)
    for item in cutovers:
        demand = rows_by_app.get(item.application_id)
        peak = demand.peak_in_mbps + demand.peak_out_mbps if demand else Decimal(0)
        if item.step == Cutover.Step.DONE:
            moved += peak
        rows.append(
            CutoverRow(
                item,
                latest.get(str(item.pk)),
                peak,
                item.application.migrated_links,
                consumers_cluster_name(plan, item.application.name),
                flags=[f for f in plan.result.get("flags", []) if f["application"] == item.application.name],
            )
        )
    remaining = total - moved
    cost = plan.monolith.monthly_cost_usd
    return CutoverBoard(
        rows=rows,
        remaining_mbps=remaining,
        total_mbps=total,
        remaining_cost_usd=(cost * remaining / total).quantize(Decimal("0.01"))
        if cost is not None and total
        else cost,
    )
