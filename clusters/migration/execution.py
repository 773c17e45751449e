"""Step 4: an accepted plan becomes requests through the portal's normal request flow.

A member of each team files their team's clusters from the plan in one step (`file_cluster_requests`); the
requests are ordinary cluster requests, justified by the plan, and a platform admin other than the filer
approves them in the approval queue (four eyes, quotas and auto-approval rules exactly as for any request).
Filing twice files nothing new: a planned cluster with a request that is waiting or approved is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError

from clusters.migration import events
from clusters.migration.adapters import request_services
from clusters.migration.models import MigrationPlan
from clusters.models import AwsAccount, Cluster, NetworkProfile, Request
from portal import access
from portal.errors import NotAllowed


@dataclass(frozen=True)
class Filed:
    cluster: str
    request: Request | None
    note: str  # why nothing was filed, or ""


def owner_team_slug(cluster: dict, plan: MigrationPlan) -> str:
    """Segregated: the cluster's team. Write/read: the team with the most throughput on it (ties: by name)."""
    if cluster["group"]["team"]:
        return cluster["group"]["team"]
    teams = plan.monolith.applications.filter(name__in=cluster["applications"]).select_related("team")
    weights: dict[str, Decimal] = {}
    for application in teams:
        slug = application.team.slug if application.team else ""
        weights[slug] = (
            weights.get(slug, Decimal(0)) + (application.peak_in_mbps or 0) + (application.peak_out_mbps or 0)
        )
    return min(weights, key=lambda slug: (-weights[slug], slug)) if weights else ""


def _load(cluster: dict, quota: str) -> Decimal:
    return next(Decimal(load["used"]) for load in cluster["load"] if load["quota"] == quota)


def file_cluster_requests(*, actor, plan_id: int, team, environment: str = "prod") -> list[Filed]:
    plan = MigrationPlan.objects.select_related("monolith").get(pk=plan_id)
    if plan.status != MigrationPlan.Status.ACCEPTED:
        raise ValidationError("Only the accepted plan becomes requests.")
    if not access.can_act_for_team(actor, team):
        raise NotAllowed("You can only file requests for teams you are a member of.")
    region = plan.result["region"]
    filed = []
    for cluster in plan.result["clusters"]:
        if owner_team_slug(cluster, plan) != team.slug:
            continue
        if cluster["side"] == "read":
            filed.append(
                Filed(
                    cluster["name"],
                    None,
                    "Read clusters are fed from a live write cluster: file them from the "
                    "cluster request form once the write clusters are active.",
                )
            )
            continue
        existing = Request.objects.filter(
            kind=Request.Kind.CLUSTER_CREATE, payload__name=cluster["name"], payload__region=region
        ).exclude(status__in=[Request.Status.REJECTED, Request.Status.CANCELLED])
        if existing.exists():
            filed.append(Filed(cluster["name"], existing.first(), "already requested"))
            continue
        account = (
            AwsAccount.objects.filter(account_id=cluster["group"]["account"]).first()
            if cluster["group"]["account"]
            else AwsAccount.objects.filter(ownership=AwsAccount.Ownership.PLATFORM).order_by("pk").first()
        )
        profile = (
            NetworkProfile.objects.filter(account=account, region=region).order_by("pk").first()
            if account
            else None
        )
        if profile is None:
            filed.append(
                Filed(
                    cluster["name"],
                    None,
                    f"No network profile of the account in {region}: ask an admin to add one.",
                )
            )
            continue
        latency = cluster["group"]["latency"].replace("-", "_") or Cluster.LatencyClass.INSENSITIVE
        prepared = request_services.prepare_cluster_create(
            actor=actor,
            team=team,
            name=cluster["name"],
            kind=Cluster.Kind.WRITE if cluster["side"] == "write" else Cluster.Kind.DEDICATED,
            environment=environment,
            account=account,
            region=region,
            network_profile=profile,
            expected_write_mbps=_load(cluster, "ingress"),
            expected_read_mbps=_load(cluster, "egress"),
            contains_pii=cluster["group"]["contains_pii"],
            latency_class=latency,
            justification=(
                f"Migration off {plan.monolith.name}, plan v{plan.version} (accepted): "
                f"{', '.join(cluster['applications'])} move here. Planned load at {plan.headroom_percent} % headroom; "
                f"estimated {cluster['monthly_usd']} USD a month."
            ),
        )
        request = request_services.submit_request(actor=actor, prepared=prepared)
        filed.append(Filed(cluster["name"], request, ""))
    new = [item for item in filed if item.request is not None and not item.note]
    if new:
        events.record(
            plan.monolith,
            "plan.requests_filed",
            actor=actor,
            obj=plan,
            team=team,
            details={
                "requests": [item.request.pk for item in new],
                "clusters": [item.cluster for item in new],
            },
        )
    return filed
