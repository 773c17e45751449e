"""A simulated MSK for `make run` and tests: no AWS account, same provisioning code.

State lives in the database (LocalMsk* tables) so the web server, workers and beat see one MSK.
Clusters are CREATING for LOCAL_MSK_CREATE_SECONDS, then ACTIVE; they get real-format ARNs
(`cluster/<name>/<uuid>-s1`) and plausible SASL/IAM bootstrap strings.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from clusters.providers.base import (
    AccountRef,
    ClusterEndpoint,
    ClusterSpec,
    ClusterState,
    GrantSpec,
    GroupTopic,
    MetricPoint,
    MetricSeries,
    NameConflict,
    NotFound,
    ProviderError,
    ReplicatorSpec,
    ReplicatorState,
    TopicDayBytes,
    TopicSpec,
    role_name_from_principal_arn,
)
from clusters.providers.local.models import LocalMskCluster, LocalMskGrant, LocalMskReplicator, LocalMskTopic


def _state(row: LocalMskCluster) -> str:
    delay = timedelta(seconds=settings.LOCAL_MSK_CREATE_SECONDS)
    if row.deleted_at is not None:
        return "DELETING"
    return "ACTIVE" if timezone.now() >= row.created_at + delay else "CREATING"


def _visible(account: AccountRef):
    """Live clusters, plus deleted ones still DELETING for the simulated delay."""
    gone_before = timezone.now() - timedelta(seconds=settings.LOCAL_MSK_CREATE_SECONDS)
    return LocalMskCluster.objects.filter(account_id=account.account_id, region=account.region).exclude(
        deleted_at__lt=gone_before
    )


def _as_state(row: LocalMskCluster) -> ClusterState:
    return ClusterState(name=row.name, arn=row.arn, state=_state(row), tags=row.tags)


class LocalProvider:
    def create_cluster(self, account: AccountRef, spec: ClusterSpec) -> ClusterState:
        arn = f"arn:aws:kafka:{account.region}:{account.account_id}:cluster/{spec.name}/{uuid.uuid4()}-s1"
        try:
            with transaction.atomic():
                row = LocalMskCluster.objects.create(
                    account_id=account.account_id,
                    region=account.region,
                    name=spec.name,
                    arn=arn,
                    tags=dict(spec.tags),
                )
        except IntegrityError as exc:
            raise NameConflict(f"A cluster named {spec.name} already exists.") from exc
        return _as_state(row)

    def find_cluster(self, account: AccountRef, name: str) -> ClusterState | None:
        row = _visible(account).filter(name=name, deleted_at__isnull=True).first()
        return _as_state(row) if row else None

    def list_clusters(self, account: AccountRef) -> list[ClusterState]:
        return [_as_state(row) for row in _visible(account).order_by("name")]

    def bootstrap_brokers(self, account: AccountRef, arn: str) -> str:
        row = LocalMskCluster.objects.filter(arn=arn, deleted_at__isnull=True).first()
        if row is None:
            raise NotFound(f"No cluster {arn}.")
        if _state(row) != "ACTIVE":
            raise ProviderError(f"{row.name} is not active yet.")
        return f"boot-{row.name}.c1.kafka-serverless.{account.region}.amazonaws.com:9098"

    def delete_cluster(self, account: AccountRef, arn: str) -> None:
        LocalMskCluster.objects.filter(arn=arn, deleted_at__isnull=True).update(deleted_at=timezone.now())
        LocalMskTopic.objects.filter(cluster_arn=arn).delete()

    def tag_cluster(self, account: AccountRef, arn: str, tags: dict[str, str]) -> None:
        row = LocalMskCluster.objects.filter(arn=arn, deleted_at__isnull=True).first()
        if row is None:
            raise NotFound(f"No cluster {arn}.")
        row.tags = {**row.tags, **tags}
        row.save(update_fields=["tags"])

    def _require_active(self, endpoint: ClusterEndpoint) -> None:
        row = LocalMskCluster.objects.filter(arn=endpoint.arn, deleted_at__isnull=True).first()
        if row is None or _state(row) != "ACTIVE":
            raise ProviderError(f"Cannot reach the brokers of {endpoint.arn}: the cluster is not active.")

    def ensure_topic(self, endpoint: ClusterEndpoint, spec: TopicSpec) -> None:
        self._require_active(endpoint)
        topic, created = LocalMskTopic.objects.get_or_create(
            cluster_arn=endpoint.arn,
            name=spec.name,
            defaults={"partitions": spec.partitions, "configs": dict(spec.configs)},
        )
        if not created and (topic.partitions != spec.partitions or topic.configs != dict(spec.configs)):
            raise ProviderError(f"Topic {spec.name} exists with different settings.")

    def update_topic(self, endpoint: ClusterEndpoint, spec: TopicSpec) -> None:
        self._require_active(endpoint)
        topic = LocalMskTopic.objects.filter(cluster_arn=endpoint.arn, name=spec.name).first()
        if topic is None:
            raise NotFound(f"Topic {spec.name} does not exist.")
        if spec.partitions < topic.partitions:
            raise ProviderError("Kafka cannot remove partitions.")
        topic.partitions = spec.partitions
        topic.configs = {**topic.configs, **spec.configs}
        topic.save(update_fields=["partitions", "configs"])

    def delete_topic(self, endpoint: ClusterEndpoint, name: str) -> None:
        LocalMskTopic.objects.filter(cluster_arn=endpoint.arn, name=name).delete()

    def create_replicator(self, account: AccountRef, spec: ReplicatorSpec) -> ReplicatorState:
        for arn in (spec.source_arn, spec.target_arn):
            row = LocalMskCluster.objects.filter(arn=arn, deleted_at__isnull=True).first()
            if row is None or _state(row) != "ACTIVE":
                raise ProviderError(f"Replication needs both clusters active; {arn} is not.")
        arn = f"arn:aws:kafka:{account.region}:{account.account_id}:replicator/{spec.name}/{uuid.uuid4()}"
        try:
            with transaction.atomic():
                row = LocalMskReplicator.objects.create(
                    name=spec.name,
                    arn=arn,
                    source_arn=spec.source_arn,
                    target_arn=spec.target_arn,
                    topics=list(spec.topics),
                )
        except IntegrityError as exc:
            raise NameConflict(f"A replicator named {spec.name} already exists.") from exc
        return self._replicator_state(row)

    def _replicator_state(self, row: LocalMskReplicator) -> ReplicatorState:
        delay = timedelta(seconds=settings.LOCAL_MSK_CREATE_SECONDS)
        state = "RUNNING" if timezone.now() >= row.created_at + delay else "CREATING"
        return ReplicatorState(name=row.name, arn=row.arn, state=state)

    def find_replicator(self, account: AccountRef, name: str) -> ReplicatorState | None:
        row = LocalMskReplicator.objects.filter(name=name).first()
        return self._replicator_state(row) if row else None

    def delete_replicator(self, account: AccountRef, arn: str) -> None:
        LocalMskReplicator.objects.filter(arn=arn).delete()

    def apply_grant(self, account: AccountRef, grant: GrantSpec) -> None:
        role_name_from_principal_arn(account, grant.principal_arn)  # AWS refuses roles of other accounts
        LocalMskGrant.objects.update_or_create(
            principal_arn=grant.principal_arn,
            policy_name=grant.policy_name,
            defaults={"account_id": account.account_id, "document": grant.policy_document},
        )

    def remove_grant(self, account: AccountRef, grant: GrantSpec) -> None:
        role_name_from_principal_arn(account, grant.principal_arn)
        LocalMskGrant.objects.filter(
            principal_arn=grant.principal_arn, policy_name=grant.policy_name
        ).delete()

    # --- usage metrics: simulated producers and consumers ---
    def daily_topic_bytes(
        self, account: AccountRef, topics: Sequence[tuple[str, str]], start: date, end: date
    ) -> Iterator[TopicDayBytes]:
        """Plausible, repeatable traffic: the rates the team declared for the topic (else 0.1 MB/s per
        partition in, 1.5× that out), used at 15-45 % on weekdays and half that at weekends, on the days
        the topic existed. A read cluster's replicated topic takes in exactly what its source topic took in
        and is read at half the source's rate. Same shape as CloudWatch: one value per topic, day, metric."""
        from clusters.models import Replicator, Topic  # the simulated producers follow what teams declared

        wanted = set(topics)
        here = {"cluster__account__account_id": account.account_id, "cluster__region": account.region}
        names = {"cluster__name__in": {cluster for cluster, _ in wanted}}
        for topic in (
            Topic.objects.filter(**here, **names, name__in={topic for _, topic in wanted})
            .select_related("cluster")
            .prefetch_related("partition_changes")
        ):
            if (topic.cluster.name, topic.name) in wanted:
                yield from _simulated(account, topic, topic.cluster.name, start, end, out_share=Decimal(1))
        for replicator in Replicator.objects.filter(
            read_cluster__account__account_id=account.account_id,
            read_cluster__region=account.region,
            read_cluster__name__in=names["cluster__name__in"],
        ).select_related("read_cluster", "source_cluster"):
            read_cluster = replicator.read_cluster
            if read_cluster.active_since is None:
                continue
            # Replicated data exists on the read cluster only while it does.
            read_start = max(start, read_cluster.active_since.astimezone(UTC).date())
            read_end = end
            if read_cluster.deleted_at is not None:
                read_end = min(end, read_cluster.deleted_at.astimezone(UTC).date() + timedelta(days=1))
            replicated = [name for name in replicator.topics if (read_cluster.name, name) in wanted]
            for source in (
                Topic.objects.filter(cluster=replicator.source_cluster, name__in=replicated)
                .select_related("cluster")
                .prefetch_related("partition_changes")
            ):
                yield from _simulated(
                    account, source, read_cluster.name, read_start, read_end, out_share=Decimal("0.5")
                )

    # --- observability: the same series CloudWatch has, from what teams declared ---
    def consumer_groups(self, account: AccountRef, cluster_names: Sequence[str]) -> list[GroupTopic]:
        """One simulated consumer group per live topic, named `<topic>-reader`."""
        from clusters.models import Topic

        topics = Topic.objects.filter(
            cluster__account__account_id=account.account_id,
            cluster__region=account.region,
            cluster__name__in=list(cluster_names),
            status=Topic.Status.ACTIVE,
        ).values_list("cluster__name", "name")
        return [GroupTopic(cluster, f"{topic}{SIMULATED_GROUP_SUFFIX}", topic) for cluster, topic in topics]

    def metric_points(
        self, account: AccountRef, series: Sequence[MetricSeries], start: datetime, end: datetime, period: int
    ) -> Iterator[MetricPoint]:
        """Producers write the declared in-rate (else 0.1 MB/s per partition) and the reader group reads the
        declared out-rate, both ±10 % over the day. A reader slower than its producers falls behind: its lag
        grows from midnight UTC (a nightly catch-up job clears it) — the demo's lagging consumer."""
        from clusters.models import Topic

        rates = {
            (cluster, name): (float(rate_in or Decimal("0.1") * partitions), float(rate_out or 0), partitions)
            for cluster, name, partitions, rate_in, rate_out in Topic.objects.filter(
                cluster__account__account_id=account.account_id,
                cluster__region=account.region,
                cluster__name__in={item.cluster_name for item in series},
                status=Topic.Status.ACTIVE,
            ).values_list("cluster__name", "name", "partitions", "expected_in_mbps", "expected_out_mbps")
        }
        first = datetime.fromtimestamp(math.ceil(start.timestamp() / period) * period, tz=UTC)
        for item in series:
            if (item.cluster_name, item.topic) not in rates:
                continue
            declared_in, declared_out, partitions = rates[(item.cluster_name, item.topic)]
            at = first
            while at < end:
                value = _simulated_value(item, at, declared_in, declared_out or declared_in, partitions)
                yield MetricPoint(item, at, value)
                at += timedelta(seconds=period)

    def cluster_costs(self, account: AccountRef, start: date, end: date) -> None:
        """A simulated MSK sends no bill: there is nothing to reconcile against."""
        return None


