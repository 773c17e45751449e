"""Forecast to month end: the month to date plus what the rest of the month costs if it goes on as it is.

The month to date is the run's lines, metered through the clock hour the run was computed in. The rest of
the month — the clock hours after the one `now` falls in, up to the month's end — is priced and allocated
as a run would (`billing.allocation`, at the rate card the month uses):

- cluster-hours and partition-hours: the inventory as it stands (active clusters; each topic at its
  current partition count; a read cluster's replicated topics at their source's), every remaining hour;
- data in and out: each topic's bytes so far this month per hour observed (from the first UTC day with
  traffic this month to the end of the metered hours), times the remaining hours;
- storage (estimate): the month to date's GiB-months of the topic per hour observed, times the
  remaining hours.

A shared cluster's remaining cluster-hours are split by the projected bytes, as a run splits them.
The forecast is read, never stored: it is not in any run's lines, totals, CSVs or budget alerts.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Min, Sum

from billing import allocation
from billing.allocation import HOUR, ClusterRef, ClusterUsage, Payer, TopicUsage
from billing.chargeback import platform_payer
from billing.models import ChargebackLine, TopicDailyUsage
from billing.months import month_bounds, next_month
from billing.selectors import rates_for
from billing.sums import DecimalSum
from billing.usage import clusters_alive, topics_alive
from clusters.models import Replicator, Topic, TopicPartitionChange

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Forecast:
    """What the rest of `month` costs after `metered_until`, as lines (who pays what, for what)."""

    month: dt.date
    metered_until: dt.datetime  # the month to date covers [first of the month, metered_until)
    remaining_hours: int
    lines: tuple[allocation.Line, ...] = ()

    def remaining_by_payer(self) -> dict[Payer, Decimal]:
        totals: dict[Payer, Decimal] = defaultdict(lambda: ZERO)
        for line in self.lines:
            totals[line.payer] += line.cost
        return dict(totals)


def metered_until(month: dt.date, now: dt.datetime) -> dt.datetime:
    """The end of the clock hour `now` falls in (the month to date charges every hour up to and including
    it), kept within the month."""
    start, end = month_bounds(month)
    return min(max(_hour_of(now) + HOUR, start), end)


def remaining(month: dt.date, *, now: dt.datetime) -> Forecast:
    """The rest of `month` after the hour `now` falls in, at the current inventory and this month's pace."""
    start, end = month_bounds(month)
    until = metered_until(month, now)
    hours = int((end - until) / HOUR)
    if hours == 0:
        return Forecast(month, until, 0)
    platform = platform_payer()
    lines = [
        line
        for usage in _remaining_usage(month, start, until, end)
        for line in allocation.allocate(usage, platform)
    ]
    return Forecast(month, until, hours, tuple(sorted(lines, key=allocation.Line.sort_key)))


