"""The throughput limits observed traffic is compared with (MSK Serverless, in bytes per second).

Per partition: 5 MB/s in, 10 MB/s out (`clusters.rules`); per cluster: the quotas admins keep in Platform
settings (200 / 400 MB/s by default). MB is 10^6 bytes, as in the request forms and the bill.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from clusters import rules
from clusters.models import PlatformSettings
from clusters.observability.words import MB

PARTITION_IN = rules.MAX_WRITE_MBPS_PER_PARTITION * MB
PARTITION_OUT = rules.MAX_READ_MBPS_PER_PARTITION * MB
TARGET_SHARE = 0.8  # size partitions so the observed peak uses at most 80 % of them


def topic_limits(partitions: int) -> tuple[float, float]:
    """(bytes in, bytes out) per second the topic's partitions take."""
    return partitions * PARTITION_IN, partitions * PARTITION_OUT


def cluster_limits(quotas: PlatformSettings | None = None) -> tuple[float, float]:
    quotas = quotas or PlatformSettings.current()
    return float(quotas.max_write_mbps) * MB, float(quotas.max_read_mbps) * MB


@dataclass(frozen=True)
class PartitionAdvice:
    """How many partitions the observed peak needs, and why, in words a team reads in an alert."""

    current: int
    needed: int
    reasons: tuple[str, ...]

    @property
    def more_needed(self) -> bool:
        return self.needed > self.current


def partition_advice(
    partitions: int, peak_in: float, peak_out: float, *, lagging: bool = False
) -> PartitionAdvice:
    """⌈peak in / (0.8 × 5 MB/s)⌉ and ⌈peak out / (0.8 × 10 MB/s)⌉; a group that falls behind although the
    throughput fits gets twice the partitions (a group reads with at most one consumer per partition)."""
    by_in = math.ceil(peak_in / (TARGET_SHARE * PARTITION_IN)) if peak_in else 0
    by_out = math.ceil(peak_out / (TARGET_SHARE * PARTITION_OUT)) if peak_out else 0
    reasons = [
        f"Peak in {peak_in / MB:,.1f} MB/s ÷ (80 % of 5 MB/s per partition) = {by_in} partition"
        f"{'' if by_in == 1 else 's'}.",
        f"Peak out {peak_out / MB:,.1f} MB/s ÷ (80 % of 10 MB/s per partition) = {by_out} partition"
        f"{'' if by_out == 1 else 's'}.",
    ]
    needed = max(by_in, by_out, partitions)
    if lagging and needed <= partitions:
        needed = partitions * 2
        reasons.append(
            f"A consumer group falls behind: a group reads with at most one consumer per partition, so "
            f"{needed} partitions let it run twice as many consumers."
        )
    return PartitionAdvice(current=partitions, needed=needed, reasons=tuple(reasons))
