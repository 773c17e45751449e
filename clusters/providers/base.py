"""What provisioning needs from MSK, whichever implementation serves it.

Implementations translate their outside systems' errors into `ProviderError` subclasses; `transient`
says whether retrying later can help (throttling, 5xx, timeouts) or not (access denied, bad input).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol


class ProviderError(Exception):
    transient = False

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class TransientError(ProviderError):
    """Throttling, 5xx, timeouts, a broker not reachable yet: retry with backoff."""

    transient = True


class AccessDenied(ProviderError):
    """The assumed role (or the portal's own) may not do this: fails the step with a readable reason."""


class NameConflict(ProviderError):
    """A cluster with this name already exists: look it up by name and adopt it."""


class NotFound(ProviderError):
    pass


@dataclass(frozen=True)
class AccountRef:
    """Where a call goes: an AWS account (through the role the portal assumes there) and a region."""

    account_id: str
    region: str
    role_arn: str
    external_id: str = ""


def role_name_from_principal_arn(account: AccountRef, principal_arn: str) -> str:
    """The role name in `arn:aws:iam::<acct>:role[/path]/<name>` or `arn:aws:sts::<acct>:assumed-role/<name>/…`.

    Only roles of the account itself can carry the portal's inline policies: the portal works there through
    the role it assumes, and reaches no other account's roles. Both providers ask this first, so the local
    one refuses exactly what AWS would.
    """
    parts = principal_arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] not in ("iam", "sts"):
        raise ProviderError(f"{principal_arn} is not an IAM role ARN.")
    principal_account, resource = parts[4], parts[5]
    if principal_account != account.account_id:
        raise ProviderError(
            f"{principal_arn} belongs to account {principal_account}, not {account.account_id}: "
            "the portal can only attach policies to roles in the cluster's account."
        )
    kind, _, rest = resource.partition("/")
    if parts[2] == "iam" and kind == "role" and rest:
        return rest.rsplit("/", 1)[-1]
    if parts[2] == "sts" and kind == "assumed-role" and rest:
        return rest.split("/", 1)[0]
    raise ProviderError(f"{principal_arn} is not an IAM role ARN.")


@dataclass(frozen=True)
class ClusterSpec:
    name: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ClusterState:
    """A cluster as MSK reports it. `state` uses MSK's words: CREATING, ACTIVE, FAILED, DELETING, …"""

    name: str
    arn: str
    state: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    configs: dict[str, str]


@dataclass(frozen=True)
class ClusterEndpoint:
    """How to reach a cluster's brokers for topic administration."""

    account: AccountRef
    arn: str
    bootstrap_brokers: str


@dataclass(frozen=True)
class GrantSpec:
    principal_arn: str
    policy_name: str
    policy_document: dict


@dataclass(frozen=True)
class ReplicatorSpec:
    name: str
    source_arn: str
    target_arn: str
    topics: tuple[str, ...]
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    service_execution_role_arn: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ReplicatorState:
    """`state` uses MSK's words: CREATING, RUNNING, UPDATING, DELETING, FAILED."""

    name: str
    arn: str
    state: str


@dataclass(frozen=True, slots=True)
class TopicDayBytes:
    """Bytes one topic took in (`bytes_in`) or served (`bytes_out`) on one UTC day."""

    cluster_name: str
    topic: str
    day: date
    metric: str
    bytes: int


@dataclass(frozen=True, slots=True)
class MetricSeries:
    """One `AWS/Kafka` series: a topic metric (BytesInPerSec, …) or, with `consumer_group`, a group's lag
    metric on a topic (MaxOffsetLag, SumOffsetLag, EstimatedMaxTimeLag)."""

    cluster_name: str
    topic: str
    metric: str
    consumer_group: str = ""


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """A series' value for [at, at + period): a per-second average for the *PerSec metrics, the maximum
    over the period for the lag metrics (offsets; seconds for EstimatedMaxTimeLag)."""

    series: MetricSeries
    at: datetime
    value: float


@dataclass(frozen=True, slots=True)
class GroupTopic:
    """A consumer group that reports lag on a topic of a cluster."""

    cluster_name: str
    consumer_group: str
    topic: str


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

    # --- observability (CloudWatch AWS/Kafka, recent points) ---
    def consumer_groups(self, account: AccountRef, cluster_names: Sequence[str]) -> list[GroupTopic]:
        """Consumer group × topic pairs that report lag on these clusters (each pair once)."""

    def metric_points(
        self, account: AccountRef, series: Sequence[MetricSeries], start: datetime, end: datetime, period: int
    ) -> Iterator[MetricPoint]:
        """Points of each series in [start, end) at `period` seconds; series without data yield nothing."""

    # --- the bill (Cost Explorer) ---
    def cluster_costs(self, account: AccountRef, start: date, end: date) -> dict[int, Decimal] | None:
        """Actual MSK cost per portal cluster id for [start, end), or None where there is no bill."""
