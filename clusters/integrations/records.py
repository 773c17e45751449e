"""The values the outside systems are asked for and answer with, in our words: where a call goes
(`AccountRef`), what to create (`ClusterSpec`, `TopicSpec`, `GrantSpec`, `ReplicatorSpec`) and what MSK,
Kafka and CloudWatch report (`ClusterState`, `ReplicatorState`, `TopicDayBytes`, `MetricPoint`,
`GroupTopic`, `ReplicatorTopicLag`, `TopicPeak`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from clusters.integrations.errors import ProviderError


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
    """An MSK Replicator from `source_arn` to `target_arn`. Each cluster is reached through its own VPC
    (subnets and security groups). `topics` and `consumer_groups` are exact names; the adapter turns them
    into the regular expressions CreateReplicator takes. `consumer_groups=None` copies every group (a read
    cluster mirroring its whole write cluster). `starting_position` is EARLIEST or LATEST; empty leaves MSK's
    default (LATEST)."""

    name: str
    source_arn: str
    target_arn: str
    topics: tuple[str, ...]
    source_subnet_ids: tuple[str, ...]
    source_security_group_ids: tuple[str, ...]
    target_subnet_ids: tuple[str, ...]
    target_security_group_ids: tuple[str, ...]
    service_execution_role_arn: str
    consumer_groups: tuple[str, ...] | None = None
    starting_position: str = ""
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ReplicatorState:
    """`state` uses MSK's words: CREATING, RUNNING, UPDATING, DELETING, FAILED."""

    name: str
    arn: str
    state: str
    message: str = ""  # why it failed, when AWS says


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


@dataclass(frozen=True, slots=True)
class ReplicatorTopicLag:
    """What MSK Replicator reports about one topic (CloudWatch `AWS/Kafka`, dimensions ReplicatorName and
    Topic): the newest 1-minute `MessageLag` Sum, i.e. source messages the replicator has not consumed yet
    (not source vs target), and the newest 1-minute `ReplicationLatency` Maximum in milliseconds, each with
    the start of its minute. None: no datapoint in the window read."""

    topic: str
    message_lag: float | None = None
    lag_at: datetime | None = None
    latency_ms: float | None = None
    latency_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TopicPeak:
    """A topic's highest `period`-second average of `BytesInPerSec` and `BytesOutPerSec` (bytes/s, all
    partitions and brokers together) in a window, from CloudWatch: None when CloudWatch lists no such series
    for the topic. `brokers`: how many per-broker series were summed (MSK Provisioned publishes per-topic
    bytes per broker); 0 when the topic's own series was read (MSK Serverless)."""

    topic: str
    peak_in: float | None
    peak_out: float | None
    brokers: int
    period: int
