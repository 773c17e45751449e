"""Estimate vs the AWS bill: actual MSK cost per cluster from Cost Explorer (aws provider only), and
optionally scaling shared clusters' allocations to it. Dedicated clusters are never scaled: their team
pays its cluster's bill line as it is, and the estimate stays comparable."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from billing.chargeback import ChargebackError, compute_run
from billing.models import ActualCost, ChargebackRun
from billing.months import next_month
from clusters.models import Cluster
from clusters.providers import account_ref, get_provider
from portal import audit


@dataclass
class FetchResult:
    available: bool = True
    clusters: int = 0
    failures: list[str] = field(default_factory=list)


def fetch_actual_costs(*, run_id: int, actor=None) -> FetchResult:
    """Read each account's MSK bill for the run's month (one Cost Explorer read per account) and store
    the cost of every cluster that has lines in the run. Network calls happen outside transactions."""
    from clusters.providers.base import ProviderError

    run = ChargebackRun.objects.get(pk=run_id)
    cluster_ids = set(run.lines.exclude(cluster=None).values_list("cluster_id", flat=True))
    clusters = Cluster.objects.filter(pk__in=cluster_ids).select_related("account")
    by_account: dict[int, list[Cluster]] = {}
    for cluster in clusters:
        by_account.setdefault(cluster.account_id, []).append(cluster)
    result = FetchResult()
    provider = get_provider()
    for group in by_account.values():
        try:
            costs = provider.cluster_costs(account_ref(group[0]), run.month, next_month(run.month))
        except ProviderError as exc:
            result.failures.append(exc.message)
            continue
        if costs is None:
            result.available = False
            continue
        for cluster in group:
            if cluster.pk in costs:
                ActualCost.objects.update_or_create(
                    run=run,
                    cluster=cluster,
                    defaults={
                        "amount_usd": costs[cluster.pk].quantize(Decimal("0.01")),
                        "fetched_at": timezone.now(),
                    },
                )
                result.clusters += 1
    audit.record(
        "billing.actual_costs.fetched",
        actor=actor,
        obj=run,
        details={"clusters": result.clusters, "failures": result.failures},
    )
    return result


def set_scaling(*, run_id: int, enabled: bool, actor) -> ChargebackRun:
    """Turn scaling of shared clusters to the bill on or off, then recompute (provisional months only)."""
    updated = ChargebackRun.objects.filter(pk=run_id, status=ChargebackRun.Status.PROVISIONAL).update(
        scale_shared_to_actual=enabled
    )
    run = ChargebackRun.objects.get(pk=run_id)
    if not updated:
        raise ChargebackError(f"{run.label} is finalized and cannot change.")
    audit.record(
        "billing.chargeback.scaling", actor=actor, obj=run, details={"scale_shared_to_actual": enabled}
    )
    return compute_run(run.month, actor=actor)
