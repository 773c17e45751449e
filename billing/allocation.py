"""Chargeback arithmetic: pure functions over plain values (no ORM), tested on hand-computed cases.

Hours are metered per started clock hour, like AWS meters cluster- and partition-hours:
- a change *up* (cluster became active, topic created, partitions added) counts from the start of the
  hour it happened in;
- a change *down* (cluster or topic deleted) counts from the end of its hour.
So a cluster active 10:20 → deleted 12:05 costs 3 cluster-hours (10:00-13:00), and a topic going from 3 to
6 partitions at 10:30 costs 6 partition-hours for the 10:00 hour. Months are clipped at UTC midnight.

Money: each line's cost is its quantity × unit price, rounded half-up to the cent. A shared cluster's
cluster-hour cost is rounded once for the cluster and then split into cents by largest remainder, so the
teams' shares always add up to exactly the cluster's cost.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from itertools import accumulate

from billing.pricing import BYTES_PER_GIB, QUANTITY, Rates, money

HOUR = dt.timedelta(hours=1)
RATIO = Decimal("0.000001")
DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000  # Kafka's default retention.ms
MAX_STORAGE_LOOKBACK_DAYS = 400  # unlimited retention: everything collected in the last ~13 months


class Basis:
    DEDICATED = "dedicated"
    TOPIC_OWNER = "topic_owner"
    USAGE_SHARE = "usage_share"
    EVEN_SPLIT = "even_split"
    UNATTRIBUTED = "unattributed"


CHARGE_UNITS = {
    "cluster_hours": "cluster-hour",
    "partition_hours": "partition-hour",
    "data_in": "GiB",
    "data_out": "GiB",
    "storage": "GiB-month",
}


def _floor_hour(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def _overlap_hours(since: dt.datetime, until: dt.datetime, start: dt.datetime, end: dt.datetime) -> int:
    overlap = min(until, end) - max(since, start)
    return max(0, int(overlap / HOUR))


def level_hours(changes: Iterable[tuple[dt.datetime, int]], start: dt.datetime, end: dt.datetime) -> int:
    """Σ level × hours within [start, end) (hour-aligned) for a step function given as (when, new level).

    The level is 0 before the first change; each clock hour is charged at the highest level it saw.
    """
    by_hour: dict[dt.datetime, list[int]] = {}
    starts_on_the_hour: set[dt.datetime] = set()
    for moment, level in sorted(changes, key=lambda change: change[0]):
        hour = _floor_hour(moment)
        if hour not in by_hour and moment == hour:
            starts_on_the_hour.add(hour)  # the level before never applied within this hour
        by_hour.setdefault(hour, []).append(level)
    hours = list(by_hour)
    total, level = 0, 0
    for index, hour in enumerate(hours):
        seen = by_hour[hour] if hour in starts_on_the_hour else [level, *by_hour[hour]]
        total += max(seen) * _overlap_hours(hour, hour + HOUR, start, end)
        level = by_hour[hour][-1]
        until = hours[index + 1] if index + 1 < len(hours) else max(end, hour + HOUR)
        total += level * _overlap_hours(hour + HOUR, until, start, end)
    return total


def lifetime_changes(active_since: dt.datetime | None, deleted_at: dt.datetime | None):
    """A cluster's life as level changes: 1 while active, 0 once deleted."""
    changes = []
    if active_since is not None:
        changes.append((active_since, 1))
        if deleted_at is not None:
            changes.append((deleted_at, 0))
    return changes


