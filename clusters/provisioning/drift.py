"""Drift between the inventory and MSK: `detect_drift` (beat, slower than reconcile) records findings
(missing, unknown, retagged clusters); admins adopt an unknown cluster, re-apply the portal's tags, or
mark a missing cluster deleted. Each action resolves its finding by compare-and-set, so of two admins
acting at once one wins.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clusters import rules
from clusters.models import AccessGrant, Cluster, DriftFinding, Environment, ProvisioningEvent
from clusters.providers import account_ref, account_region_ref, get_provider
from clusters.providers.base import AccountRef, ProviderError
from clusters.provisioning.dispatch import dispatch_on_commit
from clusters.provisioning.specs import cluster_spec
from clusters.provisioning.steps import finish_deletion
from clusters.provisioning.transitions import note_attempt
from portal import access, audit
from portal.errors import Conflict, NotAllowed, PortalError

logger = logging.getLogger(__name__)


EXPECTED_TAGS = ("team", "cost-center", "environment")


def detect_drift() -> dict:
    """Compare every account and region that has live clusters with what MSK lists; record findings.

    Runs on its own, slower beat schedule: one paged list per account and region. A finding stays open
    (one per ARN and kind) until the difference is gone, then it is marked resolved.
    """
    provider = get_provider()
    stats = {"list_calls": 0, "opened": 0, "resolved": 0}
    live = Cluster.objects.exclude(
        status__in=[Cluster.Status.DELETED, Cluster.Status.PENDING]
    ).select_related("account", "team")
    groups: dict[tuple, list[Cluster]] = {}
    for cluster in live:
        groups.setdefault((cluster.account_id, cluster.region), []).append(cluster)
    for (account_id, region), clusters in groups.items():
        try:
            listed = {state.arn: state for state in provider.list_clusters(account_ref(clusters[0]))}
        except ProviderError as exc:
            logger.warning("drift: cannot list clusters in account %s/%s: %s", account_id, region, exc)
            continue
        stats["list_calls"] += 1
        found: set[tuple[str, str]] = set()
        known_arns = {cluster.arn for cluster in clusters if cluster.arn}
        for cluster in clusters:
            state = listed.get(cluster.arn) if cluster.arn else None
            if cluster.status == Cluster.Status.ACTIVE and state is None:
                found.add((cluster.arn, "missing"))
                _open_finding(
                    cluster.account,
                    region,
                    cluster,
                    cluster.arn,
                    "missing",
                    f"{cluster.name} is active in the portal but MSK no longer lists it.",
                    stats,
                )
            elif state is not None:
                expected = provisioning_tags(cluster)
                changed = [
                    f"{key} is {state.tags.get(key, 'missing')} in MSK, {expected[key]} in the portal"
                    for key in EXPECTED_TAGS
                    if state.tags.get(key) != expected[key]
                ]
                if changed:
                    found.add((cluster.arn, "retagged"))
                    _open_finding(
                        cluster.account,
                        region,
                        cluster,
                        cluster.arn,
                        "retagged",
                        f"Tag {'; '.join(changed)}.",
                        stats,
                    )
        for arn, state in listed.items():
            if arn not in known_arns and state.state != "DELETING":
                found.add((arn, "unknown"))
                _open_finding(
                    clusters[0].account,
                    region,
                    None,
                    arn,
                    "unknown",
                    f"{state.name} exists in the account but not in the portal.",
                    stats,
                )
        still_open = DriftFinding.objects.filter(
            account_id=account_id, region=region, resolved_at__isnull=True
        )
        for finding in still_open:
            if (finding.arn, finding.kind) not in found:
                DriftFinding.objects.filter(pk=finding.pk).update(resolved_at=timezone.now())
                stats["resolved"] += 1
    return stats


def provisioning_tags(cluster: Cluster) -> dict[str, str]:
    return {key: value for key, value in cluster_spec(cluster).tags.items() if key in EXPECTED_TAGS}


def _open_finding(account, region, cluster, arn, kind, detail, stats) -> None:
    _, created = DriftFinding.objects.get_or_create(
        arn=arn,
        kind=kind,
        resolved_at=None,
        defaults={"account": account, "region": region, "cluster": cluster, "detail": detail},
    )
    if created:
        stats["opened"] += 1
        audit.record(
            "clusters.drift.detected",
            actor=None,
            obj=cluster,
            team=cluster.team if cluster else None,
            details={"arn": arn, "kind": kind, "detail": detail},
        )


ALREADY_RESOLVED = (
    "This drift finding is already resolved (by another admin, or the drift check found it gone)."
)


def _open_finding_for(finding_id: int, kind: str, actor) -> DriftFinding:
    if not access.is_platform_admin(actor):
        raise NotAllowed("Only platform admins act on drift.")
    finding = DriftFinding.objects.select_related("account", "cluster__team").get(pk=finding_id)
    if finding.resolved_at is not None:
        raise Conflict(ALREADY_RESOLVED)
    if finding.kind != kind:
        raise Conflict(f"This action does not apply to a “{finding.get_kind_display()}” finding.")
    return finding


def _resolve(finding: DriftFinding) -> None:
    """Compare-and-set; call inside the action's transaction so a lost race undoes the action too."""
    if not DriftFinding.objects.filter(pk=finding.pk, resolved_at__isnull=True).update(
        resolved_at=timezone.now()
    ):
        raise Conflict(ALREADY_RESOLVED)


