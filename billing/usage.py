"""Collecting per-topic traffic (bytes in/out per UTC day) from the MSK provider into TopicDailyUsage.

One metrics read per AWS account and region (batched by the provider: CloudWatch takes 500 queries a
call), for the topics the inventory says existed in the window. Writing is an upsert on
(cluster, topic, day, metric), so collecting a day twice — the daily beat run, then again at month close —
changes nothing but late-arriving numbers. No database transaction is held while the provider is called.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.utils import timezone

from billing.inventory import clusters_alive, topics_alive
from billing.models import TopicDailyUsage
from clusters.models import Cluster, Replicator
from clusters.providers import account_ref, get_provider
from clusters.providers.base import ProviderError

logger = logging.getLogger(__name__)
WRITE_BATCH = 5000


@dataclass
class CollectionResult:
    rows: int = 0
    accounts: int = 0
    topics: int = 0
    failures: list[str] = field(default_factory=list)
    transient: bool = False


def _as_datetime(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def _metric_targets(start: dt.datetime, end: dt.datetime) -> dict[tuple, list[tuple[Cluster, str]]]:
    """(account, region) → [(cluster, topic name)]: inventory topics, plus each read cluster's replicated
    topics (the replicator creates them there under the same names)."""
    clusters = {cluster.pk: cluster for cluster in clusters_alive(start, end).select_related("account")}
    targets: dict[tuple, list[tuple[Cluster, str]]] = {}
    for cluster_id, name in topics_alive(list(clusters), start, end).values_list("cluster_id", "name"):
        cluster = clusters[cluster_id]
        targets.setdefault((cluster.account_id, cluster.region), []).append((cluster, name))
    for replicator in Replicator.objects.filter(read_cluster_id__in=list(clusters)):
        cluster = clusters[replicator.read_cluster_id]
        targets.setdefault((cluster.account_id, cluster.region), []).extend(
            (cluster, name) for name in replicator.topics
        )
    return targets


def collect_usage(start: dt.date, end: dt.date) -> CollectionResult:
    """Collect bytes in/out for every topic alive in [start, end) (UTC days; `end` exclusive)."""
    result = CollectionResult()
    provider = get_provider()
    for group in _metric_targets(_as_datetime(start), _as_datetime(end)).values():
        cluster_by_name: dict[str, list[Cluster]] = {}
        for cluster, _ in group:
            cluster_by_name.setdefault(cluster.name, [])
            if cluster not in cluster_by_name[cluster.name]:
                cluster_by_name[cluster.name].append(cluster)
        account = account_ref(group[0][0])
        result.accounts += 1
        result.topics += len(group)
        pending: dict[tuple, TopicDailyUsage] = {}
        try:
            for value in provider.daily_topic_bytes(
                account, [(cluster.name, topic) for cluster, topic in group], start, end
            ):
                cluster = _cluster_on(cluster_by_name.get(value.cluster_name, []), value.day)
                if cluster is None:
                    continue
                key = (cluster.pk, value.topic, value.day, value.metric)
                pending[key] = TopicDailyUsage(
                    cluster=cluster,
                    topic_name=value.topic,
                    day=value.day,
                    metric=value.metric,
                    bytes=max(0, value.bytes),
                    collected_at=timezone.now(),
                )
                if len(pending) >= WRITE_BATCH:
                    result.rows += _upsert(pending)
        except ProviderError as exc:
            # One account's trouble never blocks the others; what was read is kept (the upsert is idempotent).
            logger.warning("usage collection in %s/%s: %s", account.account_id, account.region, exc)
            result.failures.append(exc.message)
            result.transient = result.transient or exc.transient
        result.rows += _upsert(pending)
    return result


def _cluster_on(candidates: list[Cluster], day: dt.date) -> Cluster | None:
    """CloudWatch knows clusters by name; a deleted cluster's name may be reused: pick the one alive."""
    for cluster in candidates:
        alive_from = cluster.active_since.date() if cluster.active_since else dt.date.max
        alive_until = cluster.deleted_at.date() if cluster.deleted_at else dt.date.max
        if alive_from <= day <= alive_until:
            return cluster
    return candidates[0] if candidates else None


def _upsert(pending: dict[tuple, TopicDailyUsage]) -> int:
    rows = list(pending.values())
    pending.clear()
    if rows:
        TopicDailyUsage.objects.bulk_create(
            rows,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["cluster", "topic_name", "day", "metric"],
            update_fields=["bytes", "collected_at"],
        )
    return len(rows)
