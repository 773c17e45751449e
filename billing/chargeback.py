"""Monthly chargeback runs: read the inventory history and collected usage, price and allocate them
(`billing.allocation`), and store the lines. A provisional month can be recomputed any time (same inputs →
identical lines); finance finalizes it, after which it never changes.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from billing import allocation, budgets, metering
from billing.allocation import ClusterRef, ClusterUsage, Payer, TopicUsage
from billing.inventory import clusters_alive, payer, platform_payer, topics_alive
from billing.models import ChargebackLine, ChargebackRun, TopicDailyUsage
from billing.months import first_of_month, month_bounds, next_month
from billing.rates import rates_for
from clusters.models import Replicator, Topic, TopicPartitionChange
from portal import audit

logger = logging.getLogger(__name__)
LINE_BATCH = 2000
USAGE_CHUNK = 5000
BYTES_IN = str(TopicDailyUsage.Metric.BYTES_IN)  # a plain str: compared once per row of traffic


class ChargebackError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _int_config(configs: dict, key: str) -> int | None:
    try:
        return int(configs.get(key)) if configs.get(key) is not None else None
    except (TypeError, ValueError):
        return None


@dataclass
class _Candidate:
    """A topic that had a name on a cluster during the month (an inventory topic, or a replica on a read
    cluster), collecting its share of the name's traffic. CloudWatch knows names, not topics."""

    name: str
    owner: Payer
    changes: list[tuple[dt.datetime, int]]
    configs: dict
    meter: metering.DayMeter
    order: tuple  # explicit, database-independent: who was there first, then the owner's name
    bytes_in: int = 0
    bytes_out: int = 0
    daily_in: dict[dt.date, int] = field(default_factory=dict)


def _candidate(name, owner: Payer, changes, configs, tiebreak: tuple) -> _Candidate:
    meter = metering.DayMeter.of(changes)
    born = meter.born or dt.datetime.max.replace(tzinfo=dt.UTC)
    return _Candidate(name, owner, changes, configs, meter, (born, owner.name, owner.team_id or 0, *tiebreak))


def split_day(byte_count: int, day: dt.date, candidates: list[_Candidate]) -> list[tuple[_Candidate, int]]:
    """A name's bytes on one UTC day among the topics that had the name that day, by the hours each was
    there (largest remainder in whole bytes; ties to the one there first, in `order`). Nobody there → []."""
    if len(candidates) == 1:
        return [(candidates[0], byte_count)] if candidates[0].meter.there_on(day) else []
    hours = {index: candidate.meter.hours_on(day) for index, candidate in enumerate(candidates)}
    hours = {index: count for index, count in hours.items() if count}
    if not hours:
        return []
    return [
        (candidates[index], share) for index, share in allocation.largest_remainder(byte_count, hours).items()
    ]