def _finding_account(finding: DriftFinding) -> AccountRef:
    return account_region_ref(finding.account, finding.region)


def _listed(finding: DriftFinding):
    """What MSK lists now under the finding's ARN (None when it does not), or a readable error."""
    try:
        listed = get_provider().list_clusters(_finding_account(finding))
    except ProviderError as exc:
        raise PortalError(f"Cannot ask MSK about {finding.arn} now: {exc.message}") from exc
    return next((state for state in listed if state.arn == finding.arn), None)


def adopt_unknown_cluster(*, finding_id: int, actor, team, environment: str, network_profile) -> Cluster:
    """A cluster created outside the portal joins the inventory: ACTIVE, owned by `team`, its ARN and
    bootstrap brokers read from MSK (outside any transaction), tagged with the portal's tags.

    ValidationError for a choice that does not fit (keys: team, environment, network_profile); Conflict
    when the finding is resolved or MSK's cluster cannot be adopted as it is; PortalError for MSK trouble.
    """
    finding = _open_finding_for(finding_id, DriftFinding.Kind.UNKNOWN, actor)
    errors = {}
    if environment not in Environment.values:
        errors["environment"] = "Choose Development, Staging or Production."
    if network_profile.account_id != finding.account_id or network_profile.region != finding.region:
        errors["network_profile"] = (
            f"Choose a network profile of account {finding.account.account_id} in {finding.region}, "
            "where the cluster is."
        )
    if not access.team_may_use_account(team, finding.account):
        errors["team"] = (
            f"Account {finding.account.account_id} belongs to another team; "
            f"{team.name} cannot own clusters in it."
        )
    if errors:
        raise ValidationError(errors)

    state = _listed(finding)
    if state is None:
        raise Conflict(f"MSK no longer lists {finding.arn}: there is nothing to adopt.")
    if state.state != "ACTIVE":
        raise Conflict(f"{state.name} is {state.state} in MSK; it can be adopted once it is ACTIVE.")
    if name_error := rules.cluster_name_error(state.name):
        raise Conflict(f"The portal cannot record this cluster: {name_error}")
    taken = Cluster.objects.filter(account=finding.account, region=finding.region, name=state.name)
    if taken.exclude(status=Cluster.Status.DELETED).exists():
        raise Conflict(f"The portal already has a cluster named {state.name} in this account and region.")
    account = _finding_account(finding)
    try:
        bootstrap = get_provider().bootstrap_brokers(account, finding.arn)
    except ProviderError as exc:
        raise PortalError(f"Cannot read the bootstrap brokers of {state.name}: {exc.message}") from exc

    try:
        with transaction.atomic():
            _resolve(finding)
            cluster = Cluster.objects.create(
                name=state.name,
                team=team,
                kind=Cluster.Kind.DEDICATED,
                environment=environment,
                account=finding.account,
                region=finding.region,
                network_profile=network_profile,
                status=Cluster.Status.ACTIVE,
                arn=finding.arn,
                bootstrap_brokers=bootstrap,
                active_since=timezone.now(),  # the portal charges it from adoption on
            )
            ProvisioningEvent.objects.create(
                cluster=cluster,
                from_status="",
                to_status=Cluster.Status.ACTIVE,
                note=f"adopted by {actor.get_username()}: created outside the portal as {finding.arn}",
            )
            audit.record(
                "clusters.drift.adopted",
                actor=actor,
                obj=cluster,
                team=team,
                details={"arn": finding.arn, "finding": finding.pk, "environment": environment},
            )
    except IntegrityError as exc:  # a twin adoption or a request recorded the same name a moment ago
        raise Conflict(
            f"The portal already has a cluster named {state.name} in this account and region."
        ) from exc
    _tag(cluster, account)
    return cluster


