"""Forecast to month end: the month to date plus what the rest of the month costs if it goes on as it is.

The month to date is the run's lines, metered through the clock hour the run was computed in ("today" is
that hour's UTC day). The rest of the month — the clock hours after that one, up to the month's end — is
priced and allocated as a run would (`billing.allocation`, at the rate card the month uses):

- cluster-hours and partition-hours: the month's hours at the inventory as it stands (active clusters;
  each topic at its current partition count to the month's end; a read cluster's replicated topics at
  their source's), less the hours the month to date's lines already charge. Taking the rest from the
  lines, not from the clock, keeps month to date + rest = the month whatever hours the run metered;
- data in and out: each topic's daily average over the **full** UTC days so far this month (from its
  first day with traffic; today's partial day is in the month to date, not in the average), for the
  remaining hours. Before a first full day there is no average, and no data is projected;
- storage (estimate): the month to date's GiB-months of the topic per day counted so far (the 1st, or the
  day the topic was created, through today), for every day after today. A name deleted and created again
  this month is counted from its first topic's day: its month to date holds both topics' storage.

A shared cluster's remaining cluster-hours are split by the projected bytes, as a run splits them.
The forecast is read, never stored: it is not in any run's lines, totals, CSVs or budget alerts.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Min, Q, Sum

from billing import allocation, metering
from billing.allocation import ClusterRef, ClusterUsage, Payer, TopicUsage
from billing.inventory import clusters_alive, payer, platform_payer, topics_alive
from billing.metering import HOUR
from billing.models import ChargebackLine, TopicDailyUsage
from billing.months import month_bounds
from billing.rates import rates_for
from billing.sums import DecimalSum
from clusters.models import Cluster, Replicator, Topic, TopicPartitionChange
from portal.models import Team

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Forecast:
    """What the rest of `month` costs after `metered_until`, as lines (who pays what, for what)."""

    month: dt.date
    metered_until: dt.datetime  # the month to date covers [first of the month, metered_until)
    remaining_hours: int
    lines: tuple[allocation.Line, ...] = ()

    @property
    def today(self) -> dt.date:
        """The UTC day of the last metered hour."""
        return (self.metered_until - HOUR).date()

    @property
    def full_days(self) -> int:
        """Full UTC days of traffic so far this month: the data averages are taken over these."""
        return (self.today - self.month).days

    def remaining_by_payer(self) -> dict[Payer, Decimal]:
        totals: dict[Payer, Decimal] = defaultdict(lambda: ZERO)
        for line in self.lines:
            totals[line.payer] += line.cost
        return dict(totals)


def remaining(
    month: dt.date,
    *,
    now: dt.datetime | None = None,
    until: dt.datetime | None = None,
    cluster_ids: Iterable[int] | None = None,
) -> Forecast:
    """The rest of `month` after `until` (where the run's month to date stops; else after the hour `now`
    falls in, by `billing.metering`), at the current inventory and this month's pace; on every cluster,
    or on `cluster_ids` only (a shared cluster's split needs the whole cluster)."""
    end = month_bounds(month)[1]
    if until is None:
        until = metering.metered_until(month, now)
    forecast = Forecast(month, until, int((end - until) / HOUR))
    if forecast.remaining_hours == 0:
        return forecast
    clusters = clusters_alive(until, end)
    if cluster_ids is not None:
        clusters = clusters.filter(pk__in=list(cluster_ids))
    platform = platform_payer()
    lines = [
        line
        for usage in _remaining_usage(forecast, end, clusters)
        for line in allocation.allocate(usage, platform)
    ]
    return replace(forecast, lines=tuple(sorted(lines, key=allocation.Line.sort_key)))


def clusters_paid_by(month: dt.date, team_ids: Iterable[int]) -> set[int]:
    """The clusters where these teams pay something this month or may from now on: their own clusters,
    the clusters their topics are on, and the clusters of their lines so far."""
    team_ids = list(team_ids)
    return (
        set(Cluster.objects.filter(team_id__in=team_ids).values_list("pk", flat=True))
        | set(Topic.objects.filter(team_id__in=team_ids).values_list("cluster_id", flat=True))
        | set(
            ChargebackLine.objects.filter(run__month=month, team_id__in=team_ids)
            .exclude(cluster=None)
            .values_list("cluster_id", flat=True)
            .distinct()
        )
    )


def _cluster_ref(cluster) -> ClusterRef:
    account = cluster.account.account_id
    return ClusterRef(cluster.pk, cluster.name, cluster.arn, cluster.region, account, cluster.environment)


def _remaining_usage(forecast: Forecast, end: dt.datetime, alive) -> list[ClusterUsage]:
    month, until, today = forecast.month, forecast.metered_until, forecast.today
    start = month_bounds(month)[0]
    days_left = (end.date() - today).days - 1  # storage: the days after today
    clusters = {
        cluster.pk: cluster
        for cluster in alive.select_related("team", "account").prefetch_related("shared_with").order_by("pk")
    }
    payers = {team.pk: payer(team) for team in Team.objects.all()}
    # Every topic of the month on these clusters (a name deleted and created again has several) as plain
    # values, and the sources of the read clusters' replicated topics.
    topics = list(
        topics_alive(list(clusters), start, end)
        .order_by("pk")
        .values_list("pk", "cluster_id", "team_id", "name")
    )
    replicators = list(Replicator.objects.filter(read_cluster_id__in=list(clusters)))
    sources: dict[tuple[int, str], int] = {}  # the newest topic of the name, if it was created again
    for cluster_id, name, topic_id in (
        topics_alive([replicator.source_cluster_id for replicator in replicators], start, end)
        .filter(name__in=[name for replicator in replicators for name in replicator.topics])
        .order_by("pk")
        .values_list("cluster_id", "name", "pk")
    ):
        sources[(cluster_id, name)] = topic_id
    history: dict[int, list[tuple[dt.datetime, int]]] = defaultdict(list)
    for topic_id, changed_at, partitions in (
        TopicPartitionChange.objects.filter(
            Q(topic__cluster_id__in=list(clusters)) | Q(topic_id__in=list(sources.values()))
        )
        .order_by("changed_at", "id")
        .values_list("topic_id", "changed_at", "partitions")
    ):
        history[topic_id].append((changed_at, partitions))
    # Names the inventory ever had on these clusters: traffic on any other name is unattributed.
    known = set(Topic.objects.filter(cluster_id__in=list(clusters)).values_list("cluster_id", "name"))
    traffic = _full_day_traffic(month, today, list(clusters))
    charged = _month_to_date(month, list(clusters))
    rates = {region: rates_for(region, month) for region in {cluster.region for cluster in clusters.values()}}

    def hours_left(key: tuple, month_hours: int) -> int:
        # A shared cluster's hours are split into lines of 6 decimals: their sum is the whole hours, rounded.
        return max(0, month_hours - int(charged.get(key, ZERO).to_integral_value(ROUND_HALF_UP)))

    month_partition_hours: dict[tuple[int, str], int] = defaultdict(int)
    first_seen: dict[tuple[int, str], dt.datetime] = {}
    for topic_id, cluster_id, _team_id, name in topics:
        month_partition_hours[(cluster_id, name)] += metering.level_hours(history[topic_id], start, end)
        if history[
            topic_id
        ]:  # a name deleted and created again: its storage so far is over both topics' days
            first_seen[(cluster_id, name)] = min(
                history[topic_id][0][0], first_seen.get((cluster_id, name), end)
            )

    def topic_usage(cluster_id, name, owner, created: dt.datetime | None) -> TopicUsage:
        counted = traffic.get((cluster_id, name), {})
        first_day = max(month, created.astimezone(dt.UTC).date()) if created else month
        days_counted = (today - first_day).days + 1  # the storage days so far, today included

        def projected_bytes(metric: str) -> int:
            # The daily average over the full days since the first one with traffic, for the hours left.
            if not counted:
                return 0
            per_day = Decimal(counted.get(metric, 0)) / (today - counted["since"]).days
            return int((per_day * forecast.remaining_hours / 24).to_integral_value(ROUND_HALF_UP))

        stored = charged.get((cluster_id, name, "storage"), ZERO) * days_left / max(days_counted, 1)
        return TopicUsage(
            name=name,
            owner=owner,
            partition_hours=hours_left(
                (cluster_id, name, "partition_hours"), month_partition_hours.get((cluster_id, name), 0)
            ),
            bytes_in=projected_bytes("bytes_in"),
            bytes_out=projected_bytes("bytes_out"),
            storage_gib_month=stored.quantize(allocation.QUANTITY, rounding=ROUND_HALF_UP),
        )

    usages: dict[int, ClusterUsage] = {}
    for cluster in clusters.values():
        lifetime = metering.lifetime_changes(cluster.active_since, cluster.deleted_at)
        usages[cluster.pk] = ClusterUsage(
            ref=_cluster_ref(cluster),
            team=payers[cluster.team_id],
            shared=bool(cluster.shared_with.all()),
            cluster_hours=hours_left(
                (cluster.pk, "", "cluster_hours"), metering.level_hours(lifetime, start, end)
            ),
            rates=rates[cluster.region],
        )
    for topic_id, cluster_id, team_id, name in topics:
        if team_id != clusters[cluster_id].team_id:
            usages[cluster_id].shared = True
        changes = history[topic_id]
        if changes and (changes[-1][1] > 0 or changes[-1][0] > until):  # still there after the metered hours
            usages[cluster_id].topics.append(
                topic_usage(
                    cluster_id, name, payers[team_id], first_seen.get((cluster_id, name), changes[0][0])
                )
            )
    for replicator in replicators:
        read_cluster = clusters[replicator.read_cluster_id]
        for name in replicator.topics:
            source = sources.get((replicator.source_cluster_id, name))
            # Replicated partitions exist on the read cluster while both it and the source topic do.
            changes = metering.clip_to_lifetime(
                history[source] if source else [], read_cluster.active_since, read_cluster.deleted_at
            )
            month_partition_hours[(read_cluster.pk, name)] += metering.level_hours(changes, start, end)
            usages[read_cluster.pk].topics.append(
                topic_usage(
                    read_cluster.pk, name, payers[read_cluster.team_id], changes[0][0] if changes else None
                )
            )
            known.add((read_cluster.pk, name))
    for cluster_id, name in sorted(set(traffic) - known):
        usages[cluster_id].topics.append(topic_usage(cluster_id, name, None, None))
    return list(usages.values())


def _full_day_traffic(month: dt.date, today: dt.date, cluster_ids: list[int]) -> dict[tuple[int, str], dict]:
    """Bytes in and out per cluster and topic name on the full UTC days so far this month (before
    `today`), and the first of those days with traffic."""
    traffic: dict[tuple[int, str], dict] = defaultdict(dict)
    for row in (
        TopicDailyUsage.objects.filter(cluster_id__in=cluster_ids, day__gte=month, day__lt=today, bytes__gt=0)
        .values("cluster_id", "topic_name", "metric")
        .annotate(total=Sum("bytes"), first_day=Min("day"))
        .order_by()
    ):
        counted = traffic[(row["cluster_id"], row["topic_name"])]
        counted[row["metric"]] = int(row["total"])
        counted["since"] = min(row["first_day"], counted.get("since", row["first_day"]))
    return traffic


def _month_to_date(month: dt.date, cluster_ids: list[int]) -> dict[tuple, Decimal]:
    """What the month's run charges so far per cluster, topic name and charge type (quantities): the
    cluster-hours and partition-hours already in the month to date, and its storage estimate."""
    types = (
        ChargebackLine.ChargeType.CLUSTER_HOURS,
        ChargebackLine.ChargeType.PARTITION_HOURS,
        ChargebackLine.ChargeType.STORAGE,
    )
    return {
        (cluster_id, topic, charge_type): quantity
        for cluster_id, topic, charge_type, quantity in ChargebackLine.objects.filter(
            run__month=month, cluster_id__in=cluster_ids, charge_type__in=types
        )
        .values_list("cluster_id", "topic_name", "charge_type")
        .annotate(quantity=DecimalSum("quantity"))
        .order_by()
    }