def build_usage(month: dt.date, until: dt.datetime | None = None) -> list[ClusterUsage]:
    """Everything the month's lines are computed from, metered to `until` (default: the whole month), read
    from the database (no network)."""
    start, end = month_bounds(month)
    until = end if until is None else until
    days = metering.metered_days(month, until)
    if not days:
        return []
    month_days = (next_month(month) - month).days
    clusters = list(
        clusters_alive(start, until)
        .select_related("team", "account")
        .prefetch_related("shared_with")
        .order_by("pk")
    )
    by_id = {cluster.pk: cluster for cluster in clusters}
    topics = list(topics_alive(list(by_id), start, until).select_related("team").order_by("pk"))
    replicators = list(
        Replicator.objects.filter(read_cluster_id__in=list(by_id))
        .select_related("source_cluster")
        .order_by("pk")
    )
    source_topics: dict[tuple[int, str], list[Topic]] = defaultdict(list)
    for topic in Topic.objects.filter(
        cluster_id__in=[replicator.source_cluster_id for replicator in replicators],
        name__in=[name for replicator in replicators for name in replicator.topics],
    ).order_by("pk"):
        source_topics[(topic.cluster_id, topic.name)].append(topic)
    history: dict[int, list[tuple[dt.datetime, int]]] = defaultdict(list)
    for topic_id, changed_at, partitions in (
        TopicPartitionChange.objects.filter(
            topic_id__in=[topic.pk for topic in topics]
            + [topic.pk for named in source_topics.values() for topic in named],
            changed_at__lt=until,
        )
        .order_by("changed_at", "id")
        .values_list("topic_id", "changed_at", "partitions")
    ):
        history[topic_id].append((changed_at, partitions))

    usages: dict[int, ClusterUsage] = {}
    rates = {region: rates_for(region, month) for region in sorted({cluster.region for cluster in clusters})}
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
            team=payer(cluster.team),
            shared=bool(cluster.shared_with.all()),
            cluster_hours=metering.level_hours(
                metering.lifetime_changes(cluster.active_since, cluster.deleted_at), start, until
            ),
            rates=rates[cluster.region],
        )

    candidates: dict[tuple[int, str], list[_Candidate]] = defaultdict(list)
    for topic in topics:
        if topic.team_id != by_id[topic.cluster_id].team_id:
            usages[topic.cluster_id].shared = True
        candidates[(topic.cluster_id, topic.name)].append(
            _candidate(topic.name, payer(topic.team), history[topic.pk], topic.configs, (0, topic.pk))
        )
    for replicator in replicators:
        read_cluster = by_id[replicator.read_cluster_id]
        for name in replicator.topics:
            for source in source_topics.get((replicator.source_cluster_id, name), []):
                # Replicated partitions exist on the read cluster while both it and the source topic do.
                on_read = metering.clip_to_lifetime(
                    history[source.pk], read_cluster.active_since, read_cluster.deleted_at
                )
                candidates[(read_cluster.pk, name)].append(
                    _candidate(name, payer(read_cluster.team), on_read, source.configs, (1, source.pk))
                )
    for named in candidates.values():
        named.sort(key=lambda candidate: candidate.order)

    # Traffic, a day at a time: each day's bytes of a name go to the topics that had it that day. Bytes
    # before the month only fill the storage windows; bytes nobody had are unattributed (never dropped).
    lookback = max(
        [_storage_window_days(candidate.configs) for named in candidates.values() for candidate in named]
        or [1]
    )
    unattributed: dict[tuple[int, str], dict[str, int]] = defaultdict(lambda: {"bytes_in": 0, "bytes_out": 0})
    for cluster_id, name, day, metric, byte_count in (
        TopicDailyUsage.objects.filter(
            Q(day__gte=month) | Q(metric=TopicDailyUsage.Metric.BYTES_IN),
            cluster_id__in=list(by_id),
            day__gte=month - dt.timedelta(days=lookback - 1),
            day__lte=days[-1],
        )
        .values_list("cluster_id", "topic_name", "day", "metric", "bytes")
        .order_by()
        .iterator(chunk_size=USAGE_CHUNK)
    ):
        named = candidates.get((cluster_id, name))
        shares = split_day(byte_count, day, named) if named else []
        if not shares:
            if day >= month:
                unattributed[(cluster_id, name)][metric] += byte_count
            continue
        for candidate, share in shares:
            if metric == BYTES_IN:
                candidate.daily_in[day] = candidate.daily_in.get(day, 0) + share
                if day >= month:
                    candidate.bytes_in += share
            else:
                candidate.bytes_out += share

    for (cluster_id, _name), named in sorted(candidates.items()):
        for candidate in named:
            usages[cluster_id].topics.append(
                TopicUsage(
                    name=candidate.name,
                    owner=candidate.owner,
                    partition_hours=candidate.meter.level_hours(start, until),
                    bytes_in=candidate.bytes_in,
                    bytes_out=candidate.bytes_out,
                    storage_gib_month=allocation.stored_gib_month(
                        candidate.daily_in,
                        month_days=month_days,
                        partitions_on=candidate.meter.partitions_by_day(days),
                        retention_ms=_int_config(candidate.configs, "retention.ms"),
                        retention_bytes=_int_config(candidate.configs, "retention.bytes"),
                        rounded=False,  # one topic of several with the name and payer: rounded per line
                    ),
                )
            )
    for (cluster_id, name), counted in sorted(unattributed.items()):
        if counted["bytes_in"] or counted["bytes_out"]:
            usages[cluster_id].topics.append(
                TopicUsage(
                    name=name, owner=None, bytes_in=counted["bytes_in"], bytes_out=counted["bytes_out"]
                )
            )
    for usage in usages.values():
        usage.topics = allocation.merged_topics(usage)
    return list(usages.values())


