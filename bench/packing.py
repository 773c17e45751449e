"""Packing applications into MSK Serverless clusters: time, clusters against the lower bounds, quota use.

    .venv/bin/python bench/packing.py [--applications 5000] [--runs 5]

The packer (clusters/migration/packing.py) is pure: no database, no AWS. Django is set up only so that
the quotas come from `PlatformSettings`' defaults, like the portal's. Inventories are the seeded ones of
tests/clusters/migration/instances.py. Figures, all from this run:
1. `plan_packing` time for N realistic applications (issue 13's target: 5,000 in under a second) in two
   strategies: shared clusters with latency classes apart, as MSK Replicator targets (83 compacted
   partitions reserved); segregated per team (40 teams), as MirrorMaker 2-on-Connect targets (31
   reserved). Best and median of `runs`, each on fresh inputs (the inputs cache their vectors). Then
   clusters against the volume bound (issue 13's) and the large-item bound per constraint group, and
   each quota's use across the planned clusters.
2. Issue 13's contract on the test's 100 random realistic instances: instances whose every group is
   within one cluster of the volume bound.
3. A harsh family (each quota 1 % to X % of a cluster's budget, drawn independently), 100 instances of
   20-200 applications for X = 10, 25, 50 %: how often within one of the volume bound and of the best
   bound, and the time for N applications of the 10 % and 25 % families.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from billing.pricing import LIST_PRICES  # noqa: E402
from clusters.migration.packing import QUOTAS, PackingOptions, budget_vector, plan_packing  # noqa: E402
from clusters.migration.quotas import ClusterQuotas, replication_compacted_partitions  # noqa: E402
from clusters.models import PlatformSettings  # noqa: E402
from tests.clusters.migration.instances import (  # noqa: E402
    contract_instances,
    realistic_applications,
    uniform_applications,
)

CLUSTER_QUOTAS = ClusterQuotas.from_settings(PlatformSettings())

STRATEGIES = {
    "shared, latency classes apart, MSK Replicator targets": (
        PackingOptions(
            separate_latency_classes=True,
            reserved_compacted_partitions=replication_compacted_partitions(replicator=True),
        ),
        12,
    ),
    "segregated per team, MirrorMaker 2 on Connect targets": (
        PackingOptions(
            separate_teams=True, reserved_compacted_partitions=replication_compacted_partitions(connect=True)
        ),
        40,
    ),
}


def timed(build, options: PackingOptions, runs: int):
    times = []
    plan = None
    for _ in range(runs):
        applications = build()
        started = time.perf_counter()
        plan = plan_packing(applications, CLUSTER_QUOTAS, options, rates=LIST_PRICES)
        times.append(time.perf_counter() - started)
    return plan, min(times), statistics.median(times)


def print_groups(plan) -> None:
    gaps = Counter(group.clusters - group.volume_bound for group in plan.groups)
    print(
        f"  {len(plan.groups)} constraint groups, {len(plan.clusters)} clusters; clusters − volume bound: "
        + ", ".join(f"+{gap}: {count} groups" for gap, count in sorted(gaps.items()))
    )
    shown = sorted(plan.groups, key=lambda group: (-group.clusters, group.group))[:6]
    print(f"  {'group':<42} {'apps':>5} {'clusters':>8} {'volume':>6} {'large':>5}  method")
    for group in shown:
        print(
            f"  {group.group.label:<42} {group.applications:>5} {group.clusters:>8} {group.volume_bound:>6} "
            f"{group.large_item_bound:>5}  {group.method}"
        )
    if len(plan.groups) > len(shown):
        print(f"  … and {len(plan.groups) - len(shown)} smaller groups")


def print_utilisation(plan) -> None:
    print(f"  {'quota':<22} {'mean % of quota':>16} {'max %':>7} {'budget %':>9}")
    for index, quota in enumerate(QUOTAS):
        loads = [cluster.load[index] for cluster in plan.clusters]
        percents = [load.percent for load in loads]
        budget = loads[0].budget + loads[0].reserved
        share = budget * 100 / loads[0].capacity
        print(
            f"  {quota.label:<22} {statistics.mean(percents):>15.1f}% {max(percents):>6.1f}% {share:>8.1f}%"
        )
    cost = sum((cluster.cost.total for cluster in plan.clusters), Decimal(0))
    print(
        f"  unplaceable: {len(plan.unplaceable)}, topics needing more partitions: {len(plan.partition_warnings)}, "
        f"estimated cost: ${cost:,.2f} a month"
    )


def contract() -> None:
    within = groups = at_bound = 0
    gaps: Counter[int] = Counter()
    for _seed, applications, options in contract_instances(100):
        plan = plan_packing(applications, CLUSTER_QUOTAS, options)
        within += all(group.clusters <= group.volume_bound + 1 for group in plan.groups)
        for group in plan.groups:
            groups += 1
            at_bound += group.clusters == group.lower_bound
            gaps[group.clusters - group.volume_bound] += 1
    print(
        f"  {within}/100 instances have every group within one of the volume bound; {groups} groups: "
        + ", ".join(f"+{gap}: {count}" for gap, count in sorted(gaps.items()))
        + f"; {at_bound} groups at the best lower bound"
    )


def harsh(size: int) -> None:
    options = PackingOptions()
    budget = budget_vector(CLUSTER_QUOTAS, options)
    for largest in (0.10, 0.25, 0.50):
        volume_ok = best_ok = 0
        for seed in range(100):
            count = random.Random(seed).randint(20, 200)
            applications = uniform_applications(count, seed=seed, budget=budget, largest=largest)
            (group,) = plan_packing(applications, CLUSTER_QUOTAS, options).groups
            volume_ok += group.clusters <= group.volume_bound + 1
            best_ok += group.clusters <= group.lower_bound + 1
        line = f"  up to {largest:.0%} of a cluster per quota: within one of the volume bound {volume_ok}/100"
        if largest <= 0.25:
            plan, seconds, _ = timed(
                lambda largest=largest: uniform_applications(size, seed=1, budget=budget, largest=largest),
                options,
                1,
            )
            (group,) = plan.groups
            line += f"; {size} applications: {seconds:.2f} s, {group.clusters} clusters vs bound {group.lower_bound}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applications", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(
        f"Quotas per cluster: {CLUSTER_QUOTAS.ingress_mbps} MB/s in, {CLUSTER_QUOTAS.egress_mbps} MB/s out, "
        f"{CLUSTER_QUOTAS.partitions} partitions ({CLUSTER_QUOTAS.compacted_partitions} compacted), "
        f"{CLUSTER_QUOTAS.client_connections} connections, {CLUSTER_QUOTAS.consumer_groups} consumer groups; "
        "headroom 70 %."
    )
    for number, (name, (options, teams)) in enumerate(STRATEGIES.items(), start=1):
        plan, best, median = timed(
            lambda teams=teams: realistic_applications(args.applications, seed=7, teams=teams),
            options,
            args.runs,
        )
        verdict = "under" if median < 1 else "OVER"
        print(f"\n1.{number} {args.applications} applications, {name}")
        print(
            f"  plan_packing: best {best:.3f} s, median {median:.3f} s of {args.runs} ({verdict} the 1 s target)"
        )
        print_groups(plan)
        print_utilisation(plan)
    print("\n2. Issue 13's contract, 100 random realistic instances (as in the test)")
    contract()
    print("\n3. Harsh family: each quota drawn independently, 100 instances of 20-200 applications")
    harsh(args.applications)


if __name__ == "__main__":
    main()