def _hour_of(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def _cluster_ref(cluster) -> ClusterRef:
    account = cluster.account.account_id
    return ClusterRef(cluster.pk, cluster.name, cluster.arn, cluster.region, account, cluster.environment)


def _payer(team) -> Payer:
    return Payer(team.name, team.cost_center, team.pk)


def _scaled(amount, *, remaining_hours: int, observed_hours: int):
    """`amount` observed over `observed_hours`, at the same pace for `remaining_hours`."""
    return Decimal(amount) * remaining_hours / max(observed_hours, 1)


def _remaining_usage(month, start, until, end) -> list[ClusterUsage]:
    clusters = {
        cluster.pk: cluster
        for cluster in clusters_alive(until, end)
        .select_related("team", "account")
        .prefetch_related("shared_with")
        .order_by("pk")
    }
    topics = list(topics_alive(list(clusters), until, end).select_related("team").order_by("pk"))
    replicators = list(Replicator.objects.filter(read_cluster_id__in=list(clusters)))
    sources = {
        (topic.cluster_id, topic.name): topic
        for topic in topics_alive(
            [replicator.source_cluster_id for replicator in replicators], until, end
        ).filter(name__in=[name for replicator in replicators for name in replicator.topics])
    }
    history: dict[int, list[tuple[dt.datetime, int]]] = defaultdict(list)
    for topic_id, changed_at, partitions in (
        TopicPartitionChange.objects.filter(topic_id__in=[t.pk for t in [*topics, *sources.values()]])
        .order_by("changed_at", "id")
        .values_list("topic_id", "changed_at", "partitions")
    ):
        history[topic_id].append((changed_at, partitions))
    # Names the inventory ever had on these clusters: traffic on any other name is unattributed.
    known = set(Topic.objects.filter(cluster_id__in=list(clusters)).values_list("cluster_id", "name"))
    traffic = _traffic(month, list(clusters))
    storage = _storage(month, list(clusters))
    remaining_hours = int((end - until) / HOUR)

    def topic_usage(cluster_id, name, owner, partition_hours) -> TopicUsage:
        counted = traffic.get((cluster_id, name), {})
        # The pace so far: since the first day with traffic this month (a topic created, or a producer
        # started, mid-month is not diluted over days it did not exist).
        since = dt.datetime.combine(counted["since"], dt.time(), tzinfo=dt.UTC) if counted else start
        scale = {"remaining_hours": remaining_hours, "observed_hours": int((until - since) / HOUR)}
        return TopicUsage(
            name=name,
            owner=owner,
            partition_hours=partition_hours,
            bytes_in=int(_scaled(counted.get("bytes_in", 0), **scale).to_integral_value(ROUND_HALF_UP)),
            bytes_out=int(_scaled(counted.get("bytes_out", 0), **scale).to_integral_value(ROUND_HALF_UP)),
            storage_gib_month=_scaled(storage.get((cluster_id, name), 0), **scale).quantize(
                allocation.QUANTITY, rounding=ROUND_HALF_UP
            ),
        )

    usages: dict[int, ClusterUsage] = {}
    for cluster in clusters.values():
        usages[cluster.pk] = ClusterUsage(
            ref=_cluster_ref(cluster),
            team=_payer(cluster.team),
            shared=bool(cluster.shared_with.all()),
            cluster_hours=allocation.level_hours(
                allocation.lifetime_changes(cluster.active_since, cluster.deleted_at), until, end
            ),
            rates=rates_for(cluster.region, month),
        )
    for topic in topics:
        changes = history[topic.pk]
        if topic.team_id != clusters[topic.cluster_id].team_id:
            usages[topic.cluster_id].shared = True
        usages[topic.cluster_id].topics.append(
            topic_usage(
                topic.cluster_id, topic.name, _payer(topic.team), allocation.level_hours(changes, until, end)
            )
        )
    for replicator in replicators:
        read_cluster = clusters[replicator.read_cluster_id]
        # Replicated partitions exist on the read cluster from the hour it became active.
        window_start = max(until, _hour_of(read_cluster.active_since))
        for name in replicator.topics:
            source = sources.get((replicator.source_cluster_id, name))
            changes = history[source.pk] if source else []
            usages[read_cluster.pk].topics.append(
                topic_usage(read_cluster.pk, name, _payer(read_cluster.team),
                            allocation.level_hours(changes, window_start, end))
            )  # fmt: skip
            known.add((read_cluster.pk, name))
    for cluster_id, name in sorted(set(traffic) - known):
        usages[cluster_id].topics.append(topic_usage(cluster_id, name, None, 0))
    return list(usages.values())


def _traffic(month: dt.date, cluster_ids: list[int]) -> dict[tuple[int, str], dict]:
    """Bytes in and out per cluster and topic name collected so far this month, and the first UTC day
    with traffic (the pace is measured from then)."""
    traffic: dict[tuple[int, str], dict] = defaultdict(dict)
    for row in (
        TopicDailyUsage.objects.filter(cluster_id__in=cluster_ids, day__gte=month, day__lt=next_month(month))
        .values("cluster_id", "topic_name", "metric")
        .annotate(total=Sum("bytes"), first_day=Min("day"))
        .order_by()
    ):
        counted = traffic[(row["cluster_id"], row["topic_name"])]
        counted[row["metric"]] = int(row["total"])
        counted["since"] = min(row["first_day"], counted.get("since", row["first_day"]))
    return traffic


def _storage(month: dt.date, cluster_ids: list[int]) -> dict[tuple[int, str], Decimal]:
    """The month to date's storage estimate (GiB-months) per cluster and topic name, from the run's lines."""
    return {
        (cluster_id, topic): quantity
        for cluster_id, topic, quantity in ChargebackLine.objects.filter(
            run__month=month, cluster_id__in=cluster_ids, charge_type=ChargebackLine.ChargeType.STORAGE
        )
        .values_list("cluster_id", "topic_name")
        .annotate(quantity=DecimalSum("quantity"))
        .order_by()
    }