def _storage_window_days(configs: dict) -> int:
    retention_ms = _int_config(configs, "retention.ms")
    if retention_ms is not None and retention_ms < 0:
        return allocation.MAX_STORAGE_LOOKBACK_DAYS
    return max(1, -(-(retention_ms or allocation.DEFAULT_RETENTION_MS) // 86_400_000))


def compute_lines(
    month: dt.date, *, until: dt.datetime | None = None, actual_costs: dict[int, Decimal] | None = None
) -> list[allocation.Line]:
    """The month's lines metered to `until` (default: the whole month), sorted; with `actual_costs`, shared
    clusters' lines are scaled to the bill."""
    platform = platform_payer()
    lines = []
    for usage in build_usage(month, until):
        cluster_lines = allocation.allocate(usage, platform)
        if actual_costs and usage.shared and usage.ref.cluster_id in actual_costs:
            cluster_lines = allocation.scale_to_actual(cluster_lines, actual_costs[usage.ref.cluster_id])
        lines.extend(cluster_lines)
    return sorted(lines, key=allocation.Line.sort_key)


def compute_run(month: dt.date, *, actor=None, now: dt.datetime | None = None) -> ChargebackRun:
    """(Re)compute a provisional month, metered up to and including the clock hour `now` falls in (the
    whole month once it is over); refused once finalized. Idempotent: same inputs, same lines."""
    month = first_of_month(month)
    until = metering.metered_until(month, now or timezone.now())
    run, _ = ChargebackRun.objects.get_or_create(month=month)
    if run.status == ChargebackRun.Status.FINALIZED:
        raise ChargebackError(f"{run.label} is finalized and cannot change.")
    actual_costs = (
        dict(run.actual_costs.values_list("cluster_id", "amount_usd")) if run.scale_shared_to_actual else None
    )
    lines = compute_lines(
        month, until=until, actual_costs=actual_costs
    )  # outside the transaction: reads only
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
        run.metered_until = until
        run.save(update_fields=["total_usd", "line_count", "computed_at", "metered_until"])
        audit.record(
            "billing.chargeback.computed",
            actor=actor,
            obj=run,
            details={
                "month": run.label,
                "lines": run.line_count,
                "total_usd": str(run.total_usd),
                "metered_until": until.isoformat(),
            },
        )
        budgets.record_crossed(run)  # on the metered lines only: never on a forecast
    return run


def _line_row(run: ChargebackRun, position: int, line: allocation.Line) -> ChargebackLine:
    return ChargebackLine(
        run=run,
        position=position,
        team_id=line.payer.team_id,
        team_name=line.payer.name,
        cost_center=line.payer.cost_center,
        cluster_id=line.cluster.cluster_id,
        cluster_name=line.cluster.name,
        cluster_arn=line.cluster.arn,
        region=line.cluster.region,
        account_id=line.cluster.account_id,
        environment=line.cluster.environment,
        topic_name=line.topic,
        charge_type=line.charge_type,
        quantity=line.quantity,
        unit=line.unit,
        unit_price_usd=line.unit_price,
        cost_usd=line.cost,
        allocation_basis=line.basis,
        allocation_ratio=line.ratio,
    )


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
        audit.record(
            "billing.chargeback.finalized",
            actor=actor,
            obj=run,
            details={"month": run.label, "total_usd": str(run.total_usd)},
        )
    return run
