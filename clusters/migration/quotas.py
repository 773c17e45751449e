"""What one planned MSK Serverless cluster may carry, as plain numbers the packer can use without Django.

The admin-editable figures (throughput, partitions, compacted partitions, clusters per account and region)
live in `clusters.models.PlatformSettings`; `ClusterQuotas.from_settings` copies them from that row, so
they are read from one place. Client connections and consumer groups are not editable there yet: their
MSK Serverless values are defined here, once. Per-partition throughput limits stay in `clusters.rules`.

Source for every figure: shared/reference/msk-serverless.md §2.1 (current values of the AWS limits page)
and shared/reference/migration.md §5 (packing) and §0.6 (what replication takes on a target).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

# msk-serverless.md §2.1: "Max client connections 3000" (older docs: 1000); excess connections are closed.
MAX_CLIENT_CONNECTIONS = 3000
# msk-serverless.md §2.1: "Max consumer groups 500"; JoinGroup fails above it.
MAX_CONSUMER_GROUPS = 500

# migration.md §0.6 / §5 [A4]: MSK Replicator takes 83 of a Serverless target's 120 compacted partitions.
REPLICATOR_COMPACTED_PARTITIONS = 83
# migration.md §0.6 / §5: Kafka Connect's internal topics are compacted; Kafka's connect-distributed.properties
# defaults are offsets 25, status 5 and config 1 partitions. MirrorMaker 2 on MSK Connect keeps them on the
# cluster the workers attach to, which for a migration is the Serverless target (migration.md §1.4).
CONNECT_INTERNAL_COMPACTED_PARTITIONS = 25 + 5 + 1


@dataclass(frozen=True)
class ClusterQuotas:
    """One Serverless cluster's binding quotas (msk-serverless.md §2.1, current values).

    - ingress 200 MB/s and egress 400 MB/s per cluster (throttled above; the seed says the same);
    - 2,400 partitions, of which at most 120 compacted (INVALID_REQUEST above);
    - 3,000 client connections, 500 consumer groups;
    - 10 Serverless clusters per account and region (older docs: 3). This one is not per cluster: the
      packer reports a plan that needs more, it does not pack against it.
    """

    ingress_mbps: Decimal
    egress_mbps: Decimal
    partitions: int
    compacted_partitions: int
    clusters_per_account_region: int
    client_connections: int = MAX_CLIENT_CONNECTIONS
    consumer_groups: int = MAX_CONSUMER_GROUPS

    def __post_init__(self) -> None:
        for name in ("ingress_mbps", "egress_mbps"):
            object.__setattr__(self, name, Decimal(str(getattr(self, name))))
        for name in (
            "ingress_mbps",
            "egress_mbps",
            "partitions",
            "compacted_partitions",
            "clusters_per_account_region",
            "client_connections",
            "consumer_groups",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"The cluster quota {name} must be positive, not {getattr(self, name)}.")
        if self.compacted_partitions > self.partitions:
            raise ValueError("A cluster cannot allow more compacted partitions than partitions in all.")

    @classmethod
    def from_settings(cls, settings) -> ClusterQuotas:
        """Copy the admin-editable quotas from a `PlatformSettings` row (anything with its attribute names)."""
        return cls(
            ingress_mbps=settings.max_write_mbps,
            egress_mbps=settings.max_read_mbps,
            partitions=settings.max_partitions,
            compacted_partitions=settings.max_compacted_partitions,
            clusters_per_account_region=settings.max_clusters_per_account_region,
        )


def replication_compacted_partitions(*, replicator: bool = False, connect: bool = False) -> int:
    """Compacted partitions the replication tool itself keeps on each target cluster.

    MSK Replicator (an MSK source in the same account) takes 83; MirrorMaker 2 on Kafka Connect keeps
    Connect's 31 internal partitions on the cluster its workers attach to. Pass the result as
    `PackingOptions.reserved_compacted_partitions` (migration.md §1.1 says which tool applies when).
    """
    return (REPLICATOR_COMPACTED_PARTITIONS if replicator else 0) + (
        CONNECT_INTERNAL_COMPACTED_PARTITIONS if connect else 0
    )
