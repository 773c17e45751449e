"""Random but realistic monolith inventories for the packing planner (tests and bench/packing.py).

Shaped after what a shared company cluster holds: most applications small, a heavy tail of big ones
(log-normal peaks), partition counts from the usual round choices (some too few for their peak, so the
per-partition check has work), a few compacted topics, egress a small multiple of ingress (one to five
consumer groups), means at 20-60 % of the peaks, and PII and time-sensitive applications in the minority.
"""

from __future__ import annotations

import random
from dataclasses import replace
from decimal import Decimal

from clusters.migration.packing import ApplicationDemand, PackingOptions, TopicDemand

PARTITION_CHOICES = (1, 3, 6, 6, 12, 12, 24, 32, 50)


def _mbps(value: float) -> Decimal:
    return Decimal(str(round(value, 3)))


def realistic_applications(
    count: int, *, seed: int, teams: int = 12, prefix: str = "app"
) -> list[ApplicationDemand]:
    rng = random.Random(seed)
    applications = []
    for number in range(count):
        topics = []
        readers_total = 0
        for topic_number in range(min(1 + int(rng.expovariate(1 / 2.0)), 12)):
            peak_in = min(rng.lognormvariate(-0.7, 1.3), 40.0)
            mean_share = rng.uniform(0.2, 0.6)  # the month's mean against the peak
            readers = rng.randint(1, 5)
            readers_total = max(readers_total, readers)
            compacted = rng.random() < 0.08
            partitions = rng.choice((1, 3, 6, 12)) if compacted else rng.choice(PARTITION_CHOICES)
            topics.append(
                TopicDemand(
                    name=f"{prefix}{number}.t{topic_number}",
                    partitions=partitions,
                    peak_in_mbps=_mbps(peak_in),
                    peak_out_mbps=_mbps(peak_in * readers),
                    compacted=compacted,
                    retention_ms=rng.choice((86_400_000, 259_200_000, 604_800_000, -1)),
                    mean_in_mbps=_mbps(peak_in * mean_share),
                    mean_out_mbps=_mbps(peak_in * mean_share * readers),
                )
            )
        applications.append(
            ApplicationDemand(
                name=f"{prefix}{number:05d}",
                team=f"team{rng.randrange(teams):02d}",
                topics=tuple(topics),
                client_connections=rng.randint(2, 40) * len(topics),
                consumer_groups=readers_total + rng.randint(0, 3),
                time_sensitive=rng.random() < 0.3,
                contains_pii=rng.random() < 0.2,
                tolerates_duplicates=rng.random() < 0.85,
            )
        )
    return applications


def uniform_applications(
    count: int, *, seed: int, budget: tuple[int, ...], largest: float, prefix: str = "u"
) -> list[ApplicationDemand]:
    """A harsh family: each quota's demand drawn independently and uniformly between 1 % and `largest` of
    a cluster's budget (`packing.budget_vector`: kB/s, then counts). No real inventory looks like this;
    it shows where the volume bound stops being reachable."""
    rng = random.Random(seed)
    ingress, egress, partitions, compacted, connections, groups = budget

    def draw(limit: int) -> float:
        return rng.uniform(0.01, largest) * limit

    applications = []
    for number in range(count):
        compacted_partitions = int(draw(compacted))
        topics = [
            TopicDemand(
                f"{prefix}{number}.data",
                max(1, int(draw(partitions)) - compacted_partitions),
                _mbps(draw(ingress) / 1000),
                _mbps(draw(egress) / 1000),
            )
        ]
        if compacted_partitions:
            topics.append(
                TopicDemand(f"{prefix}{number}.state", compacted_partitions, Decimal(0), Decimal(0), True)
            )
        applications.append(
            ApplicationDemand(
                name=f"{prefix}{number:05d}",
                team="team",
                topics=tuple(topics),
                client_connections=int(draw(connections)),
                consumer_groups=int(draw(groups)),
            )
        )
    return applications


def contract_instances(count: int = 100):
    """Issue 13's "100 random instances": (seed, applications, options), each with its own size (20-600
    applications), number of teams, headroom, strategy options and replication reservation. Where teams are
    kept apart (the segregated strategy), about half the teams have an account of their own whose clusters
    another tool feeds, with that tool's reservation (a team account's MirrorMaker 2 beside the platform's
    MSK Replicator, or the other way round)."""
    for seed in range(count):
        rng = random.Random(seed)
        applications = realistic_applications(rng.randint(20, 600), seed=seed, teams=rng.randint(1, 15))
        options = PackingOptions(
            headroom_percent=rng.choice([60, 70, 70, 80]),
            separate_latency_classes=rng.random() < 0.5,
            separate_teams=rng.random() < 0.3,
            reserved_compacted_partitions=rng.choice([0, 31, 83]),
        )
        if options.separate_teams:
            accounts = random.Random(f"accounts-{seed}")  # its own draws: the instance above stays as it was
            own = {
                team: f"acct-{team}"
                for team in sorted({application.team for application in applications})
                if accounts.random() < 0.5
            }
            applications = [replace(a, account=own.get(a.team, "")) for a in applications]
            other = 31 if options.reserved_compacted_partitions == 83 else 83
            options = replace(options, reserved_by_account=dict.fromkeys(own.values(), other))
        yield seed, applications, options
