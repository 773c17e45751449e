"""What provisioning needs from MSK, whichever implementation serves it.

Implementations translate their outside systems' errors into `ProviderError` subclasses; `transient`
says whether retrying later can help (throttling, 5xx, timeouts) or not (access denied, bad input).
The errors and value types live in `clusters.integrations` (which imports nothing of ours) and are
named here too, so the provider seam reads as one vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Protocol

from clusters.integrations.errors import AccessDenied, NameConflict, NotFound, ProviderError, TransientError
from clusters.integrations.records import (
    AccountRef,
    ClusterEndpoint,
    ClusterSpec,
    ClusterState,
    GrantSpec,
    ReplicatorSpec,
    ReplicatorState,
    TopicDayBytes,
    TopicSpec,
    role_name_from_principal_arn,
)

__all__ = [
    "AccessDenied",
    "AccountRef",
    "ClusterEndpoint",
    "ClusterSpec",
    "ClusterState",
    "GrantSpec",
    "MskProvider",
    "NameConflict",
    "NotFound",
    "ProviderError",
    "ReplicatorSpec",
    "ReplicatorState",
    "TopicDayBytes",
    "TopicSpec",
    "TransientError",
    "role_name_from_principal_arn",
]


class MskProvider(Protocol):
    # --- control plane ---
    def create_cluster(self, account: AccountRef, spec: ClusterSpec) -> ClusterState:
        """Start creating a Serverless cluster; raises NameConflict if the name exists."""

    def find_cluster(self, account: AccountRef, name: str) -> ClusterState | None:
        """The live cluster with exactly this name (MSK's name filter is a prefix match)."""

    def list_clusters(self, account: AccountRef) -> list[ClusterState]:
        """Every Serverless cluster in the account and region (paginated list calls, not one per cluster)."""

    def bootstrap_brokers(self, account: AccountRef, arn: str) -> str:
        """The SASL/IAM bootstrap string of an ACTIVE cluster."""

    def delete_cluster(self, account: AccountRef, arn: str) -> None:
        """Start deleting; deleting a cluster that is already gone is not an error."""

    def tag_cluster(self, account: AccountRef, arn: str, tags: dict[str, str]) -> None:
        """Set these tags on the cluster (others are left alone); NotFound when the cluster is gone."""

    # --- topics (Kafka admin protocol: MSK has no topic API for Serverless) ---
    def ensure_topic(self, endpoint: ClusterEndpoint, spec: TopicSpec) -> None:
        """Create the topic; an existing topic with the same partitions and configs is success."""

    def update_topic(self, endpoint: ClusterEndpoint, spec: TopicSpec) -> None:
        """Raise partitions to spec.partitions and set the configs."""

    def delete_topic(self, endpoint: ClusterEndpoint, name: str) -> None:
        """Delete; a topic that is already gone is not an error."""

    # --- replication (MSK Replicator) ---
    def create_replicator(self, account: AccountRef, spec: ReplicatorSpec) -> ReplicatorState:
        """Start replicating the topics (with consumer-group offset sync) from source to target."""

    def find_replicator(self, account: AccountRef, name: str) -> ReplicatorState | None:
        """The replicator with exactly this name."""

    def delete_replicator(self, account: AccountRef, arn: str) -> None:
        """Delete; one already gone is not an error."""

    # --- access (IAM) ---
    def apply_grant(self, account: AccountRef, grant: GrantSpec) -> None:
        """Attach the policy (idempotent: same name, same document)."""

    def remove_grant(self, account: AccountRef, grant: GrantSpec) -> None:
        """Detach the policy; one already gone is not an error."""

    # --- usage metrics (CloudWatch AWS/Kafka) ---
    def daily_topic_bytes(
        self, account: AccountRef, topics: Sequence[tuple[str, str]], start: date, end: date
    ) -> Iterator[TopicDayBytes]:
        """Bytes in and out per (cluster name, topic) and UTC day in [start, end); days without traffic
        may be missing."""

    # --- the bill (Cost Explorer) ---
    def cluster_costs(self, account: AccountRef, start: date, end: date) -> dict[int, Decimal] | None:
        """Actual MSK cost per portal cluster id for [start, end), or None where there is no bill."""
