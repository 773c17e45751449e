"""The packing planner: which applications share which planned MSK Serverless cluster.

Pure: frozen dataclasses in, frozen dataclasses out; no Django models, no I/O. The caller fills
`ClusterQuotas` from `PlatformSettings` and passes the region's `Rates`; one call plans one region.

**Quotas** (msk-serverless.md §2.1; migration.md §5): every planned cluster stays within
headroom × (quota − reserved) on six quotas: ingress 200 MB/s, egress 400 MB/s, 2,400 partitions, 120
compacted partitions, 3,000 client connections and 500 consumer groups. *Reserved* is what replication
itself keeps on each target (MSK Replicator: 83 compacted partitions; Kafka Connect: 31), which counts
toward the partitions too; it depends on the tool feeding the cluster, so it is given per account
(`PackingOptions.reserved_by_account`) and each constraint group is packed, and bounded, with its own. Headroom applies to what is left after the reservation: the reservation does
not grow, the applications' peaks might. Clusters per account and region (10) is a quota on the plan,
not on a cluster: `PackingPlan.accounts` says when the plan needs more.

**Per partition** a Serverless partition serves 5 MB/s in and 10 MB/s out (`clusters.rules`; the seed and
msk-serverless.md §2.1). MSK Replicator and MirrorMaker 2 both keep partition counts (migration.md §5), so
a topic above that needs more partitions *before* it can move: each one gets a `PartitionWarning`, and the
packer counts it at the partitions it will have (`TopicDemand.partitions_needed`).

**Constraints** always hold: applications with PII never share a cluster with applications without;
time-sensitive and time-insensitive ones are kept apart when `separate_latency_classes` is chosen; teams
are kept apart when `separate_teams` is (the segregated strategy); different accounts and `segment`s
never mix. Applications that agree on all of these form a `ConstraintGroup`, packed on its own.

**Algorithm**: multi-dimensional vector bin packing, per group, with four candidate packings:
*balanced fill* (bin by bin, keep adding the largest fitting item from the queue of the quota the bin
holds the smallest share of, so each cluster carries a proportional slice of every quota), then first
fit with the applications in decreasing order of three sizes (the dominant normalised quota, the sum of
the normalised quotas, that sum weighted by each quota's total demand). The first candidate with the
fewest clusters wins; candidates stop as soon as one reaches the lower bound. A cheap improvement pass
then tries to empty the least-loaded cluster into the others (first fit) until none empties or the bound
is reached. Exact integer arithmetic (throughput in kB/s, rounded up), so "fits" never depends on float
rounding. Same input, in any order, gives the same plan (application names are unique; ties break on
names).

**Lower bounds** per group, which no plan can beat: the *volume bound* of issue 13, max over quotas of
⌈Σ demand / (headroom × (quota − reserved))⌉ (at least 1 for a non-empty group), and the *large-item
bound*, the most applications that each take more than half of one quota's budget (no two of them can
share a cluster). The volume bound alone cannot see the second: with MSK Replicator's reservation a
cluster has 25 compacted partitions for applications, and four applications with 13 each need four
clusters, not ⌈52/25⌉ = 3. `bench/packing.py` and tests/clusters/migration/test_packing.py measure how
close the packer comes to both.

**Cost** per planned cluster is `billing.pricing.monthly_estimate` for one cluster-month, its partitions
(reserved ones included), its applications' mean in/out (the peak when no mean is known: an upper bound)
and its estimated storage (`stored_gib_estimate`, the same arithmetic as the request forms' estimates).
A migration plan prices its clusters per request instead (`planning._priced`), so it passes no rates.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

from billing.pricing import CostEstimate, Rates, monthly_estimate, stored_gib_estimate
from clusters.migration.quotas import ClusterQuotas
from clusters.rules import (
    DEFAULT_RETENTION_BYTES,
    DEFAULT_RETENTION_MS,
    MAX_READ_MBPS_PER_PARTITION,
    MAX_WRITE_MBPS_PER_PARTITION,
    suggested_partitions,
)

KB_PER_MB = 1000  # throughput is packed in whole kB/s (10^3 bytes/s), rounded up: exact integer sums

TIME_SENSITIVE = "time-sensitive"
TIME_INSENSITIVE = "time-insensitive"


@dataclass(frozen=True)
class Quota:
    """One packed dimension: its key, how people read it, and internal units per displayed unit."""

    key: str
    label: str
    unit: str
    scale: int = 1

    def amount(self, value: int) -> str:
        """An internal-units figure as people read it: '140 MB/s', '2,400'."""
        if self.scale == 1:
            return f"{value:,}"
        return f"{_decimal_text(Decimal(value) / self.scale)} {self.unit}"

    def phrase(self, value: int) -> str:
        """'150 MB/s of ingress', '36 compacted partitions'."""
        return f"{self.amount(value)} of {self.label}" if self.scale != 1 else f"{value:,} {self.label}"


QUOTAS: tuple[Quota, ...] = (
    Quota("ingress", "ingress", "MB/s", KB_PER_MB),
    Quota("egress", "egress", "MB/s", KB_PER_MB),
    Quota("partitions", "partitions", "partitions"),
    Quota("compacted_partitions", "compacted partitions", "partitions"),
    Quota("client_connections", "client connections", "connections"),
    Quota("consumer_groups", "consumer groups", "groups"),
)
INGRESS, EGRESS, PARTITIONS, COMPACTED, CONNECTIONS, GROUPS = range(len(QUOTAS))

Vector = tuple[int, int, int, int, int, int]  # one int per QUOTAS entry, in internal units


# --- Input -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TopicDemand:
    """A topic moving with its application: partitions now, throughput, compaction, retention.

    Peaks (MB/s, 10^6 bytes/s) are what packing and the per-partition check use. Means, over the
    inventory's window, are what a month costs; without them the peak is taken (an upper bound).
    """

    name: str
    partitions: int
    peak_in_mbps: Decimal
    peak_out_mbps: Decimal  # all consumer groups together
    compacted: bool = False
    retention_ms: int = DEFAULT_RETENTION_MS  # -1 = unlimited
    retention_bytes: int = DEFAULT_RETENTION_BYTES  # per partition; -1 = unlimited
    mean_in_mbps: Decimal | None = None  # None: the peak
    mean_out_mbps: Decimal | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("A topic needs a name.")
        if isinstance(self.partitions, bool) or not isinstance(self.partitions, int) or self.partitions < 1:
            raise ValueError(f"Topic {self.name}: partitions must be a whole number of at least 1.")
        for name in ("peak_in_mbps", "peak_out_mbps"):
            object.__setattr__(self, name, _non_negative(getattr(self, name), f"Topic {self.name}: {name}"))
        for mean, peak in (("mean_in_mbps", self.peak_in_mbps), ("mean_out_mbps", self.peak_out_mbps)):
            value = getattr(self, mean)
            value = peak if value is None else _non_negative(value, f"Topic {self.name}: {mean}")
            if value > peak:
                raise ValueError(f"Topic {self.name}: {mean} ({value}) is above its peak ({peak}).")
            object.__setattr__(self, mean, value)

    @cached_property
    def partitions_needed(self) -> int:
        """The partitions it must have before it moves: max(now, ⌈in/5⌉, ⌈out/10⌉)."""
        return max(self.partitions, suggested_partitions(self.peak_in_mbps, self.peak_out_mbps))

    @cached_property
    def storage_gib(self) -> Decimal:
        """Average GiB kept at the mean write rate (an estimate; `billing.pricing.stored_gib_estimate`)."""
        return stored_gib_estimate(
            in_mbps=self.mean_in_mbps,
            retention_ms=self.retention_ms,
            retention_bytes=self.retention_bytes,
            partitions=self.partitions_needed,
        )


@dataclass(frozen=True)
class ApplicationDemand:
    """One unit of packing: an application (or an owner-declared group of them) with the topics it owns.

    Throughput and partitions are its topics' sums; peaks are added as if they coincided (conservative).
    For the write/read strategy the caller builds one demand per side: on a write cluster the egress is
    what the replicators read, on a read cluster the ingress is what they write.
    """

    name: str
    team: str
    topics: tuple[TopicDemand, ...] = ()
    client_connections: int = 0
    consumer_groups: int = 0
    time_sensitive: bool = False
    contains_pii: bool = False
    # Not a packing constraint: MSK Replicator and MirrorMaker 2 are at-least-once, so the plan marks an
    # application that cannot take duplicates as needing an exactly-once job (migration.md §0.4).
    tolerates_duplicates: bool = True
    account: str = ""  # the AWS account its clusters go to; "" = the platform's account
    segment: str = ""  # any further separation a strategy needs, e.g. a read cluster's consumer class

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("An application needs a name.")
        object.__setattr__(self, "topics", tuple(self.topics))
        for name in ("client_connections", "consumer_groups"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"Application {self.name}: {name} must be a whole number of at least 0.")
        names = [topic.name for topic in self.topics]
        if len(set(names)) != len(names):
            raise ValueError(f"Application {self.name} lists a topic twice.")

    @cached_property
    def peak_in_mbps(self) -> Decimal:
        return sum((topic.peak_in_mbps for topic in self.topics), Decimal(0))

    @cached_property
    def peak_out_mbps(self) -> Decimal:
        return sum((topic.peak_out_mbps for topic in self.topics), Decimal(0))

    @cached_property
    def mean_in_mbps(self) -> Decimal:
        return sum((topic.mean_in_mbps for topic in self.topics), Decimal(0))

    @cached_property
    def mean_out_mbps(self) -> Decimal:
        return sum((topic.mean_out_mbps for topic in self.topics), Decimal(0))

    @cached_property
    def partitions(self) -> int:
        return sum(topic.partitions_needed for topic in self.topics)

    @cached_property
    def compacted_partitions(self) -> int:
        return sum(topic.partitions_needed for topic in self.topics if topic.compacted)

    @cached_property
    def storage_gib(self) -> Decimal:
        return sum((topic.storage_gib for topic in self.topics), Decimal(0))

    @cached_property
    def vector(self) -> Vector:
        return (
            math.ceil(self.peak_in_mbps * KB_PER_MB),
            math.ceil(self.peak_out_mbps * KB_PER_MB),
            self.partitions,
            self.compacted_partitions,
            self.client_connections,
            self.consumer_groups,
        )


@dataclass(frozen=True)
class PackingOptions:
    headroom_percent: int = 70  # issue 13's default target: plan each quota to at most 70 %
    separate_latency_classes: bool = False  # time-sensitive apart from time-insensitive
    separate_teams: bool = False  # the segregated strategy: clusters per team
    # Compacted partitions replication keeps on every planned cluster (quotas.replication_compacted_partitions).
    reserved_compacted_partitions: int = 0
    # Accounts whose clusters another tool feeds, with that tool's reservation: in a segregated plan a cluster
    # in a team's own account gets MirrorMaker 2 where the platform's get MSK Replicator (same account only).
    # Given as a mapping; kept as sorted (account, reserved) pairs so that the options stay hashable.
    reserved_by_account: Mapping[str, int] | tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.headroom_percent, bool) or not 1 <= self.headroom_percent <= 100:
            raise ValueError("The headroom target is a whole percentage from 1 to 100.")
        pairs = tuple(sorted(dict(self.reserved_by_account).items()))
        object.__setattr__(self, "reserved_by_account", pairs)
        if self.reserved_compacted_partitions < 0 or any(reserved < 0 for _, reserved in pairs):
            raise ValueError("Reserved compacted partitions cannot be negative.")

    def reserved_for(self, account: str) -> int:
        """The compacted partitions replication keeps on each cluster of this account."""
        return dict(self.reserved_by_account).get(account, self.reserved_compacted_partitions)


# --- Output ------------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class ConstraintGroup:
    """Applications that may share clusters. Different groups never share one."""

    account: str
    contains_pii: bool
    latency: str  # TIME_SENSITIVE, TIME_INSENSITIVE, or "" when the classes may share
    team: str  # "" when teams may share
    segment: str

    @property
    def label(self) -> str:
        parts = ["PII" if self.contains_pii else "no PII"]
        parts += [part for part in (self.latency, self.team and f"team {self.team}", self.segment) if part]
        if self.account:
            parts.append(f"account {self.account}")
        return " · ".join(parts)


@dataclass(frozen=True)
class QuotaLoad:
    """One quota on one planned cluster. `used` includes `reserved`; `budget` is what applications may use."""

    quota: str
    label: str
    unit: str
    used: Decimal
    reserved: Decimal
    capacity: Decimal
    budget: Decimal

    @property
    def percent(self) -> Decimal:
        """Share of the quota itself (not of the budget), one decimal."""
        return (self.used * 100 / self.capacity).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class PlannedCluster:
    group: ConstraintGroup
    number: int  # 1, 2, … within its group
    applications: tuple[str, ...]
    topics: tuple[str, ...]
    load: tuple[QuotaLoad, ...]  # in QUOTAS order
    storage_gib: Decimal  # estimated from the mean write rates and retention
    cost: CostEstimate | None  # None when no rates were given

    def quota(self, key: str) -> QuotaLoad:
        return next(load for load in self.load if load.quota == key)


@dataclass(frozen=True)
class Unplaceable:
    application: str
    group: ConstraintGroup
    reasons: tuple[str, ...]  # plain sentences, the last one says what to do


@dataclass(frozen=True)
class PartitionWarning:
    application: str
    topic: str
    partitions: int
    partitions_needed: int
    message: str


@dataclass(frozen=True)
class GroupSummary:
    group: ConstraintGroup
    applications: int  # placed
    unplaceable: int
    clusters: int
    volume_bound: int  # max over quotas of ⌈Σ demand / budget⌉ (issue 13's bound)
    large_item_bound: int  # applications above half of one quota's budget: no two share
    method: str  # which candidate won and what the improvement pass did
    reserved_compacted_partitions: int = 0  # what replication keeps on each of its clusters (bounds use it)

    @property
    def lower_bound(self) -> int:
        return max(self.volume_bound, self.large_item_bound)


@dataclass(frozen=True)
class AccountClusters:
    """Serverless clusters one account would hold in this region after the plan."""

    account: str
    existing: int
    planned: int
    limit: int

    @property
    def over_limit(self) -> bool:
        return self.existing + self.planned > self.limit

    def sentence(self) -> str:
        who = f"Account {self.account}" if self.account else "The platform's account"
        total = self.existing + self.planned
        text = (
            f"{who} would hold {total} Serverless clusters in this region ({self.existing} existing, "
            f"{self.planned} planned); the quota is {self.limit} per account and region."
        )
        if self.over_limit:
            text += (
                " Ask AWS for a quota increase before executing the plan, or move groups to another account."
            )
        return text


@dataclass(frozen=True)
class PackingPlan:
    clusters: tuple[PlannedCluster, ...]
    unplaceable: tuple[Unplaceable, ...]
    partition_warnings: tuple[PartitionWarning, ...]
    groups: tuple[GroupSummary, ...]
    accounts: tuple[AccountClusters, ...]
    headroom_percent: int

    @property
    def over_account_limit(self) -> tuple[AccountClusters, ...]:
        return tuple(account for account in self.accounts if account.over_limit)


# --- Planning ----------------------------------------------------------------------------------------


def constraint_group(application: ApplicationDemand, options: PackingOptions) -> ConstraintGroup:
    latency = ""
    if options.separate_latency_classes:
        latency = TIME_SENSITIVE if application.time_sensitive else TIME_INSENSITIVE
    return ConstraintGroup(
        account=application.account,
        contains_pii=application.contains_pii,
        latency=latency,
        team=application.team if options.separate_teams else "",
        segment=application.segment,
    )


def capacity_vector(quotas: ClusterQuotas) -> Vector:
    return (
        math.floor(quotas.ingress_mbps * KB_PER_MB),
        math.floor(quotas.egress_mbps * KB_PER_MB),
        quotas.partitions,
        quotas.compacted_partitions,
        quotas.client_connections,
        quotas.consumer_groups,
    )


def reserved_vector(options: PackingOptions, account: str = "") -> Vector:
    reserved = options.reserved_for(account)
    return (0, 0, reserved, reserved, 0, 0)  # compacted partitions are partitions too


def budget_vector(quotas: ClusterQuotas, options: PackingOptions, account: str = "") -> Vector:
    """What applications may use on one cluster of `account`: headroom × (quota − reserved), rounded down."""
    capacity, reserved = capacity_vector(quotas), reserved_vector(options, account)
    if reserved[COMPACTED] > capacity[COMPACTED]:
        raise ValueError(
            f"Replication would keep {reserved[COMPACTED]} compacted partitions on every cluster, "
            f"more than the {capacity[COMPACTED]} a cluster allows."
        )
    return tuple(
        (cap - res) * options.headroom_percent // 100 for cap, res in zip(capacity, reserved, strict=True)
    )


def volume_bound(vectors: Sequence[Vector], budget: Vector) -> int:
    """max over quotas of ⌈Σ demand / budget⌉; at least 1 when there is anything to place."""
    if not vectors:
        return 0
    bound = 1
    for dim, limit in enumerate(budget):
        if limit > 0:
            bound = max(bound, -(-sum(vector[dim] for vector in vectors) // limit))
    return bound


def large_item_bound(vectors: Sequence[Vector], budget: Vector) -> int:
    """max over quotas of how many items take more than half its budget (pairwise, they never fit together)."""
    return max(
        (sum(1 for vector in vectors if 2 * vector[dim] > limit) for dim, limit in enumerate(budget)),
        default=0,
    )


def plan_packing(
    applications: Iterable[ApplicationDemand],
    quotas: ClusterQuotas,
    options: PackingOptions | None = None,
    *,
    rates: Rates | None = None,
    existing_clusters: Mapping[str, int] | None = None,
) -> PackingPlan:
    """Pack applications into planned clusters, group by group. See the module docstring.

    `rates`: the region's rate card (`billing.rates.rates_for(region)`); without it no cost is given.
    `existing_clusters`: live Serverless clusters per account in this region, for the account quota.
    """
    options = options or PackingOptions()
    applications = sorted(applications, key=lambda app: app.name)
    _check_unique(applications)
    capacity = capacity_vector(quotas)

    groups: dict[ConstraintGroup, list[ApplicationDemand]] = {}
    for application in applications:
        groups.setdefault(constraint_group(application, options), []).append(application)

    clusters: list[PlannedCluster] = []
    unplaceable: list[Unplaceable] = []
    summaries: list[GroupSummary] = []
    for group in sorted(groups):
        # The reservation, and so the budget and the lower bounds, are those of the tool feeding this group.
        reserved, budget = (
            reserved_vector(options, group.account),
            budget_vector(quotas, options, group.account),
        )
        placeable = []
        for application in groups[group]:
            reasons = _why_it_cannot_fit(application, capacity, reserved, budget, options.headroom_percent)
            if reasons:
                unplaceable.append(Unplaceable(application.name, group, reasons))
            else:
                placeable.append(application)
        vectors = [application.vector for application in placeable]
        volume, large = volume_bound(vectors, budget), large_item_bound(vectors, budget)
        bins, method = pack_vectors(vectors, budget, max(volume, large))
        for number, members in enumerate(bins, start=1):
            clusters.append(
                planned_cluster(
                    group, number, [placeable[i] for i in members], capacity, reserved, budget, rates
                )
            )
        summaries.append(
            GroupSummary(
                group,
                len(placeable),
                len(groups[group]) - len(placeable),
                len(bins),
                volume,
                large,
                method,
                reserved[COMPACTED],
            )
        )

    return PackingPlan(
        clusters=tuple(clusters),
        unplaceable=tuple(unplaceable),
        partition_warnings=tuple(_partition_warnings(applications)),
        groups=tuple(summaries),
        accounts=_account_clusters(clusters, quotas, existing_clusters or {}),
        headroom_percent=options.headroom_percent,
    )


def pack_vectors(vectors: Sequence[Vector], budget: Vector, bound: int) -> tuple[list[list[int]], str]:
    """Bins of indices into `vectors` (each of which fits `budget` alone), and how they were found."""
    if not vectors:
        return [], "nothing to place"
    best_loads: list[list[int]] = []
    best_bins: list[list[int]] = []
    best_name = ""
    for name, (loads, bins) in candidate_packings(vectors, budget):
        if not best_bins or len(bins) < len(best_bins):
            best_loads, best_bins, best_name = loads, bins, name
        if len(best_bins) <= bound:
            break
    emptied = empty_clusters(best_loads, best_bins, vectors, budget, bound)
    method = best_name
    if emptied:
        method += f"; improvement pass emptied {emptied} cluster{'s' if emptied > 1 else ''}"
    return [sorted(members) for members in best_bins], method


def candidate_packings(
    vectors: Sequence[Vector], budget: Vector
) -> Iterable[tuple[str, tuple[list[list[int]], list[list[int]]]]]:
    """(name, (loads, bins)) of each heuristic in turn, lazily: `pack_vectors` stops at the lower bound."""
    yield "balanced fill", _balanced_fill(vectors, budget)
    for name, order in _orderings(vectors, budget):
        yield f"first fit, decreasing by {name}", _first_fit(order, vectors, budget)


def _balanced_fill(vectors: Sequence[Vector], budget: Vector) -> tuple[list[list[int]], list[list[int]]]:
    """Bin by bin: keep adding the largest item that fits from the queue of the quota this bin holds the
    smallest share of (share of the group's total demand on that quota), so that every bin carries about
    the same slice of every quota instead of filling one quota while the others idle. Items are queued by
    their dominant quota, largest first (Leinberger et al.'s permutation pack, simplified)."""
    dims = [dim for dim, limit in enumerate(budget) if limit > 0]
    totals = [sum(vector[dim] for vector in vectors) or 1 for dim in range(len(budget))]
    queues: dict[int, list[int]] = {dim: [] for dim in dims}
    for item, vector in enumerate(vectors):
        queues[max(dims, key=lambda dim: (vector[dim] / budget[dim], -dim))].append(item)
    for dim, queue in queues.items():
        queue.sort(key=lambda item: (-vectors[item][dim], item))
    taken = [False] * len(vectors)
    left = len(vectors)
    loads: list[list[int]] = []
    bins: list[list[int]] = []
    while left:
        load = [0] * len(budget)
        members: list[int] = []
        cursors = dict.fromkeys(dims, 0)
        while True:
            for dim in sorted(cursors, key=lambda dim: (load[dim] / totals[dim], dim)):
                queue = queues[dim]
                cursor = cursors[dim]
                while cursor < len(queue) and (
                    taken[queue[cursor]] or not _fits(load, vectors[queue[cursor]], budget)
                ):
                    cursor += 1  # too big now is too big for the rest of this bin: loads only grow
                if cursor < len(queue):
                    item = queue[cursor]
                    taken[item] = True
                    members.append(item)
                    load = [used + more for used, more in zip(load, vectors[item], strict=True)]
                    cursors[dim] = cursor + 1
                    break
                del cursors[dim]
            else:
                break  # no queue has an item that fits: close this bin
        loads.append(load)
        bins.append(members)
        left -= len(members)
        for dim in dims:
            queues[dim] = [item for item in queues[dim] if not taken[item]]
    return loads, bins


def _orderings(vectors: Sequence[Vector], budget: Vector) -> Iterable[tuple[str, list[int]]]:
    """Item orders to try, each decreasing in one size measure; ties keep input (name) order."""
    dims = [dim for dim, limit in enumerate(budget) if limit > 0]
    scaled = [[vector[dim] / budget[dim] for dim in dims] for vector in vectors]
    totals = [sum(row[i] for row in scaled) for i in range(len(dims))]
    measures = (
        ("the dominant quota", lambda row: max(row, default=0.0)),
        ("the sum of quotas", sum),
        (
            "the sum weighted by total demand",
            lambda row: sum(x * w for x, w in zip(row, totals, strict=True)),
        ),
    )
    for name, measure in measures:
        sizes = [measure(row) for row in scaled]
        yield name, sorted(range(len(vectors)), key=lambda i: (-sizes[i], i))


def _first_fit(
    order: Sequence[int], vectors: Sequence[Vector], budget: Vector
) -> tuple[list[list[int]], list[list[int]]]:
    """Each item, in `order`, into the first open bin with room on every quota; else a new bin.

    The hot loop of the planner (items × bins checks), so the six comparisons are spelt out.
    """
    b0, b1, b2, b3, b4, b5 = budget
    loads: list[list[int]] = []
    bins: list[list[int]] = []
    for item in order:
        v0, v1, v2, v3, v4, v5 = vectors[item]
        for load, members in zip(loads, bins, strict=True):
            if (
                load[0] + v0 <= b0
                and load[1] + v1 <= b1
                and load[2] + v2 <= b2
                and load[3] + v3 <= b3
                and load[4] + v4 <= b4
                and load[5] + v5 <= b5
            ):
                load[0] += v0
                load[1] += v1
                load[2] += v2
                load[3] += v3
                load[4] += v4
                load[5] += v5
                members.append(item)
                break
        else:
            loads.append([v0, v1, v2, v3, v4, v5])
            bins.append([item])
    return loads, bins


def _fits(load: Sequence[int], vector: Vector, budget: Vector) -> bool:
    return (  # spelt out: called for every item against many bins, and all() over zip() is 4× slower
        load[0] + vector[0] <= budget[0]
        and load[1] + vector[1] <= budget[1]
        and load[2] + vector[2] <= budget[2]
        and load[3] + vector[3] <= budget[3]
        and load[4] + vector[4] <= budget[4]
        and load[5] + vector[5] <= budget[5]
    )


def empty_clusters(
    loads: list[list[int]], bins: list[list[int]], vectors: Sequence[Vector], budget: Vector, bound: int
) -> int:
    """Improvement pass, in place: empty the least-loaded bin into the others while one empties and there
    are more bins than `bound`; returns how many bins it emptied."""
    dims = [dim for dim, limit in enumerate(budget) if limit > 0]

    def fullness(index: int) -> tuple[float, int]:
        return (sum(loads[index][dim] / budget[dim] for dim in dims), index)

    def largest_first(item: int) -> tuple[float, int]:
        return (-max((vectors[item][dim] / budget[dim] for dim in dims), default=0.0), item)

    emptied = 0
    while len(bins) > bound:
        for victim in sorted(range(len(bins)), key=fullness):
            moves = _rehome(victim, sorted(bins[victim], key=largest_first), loads, vectors, budget)
            if moves is not None:
                for target, new_load in moves[1].items():
                    loads[target] = new_load
                for item, target in moves[0]:
                    bins[target].append(item)
                del loads[victim], bins[victim]
                emptied += 1
                break
        else:
            break  # no bin could be emptied
    return emptied


def _rehome(
    victim: int, items: Sequence[int], loads: Sequence[list[int]], vectors: Sequence[Vector], budget: Vector
) -> tuple[list[tuple[int, int]], dict[int, list[int]]] | None:
    """Where each of `items` would go (first fit among the other bins), or None if one has nowhere."""
    trial: dict[int, list[int]] = {}
    moves: list[tuple[int, int]] = []
    for item in items:
        vector = vectors[item]
        for target in range(len(loads)):
            if target == victim:
                continue
            load = trial.get(target, loads[target])
            if _fits(load, vector, budget):
                trial[target] = [used + more for used, more in zip(load, vector, strict=True)]
                moves.append((item, target))
                break
        else:
            return None
    return moves, trial


# --- Reports -----------------------------------------------------------------------------------------


def _check_unique(applications: Sequence[ApplicationDemand]) -> None:
    owners: dict[str, str] = {}
    previous = None
    for application in applications:  # sorted by name
        if application.name == previous:
            raise ValueError(f"Two applications are named {application.name}; names must be unique.")
        previous = application.name
        for topic in application.topics:
            owner = owners.setdefault(topic.name, application.name)
            if owner != application.name:
                raise ValueError(
                    f"Topic {topic.name} is listed by both {owner} and {application.name}; a topic moves "
                    "with one application (merge the two into one unit of packing)."
                )


def _why_it_cannot_fit(
    application: ApplicationDemand, capacity: Vector, reserved: Vector, budget: Vector, headroom: int
) -> tuple[str, ...]:
    reasons = []
    for dim, quota in enumerate(QUOTAS):
        if application.vector[dim] <= budget[dim]:
            continue
        left = f", less {quota.amount(reserved[dim])} kept by replication" if reserved[dim] else ""
        reasons.append(
            f"{application.name} needs {quota.phrase(application.vector[dim])}; one cluster takes at most "
            f"{quota.amount(budget[dim])} at {headroom} % headroom (quota: {quota.amount(capacity[dim])}{left})."
        )
        if dim in (INGRESS, EGRESS, PARTITIONS, COMPACTED):
            largest = max(application.topics, key=lambda topic: (_topic_size(topic, dim), topic.name))
            if _topic_size(largest, dim) > budget[dim]:
                reasons.append(
                    f"Its topic {largest.name} alone needs {quota.phrase(_topic_size(largest, dim))}: no split "
                    "of the application helps, the topic's load itself has to be divided."
                )
    if reasons:
        reasons.append(
            f"{application.name} cannot be packed into one cluster: split it into smaller applications "
            "(some of its topics and clients on another cluster), or raise the headroom target."
        )
    return tuple(reasons)


def _topic_size(topic: TopicDemand, dim: int) -> int:
    if dim == INGRESS:
        return math.ceil(topic.peak_in_mbps * KB_PER_MB)
    if dim == EGRESS:
        return math.ceil(topic.peak_out_mbps * KB_PER_MB)
    if dim == COMPACTED and not topic.compacted:
        return 0
    return topic.partitions_needed


def _partition_warnings(applications: Sequence[ApplicationDemand]) -> Iterable[PartitionWarning]:
    for application in applications:
        for topic in application.topics:
            if topic.partitions_needed > topic.partitions:
                yield PartitionWarning(
                    application.name,
                    topic.name,
                    topic.partitions,
                    topic.partitions_needed,
                    f"Topic {topic.name} ({application.name}) has {topic.partitions} partitions for a peak of "
                    f"{_decimal_text(topic.peak_in_mbps)} MB/s in and {_decimal_text(topic.peak_out_mbps)} MB/s out; an MSK "
                    f"Serverless partition serves at most {MAX_WRITE_MBPS_PER_PARTITION} MB/s in and "
                    f"{MAX_READ_MBPS_PER_PARTITION} MB/s out, so it needs {topic.partitions_needed} partitions "
                    "before it can move (MSK Replicator and MirrorMaker 2 keep the partition count). Adding "
                    "partitions changes which partition a key goes to: agree the change with its owners.",
                )


def planned_cluster(
    group: ConstraintGroup,
    number: int,
    members: Sequence[ApplicationDemand],
    capacity: Vector,
    reserved: Vector,
    budget: Vector,
    rates: Rates | None,
) -> PlannedCluster:
    used = [sum(member.vector[dim] for member in members) + reserved[dim] for dim in range(len(QUOTAS))]
    load = tuple(
        QuotaLoad(
            quota.key,
            quota.label,
            quota.unit,
            used=_in_units(used[dim], quota),
            reserved=_in_units(reserved[dim], quota),
            capacity=_in_units(capacity[dim], quota),
            budget=_in_units(budget[dim], quota),
        )
        for dim, quota in enumerate(QUOTAS)
    )
    storage = sum((member.storage_gib for member in members), Decimal(0))
    cost = None
    if rates is not None:
        cost = monthly_estimate(
            rates,
            clusters=1,
            partitions=used[PARTITIONS],
            in_mbps=sum((member.mean_in_mbps for member in members), Decimal(0)),
            out_mbps=sum((member.mean_out_mbps for member in members), Decimal(0)),
            storage_gib=storage,
        )
    return PlannedCluster(
        group=group,
        number=number,
        applications=tuple(member.name for member in members),
        topics=tuple(topic.name for member in members for topic in member.topics),
        load=load,
        storage_gib=storage,
        cost=cost,
    )


def _account_clusters(
    clusters: Sequence[PlannedCluster], quotas: ClusterQuotas, existing: Mapping[str, int]
) -> tuple[AccountClusters, ...]:
    planned: dict[str, int] = {}
    for cluster in clusters:
        planned[cluster.group.account] = planned.get(cluster.group.account, 0) + 1
    return tuple(
        AccountClusters(
            account, existing.get(account, 0), planned.get(account, 0), quotas.clusters_per_account_region
        )
        for account in sorted(planned)
    )


def _non_negative(value, what: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except ArithmeticError as exc:
        raise ValueError(f"{what} must be a number, not {value!r}.") from exc
    if not number.is_finite() or number < 0:
        raise ValueError(f"{what} must be a number of at least 0, not {value!r}.")
    return number


def _in_units(value: int, quota: Quota) -> Decimal:
    return Decimal(value) / quota.scale if quota.scale != 1 else Decimal(value)


def _decimal_text(value: Decimal) -> str:
    """At most two decimals: a peak spread over topics is exact to 10^-6 MB/s, which nobody reads."""
    value = Decimal(value).quantize(Decimal("0.01"))
    return f"{value.normalize():,f}" if value != value.to_integral_value() else f"{value:,.0f}"
