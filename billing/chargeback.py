"""Monthly chargeback runs: read the inventory history and collected usage, price and allocate them
(`billing.allocation`), and store the lines. A provisional month can be recomputed any time (same inputs →
identical lines); finance finalizes it, after which it never changes.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from billing import allocation
from billing.allocation import ClusterRef, ClusterUsage, Payer, TopicUsage
from billing.models import BudgetAlert, ChargebackLine, ChargebackRun, TopicDailyUsage
from billing.months import first_of_month, month_bounds, next_month
from billing.selectors import rates_for
from billing.sums import DecimalSum
from billing.usage import clusters_alive, topics_alive
from clusters.models import PlatformSettings, Replicator, Topic, TopicPartitionChange
from portal import audit
from portal.dispatch import enqueue_on_commit
from portal.models import Team

logger = logging.getLogger(__name__)
BUDGET_THRESHOLDS = (80, 100)
LINE_BATCH = 2000


class ChargebackError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _payer(team: Team) -> Payer:
    return Payer(team.name, team.cost_center, team.pk)


def platform_payer() -> Payer:
    team = PlatformSettings.current().platform_team
    return _payer(team) if team else Payer("Platform (unassigned)")


def _alive_days(changes: list[tuple[dt.datetime, int]], days: list[dt.date]) -> set[dt.date]:
    if not changes:
        return set()
    born = changes[0][0].astimezone(dt.UTC).date()
    gone = next((when.astimezone(dt.UTC).date() for when, level in changes if level == 0), dt.date.max)
    return {day for day in days if born <= day <= gone}


def _int_config(configs: dict, key: str) -> int | None:
    try:
        return int(configs.get(key)) if configs.get(key) is not None else None
    except (TypeError, ValueError):
        return None


def build_usage(month: dt.date) -> list[ClusterUsage]:
    """Everything the month's lines are computed from, read from the database (no network)."""
    start, end = month_bounds(month)
    days = [month + dt.timedelta(days=offset) for offset in range((next_month(month) - month).days)]
    clusters = list(
        clusters_alive(start, end).select_related("team", "account").prefetch_related("shared_with")
    )
    by_id = {cluster.pk: cluster for cluster in clusters}
    topics = list(topics_alive(list(by_id), start, end).select_related("team"))
    replicators = list(
        Replicator.objects.filter(read_cluster_id__in=list(by_id)).select_related("source_cluster")
    )
    source_topics = {
        (topic.cluster_id, topic.name): topic
        for topic in Topic.objects.filter(
            cluster_id__in=[replicator.source_cluster_id for replicator in replicators],
            name__in=[name for replicator in replicators for name in replicator.topics],
        ).exclude(partition_changes__isnull=True)
    }
    history: dict[int, list[tuple[dt.datetime, int]]] = defaultdict(list)
    for topic_id, changed_at, partitions in (
        TopicPartitionChange.objects.filter(
            topic_id__in=[topic.pk for topic in topics] + [topic.pk for topic in source_topics.values()],
            changed_at__lt=end,
        )
        .order_by("changed_at", "id")
        .values_list("topic_id", "changed_at", "partitions")
    ):
        history[topic_id].append((changed_at, partitions))

    traffic: dict[tuple[int, str], dict[str, int]] = defaultdict(lambda: {"bytes_in": 0, "bytes_out": 0})
    for row in (
        TopicDailyUsage.objects.filter(cluster_id__in=list(by_id), day__gte=month, day__lt=next_month(month))
        .values("cluster_id", "topic_name", "metric")
        .annotate(total=Sum("bytes"))
        .order_by()
    ):
        traffic[(row["cluster_id"], row["topic_name"])][row["metric"]] = int(row["total"])
    lookback = max(
        [_storage_window_days(topic.configs) for topic in [*topics, *source_topics.values()]] or [1]
    )
    daily_in: dict[tuple[int, str], dict[dt.date, int]] = defaultdict(dict)
    for cluster_id, topic_name, day, byte_count in TopicDailyUsage.objects.filter(
        cluster_id__in=list(by_id), metric=TopicDailyUsage.Metric.BYTES_IN,
        day__gte=month - dt.timedelta(days=lookback - 1), day__lt=next_month(month),
    ).values_list("cluster_id", "topic_name", "day", "bytes"):  # fmt: skip
        daily_in[(cluster_id, topic_name)][day] = byte_count

    usages: dict[int, ClusterUsage] = {}
    for cluster in clusters:
        usages[cluster.pk] = ClusterUsage(
            ref=ClusterRef(
                cluster.pk,
                cluster.name,
                cluster.arn,
                cluster.region,
                cluster.account.account_id,
                cluster.environment,
            ),
            team=_payer(cluster.team),
            shared=bool(cluster.shared_with.all()),
            cluster_hours=allocation.level_hours(
                allocation.lifetime_changes(cluster.active_since, cluster.deleted_at), start, end
            ),
            rates=rates_for(cluster.region, month),
        )

    def add_topic(cluster_id, name, owner, changes, configs, hours_changes=None):
        key = (cluster_id, name)
        counted = traffic.pop(key, {"bytes_in": 0, "bytes_out": 0})
        usages[cluster_id].topics.append(
            TopicUsage(
                name=name, owner=owner,
                partition_hours=allocation.level_hours(hours_changes or changes, start, end),
                bytes_in=counted["bytes_in"], bytes_out=counted["bytes_out"],
                storage_gib_month=allocation.stored_gib_month(
                    daily_in.get(key, {}), month_days=days, alive_days=_alive_days(changes, days),
                    retention_ms=_int_config(configs, "retention.ms"),
                    retention_bytes=_int_config(configs, "retention.bytes"),
                    partitions=max((level for _, level in changes), default=0),
                ),
            )
        )  # fmt: skip

    for topic in topics:
        if topic.team_id != by_id[topic.cluster_id].team_id:
            usages[topic.cluster_id].shared = True
        add_topic(topic.cluster_id, topic.name, _payer(topic.team), history[topic.pk], topic.configs)
    for replicator in replicators:
        read_cluster = by_id[replicator.read_cluster_id]
        for name in replicator.topics:
            source = source_topics.get((replicator.source_cluster_id, name))
            source_changes = history[source.pk] if source else []
            # Replicated partitions exist on the read cluster while both it and the source topic do.
            on_read = _clip(source_changes, read_cluster.active_since, read_cluster.deleted_at)
            add_topic(
                read_cluster.pk, name, _payer(read_cluster.team), on_read, source.configs if source else {}
            )
    for (cluster_id, name), counted in sorted(traffic.items()):
        # Traffic on a topic the inventory does not know: charged, never dropped (unattributed).
        if counted["bytes_in"] or counted["bytes_out"]:
            usages[cluster_id].topics.append(
                TopicUsage(
                    name=name, owner=None, bytes_in=counted["bytes_in"], bytes_out=counted["bytes_out"]
                )
            )
    return list(usages.values())


