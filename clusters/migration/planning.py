"""Services for steps 2 and 3: turn applications and their requirements into a plan of Serverless clusters.

A plan version is computed once and kept (`MigrationPlan.result`); an edit (moving an application) makes
the next version, based on the one edited, with the same clusters except for the move. Packing is
`packing.plan_packing`; this module builds its input from the inventory and requirements, adds what the
packer does not know (strategy, replication tool, stream-job flags, team costs beside the monolith's,
a backup region), and checks admins' moves against the same budgets and constraints.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import partial

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max

from billing.pricing import (
    CostEstimate,
    Rates,
    combined,
    money,
    monthly_estimate,
    topic_monthly_estimate,
    usd,
)
from billing.rates import rates_for
from clusters.migration import events, selectors, takeover
from clusters.migration.models import Application, MigrationPlan, Monolith, Replication
from clusters.migration.packing import (
    QUOTAS,
    ApplicationDemand,
    ConstraintGroup,
    PackingOptions,
    TopicDemand,
    budget_vector,
    capacity_vector,
    constraint_group,
    plan_packing,
    planned_cluster,
    reserved_vector,
)
from clusters.migration.quotas import (
    CONNECT_INTERNAL_COMPACTED_PARTITIONS,
    REPLICATOR_COMPACTED_PARTITIONS,
    ClusterQuotas,
    replication_compacted_partitions,
)
from clusters.models import AwsAccount, Cluster, PlatformSettings
from clusters.rules import request_mbps
from portal import access

WRITE, READ = "write", "read"
UNCLAIMED = "unclaimed"

# --- Replication tool, per planned cluster (shared/reference/migration.md §1.1) ------------------------------

REPLICATOR, MM2 = Replication.Tool.REPLICATOR, Replication.Tool.MM2
MONOLITH = "the monolith"


@dataclass(frozen=True)
class Feed:
    """What copies data into a planned cluster: the tool, the compacted partitions it keeps there, and why."""

    tool: str  # a Replication.Tool value
    source: str  # "the monolith" or "its write cluster"
    why: str

    @property
    def reserved(self) -> int:
        return replication_compacted_partitions(replicator=self.tool == REPLICATOR, connect=self.tool == MM2)

    @property
    def label(self) -> str:
        return f"{Replication.Tool(self.tool).label}, from {self.source}"

    def as_dict(self) -> dict:
        return {"tool": self.tool, "label": self.label, "reserved_compacted_partitions": self.reserved}


def feed(monolith: Monolith, account: AwsAccount | None, *, side: str) -> Feed:
    """The tool feeding a planned cluster in `account` (None: no account registered for it). A read cluster
    is fed by the portal's MSK Replicator from its write cluster; any other cluster from the monolith by the
    tool `Monolith.replication_tool` chooses, the rule starting replication uses too."""
    if side == READ:
        return Feed(
            REPLICATOR,
            "its write cluster",
            "Read clusters are fed from their write cluster by MSK Replicator "
            f"({REPLICATOR_COMPACTED_PARTITIONS} compacted partitions each).",
        )
    tool = monolith.replication_tool(account.pk if account else None)
    connect = f"Connect's internal topics: {CONNECT_INTERNAL_COMPACTED_PARTITIONS} compacted partitions each"
    if tool == REPLICATOR:
        why = (
            f"The monolith is MSK in the account {account}: MSK Replicator copies it to the clusters there "
            "(starting position earliest, identical topic names, consumer-group offset sync; "
            f"{REPLICATOR_COMPACTED_PARTITIONS} compacted partitions each)."
        )
    elif monolith.is_msk and monolith.aws_account_id:
        why = (
            f"The monolith is MSK in the account {monolith.aws_account}; MSK Replicator works within one account "
            f"only, so MirrorMaker 2 on MSK Connect copies it to clusters in other accounts ({connect})."
        )
    elif monolith.is_msk:
        why = (
            "The monolith's AWS account is not registered, so MSK Replicator (same account only) cannot be used: "
            f"MirrorMaker 2 on MSK Connect copies it ({connect})."
        )
    else:
        why = (
            "The monolith is not MSK: MSK Replicator cannot copy a self-managed cluster into Serverless, so "
            "MirrorMaker 2 does (on MSK Connect, or from a downloaded configuration on the platform's own "
            f"Connect; {connect})."
        )
    return Feed(tool, MONOLITH, why)


# --- Demands -------------------------------------------------------------------------------------------------


def _team_account(team_id: int | None, accounts: dict[int, AwsAccount]) -> str:
    account = accounts.get(team_id) if team_id else None
    return account.account_id if account else ""


def _topic_demand(topic, *, side: str) -> TopicDemand:
    peak_in = request_mbps(topic.peak_in_mbps)  # as its topic request will carry it
    peak_out = request_mbps(topic.peak_out_mbps)
    if side == WRITE:
        peak_out = peak_in  # the replicator reads each record once; consumers read on the read clusters
    return TopicDemand(
        name=topic.name,
        partitions=topic.partitions,
        peak_in_mbps=peak_in,
        peak_out_mbps=peak_out,
        compacted=topic.compacted,
        retention_ms=topic.retention_ms,
        retention_bytes=topic.retention_bytes,
    )


def _scaled(topics: list[TopicDemand], *, total_in: Decimal, total_out: Decimal) -> list[TopicDemand]:
    """Spread an application's stated peaks over its topics in proportion to the inventory's figures (each
    rounded up to the hundredth of a MB/s its topic request carries)."""
    have_in = sum((topic.peak_in_mbps for topic in topics), Decimal(0))
    have_out = sum((topic.peak_out_mbps for topic in topics), Decimal(0))
    scaled = []
    for topic in topics:
        share_in = topic.peak_in_mbps / have_in if have_in else Decimal(1) / len(topics)
        share_out = topic.peak_out_mbps / have_out if have_out else Decimal(1) / len(topics)
        scaled.append(
            TopicDemand(
                name=topic.name,
                partitions=topic.partitions,
                peak_in_mbps=request_mbps(total_in * share_in),
                peak_out_mbps=request_mbps(total_out * share_out),
                compacted=topic.compacted,
                retention_ms=topic.retention_ms,
                retention_bytes=topic.retention_bytes,
            )
        )
    return scaled


def application_demands(
    rows: list[selectors.ApplicationDemandRow], *, strategy: str, accounts: dict[int, AwsAccount]
) -> dict[str, list[ApplicationDemand]]:
    """Packing input per side ("" for segregated; write and read for write/read)."""
    sides = [""] if strategy == MigrationPlan.Strategy.SEGREGATED else [WRITE, READ]
    demands: dict[str, list[ApplicationDemand]] = {side: [] for side in sides}
    for row in rows:
        application = row.application
        if not row.topics:
            continue
        for side in sides:
            topics = [_topic_demand(topic, side=side) for topic in row.topics]
            if row.throughput_from == "requirements":
                out = row.peak_in_mbps if side == WRITE else row.peak_out_mbps
                topics = _scaled(topics, total_in=row.peak_in_mbps, total_out=out)
            if application.retention_hours:
                topics = [
                    replace(topic, retention_ms=application.retention_hours * 3_600_000) for topic in topics
                ]
            segment = ""
            if side == READ:
                segment = "read"
            elif side == WRITE:
                segment = "write"
            demands[side].append(
                ApplicationDemand(
                    name=application.name,
                    team=application.team.slug if application.team else UNCLAIMED,
                    topics=tuple(topics),
                    client_connections=application.client_connections,
                    consumer_groups=0 if side == WRITE else len(row.consumer_groups),
                    time_sensitive=application.latency_class == Application.Latency.TIME_SENSITIVE,
                    contains_pii=application.contains_pii,
                    tolerates_duplicates=application.tolerates_duplicates,
                    account=_team_account(application.team_id, accounts)
                    if strategy == MigrationPlan.Strategy.SEGREGATED
                    else "",
                    segment=segment,
                )
            )
    return demands


# --- Computing a plan ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanInput:
    monolith: Monolith
    strategy: str
    headroom_percent: int
    separate_latency_classes: bool
    backup_region: str


def _options(plan: PlanInput, feeds: dict[str, Feed]) -> PackingOptions:
    """One side's packing options: each account's clusters reserve what the tool feeding them keeps there
    (MSK Replicator 83 compacted partitions, MirrorMaker 2 on Connect 31; `feeds`: account -> its feed)."""
    return PackingOptions(
        headroom_percent=plan.headroom_percent,
        separate_latency_classes=plan.separate_latency_classes,
        separate_teams=plan.strategy == MigrationPlan.Strategy.SEGREGATED,
        reserved_compacted_partitions=feeds[""].reserved,
        reserved_by_account={account: item.reserved for account, item in feeds.items()},
    )


def _group_dict(group: ConstraintGroup) -> dict:
    return {
        "account": group.account,
        "contains_pii": group.contains_pii,
        "latency": group.latency,
        "team": group.team,
        "segment": group.segment,
        "label": group.label,
    }


def _cluster_dict(
    key: str,
    side: str,
    cluster,
    members: list[ApplicationDemand],
    monolith: Monolith,
    fed_by: Feed,
    rates: Rates,
) -> dict:
    team = cluster.group.team
    base = f"{monolith.name}-{team or side or 'shared'}".lower().replace("_", "-")[:50]
    return {
        "key": key,
        "name": f"{base}-{cluster.number}",
        "side": side,
        "group": _group_dict(cluster.group),
        "replication": fed_by.as_dict(),
        "applications": list(cluster.applications),
        "topics": list(cluster.topics),
        "load": [
            {
                "quota": load.quota,
                "label": load.label,
                "unit": load.unit,
                "used": str(load.used),
                "reserved": str(load.reserved),
                "capacity": str(load.capacity),
                "budget": str(load.budget),
                "percent": str(load.percent),
            }
            for load in cluster.load
        ],
        "storage_gib": str(cluster.storage_gib),
        **_priced(side, cluster, members, rates),
    }


def _priced(side: str, cluster, members: list[ApplicationDemand], rates: Rates) -> dict:
    """A planned cluster's monthly cost as the requests filed from the plan will estimate it, so that its
    cluster request and its topic requests add up to the plan's figure to the cent (docs/migration.md, "What
    the plan's figures are"):

    - a write or dedicated cluster's request: one cluster-month and the compacted partitions its replication
      tool keeps there (no topic request carries those); each of its topics' requests: the topic's partitions,
      data in and out and storage (`billing.pricing.topic_monthly_estimate`, as every topic request);
    - a read cluster's request: all of it (cluster-month, partitions, data in and out, storage); nobody
      files topics on a read cluster, its replicator copies them in.

    Throughput is the peak (the inventory knows no mean), as the requests carry it. `cluster_priced` is what
    the cluster request prices besides its cluster-hours; `topic_costs` what each topic request carries."""
    quota = {load.quota: load for load in cluster.load}
    topics = [topic for member in members for topic in member.topics]
    if side == READ:
        priced = {
            "partitions": int(quota["partitions"].used),
            "in_mbps": str(sum((topic.peak_in_mbps for topic in topics), Decimal(0))),
            "out_mbps": str(sum((topic.peak_out_mbps for topic in topics), Decimal(0))),
            "storage_gib": str(cluster.storage_gib),
        }
        topic_estimates: dict[str, tuple[TopicDemand, CostEstimate]] = {}
    else:
        priced = {
            "partitions": int(quota["partitions"].reserved),
            "in_mbps": "0",
            "out_mbps": "0",
            "storage_gib": "0",
        }
        topic_estimates = {topic.name: (topic, _topic_estimate(topic, rates)) for topic in topics}
    own = monthly_estimate(
        rates,
        clusters=1,
        partitions=priced["partitions"],
        in_mbps=Decimal(priced["in_mbps"]),
        out_mbps=Decimal(priced["out_mbps"]),
        storage_gib=Decimal(priced["storage_gib"]),
    )
    cost = combined([own] + [estimate for _, estimate in topic_estimates.values()])
    return {
        "cost": cost.as_dict(),
        "monthly_usd": str(cost.total),
        "cluster_priced": priced,
        "cluster_usd": str(own.total),
        "topics_usd": str(cost.total - own.total),
        "topic_costs": {  # what each topic request carries, and its estimate
            name: {
                "partitions": topic.partitions_needed,
                "in_mbps": str(topic.peak_in_mbps),
                "out_mbps": str(topic.peak_out_mbps),
                "retention_ms": topic.retention_ms,
                "monthly_usd": str(estimate.total),
            }
            for name, (topic, estimate) in topic_estimates.items()
        },
    }


def _topic_estimate(topic: TopicDemand, rates: Rates) -> CostEstimate:
    """The topic's request's estimate: the partitions it must have to move, its peaks as the request keeps
    them, its retention."""
    return topic_monthly_estimate(
        rates,
        partitions=topic.partitions_needed,
        in_mbps=topic.peak_in_mbps,
        out_mbps=topic.peak_out_mbps,
        retention_ms=topic.retention_ms,
        retention_bytes=topic.retention_bytes,
    )


def _flags(rows, strategy: str) -> list[dict]:
    """What plain replication cannot do (migration.md §0.4, §1.1): named in the plan, never silently copied."""
    flags = []
    for row in rows:
        application = row.application
        if not application.tolerates_duplicates:
            flags.append(
                {
                    "application": application.name,
                    "job": "exactly-once",
                    "message": (
                        f"{application.name} cannot tolerate duplicates, and MSK Replicator and MirrorMaker 2 are "
                        "at-least-once: move it with an exactly-once stream job (e.g. Apache Flink with "
                        "transactional writes) instead of plain replication."
                    ),
                }
            )
        if application.contains_pii and strategy == MigrationPlan.Strategy.WRITE_READ:
            flags.append(
                {
                    "application": application.name,
                    "job": "masking",
                    "message": (
                        f"{application.name} carries PII: its read clusters must not carry the sensitive fields, "
                        "so feed them with a masking stream job (e.g. Apache Flink) rather than MSK Replicator."
                    ),
                }
            )
    return flags


def _cost_split(clusters: list[dict], rows, monolith: Monolith) -> list[dict]:
    """Each team's monthly cost after the split beside its share of the monolith's cost.

    A cluster's cost goes to its applications' teams by their share of its throughput (in + out), or of its
    partitions when nothing flows. The monolith's cost (entered by admins) is shared the same way over all
    applications."""
    by_app = {row.application.name: row for row in rows}

    def weight(row) -> Decimal:
        return row.peak_in_mbps + row.peak_out_mbps

    def team_of(row) -> str:
        return row.application.team.slug if row.application.team else UNCLAIMED

    after: dict[str, Decimal] = {}
    for cluster in clusters:
        members = [by_app[name] for name in cluster["applications"] if name in by_app]
        total = Decimal(cluster["monthly_usd"])
        weights = [weight(row) for row in members]
        if not any(weights):
            weights = [Decimal(row.partitions) for row in members]
        all_weight = sum(weights, Decimal(0))
        for row, w in zip(members, weights, strict=True):
            share = total * w / all_weight if all_weight else total / len(members)
            after[team_of(row)] = after.get(team_of(row), Decimal(0)) + share
    monolith_cost = monolith.monthly_cost_usd
    weights = {row.application.name: weight(row) for row in rows}
    if not any(weights.values()):
        weights = {row.application.name: Decimal(row.partitions) for row in rows}
    all_weight = sum(weights.values(), Decimal(0))
    before: dict[str, Decimal] = {}
    for row in rows:
        if monolith_cost is not None and all_weight:
            before[team_of(row)] = (
                before.get(team_of(row), Decimal(0))
                + monolith_cost * weights[row.application.name] / all_weight
            )
    return [
        {
            "team": team,
            "after_usd": str(money(after.get(team, Decimal(0)))),
            "monolith_share_usd": str(money(before[team])) if team in before else None,
        }
        for team in sorted(set(after) | set(before))
    ]


def _backup(clusters: list[dict], plan: PlanInput) -> dict | None:
    """Replicas of the write clusters only (the seed's lighter DR footprint) in another region, apart."""
    if not plan.backup_region:
        return None
    rates = rates_for(plan.backup_region)
    total = Decimal(0)
    copies = 0
    for cluster in clusters:
        if cluster["side"] == READ:
            continue
        load = {entry["quota"]: Decimal(entry["used"]) for entry in cluster["load"]}
        estimate = monthly_estimate(
            rates,
            clusters=1,
            partitions=int(load["partitions"]),
            in_mbps=load["ingress"],
            storage_gib=Decimal(cluster["storage_gib"]),
        )
        total += estimate.total
        copies += 1
    return {"region": plan.backup_region, "clusters": copies, "monthly_usd": str(total)}


def compute(
    plan: PlanInput,
    snapshot,
    *,
    assignment: dict[str, str] | None = None,
    base: dict | None = None,
    rows: list | None = None,
) -> dict:
    """The plan's result. Without `assignment`, packed from scratch; with it (application -> cluster key of
    `base`), the same clusters as `base` with the applications where `assignment` puts them, every budget and
    constraint checked: a move that breaks one raises ValidationError listing why."""
    monolith = plan.monolith
    if rows is None:
        rows = selectors.application_rows(monolith, snapshot)
    settings_row = PlatformSettings.current()
    quotas = ClusterQuotas.from_settings(settings_row)
    accounts = {account.team_id: account for account in AwsAccount.objects.filter(ownership="team")}
    platform_account = AwsAccount.objects.filter(ownership="platform").order_by("pk").first()
    rates = rates_for(monolith.region)
    demands = application_demands(rows, strategy=plan.strategy, accounts=accounts)
    existing = dict(
        Cluster.objects.exclude(status=Cluster.Status.DELETED)
        .filter(region=monolith.region)
        .values("account__account_id")
        .annotate(n=Count("pk"))
        .values_list("account__account_id", "n")
    )
    existing[""] = existing.pop(platform_account.account_id, 0) if platform_account else 0

    by_number = {account.account_id: account for account in accounts.values()}

    def side_feeds(side: str, side_demands: list[ApplicationDemand]) -> dict[str, Feed]:
        """account -> what feeds that account's clusters on this side ("" = the platform's account)."""
        numbers = {""} | {demand.account for demand in side_demands}
        if base is not None:
            numbers |= {c["group"]["account"] for c in base["clusters"] if c["side"] == side}
        return {
            number: feed(monolith, by_number.get(number) if number else platform_account, side=side)
            for number in sorted(numbers)
        }

    clusters, unplaceable, warnings, groups, accounts_text = [], [], [], [], []
    feeds_by_side: dict[str, dict[str, Feed]] = {}
    for side, side_demands in demands.items():
        feeds = feeds_by_side[side] = side_feeds(side, side_demands)
        options = _options(plan, feeds)
        if assignment is None:
            packed = plan_packing(side_demands, quotas, options, existing_clusters=existing)  # priced here
            by_name = {demand.name: demand for demand in side_demands}
            for cluster in packed.clusters:
                key = f"{side[:1] or 'c'}{len(clusters) + 1}"
                members = [by_name[name] for name in cluster.applications]
                clusters.append(
                    _cluster_dict(key, side, cluster, members, monolith, feeds[cluster.group.account], rates)
                )
            unplaceable += [
                {"application": item.application, "side": side, "reasons": list(item.reasons)}
                for item in packed.unplaceable
            ]
            groups += [
                {
                    "label": summary.group.label,
                    "side": side,
                    "clusters": summary.clusters,
                    "lower_bound": summary.lower_bound,
                    "reserved_compacted_partitions": summary.reserved_compacted_partitions,
                    "method": summary.method,
                }
                for summary in packed.groups
            ]
            accounts_text += [account.sentence() for account in packed.accounts]
            warnings += [
                {
                    "application": warning.application,
                    "topic": warning.topic,
                    "partitions": warning.partitions,
                    "partitions_needed": warning.partitions_needed,
                    "message": warning.message,
                }
                for warning in packed.partition_warnings
                if side != READ  # the same topics on both sides: say it once
            ]
        else:
            clusters += _reassigned(
                side, side_demands, base, assignment, quotas, options, rates, monolith, feeds
            )
            unplaceable += [item for item in base["unplaceable"] if item["side"] == side]
            warnings = base["partition_warnings"]
            groups = base["groups"]
            accounts_text = base["accounts"]
    if assignment is None:  # names unique within the plan: <monolith>-<team or side>-<n>
        counts: dict[str, int] = {}
        for cluster in clusters:
            base = cluster["name"].rsplit("-", 1)[0]
            counts[base] = counts.get(base, 0) + 1
            cluster["name"] = f"{base}-{counts[base]}"
    total = sum((Decimal(cluster["monthly_usd"]) for cluster in clusters), Decimal(0))
    unowned = [row.application.name for row in rows if row.application.team_id is None]
    no_figures = [
        f"{row.application.name}: {', '.join(row.missing_throughput)}"
        for row in rows
        if row.missing_throughput
    ]
    return {
        "region": monolith.region,
        "clusters": clusters,
        "unplaceable": unplaceable,
        "partition_warnings": warnings,
        "flags": _flags(rows, plan.strategy),
        "groups": groups,
        "accounts": accounts_text,
        "teams": _cost_split(clusters, rows, monolith),
        "total_usd": str(total),
        "monolith_usd": str(monolith.monthly_cost_usd) if monolith.monthly_cost_usd is not None else None,
        "backup": _backup(clusters, plan),
        "replication": _replication_summary(clusters, feeds_by_side),
        "unowned_applications": unowned,
        "topics_without_throughput": no_figures,
        "snapshot": snapshot.number,
    }


def _replication_summary(clusters: list[dict], feeds_by_side: dict[str, dict[str, Feed]]) -> dict:
    """The plan's replication in one place: the tool the monolith is copied with ("mixed" when the planned
    clusters' accounts differ in it) and why, one sentence per tool the plan's clusters use."""
    used: list[Feed] = []
    for cluster in clusters:
        fed_by = feeds_by_side[cluster["side"]][cluster["group"]["account"]]
        if fed_by not in used:
            used.append(fed_by)
    if not used:  # nothing planned yet: what would feed a cluster in the platform's account
        used = [feeds_by_side[WRITE if WRITE in feeds_by_side else ""][""]]
    tools = {fed_by.tool for fed_by in used if fed_by.source == MONOLITH}
    return {"tool": tools.pop() if len(tools) == 1 else "mixed", "why": " ".join(f.why for f in used)}


def _group_of(data: dict) -> ConstraintGroup:
    return ConstraintGroup(
        account=data["account"],
        contains_pii=data["contains_pii"],
        latency=data["latency"],
        team=data["team"],
        segment=data["segment"],
    )


def _reassigned(side, side_demands, base, assignment, quotas, options, rates, monolith, feeds) -> list[dict]:
    capacity = capacity_vector(quotas)
    by_name = {demand.name: demand for demand in side_demands}
    errors = []
    result = []
    for cluster in (c for c in base["clusters"] if c["side"] == side):
        group = _group_of(cluster["group"])
        reserved, budget = (
            reserved_vector(options, group.account),
            budget_vector(quotas, options, group.account),
        )
        members = sorted(
            name for name, key in assignment.items() if key == cluster["key"] and name in by_name
        )
        for name in members:
            wanted = constraint_group(by_name[name], options)
            if wanted != group:
                errors.append(
                    f"{name} cannot go to {cluster['name']}: that cluster is for {group.label}, "
                    f"{name} needs {wanted.label}."
                )
        used = [sum(by_name[name].vector[dim] for name in members) for dim in range(len(QUOTAS))]
        for dim, quota in enumerate(QUOTAS):
            if used[dim] > budget[dim]:
                errors.append(
                    f"{cluster['name']} would carry {quota.phrase(used[dim])}, above the "
                    f"{quota.phrase(budget[dim])} its {options.headroom_percent} % headroom allows."
                )
        if not members:
            continue  # an emptied cluster is dropped from the plan
        demands = [by_name[name] for name in members]
        planned = planned_cluster(group, 0, demands, capacity, reserved, budget, None)  # priced by _priced
        data = _cluster_dict(cluster["key"], side, planned, demands, monolith, feeds[group.account], rates)
        data["name"] = cluster["name"]
        result.append(data)
    if errors:
        raise ValidationError(errors)
    return result


# --- Versions --------------------------------------------------------------------------------------------------


def _require_admin(actor) -> None:
    access.require_migration_manager(actor, "Only platform admins make and change migration plans.")


def _save(
    *,
    actor,
    monolith: Monolith,
    snapshot,
    inputs: dict,
    result: dict,
    based_on=None,
    moves=None,
    note="",
    edit="",
) -> MigrationPlan:
    with transaction.atomic():
        Monolith.objects.select_for_update().get(pk=monolith.pk)
        version = (monolith.plans.aggregate(v=Max("version"))["v"] or 0) + 1
        plan = MigrationPlan.objects.create(
            monolith=monolith,
            version=version,
            based_on=based_on,
            snapshot=snapshot,
            result=result,
            moves=moves or {},
            change_note=note[:300],
            created_by=actor,
            **inputs,
        )
        events.record(
            monolith,
            "plan.created",
            actor=actor,
            obj=plan,
            to_status=plan.status,
            details={
                "version": version,
                "based_on": based_on.version if based_on else None,
                "clusters": len(result["clusters"]),
                "monthly_usd": result["total_usd"],
                "note": note[:300],
                **({"edit": edit} if edit else {}),
            },
        )
    return plan


def create_plan(
    *,
    actor,
    monolith_id: int,
    strategy: str = MigrationPlan.Strategy.SEGREGATED,
    headroom_percent: int = 70,
    separate_latency_classes: bool = True,
    backup_region: str = "",
) -> MigrationPlan:
    _require_admin(actor)
    monolith = Monolith.objects.get(pk=monolith_id)
    snapshot = selectors.latest_snapshot(monolith)
    if snapshot is None:
        raise ValidationError("Read the inventory or upload a CSV file before planning.")
    inputs = {
        "strategy": strategy,
        "headroom_percent": headroom_percent,
        "separate_latency_classes": separate_latency_classes,
        "backup_region": backup_region,
    }
    probe = MigrationPlan(monolith=monolith, version=1, snapshot=snapshot, created_by=actor, **inputs)
    probe.full_clean(exclude=["version", "result"], validate_unique=False, validate_constraints=False)
    result = compute(PlanInput(monolith=monolith, **inputs), snapshot)
    return _save(actor=actor, monolith=monolith, snapshot=snapshot, inputs=inputs, result=result)


def _inputs(plan: MigrationPlan) -> dict:
    return {
        "strategy": plan.strategy,
        "headroom_percent": plan.headroom_percent,
        "separate_latency_classes": plan.separate_latency_classes,
        "backup_region": plan.backup_region,
    }


def assignment_of(plan: MigrationPlan) -> dict[str, str]:
    """application -> cluster key, per side (write/read plans place an application on both: keyed by side)."""
    return {
        f"{cluster['side']}:{name}": cluster["key"]
        for cluster in plan.result["clusters"]
        for name in cluster["applications"]
    }


# --- Editing: move an application, split a cluster, merge two -------------------------------------------------


@dataclass(frozen=True)
class PlanEdit:
    """What an edit would make of a plan, checked: the next version's result, the clusters it changes (what
    the live preview shows; a merged-away cluster is in `removed`), where applications go, and a note."""

    kind: str  # move, split, merge
    result: dict
    touched: tuple[str, ...]  # cluster keys
    removed: tuple[str, ...]  # cluster names
    moves: dict[str, str]
    note: str

    def preview(self, plan: MigrationPlan) -> list[dict]:
        """The changed clusters as the preview shows them: each quota's load after the edit beside before
        (None for a new cluster), and the monthly cost after and before."""
        old = {cluster["key"]: cluster for cluster in plan.result["clusters"]}
        rows = []
        for cluster in (c for key in self.touched for c in self.result["clusters"] if c["key"] == key):
            was = old.get(cluster["key"])
            before = {load["quota"]: load for load in was["load"]} if was else {}
            rows.append(
                {
                    "name": cluster["name"],
                    "new": was is None,
                    "applications": cluster["applications"],
                    "loads": [
                        {**load, "before_percent": before[load["quota"]]["percent"] if was else None}
                        for load in cluster["load"]
                    ],
                    "monthly_usd": cluster["monthly_usd"],
                    "before_usd": was["monthly_usd"] if was else None,
                }
            )
        return rows


def _cluster(plan: MigrationPlan, key: str) -> dict:
    found = next((c for c in plan.result["clusters"] if c["key"] == key), None)
    if found is None:
        raise ValidationError(f"This plan has no cluster {key}.")
    return found


def _side_assignment(plan: MigrationPlan, side: str) -> dict[str, str]:
    return {
        key.split(":", 1)[1]: value
        for key, value in assignment_of(plan).items()
        if key.startswith(f"{side}:")
    }


def _edited(
    plan: MigrationPlan, *, side: str, assignment: dict[str, str], added: tuple[dict, ...] = ()
) -> dict:
    """The plan with one side's applications where `assignment` puts them (application -> cluster key), with
    `added` clusters joining that side: loads, costs, team costs and the backup region recomputed from the
    current figures, every budget and constraint checked (ValidationError lists every violation)."""
    inputs = PlanInput(monolith=plan.monolith, **_inputs(plan))
    rows = selectors.application_rows(plan.monolith, plan.snapshot)
    side_clusters = [c for c in plan.result["clusters"] if c["side"] == side] + list(added)
    edited = compute(
        inputs,
        plan.snapshot,
        assignment=assignment,
        base={**plan.result, "clusters": side_clusters},
        rows=rows,
    )
    result = dict(plan.result)
    result["clusters"] = [c for c in plan.result["clusters"] if c["side"] != side] + edited["clusters"]
    result["clusters"].sort(key=lambda c: (c["side"] != WRITE, int(c["key"][1:])))
    result["total_usd"] = str(sum((Decimal(c["monthly_usd"]) for c in result["clusters"]), Decimal(0)))
    result["teams"] = _cost_split(result["clusters"], rows, plan.monolith)
    result["backup"] = _backup(result["clusters"], inputs)
    return result


def check_move(plan: MigrationPlan, *, application: str, to_cluster: str) -> PlanEdit:
    """The plan as it would be after the move, or ValidationError: what the htmx preview shows live."""
    target = _cluster(plan, to_cluster)
    side = target["side"]
    assignment = _side_assignment(plan, side)
    if application not in assignment:
        raise ValidationError(f"{application} is not placed on a {side or 'planned'} cluster of this plan.")
    if assignment[application] == to_cluster:
        raise ValidationError(f"{application} is already on {target['name']}.")
    source = _cluster(plan, assignment[application])
    assignment[application] = to_cluster
    result = _edited(plan, side=side, assignment=assignment)
    emptied = len(source["applications"]) == 1  # an emptied cluster is dropped from the plan
    return PlanEdit(
        kind="move",
        result=result,
        touched=(to_cluster,) if emptied else (source["key"], to_cluster),
        removed=(source["name"],) if emptied else (),
        moves={application: to_cluster},
        note=f"Moved {application} to {target['name']}",
    )


def _lineage(plan: MigrationPlan):
    """This version and every version it was edited from."""
    node = plan
    while node is not None:
        yield node
        node = (
            MigrationPlan.objects.only("result", "moves", "based_on").filter(pk=node.based_on_id).first()
            if node.based_on_id
            else None
        )


def _new_cluster(plan: MigrationPlan, source: dict) -> dict:
    """An empty cluster beside `source` (same side and constraint group) with a key and a name no version this
    one comes from used, nor a cluster the platform runs: a filed or live cluster is found by its name."""
    keys, names = set(), set()
    for version in _lineage(plan):
        keys |= {c["key"] for c in version.result["clusters"]} | set(version.moves.values())
        names |= {c["name"] for c in version.result["clusters"]}
    stem = source["name"].rsplit("-", 1)[0]
    names |= set(Cluster.objects.filter(name__startswith=f"{stem}-").values_list("name", flat=True))
    numbers = [
        int(suffix)
        for base, _, suffix in (name.rpartition("-") for name in names)
        if base == stem and suffix.isdigit()
    ]
    key_numbers = [int(key[1:]) for key in keys if key[1:].isdigit()]
    return {
        "key": f"{source['key'][0]}{max(key_numbers, default=0) + 1}",
        "name": f"{stem}-{max(numbers, default=0) + 1}",
        "side": source["side"],
        "group": source["group"],
        "applications": [],
    }


def check_split(plan: MigrationPlan, *, cluster: str, applications: list[str]) -> PlanEdit:
    """The plan with `applications` taken off `cluster` onto a new cluster of the same constraint group."""
    source = _cluster(plan, cluster)
    chosen = sorted(set(applications))
    strangers = [name for name in chosen if name not in source["applications"]]
    if strangers:
        raise ValidationError(f"Not on {source['name']}: {', '.join(strangers)}.")
    if not chosen:
        raise ValidationError(f"Choose the applications that leave {source['name']} for the new cluster.")
    if len(chosen) == len(source["applications"]):
        raise ValidationError(
            f"Leave at least one application on {source['name']}: moving all of them only renames it."
        )
    new = _new_cluster(plan, source)
    assignment = _side_assignment(plan, source["side"]) | {name: new["key"] for name in chosen}
    result = _edited(plan, side=source["side"], assignment=assignment, added=(new,))
    return PlanEdit(
        kind="split",
        result=result,
        touched=(cluster, new["key"]),
        removed=(),
        moves={name: new["key"] for name in chosen},
        note=f"Split {source['name']}: {', '.join(chosen)} to the new {new['name']}",
    )


def _why_apart(one: dict, other: dict, plan: MigrationPlan) -> list[str]:
    """Why two constraint groups may not share a cluster, in the plan's words."""
    a, b = one["group"], other["group"]
    reasons = []
    if a["contains_pii"] != b["contains_pii"]:
        reasons.append("PII never shares a cluster with data that is not PII.")
    if a["latency"] != b["latency"]:
        reasons.append("This plan keeps time-sensitive applications apart from the others.")
    if a["team"] != b["team"]:
        reasons.append(f"A segregated plan keeps teams apart ({a['team']}, {b['team']}).")
    if a["account"] != b["account"]:
        reasons.append("They are in different AWS accounts.")
    if a["segment"] != b["segment"]:
        reasons.append("They serve different sides or consumer classes.")
    return reasons


def check_merge(plan: MigrationPlan, *, cluster: str, into: str) -> PlanEdit:
    """The plan with every application of `cluster` on `into`, which must be of the same constraint group;
    the combined load must stay within every quota's headroom."""
    source, target = _cluster(plan, cluster), _cluster(plan, into)
    if cluster == into:
        raise ValidationError("Choose two different clusters to merge.")
    if source["side"] != target["side"]:
        raise ValidationError(
            f"{source['name']} is a {source['side'] or 'planned'} cluster and {target['name']} a "
            f"{target['side'] or 'planned'} one: only clusters of one side merge."
        )
    apart = _why_apart(source, target, plan)
    if apart:
        raise ValidationError([f"{source['name']} and {target['name']} cannot merge.", *apart])
    assignment = _side_assignment(plan, source["side"])
    assignment |= {name: into for name in source["applications"]}
    result = _edited(plan, side=source["side"], assignment=assignment)
    return PlanEdit(
        kind="merge",
        result=result,
        touched=(into,),
        removed=(source["name"],),
        moves={name: into for name in source["applications"]},
        note=f"Merged {source['name']} into {target['name']}",
    )


def _save_edit(*, actor, plan: MigrationPlan, edit: PlanEdit, note: str) -> MigrationPlan:
    return _save(
        actor=actor,
        monolith=plan.monolith,
        snapshot=plan.snapshot,
        inputs=_inputs(plan),
        result=edit.result,
        based_on=plan,
        moves={**plan.moves, **edit.moves},
        note=note.strip() or edit.note,
        edit=edit.kind,
    )


def _edit_target(actor, plan_id: int) -> MigrationPlan:
    _require_admin(actor)
    return MigrationPlan.objects.select_related("monolith", "snapshot").get(pk=plan_id)


def move_application(
    *, actor, plan_id: int, application: str, to_cluster: str, note: str = ""
) -> MigrationPlan:
    """An admin moves an application to another planned cluster: the next version, based on this one."""
    plan = _edit_target(actor, plan_id)
    edit = check_move(plan, application=application, to_cluster=to_cluster)
    return _save_edit(actor=actor, plan=plan, edit=edit, note=note)


def split_cluster(
    *, actor, plan_id: int, cluster: str, applications: list[str], note: str = ""
) -> MigrationPlan:
    """An admin takes some applications off a planned cluster onto a new one: the next version."""
    plan = _edit_target(actor, plan_id)
    edit = check_split(plan, cluster=cluster, applications=applications)
    return _save_edit(actor=actor, plan=plan, edit=edit, note=note)


def merge_clusters(*, actor, plan_id: int, cluster: str, into: str, note: str = "") -> MigrationPlan:
    """An admin merges one planned cluster into another of the same constraint group: the next version."""
    plan = _edit_target(actor, plan_id)
    edit = check_merge(plan, cluster=cluster, into=into)
    return _save_edit(actor=actor, plan=plan, edit=edit, note=note)


def accept_plan(*, actor, plan_id: int) -> MigrationPlan:
    """Draft -> accepted (compare-and-set); a previously accepted version of the monolith is superseded. Not a
    version computed before one of its applications was taken over: it places it with its previous owner."""
    _require_admin(actor)
    plan = MigrationPlan.objects.select_related("monolith").get(pk=plan_id)
    if plan.result.get("unplaceable"):
        raise ValidationError("Applications that fit no cluster must be split or the headroom raised first.")
    if stale := takeover.taken_over_since(plan):
        raise ValidationError(
            f"Version {plan.version} was computed before "
            + "; ".join(taken.sentence for taken in stale.values())
            + ": it places them with their previous owners. Compute a new version."
        )
    Status, move = MigrationPlan.Status, partial(events.move, plan.monolith, actor=actor)
    # The monolith's lock orders acceptances; superseding first keeps the log's order (superseded, then
    # accepted), and a refused acceptance takes it back with the transaction.
    with transaction.atomic():
        Monolith.objects.select_for_update().get(pk=plan.monolith_id)
        previous = MigrationPlan.objects.filter(monolith=plan.monolith, status=Status.ACCEPTED).exclude(
            pk=plan.pk
        )
        for old in previous:
            move(old, "plan.superseded", from_status=Status.ACCEPTED, to_status=Status.SUPERSEDED)
        if not move(plan, "plan.accepted", from_status=Status.DRAFT, to_status=Status.ACCEPTED):
            plan.refresh_from_db()
            raise ValidationError(
                f"Version {plan.version} is {plan.get_status_display().lower()}, not a draft."
            )
    plan.refresh_from_db()
    return plan


# --- Comparing versions -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanComparison:
    older: MigrationPlan
    newer: MigrationPlan
    clusters: tuple[int, int]
    monthly_usd: tuple[str, str]
    moved: list[str]  # sentences
    teams: list[tuple[str, str, str]]  # team, older, newer
    added: list[str] = field(default_factory=list)  # clusters only the newer version has
    removed: list[str] = field(default_factory=list)  # clusters only the older version has


def compare_plans(older: MigrationPlan, newer: MigrationPlan) -> PlanComparison:
    def where(plan):
        return {
            (cluster["side"], name): cluster["name"]
            for cluster in plan.result["clusters"]
            for name in cluster["applications"]
        }

    def names(plan):
        return [cluster["name"] for cluster in plan.result["clusters"]]

    before, after = where(older), where(newer)
    moved = [
        f"{name}{f' ({side})' if side else ''}: {before.get((side, name), 'not placed')} → {after.get((side, name), 'not placed')}"
        for side, name in sorted(set(before) | set(after))
        if before.get((side, name)) != after.get((side, name))
    ]
    old_teams = {row["team"]: row["after_usd"] for row in older.result["teams"]}
    new_teams = {row["team"]: row["after_usd"] for row in newer.result["teams"]}
    teams = [
        (team, usd(old_teams.get(team)), usd(new_teams.get(team)))
        for team in sorted(set(old_teams) | set(new_teams))
        if old_teams.get(team) != new_teams.get(team)
    ]
    return PlanComparison(
        older=older,
        newer=newer,
        clusters=(len(older.result["clusters"]), len(newer.result["clusters"])),
        monthly_usd=(usd(older.result["total_usd"]), usd(newer.result["total_usd"])),
        moved=moved,
        teams=teams,
        added=sorted(set(names(newer)) - set(names(older))),
        removed=sorted(set(names(older)) - set(names(newer))),
    )