def _simulated(account, topic, cluster_name: str, start: date, end: date, *, out_share: Decimal):
    """Daily bytes for `topic`'s traffic as seen on `cluster_name`, on the days the topic existed."""
    changes = list(topic.partition_changes.all())
    if not changes:
        return
    first, last = changes[0], changes[-1]
    partitions = max(change.partitions for change in changes)
    rate_in = topic.expected_in_mbps or Decimal("0.1") * partitions
    rate_out = (topic.expected_out_mbps or rate_in * Decimal("1.5")) * out_share
    day = max(start, first.changed_at.astimezone(UTC).date())
    until = (
        min(end, last.changed_at.astimezone(UTC).date() + timedelta(days=1)) if last.partitions == 0 else end
    )
    while day < until:
        for metric, rate in (("bytes_in", rate_in), ("bytes_out", rate_out)):
            # Keyed by the source topic: a replica takes in exactly what its source took in.
            busy = _utilisation(account.account_id, topic.cluster.name, topic.name, day, metric)
            yield TopicDayBytes(cluster_name, topic.name, day, metric, int(rate * busy * 86_400 * 1_000_000))
        day += timedelta(days=1)


def _utilisation(account_id: str, cluster: str, topic: str, day: date, metric: str) -> Decimal:
    """15-45 % of the declared rate, stable for a (topic, day, metric); half of that at weekends."""
    key = "|".join((account_id, cluster, topic, day.isoformat(), metric))
    share = Decimal(15 + hashlib.sha256(key.encode()).digest()[0] * 30 // 255) / 100
    return share / 2 if day.weekday() >= 5 else share


SIMULATED_GROUP_SUFFIX = "-reader"
SIMULATED_MESSAGE_BYTES = 1024
MB = 1_000_000


def _simulated_value(
    series: MetricSeries, at: datetime, declared_in: float, declared_out: float, partitions: int
) -> float:
    """One simulated point: rates in bytes (messages) per second, lags in messages and seconds."""
    day_share = (at.hour * 3600 + at.minute * 60 + at.second) / 86_400
    swing = 1 + 0.1 * math.sin(2 * math.pi * day_share)  # ±10 % over the day, highest at 06:00 UTC
    rate_in, rate_out = declared_in * MB * swing, declared_out * MB * swing
    if series.metric == "BytesInPerSec":
        return rate_in
    if series.metric == "BytesOutPerSec":
        return rate_out
    if series.metric == "MessagesInPerSec":
        return rate_in / SIMULATED_MESSAGE_BYTES
    behind_bytes = max(rate_in - rate_out, 0) * day_share * 86_400 + rate_in * 2  # 2 s behind when keeping up
    if series.metric == "EstimatedMaxTimeLag":
        return behind_bytes / rate_in if rate_in else 0.0
    behind_messages = behind_bytes / SIMULATED_MESSAGE_BYTES
    return behind_messages if series.metric == "SumOffsetLag" else behind_messages / max(partitions, 1)