def _storage_window_days(configs: dict) -> int:
    retention_ms = _int_config(configs, "retention.ms")
    if retention_ms is not None and retention_ms < 0:
        return allocation.MAX_STORAGE_LOOKBACK_DAYS
    return max(1, -(-(retention_ms or allocation.DEFAULT_RETENTION_MS) // 86_400_000))


def _clip(changes, alive_from, alive_until):
    """A topic's partition history limited to a cluster's lifetime."""
    if alive_from is None:
        return []
    clipped, level_at_start = [], 0
    for when, level in changes:
        if when <= alive_from:
            level_at_start = level
        elif alive_until is None or when < alive_until:
            clipped.append((when, level))
    if level_at_start:
        clipped.insert(0, (alive_from, level_at_start))
    if alive_until is not None:
        clipped.append((alive_until, 0))
    return clipped


def compute_lines(month: dt.date, *, actual_costs: dict[int, Decimal] | None = None) -> list[allocation.Line]:
    """The month's lines, sorted; with `actual_costs`, shared clusters' lines are scaled to the bill."""
    platform = platform_payer()
    lines = []
    for usage in build_usage(month):
        cluster_lines = allocation.allocate(usage, platform)
        if actual_costs and usage.shared and usage.ref.cluster_id in actual_costs:
            cluster_lines = allocation.scale_to_actual(cluster_lines, actual_costs[usage.ref.cluster_id])
        lines.extend(cluster_lines)
    return sorted(lines, key=allocation.Line.sort_key)


def compute_run(month: dt.date, *, actor=None) -> ChargebackRun:
    """(Re)compute a provisional month; refused once finalized. Idempotent: same inputs, same lines."""
    month = first_of_month(month)
    run, _ = ChargebackRun.objects.get_or_create(month=month)
    if run.status == ChargebackRun.Status.FINALIZED:
        raise ChargebackError(f"{run.label} is finalized and cannot change.")
    actual_costs = (
        dict(run.actual_costs.values_list("cluster_id", "amount_usd")) if run.scale_shared_to_actual else None
    )
    lines = compute_lines(month, actual_costs=actual_costs)  # outside the transaction: reads only
    with transaction.atomic():
        run = ChargebackRun.objects.select_for_update().get(pk=run.pk)
        if run.status == ChargebackRun.Status.FINALIZED:
            raise ChargebackError(f"{run.label} was finalized meanwhile and cannot change.")
        run.lines.all().delete()
        ChargebackLine.objects.bulk_create(
            (_line_row(run, position, line) for position, line in enumerate(lines, start=1)),
            batch_size=LINE_BATCH,
        )
        run.total_usd = sum((line.cost for line in lines), Decimal("0.00"))
        run.line_count = len(lines)
        run.computed_at = timezone.now()
        run.save(update_fields=["total_usd", "line_count", "computed_at"])
        audit.record("billing.chargeback.computed", actor=actor, obj=run,
                     details={"month": run.label, "lines": run.line_count, "total_usd": str(run.total_usd)})  # fmt: skip
        _check_budgets(run)
    return run


def _line_row(run: ChargebackRun, position: int, line: allocation.Line) -> ChargebackLine:
    return ChargebackLine(
        run=run, position=position, team_id=line.payer.team_id, team_name=line.payer.name,
        cost_center=line.payer.cost_center, cluster_id=line.cluster.cluster_id, cluster_name=line.cluster.name,
        cluster_arn=line.cluster.arn, region=line.cluster.region, account_id=line.cluster.account_id,
        environment=line.cluster.environment, topic_name=line.topic, charge_type=line.charge_type,
        quantity=line.quantity, unit=line.unit, unit_price_usd=line.unit_price, cost_usd=line.cost,
        allocation_basis=line.basis, allocation_ratio=line.ratio,
    )  # fmt: skip


def finalize_run(*, run_id: int, actor) -> ChargebackRun:
    """Provisional → finalized (compare-and-set): the month's lines and prices never change again."""
    with transaction.atomic():
        updated = ChargebackRun.objects.filter(
            pk=run_id, status=ChargebackRun.Status.PROVISIONAL, computed_at__isnull=False
        ).update(status=ChargebackRun.Status.FINALIZED, finalized_at=timezone.now(), finalized_by=actor)
        run = ChargebackRun.objects.get(pk=run_id)
        if not updated:
            if run.status == ChargebackRun.Status.FINALIZED:
                raise ChargebackError(f"{run.label} is already finalized.")
            raise ChargebackError(f"{run.label} has not been computed yet.")
        audit.record("billing.chargeback.finalized", actor=actor, obj=run,
                     details={"month": run.label, "total_usd": str(run.total_usd)})  # fmt: skip
    return run


def _check_budgets(run: ChargebackRun) -> None:
    """Record (once) each budget threshold a team crossed this month and alert its contact on commit."""
    from billing import tasks

    spent = dict(
        run.lines.filter(team__monthly_budget_usd__isnull=False)
        .values_list("team_id")
        .annotate(total=DecimalSum("cost_usd"))
        .order_by()
    )
    for team in Team.objects.filter(pk__in=list(spent)):
        for threshold in BUDGET_THRESHOLDS:
            if team.monthly_budget_usd and spent[team.pk] * 100 >= team.monthly_budget_usd * threshold:
                alert, created = BudgetAlert.objects.get_or_create(
                    team=team, month=run.month, threshold_percent=threshold,
                    defaults={"spent_usd": spent[team.pk], "budget_usd": team.monthly_budget_usd},
                )  # fmt: skip
                if created:
                    audit.record("billing.budget.alert", actor=None, obj=alert, team=team,
                                 details={"month": run.label, "threshold_percent": threshold,
                                          "spent_usd": str(spent[team.pk])})  # fmt: skip
                    enqueue_on_commit(tasks.send_budget_alert, alert.pk)
