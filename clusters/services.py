"""Requests and their approval workflow.

`prepare_*` validate a request and assess it against quotas without saving (the forms' live preview uses
them); `submit_request` saves a prepared request; `approve_request`, `reject_request` and
`cancel_request` move it on. Every transition is a compare-and-set on `Request.status` plus a
`RequestEvent` row and an audit event, so double clicks, two admins at once and API retries are harmless.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.defaultfilters import pluralize
from django.utils import timezone

from billing.pricing import CostEstimate, monthly_estimate, stored_gib_estimate
from billing.selectors import rates_for
from clusters import limits, policies, provisioning, rules
from clusters.models import (
    AccessGrant,
    AutoApprovalRule,
    AwsAccount,
    Cluster,
    NetworkProfile,
    PlatformSettings,
    Replicator,
    Request,
    RequestEvent,
    Topic,
)
from portal import access, audit
from portal.dispatch import enqueue_on_commit
from portal.errors import Conflict, NotAllowed
from portal.models import Team, User

Kind = Request.Kind


@dataclass
class Prepared:
    """A validated request, not yet saved."""

    kind: str
    team: Team
    environment: str
    summary: str
    justification: str
    payload: dict
    assessment: limits.Assessment
    cost: CostEstimate
    cluster: Cluster | None = None
    topic: Topic | None = None
    grant: AccessGrant | None = None


def _raise_if(errors: dict[str, str | list[str]]) -> None:
    if errors:
        raise ValidationError(
            {key: value if isinstance(value, list) else [value] for key, value in errors.items()}
        )


def _require_member(actor: User, team: Team) -> None:
    if not access.can_act_for_team(actor, team):
        raise NotAllowed("You can only file requests for teams you are a member of.")


def _require_cluster_for_team(actor: User, team: Team, cluster: Cluster) -> None:
    _require_member(actor, team)
    if not access.team_may_use_cluster(team, cluster):
        raise ValidationError(
            {"cluster": ["Your team neither owns this cluster nor has it been opened to it."]}
        )
    if cluster.status in (Cluster.Status.DELETING, Cluster.Status.DELETED, Cluster.Status.FAILED):
        raise ValidationError({"cluster": [f"The cluster is {cluster.get_status_display().lower()}."]})


# --- Clusters -------------------------------------------------------------------------------------


def prepare_cluster_create(
    *,
    actor: User,
    team: Team,
    name: str,
    kind: str,
    environment: str,
    account: AwsAccount,
    region: str,
    network_profile: NetworkProfile,
    expected_write_mbps: Decimal,
    expected_read_mbps: Decimal,
    contains_pii: bool,
    latency_class: str,
    justification: str,
    source_cluster: Cluster | None = None,
    replicate_topics: list[str] | None = None,
) -> Prepared:
    _require_member(actor, team)
    errors: dict[str, str] = {}
    if error := rules.cluster_name_error(name):
        errors["name"] = error
    elif Cluster.objects.filter(name=name, region=region).exclude(status=Cluster.Status.DELETED).exists():
        errors["name"] = f"A cluster called “{name}” already exists in {region}."
    if not access.team_may_use_account(team, account):
        errors["account"] = "Choose the platform's shared account or your team's own account."
    if network_profile.account_id != account.pk or network_profile.region != region:
        errors["network_profile"] = "Choose a network profile of this account and region."
    if expected_write_mbps < 0 or expected_read_mbps < 0:
        errors["expected_write_mbps"] = "Throughput cannot be negative."
    if not justification.strip():
        errors["justification"] = "Say what the cluster is for; approvers read this."
    replicate_topics = replicate_topics or []
    if kind == Cluster.Kind.READ:
        if source_cluster is None:
            errors["source_cluster"] = "A read cluster is fed from a write cluster: choose it."
        elif source_cluster.kind != Cluster.Kind.WRITE or not source_cluster.is_live:
            errors["source_cluster"] = "The source must be a live write cluster."
        elif source_cluster.account_id != account.pk:
            errors["source_cluster"] = "MSK Replicator needs the source cluster in the same AWS account."
        elif source_cluster.region != region:
            errors["source_cluster"] = (
                "MSK Replicator here copies within one region: pick a source in " + region
            )
        else:
            live = set(
                source_cluster.topics.exclude(status=Topic.Status.DELETED).values_list("name", flat=True)
            )
            unknown = sorted(set(replicate_topics) - live)
            if unknown:
                errors["replicate_topics"] = f"Not topics of {source_cluster.name}: {', '.join(unknown)}."
            elif not replicate_topics:
                errors["replicate_topics"] = "Choose at least one topic to replicate."
    elif source_cluster is not None or replicate_topics:
        errors["source_cluster"] = "Only read clusters have a source cluster."
    _raise_if(errors)

    quotas = PlatformSettings.current()
    assessment = limits.assess_new_cluster(
        account_id=account.pk,
        region=region,
        write_mbps=expected_write_mbps,
        read_mbps=expected_read_mbps,
        quotas=quotas,
    )
    cost = monthly_estimate(
        rates_for(region), clusters=1, in_mbps=expected_write_mbps, out_mbps=expected_read_mbps
    )
    payload = {
        "name": name,
        "kind": kind,
        "environment": environment,
        "account_id": account.pk,
        "aws_account": account.account_id,
        "region": region,
        "network_profile_id": network_profile.pk,
        "expected_write_mbps": str(expected_write_mbps),
        "expected_read_mbps": str(expected_read_mbps),
        "contains_pii": contains_pii,
        "latency_class": latency_class,
        "source_cluster_id": source_cluster.pk if source_cluster else None,
        "replicate_topics": sorted(replicate_topics),
        "tags": {"team": team.slug, "cost-center": team.cost_center, "environment": environment},
    }
    summary = f"{Cluster.Kind(kind).label.split(' (')[0]} {name} ({environment}, {region})"
    return Prepared(
        Kind.CLUSTER_CREATE, team, environment, summary, justification.strip(), payload, assessment, cost
    )


def prepare_cluster_decommission(*, actor: User, cluster: Cluster, justification: str) -> Prepared:
    _require_member(actor, cluster.team)
    errors = {}
    if cluster.status in (Cluster.Status.DELETING, Cluster.Status.DELETED):
        errors["cluster"] = "The cluster is already being deleted."
    elif cluster.read_clusters.exclude(status=Cluster.Status.DELETED).exists():
        errors["cluster"] = "Read clusters are still fed from this cluster; decommission them first."
    if not justification.strip():
        errors["justification"] = "Say why the cluster can go."
    _raise_if(errors)
    payload = {"cluster_id": cluster.pk, "name": cluster.name}
    return Prepared(
        Kind.CLUSTER_DECOMMISSION, cluster.team, cluster.environment, f"Decommission {cluster.name}",
        justification.strip(), payload, limits.Assessment(), CostEstimate(()), cluster=cluster,
    )  # fmt: skip


# --- Topics ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessInput:
    principal_arn: str
    produce: bool
    consume: bool
    consumer_group_prefix: str = ""


def _access_errors(entry: AccessInput, prefix: str) -> list[str]:
    messages = []
    if error := rules.principal_arn_error(entry.principal_arn):
        messages.append(f"{prefix}{error}")
    if not (entry.produce or entry.consume):
        messages.append(f"{prefix}Grant produce, consume or both.")
    if entry.consume:
        if not entry.consumer_group_prefix:
            messages.append(f"{prefix}Consumers need a consumer-group prefix.")
        elif not re.fullmatch(rules.GROUP_PREFIX_RE, entry.consumer_group_prefix):
            messages.append(f"{prefix}The consumer-group prefix may use letters, digits, '.', '_' and '-'.")
    return messages


def _topic_configs(
    *, retention_ms: int, retention_bytes: int, max_message_bytes: int, compression_type: str,
    message_timestamp_type: str,
) -> tuple[dict, dict[str, str]]:  # fmt: skip
    errors = {}
    if error := rules.retention_error(retention_ms, unit="milliseconds"):
        errors["retention_ms"] = error
    if error := rules.retention_error(retention_bytes, unit="bytes"):
        errors["retention_bytes"] = error
    if not 1 <= max_message_bytes <= rules.MAX_MESSAGE_BYTES:
        errors["max_message_bytes"] = f"MSK Serverless allows 1 to {rules.MAX_MESSAGE_BYTES:,} bytes (8 MiB)."
    if compression_type not in rules.COMPRESSION_TYPES:
        errors["compression_type"] = f"Choose one of {', '.join(rules.COMPRESSION_TYPES)}."
    if message_timestamp_type not in rules.TIMESTAMP_TYPES:
        errors["message_timestamp_type"] = f"Choose one of {', '.join(rules.TIMESTAMP_TYPES)}."
    configs = {
        "retention.ms": retention_ms,
        "retention.bytes": retention_bytes,
        "max.message.bytes": max_message_bytes,
        "compression.type": compression_type,
        "message.timestamp.type": message_timestamp_type,
    }
    return configs, errors


def _topic_cost(
    region: str, *, partitions: int, in_mbps: Decimal, out_mbps: Decimal, configs: dict
) -> CostEstimate:
    storage = stored_gib_estimate(
        in_mbps=in_mbps,
        retention_ms=configs["retention.ms"],
        retention_bytes=configs["retention.bytes"],
        partitions=partitions,
    )
    return monthly_estimate(
        rates_for(region), partitions=partitions, in_mbps=in_mbps, out_mbps=out_mbps, storage_gib=storage
    )


def prepare_topic_create(
    *,
    actor: User,
    team: Team,
    cluster: Cluster,
    name: str,
    expected_in_mbps: Decimal,
    expected_out_mbps: Decimal,
    partitions: int | None = None,
    cleanup_policy: str = "delete",
    retention_ms: int = rules.DEFAULT_RETENTION_MS,
    retention_bytes: int = rules.DEFAULT_RETENTION_BYTES,
    max_message_bytes: int = rules.DEFAULT_MAX_MESSAGE_BYTES,
    compression_type: str = "producer",
    message_timestamp_type: str = "CreateTime",
    justification: str = "",
    access_entries: list[AccessInput] | None = None,
) -> Prepared:
    _require_cluster_for_team(actor, team, cluster)
    quotas = PlatformSettings.current()
    full_name = rules.full_topic_name(quotas.topic_name_template, team_slug=team.slug, name=name)
    errors: dict[str, str | list[str]] = {}
    if not name:
        errors["name"] = "Give the topic a name."
    elif error := rules.topic_name_error(full_name):
        errors["name"] = error
    elif cluster.topics.filter(name=full_name).exclude(status=Topic.Status.DELETED).exists():
        errors["name"] = f"{full_name} already exists on {cluster.name}."
    if expected_in_mbps < 0 or expected_out_mbps < 0:
        errors["expected_in_mbps"] = "Throughput cannot be negative."
    suggested = rules.suggested_partitions(max(expected_in_mbps, 0), max(expected_out_mbps, 0))
    if partitions is None:
        partitions = suggested
    elif not 1 <= partitions <= rules.MAX_PARTITIONS_PER_TOPIC:
        errors["partitions"] = f"Choose 1 to {rules.MAX_PARTITIONS_PER_TOPIC:,} partitions."
    elif partitions < suggested:
        errors["partitions"] = (
            f"At {expected_in_mbps} MB/s in and {expected_out_mbps} MB/s out this topic needs at least "
            f"{suggested} partitions (a partition takes 5 MB/s in and 10 MB/s out)."
        )
    if cleanup_policy not in dict(rules.CLEANUP_POLICY_CHOICES):
        errors["cleanup_policy"] = "Choose delete or compact."
    configs, config_errors = _topic_configs(
        retention_ms=retention_ms, retention_bytes=retention_bytes, max_message_bytes=max_message_bytes,
        compression_type=compression_type, message_timestamp_type=message_timestamp_type,
    )  # fmt: skip
    errors.update(config_errors)
    access_entries = access_entries or []
    access_messages = [
        message
        for i, entry in enumerate(access_entries)
        for message in _access_errors(entry, f"Access #{i + 1}: ")
    ]
    if access_messages:
        errors["access"] = access_messages
    _raise_if(errors)

    configs["cleanup.policy"] = cleanup_policy
    assessment = limits.assess_topic_on_cluster(
        cluster=cluster, quotas=quotas, add_write_mbps=expected_in_mbps, add_read_mbps=expected_out_mbps,
        add_partitions=partitions, compacted=cleanup_policy == "compact",
    )  # fmt: skip
    cost = _topic_cost(
        cluster.region,
        partitions=partitions,
        in_mbps=expected_in_mbps,
        out_mbps=expected_out_mbps,
        configs=configs,
    )
    grant_policies = [
        policies.access_policy(
            region=cluster.region, account_id=cluster.account.account_id, cluster_name=cluster.name,
            cluster_arn=cluster.arn, topic=full_name, produce=entry.produce, consume=entry.consume,
            consumer_group_prefix=entry.consumer_group_prefix,
        )
        for entry in access_entries
    ]  # fmt: skip
    payload = {
        "cluster_id": cluster.pk,
        "name": full_name,
        "short_name": name,
        "partitions": partitions,
        "suggested_partitions": suggested,
        "expected_in_mbps": str(expected_in_mbps),
        "expected_out_mbps": str(expected_out_mbps),
        "configs": configs,
        "access": [
            {**entry.__dict__, "policy": policy}
            for entry, policy in zip(access_entries, grant_policies, strict=True)
        ],
    }
    roles = len(access_entries)
    with_access = f" + access for {roles} principal{pluralize(roles)}" if access_entries else ""
    summary = (
        f"Topic {full_name} on {cluster.name} ({partitions} partition{pluralize(partitions)}){with_access}"
    )
    return Prepared(
        Kind.TOPIC_CREATE, team, cluster.environment, summary, justification.strip(), payload, assessment, cost,
        cluster=cluster,
    )  # fmt: skip


def prepare_topic_update(
    *,
    actor: User,
    topic: Topic,
    partitions: int,
    retention_ms: int,
    retention_bytes: int,
    max_message_bytes: int,
    compression_type: str,
    message_timestamp_type: str,
    expected_in_mbps: Decimal | None = None,
    expected_out_mbps: Decimal | None = None,
    justification: str = "",
) -> Prepared:
    _require_cluster_for_team(actor, topic.team, topic.cluster)
    in_mbps = topic.expected_in_mbps if expected_in_mbps is None else expected_in_mbps
    out_mbps = topic.expected_out_mbps if expected_out_mbps is None else expected_out_mbps
    errors: dict[str, str] = {}
    if topic.status not in (Topic.Status.PENDING, Topic.Status.ACTIVE):
        errors["topic"] = f"The topic is {topic.get_status_display().lower()}."
    if partitions > rules.MAX_PARTITIONS_PER_TOPIC:
        errors["partitions"] = f"Choose at most {rules.MAX_PARTITIONS_PER_TOPIC:,} partitions."
    elif partitions < topic.partitions:
        errors["partitions"] = f"Kafka can only add partitions: it has {topic.partitions}."
    suggested = rules.suggested_partitions(in_mbps, out_mbps)
    if partitions < suggested:
        errors["partitions"] = f"At the expected throughput this topic needs at least {suggested} partitions."
    configs, config_errors = _topic_configs(
        retention_ms=retention_ms, retention_bytes=retention_bytes, max_message_bytes=max_message_bytes,
        compression_type=compression_type, message_timestamp_type=message_timestamp_type,
    )  # fmt: skip
    errors.update(config_errors)
    configs["cleanup.policy"] = topic.cleanup_policy  # fixed at creation on MSK Serverless
    changes = {
        key: [topic.configs.get(key), value]
        for key, value in configs.items()
        if topic.configs.get(key) != value
    }
    if partitions != topic.partitions:
        changes["partitions"] = [topic.partitions, partitions]
    if in_mbps != topic.expected_in_mbps:
        changes["expected_in_mbps"] = [str(topic.expected_in_mbps), str(in_mbps)]
    if out_mbps != topic.expected_out_mbps:
        changes["expected_out_mbps"] = [str(topic.expected_out_mbps), str(out_mbps)]
    if not errors and not changes:
        errors["partitions"] = "Nothing would change."
    _raise_if(errors)

    assessment = limits.assess_topic_on_cluster(
        cluster=topic.cluster, quotas=PlatformSettings.current(), add_write_mbps=in_mbps, add_read_mbps=out_mbps,
        add_partitions=partitions, compacted=topic.cleanup_policy == "compact", exclude_topic_id=topic.pk,
    )  # fmt: skip
    cost = _topic_cost(
        topic.cluster.region, partitions=partitions, in_mbps=in_mbps, out_mbps=out_mbps, configs=configs
    )
    payload = {
        "topic_id": topic.pk,
        "name": topic.name,
        "partitions": partitions,
        "expected_in_mbps": str(in_mbps),
        "expected_out_mbps": str(out_mbps),
        "configs": configs,
        "changes": changes,
    }
    summary = f"Change {topic.name}: " + ", ".join(sorted(changes))
    return Prepared(
        Kind.TOPIC_UPDATE, topic.team, topic.cluster.environment, summary[:300], justification.strip(), payload,
        assessment, cost, cluster=topic.cluster, topic=topic,
    )  # fmt: skip


def prepare_topic_delete(*, actor: User, topic: Topic, justification: str) -> Prepared:
    _require_member(actor, topic.team)
    errors = {}
    if topic.status in (Topic.Status.DELETING, Topic.Status.DELETED):
        errors["topic"] = "The topic is already being deleted."
    if not justification.strip():
        errors["justification"] = "Say why the topic can go (its data is lost)."
    _raise_if(errors)
    payload = {"topic_id": topic.pk, "name": topic.name}
    return Prepared(
        Kind.TOPIC_DELETE, topic.team, topic.cluster.environment, f"Delete {topic.name} on {topic.cluster.name}",
        justification.strip(), payload, limits.Assessment(), CostEstimate(()), cluster=topic.cluster, topic=topic,
    )  # fmt: skip


# --- Access ---------------------------------------------------------------------------------------


def prepare_access_grant(
    *,
    actor: User,
    team: Team,
    cluster: Cluster,
    entry: AccessInput,
    topic: Topic | None = None,
    topic_prefix: str = "",
    justification: str = "",
) -> Prepared:
    _require_cluster_for_team(actor, team, cluster)
    quotas = PlatformSettings.current()
    namespace = rules.topic_namespace(quotas.topic_name_template, team_slug=team.slug)
    errors: dict[str, str | list[str]] = {}
    if (topic is None) == (not topic_prefix):
        errors["topic"] = "Choose one topic or give a topic prefix (not both)."
    elif topic is not None and (topic.cluster_id != cluster.pk or topic.team_id != team.pk):
        errors["topic"] = "Choose a topic your team owns on this cluster."
    elif topic_prefix and not topic_prefix.startswith(namespace):
        # A prefix outside the team's namespace would reach other teams' topics.
        errors["topic_prefix"] = f"A prefix must start with your team's namespace “{namespace}”."
    elif topic_prefix and not re.fullmatch(r"[A-Za-z0-9._-]+", topic_prefix):
        errors["topic_prefix"] = rules.TOPIC_NAME_RULE
    messages = _access_errors(entry, "")
    if messages:
        errors["principal_arn"] = messages
    _raise_if(errors)
    policy = policies.access_policy(
        region=cluster.region, account_id=cluster.account.account_id, cluster_name=cluster.name,
        cluster_arn=cluster.arn, topic=topic.name if topic else "", topic_prefix=topic_prefix,
        produce=entry.produce, consume=entry.consume, consumer_group_prefix=entry.consumer_group_prefix,
    )  # fmt: skip
    rights = "+".join(name for name, on in (("produce", entry.produce), ("consume", entry.consume)) if on)
    target = topic.name if topic else f"{topic_prefix}*"
    payload = {
        "cluster_id": cluster.pk,
        "topic_id": topic.pk if topic else None,
        "topic_prefix": topic_prefix,
        **entry.__dict__,
        "policy": policy,
    }
    summary = f"{rights} on {target} ({cluster.name}) for {entry.principal_arn.rsplit('/', 1)[-1]}"
    return Prepared(
        Kind.ACCESS_GRANT, team, cluster.environment, summary, justification.strip(), payload, limits.Assessment(),
        CostEstimate(()), cluster=cluster, topic=topic,
    )  # fmt: skip


def prepare_access_revoke(*, actor: User, grant: AccessGrant, justification: str = "") -> Prepared:
    _require_member(actor, grant.team)
    if grant.status in (AccessGrant.Status.REVOKING, AccessGrant.Status.REVOKED):
        raise ValidationError({"grant": ["This access is already removed or being removed."]})
    payload = {"grant_id": grant.pk, "principal_arn": grant.principal_arn}
    return Prepared(
        Kind.ACCESS_REVOKE, grant.team, grant.cluster.environment, f"Revoke {grant}", justification.strip(),
        payload, limits.Assessment(), CostEstimate(()), cluster=grant.cluster, topic=grant.topic, grant=grant,
    )  # fmt: skip


# --- Workflow -------------------------------------------------------------------------------------


def _record(
    request: Request, *, actor: User | None, from_status: str, to_status: str, note: str = "", data=None
):
    RequestEvent.objects.create(
        request=request,
        actor=actor,
        actor_label=actor.get_username() if actor else "system",
        from_status=from_status,
        to_status=to_status,
        note=note,
        data=data or {},
    )
    audit.record(
        f"clusters.request.{to_status}",
        actor=actor,
        obj=request,
        team=request.team,
        details={"kind": request.kind, "summary": request.summary, "note": note, **(data or {})},
    )


def _notify_on_commit(request_id: int, event: str) -> None:
    from clusters.tasks import notify_request_event

    enqueue_on_commit(notify_request_event, request_id, event)


def submit_request(*, actor: User, prepared: Prepared) -> Request:
    """Save a prepared request (hard quota violations refuse it); auto-approve it if a rule matches."""
    if prepared.assessment.errors:
        raise ValidationError(prepared.assessment.field_errors())
    with transaction.atomic():
        request = Request.objects.create(
            kind=prepared.kind,
            team=prepared.team,
            requested_by=actor,
            environment=prepared.environment,
            summary=prepared.summary[:300],
            justification=prepared.justification,
            payload=prepared.payload,
            assessment={**prepared.assessment.as_dict(), "cost": prepared.cost.as_dict()},
            has_warnings=bool(prepared.assessment.warnings),
            estimated_monthly_cost=prepared.cost.total,
            cluster=prepared.cluster,
            topic=prepared.topic,
            grant=prepared.grant,
        )
        _record(request, actor=actor, from_status="", to_status=Request.Status.SUBMITTED)
        rule = _matching_rule(request)
        if rule is None:
            _notify_on_commit(request.pk, "submitted")
    if rule is not None:
        try:
            _approve(request.pk, actor=None, rule=rule)
        except Conflict as exc:
            # Quotas moved between submission and the rule's approval: leave it to a person.
            with transaction.atomic():
                _record(request, actor=None, from_status=Request.Status.SUBMITTED,
                        to_status=Request.Status.SUBMITTED, note=f"not auto-approved: {exc.message}")  # fmt: skip
                _notify_on_commit(request.pk, "submitted")
        request.refresh_from_db()
    return request


def _matching_rule(request: Request) -> AutoApprovalRule | None:
    for rule in AutoApprovalRule.objects.filter(enabled=True, kind=request.kind).order_by("name"):
        if rule.environment and rule.environment != request.environment:
            continue
        if (
            rule.max_partitions is not None
            and int(request.payload.get("partitions", 0)) > rule.max_partitions
        ):
            continue
        if rule.require_headroom and request.has_warnings:
            continue
        return rule
    return None


def _lock_scope(request: Request) -> None:
    """Serialise approvals that share a quota: same cluster, or same account for new clusters."""
    if request.cluster_id:
        Cluster.objects.select_for_update().filter(pk=request.cluster_id).first()
    elif request.kind == Kind.CLUSTER_CREATE:
        AwsAccount.objects.select_for_update().filter(pk=request.payload["account_id"]).first()


def _reassess(request: Request) -> limits.Assessment:
    """Quotas again at approval time: other requests may have been approved since this one was filed."""
    quotas = PlatformSettings.current()
    payload = request.payload
    if request.kind == Kind.CLUSTER_CREATE:
        return limits.assess_new_cluster(
            account_id=payload["account_id"], region=payload["region"],
            write_mbps=Decimal(payload["expected_write_mbps"]), read_mbps=Decimal(payload["expected_read_mbps"]),
            quotas=quotas,
        )  # fmt: skip
    if request.kind in (Kind.TOPIC_CREATE, Kind.TOPIC_UPDATE):
        return limits.assess_topic_on_cluster(
            cluster=request.cluster, quotas=quotas, add_write_mbps=Decimal(payload["expected_in_mbps"]),
            add_read_mbps=Decimal(payload["expected_out_mbps"]), add_partitions=int(payload["partitions"]),
            compacted=payload["configs"]["cleanup.policy"] == "compact",
            exclude_topic_id=request.topic_id if request.kind == Kind.TOPIC_UPDATE else None,
        )  # fmt: skip
    return limits.Assessment()


def _materialize(request: Request) -> dict:
    """Create or update the inventory an approved request asks for; provisioning takes it from there."""
    payload = request.payload
    if request.kind == Kind.CLUSTER_CREATE:
        cluster = Cluster.objects.create(
            name=payload["name"], team=request.team, kind=payload["kind"], environment=payload["environment"],
            account_id=payload["account_id"], region=payload["region"],
            network_profile_id=payload["network_profile_id"], source_cluster_id=payload["source_cluster_id"],
            expected_write_mbps=Decimal(payload["expected_write_mbps"]),
            expected_read_mbps=Decimal(payload["expected_read_mbps"]),
            contains_pii=payload["contains_pii"], latency_class=payload["latency_class"],
        )  # fmt: skip
        Request.objects.filter(pk=request.pk).update(cluster=cluster)
        if cluster.kind == Cluster.Kind.READ:
            replicator = Replicator.objects.create(
                read_cluster=cluster,
                source_cluster_id=payload["source_cluster_id"],
                topics=payload["replicate_topics"],
            )
            return {"cluster_id": cluster.pk, "replicator_id": replicator.pk}
        return {"cluster_id": cluster.pk}
    if request.kind == Kind.TOPIC_CREATE:
        topic = Topic.objects.create(
            cluster=request.cluster, team=request.team, name=payload["name"], partitions=payload["partitions"],
            cleanup_policy=payload["configs"]["cleanup.policy"], configs=payload["configs"],
            expected_in_mbps=Decimal(payload["expected_in_mbps"]),
            expected_out_mbps=Decimal(payload["expected_out_mbps"]),
        )  # fmt: skip
        grants = [
            AccessGrant.objects.create(
                cluster=request.cluster, team=request.team, topic=topic, principal_arn=entry["principal_arn"],
                can_produce=entry["produce"], can_consume=entry["consume"],
                consumer_group_prefix=entry["consumer_group_prefix"], policy=entry["policy"],
                delivery=PlatformSettings.current().grant_delivery,
            )
            for entry in payload["access"]
        ]  # fmt: skip
        Request.objects.filter(pk=request.pk).update(topic=topic)
        return {"topic_id": topic.pk, "grant_ids": [grant.pk for grant in grants]}
    if request.kind == Kind.TOPIC_UPDATE:
        Topic.objects.filter(pk=request.topic_id).update(
            partitions=payload["partitions"], configs=payload["configs"],
            expected_in_mbps=Decimal(payload["expected_in_mbps"]),
            expected_out_mbps=Decimal(payload["expected_out_mbps"]),
        )  # fmt: skip
        return {"topic_id": request.topic_id}
    if request.kind == Kind.ACCESS_GRANT:
        grant = AccessGrant.objects.create(
            cluster=request.cluster, team=request.team, topic_id=payload["topic_id"],
            topic_prefix=payload["topic_prefix"], principal_arn=payload["principal_arn"],
            can_produce=payload["produce"], can_consume=payload["consume"],
            consumer_group_prefix=payload["consumer_group_prefix"], policy=payload["policy"],
            delivery=PlatformSettings.current().grant_delivery,
        )  # fmt: skip
        Request.objects.filter(pk=request.pk).update(grant=grant)
        return {"grant_id": grant.pk}
    # Deletions, decommissions and revocations are carried out by provisioning after approval.
    return {}


def _approve(request_id: int, *, actor: User | None, rule: AutoApprovalRule | None = None) -> Request:
    with transaction.atomic():
        request = Request.objects.select_related("cluster", "team").get(pk=request_id)
        _lock_scope(request)
        if request.status == Request.Status.SUBMITTED:
            assessment = _reassess(request)
            if assessment.errors:
                raise Conflict(
                    "This request no longer fits: "
                    + " ".join(finding.message for finding in assessment.errors)
                )
        updated = Request.objects.filter(pk=request_id, status=Request.Status.SUBMITTED).update(
            status=Request.Status.APPROVED, decided_by=actor, decided_at=timezone.now(), approved_by_rule=rule
        )
        if updated != 1:
            request.refresh_from_db()
            raise Conflict(f"Request #{request_id} is already {request.get_status_display().lower()}.")
        request.refresh_from_db()
        data = _materialize(request)
        request.refresh_from_db()
        provisioning.dispatch_after_approval(request)
        note = f"approved by rule “{rule.name}”" if rule else ""
        _record(request, actor=actor, from_status=Request.Status.SUBMITTED, to_status=request.status, note=note,
                data=data)  # fmt: skip
        _notify_on_commit(request.pk, "approved")
    return request


def _get_for_decision(request_id: int, actor: User) -> Request:
    request = Request.objects.filter(pk=request_id).select_related("team").first()
    if request is None or not access.can_view_request(actor, request):
        raise NotAllowed("No such request.")
    if not access.is_platform_admin(actor):
        raise NotAllowed("Only platform admins approve or reject requests.")
    if request.requested_by_id == actor.pk:
        raise NotAllowed("You cannot approve or reject a request you submitted; another admin must decide.")
    return request


def approve_request(*, request_id: int, actor: User) -> Request:
    _get_for_decision(request_id, actor)
    return _approve(request_id, actor=actor)


def reject_request(*, request_id: int, actor: User, reason: str) -> Request:
    _get_for_decision(request_id, actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["Tell the requester why: the reason is shown to them."]})
    return _close(request_id, actor=actor, to_status=Request.Status.REJECTED, reason=reason)


def cancel_request(*, request_id: int, actor: User) -> Request:
    request = Request.objects.filter(pk=request_id).first()
    if request is None or not access.can_view_request(actor, request):
        raise NotAllowed("No such request.")
    if request.requested_by_id != actor.pk:
        raise NotAllowed("Only the person who submitted a request can cancel it.")
    return _close(request_id, actor=actor, to_status=Request.Status.CANCELLED, reason="")


def _close(request_id: int, *, actor: User, to_status: str, reason: str) -> Request:
    with transaction.atomic():
        updated = Request.objects.filter(pk=request_id, status=Request.Status.SUBMITTED).update(
            status=to_status, decided_by=actor, decided_at=timezone.now(), decision_reason=reason
        )
        request = Request.objects.get(pk=request_id)
        if updated != 1:
            raise Conflict(f"Request #{request_id} is already {request.get_status_display().lower()}.")
        _record(request, actor=actor, from_status=Request.Status.SUBMITTED, to_status=to_status, note=reason)
        if to_status == Request.Status.REJECTED:
            _notify_on_commit(request.pk, "rejected")
    return request