def _tag(cluster: Cluster, account: AccountRef) -> None:
    """The portal's tags on an adopted cluster. A failure is logged, not raised: the cluster is adopted,
    and the drift check flags the tags for an admin to re-apply."""
    try:
        get_provider().tag_cluster(account, cluster.arn, cluster_spec(cluster).tags)
    except ProviderError as exc:
        note_attempt(cluster, f"portal tags not applied: {exc.message}")
        return
    note_attempt(cluster, "portal tags applied")


def reapply_portal_tags(*, finding_id: int, actor) -> Cluster:
    """Tags changed outside the portal: put the portal's tags back on the cluster in MSK."""
    finding = _open_finding_for(finding_id, DriftFinding.Kind.RETAGGED, actor)
    cluster = Cluster.objects.select_related("account", "network_profile", "team").get(pk=finding.cluster_id)
    if cluster.status == Cluster.Status.DELETED or not cluster.arn:
        raise Conflict(f"{cluster.name} is not a live cluster in MSK any more: there are no tags to fix.")
    tags = cluster_spec(cluster).tags
    try:
        get_provider().tag_cluster(account_ref(cluster), cluster.arn, tags)
    except ProviderError as exc:
        raise PortalError(f"Cannot tag {cluster.name} in MSK: {exc.message}") from exc
    with transaction.atomic():
        _resolve(finding)
        note_attempt(cluster, f"portal tags re-applied by {actor.get_username()}")
        audit.record(
            "clusters.drift.retagged",
            actor=actor,
            obj=cluster,
            team=cluster.team,
            details={"arn": cluster.arn, "finding": finding.pk, "tags": tags},
        )
    return cluster


def mark_deleted(*, finding_id: int, actor) -> Cluster:
    """A cluster deleted outside the portal: DELETED in the inventory with its topics, its grants' policies
    removed. Recreating it is a new cluster request."""
    finding = _open_finding_for(finding_id, DriftFinding.Kind.MISSING, actor)
    cluster = Cluster.objects.select_related("account", "team").get(pk=finding.cluster_id)
    if cluster.status == Cluster.Status.DELETED:
        raise Conflict(f"{cluster.name} is already deleted in the portal.")
    state = _listed(finding)
    if state is not None and state.state != "DELETING":
        raise Conflict(f"MSK lists {cluster.name} again ({state.state}): it is not deleted.")
    with transaction.atomic():
        _resolve(finding)
        note = f"marked deleted by {actor.get_username()}: deleted outside the portal"
        if not finish_deletion(cluster, from_status=cluster.status, note=note, actor=actor):
            raise Conflict(f"{cluster.name} changed status a moment ago; look at it again.")
        audit.record(
            "clusters.drift.marked_deleted",
            actor=actor,
            obj=cluster,
            team=cluster.team,
            details={"arn": cluster.arn, "finding": finding.pk},
        )
        dispatch_on_commit("revoke_grant", cluster.grants.exclude(status=AccessGrant.Status.REVOKED))
    return cluster