def stored_gib_month(
    daily_bytes_in: dict[dt.date, int],
    *,
    month_days: Sequence[dt.date],
    alive_days: set[dt.date],
    retention_ms: int | None,
    retention_bytes: int | None,
    partitions: int,
) -> Decimal:
    """ESTIMATE of GiB-months stored: MSK Serverless publishes no storage metric.

    On each day of the month the topic existed, the bytes kept are those written during the retention
    window ending that day (retention.ms rounded up to whole days; unlimited → everything collected, at most
    MAX_STORAGE_LOOKBACK_DAYS), capped by retention.bytes × partitions. The month's GiB-months are the average
    over the month's days.
    """
    if retention_ms in (None, 0):
        retention_ms = DEFAULT_RETENTION_MS
    window_days = MAX_STORAGE_LOOKBACK_DAYS if retention_ms < 0 else max(1, -(-retention_ms // 86_400_000))
    cap = retention_bytes * partitions if retention_bytes not in (None, -1) and retention_bytes > 0 else None
    # Bytes written in (day - window, day] from running totals: O(days + collected) per topic, not
    # O(days × window) (an unlimited-retention topic would otherwise sum 400 days for each day of the month).
    collected = sorted(daily_bytes_in)
    running = [0, *accumulate(daily_bytes_in[day] for day in collected)]
    window = dt.timedelta(days=window_days)
    total = 0
    for day in month_days:
        if day not in alive_days:
            continue
        kept = running[bisect_right(collected, day)] - running[bisect_right(collected, day - window)]
        total += min(kept, cap) if cap is not None else kept
    return (Decimal(total) / BYTES_PER_GIB / len(month_days)).quantize(QUANTITY, rounding=ROUND_HALF_UP)


def gib(byte_count: int) -> Decimal:
    return (Decimal(byte_count) / BYTES_PER_GIB).quantize(QUANTITY, rounding=ROUND_HALF_UP)


# --- Allocation -------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Payer:
    name: str
    cost_center: str = ""
    team_id: int | None = None


@dataclass(frozen=True)
class ClusterRef:
    cluster_id: int | None
    name: str
    arn: str
    region: str
    account_id: str
    environment: str = ""


@dataclass
class TopicUsage:
    name: str
    owner: Payer | None  # None: no owner in the inventory → unattributed
    partition_hours: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    storage_gib_month: Decimal = Decimal(0)


@dataclass
class ClusterUsage:
    ref: ClusterRef
    team: Payer
    shared: bool
    cluster_hours: int
    rates: Rates
    topics: list[TopicUsage] = field(default_factory=list)


@dataclass(frozen=True)
class Line:
    payer: Payer
    cluster: ClusterRef
    topic: str
    charge_type: str
    quantity: Decimal
    unit_price: Decimal
    cost: Decimal
    basis: str
    ratio: Decimal

    @property
    def unit(self) -> str:
        return CHARGE_UNITS[self.charge_type]

    def sort_key(self):
        return (self.payer.name, self.cluster.name, self.cluster.arn, self.topic, self.charge_type)


def _topic_lines(cluster: ClusterUsage, topic: TopicUsage, platform: Payer) -> Iterable[Line]:
    if not cluster.shared:
        payer, basis = cluster.team, Basis.DEDICATED
    elif topic.owner is None:
        payer, basis = platform, Basis.UNATTRIBUTED
    else:
        payer, basis = topic.owner, Basis.TOPIC_OWNER
    rates = cluster.rates
    for charge_type, quantity, price in (
        ("partition_hours", Decimal(topic.partition_hours), rates.partition_hour),
        ("data_in", gib(topic.bytes_in), rates.gib_in),
        ("data_out", gib(topic.bytes_out), rates.gib_out),
        ("storage", topic.storage_gib_month, rates.gib_month),
    ):
        if quantity > 0:
            yield Line(payer, cluster.ref, topic.name, charge_type, quantity, price, money(quantity * price),
                       basis, Decimal(1))  # fmt: skip


def split_cents(total: Decimal, weights: dict) -> dict:
    """`total` (whole cents) split by integer weights; largest remainder, ties by key, sums exactly."""
    cents = int(total * 100)
    weight_sum = sum(weights.values())
    shares = {payer: cents * weight // weight_sum for payer, weight in weights.items()}
    leftover = cents - sum(shares.values())
    by_remainder = sorted(weights, key=lambda payer: (-(cents * weights[payer] % weight_sum), payer))
    for payer in by_remainder[:leftover]:
        shares[payer] += 1
    return {payer: Decimal(share) / 100 for payer, share in shares.items()}


def _cluster_hour_lines(cluster: ClusterUsage, platform: Payer) -> Iterable[Line]:
    hours = Decimal(cluster.cluster_hours)
    if hours <= 0:
        return
    price = cluster.rates.cluster_hour
    cost = money(hours * price)
    if not cluster.shared:
        yield Line(cluster.team, cluster.ref, "", "cluster_hours", hours, price, cost, Basis.DEDICATED,
                   Decimal(1))  # fmt: skip
        return
    traffic: dict[Payer, int] = {}
    unattributed: set[Payer] = set()
    for topic in cluster.topics:
        payer = topic.owner or platform
        if topic.owner is None:
            unattributed.add(payer)
        traffic[payer] = traffic.get(payer, 0) + topic.bytes_in + topic.bytes_out
    if not traffic:
        yield Line(platform, cluster.ref, "", "cluster_hours", hours, price, cost, Basis.UNATTRIBUTED,
                   Decimal(1))  # fmt: skip
        return
    total_bytes = sum(traffic.values())
    weights = {payer: byte_count for payer, byte_count in traffic.items() if byte_count} if total_bytes else {
        payer: 1 for payer in traffic
    }  # fmt: skip
    weight_sum = sum(weights.values())
    for payer, share in sorted(split_cents(cost, weights).items()):
        ratio = Decimal(weights[payer]) / weight_sum
        if payer in unattributed and payer == platform:
            basis = Basis.UNATTRIBUTED
        else:
            basis = Basis.USAGE_SHARE if total_bytes else Basis.EVEN_SPLIT
        yield Line(payer, cluster.ref, "", "cluster_hours", (hours * ratio).quantize(QUANTITY), price, share,
                   basis, ratio.quantize(RATIO, rounding=ROUND_HALF_UP))  # fmt: skip


def allocate(cluster: ClusterUsage, platform: Payer) -> list[Line]:
    """Every cost of one cluster for one month as lines, each with the team that pays and why."""
    lines = list(_cluster_hour_lines(cluster, platform))
    for topic in cluster.topics:
        lines.extend(_topic_lines(cluster, topic, platform))
    return lines


def scale_to_actual(lines: list[Line], actual: Decimal) -> list[Line]:
    """One cluster's lines scaled so they add up to its actual cost from the bill, in proportion to their
    estimated cost (cents by largest remainder). Quantities stay; the unit price becomes the effective one."""
    weights = {index: int(line.cost * 100) for index, line in enumerate(lines) if line.cost > 0}
    if not weights or actual < 0:
        return lines
    scaled = split_cents(money(actual), weights)
    result = []
    for index, line in enumerate(lines):
        if index not in scaled:
            result.append(line)
            continue
        cost = scaled[index]
        price = (
            (cost / line.quantity).quantize(QUANTITY, rounding=ROUND_HALF_UP)
            if line.quantity
            else line.unit_price
        )
        result.append(replace(line, cost=cost, unit_price=price))
    return result
