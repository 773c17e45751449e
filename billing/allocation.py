"""Chargeback arithmetic: pure functions over plain values (no ORM), tested on hand-computed cases.

Which hours and days are charged (the started-hour rule, the month to date): `billing.metering`.

Money: each line's cost is its quantity × unit price, rounded half-up to the cent. A shared cluster's
cluster-hour cost is rounded once for the cluster and then split into cents by largest remainder (a
leftover cent goes to the largest remainder; ties to the larger weight, then by team name), so the teams'
shares always add up to exactly the cluster's cost. A split line's quantity is its cost ÷ the unit price
(6 decimals), so quantity × unit price rounds to its cost like any other line.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from itertools import accumulate

from billing.pricing import BYTES_PER_GIB, QUANTITY, Rates, money

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


def stored_gib_month(
    daily_bytes_in: dict[dt.date, int],
    *,
    month_days: int,
    partitions_on: dict[dt.date, int],
    retention_ms: int | None,
    retention_bytes: int | None,
    rounded: bool = True,
) -> Decimal:
    """ESTIMATE of GiB-months stored: MSK Serverless publishes no storage metric.

    On each day counted (`partitions_on`: the metered days the topic existed, with its partition count
    that day), the bytes kept are those written during the retention window ending that day (retention.ms
    rounded up to whole days; unset → Kafka's default of 7 days; unlimited → everything collected, at most
    MAX_STORAGE_LOOKBACK_DAYS), capped by retention.bytes × that day's partitions (retention.bytes is per
    partition). GiB-months are the sum over the days counted ÷ the month's `month_days`, rounded to the
    6 decimals of a quantity unless `rounded` is False (to add several topics up before rounding).
    """
    if retention_ms in (None, 0):
        retention_ms = DEFAULT_RETENTION_MS
    window_days = MAX_STORAGE_LOOKBACK_DAYS if retention_ms < 0 else max(1, -(-retention_ms // 86_400_000))
    per_partition = retention_bytes if retention_bytes is not None and retention_bytes > 0 else None
    # Bytes written in (day - window, day] from running totals: O(days + collected) per topic, not
    # O(days × window) (an unlimited-retention topic would otherwise sum 400 days for each day of the month).
    collected = sorted(daily_bytes_in)
    running = [0, *accumulate(daily_bytes_in[day] for day in collected)]
    window = dt.timedelta(days=window_days)
    total = 0
    for day, partitions in partitions_on.items():
        kept = running[bisect_right(collected, day)] - running[bisect_right(collected, day - window)]
        total += min(kept, per_partition * partitions) if per_partition is not None else kept
    gib_months = Decimal(total) / BYTES_PER_GIB / month_days
    return gib_months.quantize(QUANTITY, rounding=ROUND_HALF_UP) if rounded else gib_months


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
    storage_gib_month: Decimal = Decimal(0)  # rounded to 6 decimals per line


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
        return (
            self.payer.name,
            self.cluster.name,
            self.cluster.arn,
            self.topic,
            self.charge_type,
            self.basis,
        )


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
        ("storage", topic.storage_gib_month.quantize(QUANTITY, rounding=ROUND_HALF_UP), rates.gib_month),
    ):
        if quantity > 0:
            yield Line(
                payer,
                cluster.ref,
                topic.name,
                charge_type,
                quantity,
                price,
                money(quantity * price),
                basis,
                Decimal(1),
            )


def largest_remainder(total: int, weights: dict[Hashable, int]) -> dict[Hashable, int]:
    """`total` units split by integer weights, summing exactly: each key gets its share rounded down, and
    the units left over go one each to the largest remainders; ties go to the larger weight, then to the
    smaller key (for payers: the team name)."""
    weight_sum = sum(weights.values())
    shares = {key: total * weight // weight_sum for key, weight in weights.items()}
    leftover = total - sum(shares.values())
    order = sorted(weights, key=lambda key: (-(total * weights[key] % weight_sum), -weights[key], key))
    for key in order[:leftover]:
        shares[key] += 1
    return shares


def split_cents(total: Decimal, weights: dict) -> dict:
    """`total` (whole cents) split by integer weights by `largest_remainder`: the shares sum exactly."""
    return {key: Decimal(share) / 100 for key, share in largest_remainder(int(total * 100), weights).items()}


def _cluster_hour_lines(cluster: ClusterUsage, platform: Payer) -> Iterable[Line]:
    hours = Decimal(cluster.cluster_hours)
    if hours <= 0:
        return
    price = cluster.rates.cluster_hour
    cost = money(hours * price)
    if not cluster.shared:
        yield Line(
            cluster.team, cluster.ref, "", "cluster_hours", hours, price, cost, Basis.DEDICATED, Decimal(1)
        )
        return
    traffic: dict[Payer, int] = {}
    unattributed: set[Payer] = set()
    for topic in cluster.topics:
        payer = topic.owner or platform
        if topic.owner is None:
            unattributed.add(payer)
        traffic[payer] = traffic.get(payer, 0) + topic.bytes_in + topic.bytes_out
    if not traffic:
        yield Line(
            platform, cluster.ref, "", "cluster_hours", hours, price, cost, Basis.UNATTRIBUTED, Decimal(1)
        )
        return
    total_bytes = sum(traffic.values())
    weights = (
        {payer: byte_count for payer, byte_count in traffic.items() if byte_count}
        if total_bytes
        else {payer: 1 for payer in traffic}
    )
    weight_sum = sum(weights.values())
    for payer, share in sorted(split_cents(cost, weights).items()):
        ratio = Decimal(weights[payer]) / weight_sum
        if payer in unattributed and payer == platform:
            basis = Basis.UNATTRIBUTED
        else:
            basis = Basis.USAGE_SHARE if total_bytes else Basis.EVEN_SPLIT
        # The share's hours at the unit price, so quantity × unit price rounds to the share (not hours × ratio,
        # which can miss the share by the cent the split moved).
        quantity = (share / price).quantize(QUANTITY, rounding=ROUND_HALF_UP) if price else hours * ratio
        yield Line(
            payer,
            cluster.ref,
            "",
            "cluster_hours",
            quantity.quantize(QUANTITY),
            price,
            share,
            basis,
            ratio.quantize(RATIO, rounding=ROUND_HALF_UP),
        )


def merged_topics(cluster: ClusterUsage) -> list[TopicUsage]:
    """The cluster's topics with one entry per name and payer (a name deleted and created again by the same
    team, or traffic on it while no topic had it, is one set of lines), ordered by name and payer."""
    merged: dict[tuple, TopicUsage] = {}
    for topic in cluster.topics:
        owner = topic.owner if cluster.shared else cluster.team  # a dedicated cluster's team pays all of it
        key = (topic.name, owner is None, owner or Payer(""))
        if key not in merged:
            merged[key] = replace(topic, owner=owner)
            continue
        into = merged[key]
        into.partition_hours += topic.partition_hours
        into.bytes_in += topic.bytes_in
        into.bytes_out += topic.bytes_out
        into.storage_gib_month += topic.storage_gib_month
    return [merged[key] for key in sorted(merged)]


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
