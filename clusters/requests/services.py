"""Requests and their approval workflow.

`prepare_*` validate a request and assess it against quotas without saving (the forms' live preview uses
them); `submit_request` saves a prepared request; `approve_request`, `reject_request` and
`cancel_request` move it on. Every transition is a compare-and-set on `Request.status`
(`portal.transitions.move`, against `Request.TRANSITIONS`) plus a `RequestEvent` row and an audit event, so
double clicks, two admins at once and API retries are harmless.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.defaultfilters import pluralize
from django.utils import timezone

from billing.pricing import HOURS_PER_MONTH, CostEstimate, monthly_estimate, topic_monthly_estimate
from billing.rates import rates_for
from clusters import provisioning, rules
from clusters.models import (
    AccessGrant,
    AutoApprovalRule,
    AwsAccount,
    Cluster,
    GrantDelivery,
    NetworkProfile,
    PlatformSettings,
    Replicator,
    Request,
    RequestEvent,
    Topic,
)
from clusters.requests import duplicates, limits, policies
from portal import access, audit, transitions
from portal import selectors as portal_selectors
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


def _raise_if(errors: dict[str, str | list]) -> None:
    if errors:
        raise ValidationError(
            {key: value if isinstance(value, list) else [value] for key, value in errors.items()}
        )


def _given(*values) -> bool:
    """Every input a check needs parsed (with `partial`, fields that did not parse are None)."""
    return all(value is not None for value in values)


def _unless_duplicate(prepared: Prepared) -> Prepared:
    """Refuse a request that would only repeat a waiting one (or, for access, a grant held already): the
    rule of `duplicates`."""
    _raise_if(duplicates.filing_error(kind=prepared.kind, payload=prepared.payload))
    return prepared


def _refuses_duplicates(prepare):
    """A prepare_* whose request the duplicate rule refuses at once (the forms' preview shows it before
    anything is submitted); `submit_request` checks it again under the scope's lock."""

    @functools.wraps(prepare)
    def checked(**kwargs) -> Prepared | None:
        prepared = prepare(**kwargs)
        return prepared if prepared is None else _unless_duplicate(prepared)

    return checked


def partial_errors(prepare_partially) -> dict[str, list[ValidationError]]:
    """The service's own errors for input that parsed only in part: `prepare_partially()` calls a
    prepare_* with `partial=True` and None for the fields that did not parse. Forms and the API show these
    with the parse errors, so every error appears at once, not one more on each submit."""
    try:
        prepare_partially()
    except ValidationError as exc:
        return exc.error_dict if hasattr(exc, "error_dict") else {}
    except NotAllowed:
        return {}  # said when the whole input parses
    return {}


def _require_member(actor: User, team: Team) -> None:
    if not access.can_act_for_team(actor, team):
        raise NotAllowed("You can only file requests for teams you are a member of.")


def _require_cluster_for_team(actor: User, team: Team, cluster: Cluster) -> None:
    _require_member(actor, team)
    if not access.team_may_use_cluster(team, cluster):
        raise ValidationError(
            {"cluster": ["Your team neither owns this cluster nor has it been opened to it."]}
        )
    if cluster.status in (*Cluster.REMOVED, Cluster.Status.FAILED):
        raise ValidationError({"cluster": [f"The cluster is {cluster.get_status_display().lower()}."]})


# --- Clusters -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterEstimateBasis:
    """What a cluster request's monthly estimate prices besides its cluster-hours: only what no topic request
    carries, so that a cluster's request and its topics' requests add up to each charge once
    (docs/requests.md, "Cost estimate"). From the form (`for_form`): nothing on a write or dedicated cluster,
    whose topics' requests price their partitions, data and storage; on a read cluster the expected write and
    read as data in and out, the traffic MSK Replicator copies in (nobody files those topics). A cluster filed
    from a migration plan prices what the plan put on it that no topic request carries: the compacted
    partitions its replication tool keeps there (and, on a read cluster, the copied topics' partitions, data in
    and out and storage). `covers` says so on the request's page."""

    partitions: int = 0
    in_mbps: Decimal = Decimal(0)
    out_mbps: Decimal = Decimal(0)
    storage_gib: Decimal = Decimal(0)
    covers: str = ""

    @classmethod
    def for_form(cls, kind: str, *, write_mbps: Decimal, read_mbps: Decimal) -> ClusterEstimateBasis:
        if kind == Cluster.Kind.READ:
            return cls(
                in_mbps=write_mbps,
                out_mbps=read_mbps,
                covers=(
                    "one cluster-month and the expected write and read as data in and out: the traffic MSK "
                    "Replicator copies in and its consumers read, which no topic request carries (the copied "
                    "topics' partitions and storage are not in this estimate)"
                ),
            )
        return cls(
            covers=(
                f"one cluster-month ({HOURS_PER_MONTH} cluster-hours). The partitions, data in and out and storage of the "
                "topics on it are in the topics' own requests: the expected throughput sizes the cluster "
                "against the quotas and is not priced a second time here"
            )
        )


def cluster_name_error(name: str, *, region: str | None) -> str | None:
    """MSK's naming rule, then (once the region is known) no live cluster of that name there."""
    if error := rules.cluster_name_error(name):
        return error
    if (
        region
        and Cluster.objects.filter(name=name, region=region).exclude(status=Cluster.Status.DELETED).exists()
    ):
        return f"A cluster called “{name}” already exists in {region}."
    return None


@_refuses_duplicates
def prepare_cluster_create(
    *,
    actor: User,
    team: Team | None,
    name: str | None,
    kind: str | None,
    environment: str | None,
    account: AwsAccount | None,
    region: str | None,
    network_profile: NetworkProfile | None,
    expected_write_mbps: Decimal | None,
    expected_read_mbps: Decimal | None,
    contains_pii: bool | None,
    latency_class: str | None,
    justification: str | None,
    source_cluster: Cluster | None = None,
    replicate_topics: list[str] | None = None,
    share_with: list[Team] | None = None,
    estimate_basis: ClusterEstimateBasis | None = None,
    partial: bool = False,
) -> Prepared | None:
    """`partial`: some fields did not parse (they are None); check the rest, prepare nothing.
    `share_with`: other teams the cluster is opened to on approval (they may then request topics on it), as
    when a migration plan places their applications on it; approvers see them in the request.
    `estimate_basis`: what the estimate prices besides the cluster-hours, when not the form's
    (`ClusterEstimateBasis.for_form`): a cluster filed from a migration plan."""
    if team is not None:
        _require_member(actor, team)
    errors: dict[str, str] = {}
    if name is not None and (error := cluster_name_error(name, region=region)):
        errors["name"] = error
    if _given(team, account) and not access.team_may_use_account(team, account):
        errors["account"] = "Choose the platform's shared account or your team's own account."
    if (_given(network_profile, region) and network_profile.region != region) or (
        _given(network_profile, account) and network_profile.account_id != account.pk
    ):
        errors["network_profile"] = "Choose a network profile of this account and region."
    if _given(expected_write_mbps, expected_read_mbps) and (
        expected_write_mbps < 0 or expected_read_mbps < 0
    ):
        errors["expected_write_mbps"] = "Throughput cannot be negative."
    if justification is not None and not justification.strip():
        errors["justification"] = "Say what the cluster is for; approvers read this."
    replicate_topics = replicate_topics or []
    if kind == Cluster.Kind.READ:
        if source_cluster is None:
            errors["source_cluster"] = "A read cluster is fed from a write cluster: choose it."
        elif source_cluster.kind != Cluster.Kind.WRITE or not source_cluster.is_live:
            errors["source_cluster"] = "The source must be a live write cluster."
        elif account is not None and source_cluster.account_id != account.pk:
            errors["source_cluster"] = "MSK Replicator needs the source cluster in the same AWS account."
        elif region is not None and source_cluster.region != region:
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
    elif kind is not None and kind != Cluster.Kind.READ and (source_cluster is not None or replicate_topics):
        errors["source_cluster"] = "Only read clusters have a source cluster."
    share_with = sorted({other.slug for other in share_with or [] if team is None or other.pk != team.pk})
    _raise_if(errors)
    if partial:
        return None

    quotas = PlatformSettings.current()
    assessment = limits.assess_new_cluster(
        account_id=account.pk,
        region=region,
        write_mbps=expected_write_mbps,
        read_mbps=expected_read_mbps,
        quotas=quotas,
    )
    if estimate_basis is None:
        estimate_basis = ClusterEstimateBasis.for_form(
            kind, write_mbps=expected_write_mbps, read_mbps=expected_read_mbps
        )
    cost = monthly_estimate(
        rates_for(region),
        clusters=1,
        partitions=estimate_basis.partitions,
        in_mbps=estimate_basis.in_mbps,
        out_mbps=estimate_basis.out_mbps,
        storage_gib=estimate_basis.storage_gib,
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
    if share_with:
        payload["share_with"] = share_with
    if estimate_basis.covers:
        payload["estimate_covers"] = estimate_basis.covers
    summary = f"{Cluster.Kind(kind).label.split(' (')[0]} {name} ({environment}, {region})"
    return Prepared(
        Kind.CLUSTER_CREATE, team, environment, summary, justification.strip(), payload, assessment, cost
    )


@_refuses_duplicates
def prepare_cluster_decommission(*, actor: User, cluster: Cluster, justification: str) -> Prepared:
    _require_member(actor, cluster.team)
    errors = {}
    if cluster.status in Cluster.REMOVED:
        errors["cluster"] = "The cluster is already being deleted."
    elif cluster.read_clusters.exclude(status=Cluster.Status.DELETED).exists():
        errors["cluster"] = "Read clusters are still fed from this cluster; decommission them first."
    if not justification.strip():
        errors["justification"] = "Say why the cluster can go."
    _raise_if(errors)
    payload = {"cluster_id": cluster.pk, "name": cluster.name}
    assessment = limits.Assessment()
    if impact := limits.other_teams_live_topics(cluster):
        # Filed anyway (the owner may be retiring it in agreement with them), but nobody misses it.
        payload["other_teams_topics"] = impact
        assessment.findings.append(
            limits.Finding(
                limits.WARNING,
                "cluster",
                (
                    f"Decommissioning {cluster.name} takes down {limits.count_topics(impact)}: "
                    f"{limits.describe_topics_by_team(impact)}. Approval is refused while they remain, unless the "
                    "approver overrides with a reason."
                ),
            )
        )
    return Prepared(
        Kind.CLUSTER_DECOMMISSION,
        cluster.team,
        cluster.environment,
        f"Decommission {cluster.name}",
        justification.strip(),
        payload,
        assessment,
        CostEstimate(()),
        cluster=cluster,
    )


# --- Topics ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessInput:
    principal_arn: str | None  # None: did not parse (partial input)
    produce: bool | None
    consume: bool | None
    consumer_group_prefix: str | None = ""

    def __post_init__(self):
        # A group prefix reaches consumer groups, which only consumers use: typed beside produce alone it
        # grants nothing, so it is not filed (the request, the grant and the API would show a prefix that
        # its policy does not have).
        if self.consume is False:
            object.__setattr__(self, "consumer_group_prefix", "")


@dataclass
class _AccessCheck:
    """One principal's access: errors keyed by the AccessInput field they concern (the forms show each
    under its own field), and what approvers should see (warnings, notes)."""

    errors: dict[str, list[str]]
    findings: list[limits.Finding]


def _check_access(
    entry: AccessInput, *, team: Team, cluster: Cluster, quotas: PlatformSettings
) -> _AccessCheck:
    check = _AccessCheck({}, [])
    if entry.principal_arn is None:
        pass  # did not parse (partial input): its own error says so
    elif error := rules.principal_arn_error(entry.principal_arn, region=cluster.region):
        check.errors.setdefault("principal_arn", []).append(error)
    else:
        _check_principal_account(entry.principal_arn, cluster=cluster, quotas=quotas, check=check)
    if _given(entry.produce, entry.consume) and not (entry.produce or entry.consume):
        check.errors.setdefault("produce", []).append("Grant produce, consume or both.")
    if entry.consume and entry.consumer_group_prefix is not None:
        _check_group_prefix(
            entry.consumer_group_prefix, team=team, cluster=cluster, quotas=quotas, check=check
        )
    return check


def _check_group_prefix(prefix: str, *, team: Team, cluster: Cluster, quotas: PlatformSettings, check):
    """On a cluster other teams use, a consumer-group prefix stays in the team's namespace, as topic names
    do; approvers see whose groups it can reach."""
    if not prefix:
        check.errors.setdefault("consumer_group_prefix", []).append("Consumers need a consumer-group prefix.")
        return
    shared = cluster.team_id != team.pk or cluster.shared_with.exists()
    namespace = rules.topic_namespace(quotas.topic_name_template, team_slug=team.slug) if shared else ""
    if error := rules.group_prefix_error(prefix, namespace=namespace):
        check.errors.setdefault("consumer_group_prefix", []).append(error)
        return
    reached = limits.group_prefix_reach(cluster=cluster, prefix=prefix, template=quotas.topic_name_template)
    others = [other.name for other in reached if other.pk != team.pk]
    if others:
        level, whose = limits.WARNING, f"other teams' groups too: {', '.join(others)}"
    elif shared:
        level, whose = limits.INFO, f"only {team.name}'s groups (the cluster is shared)"
    else:
        level, whose = limits.INFO, f"only {team.name}'s groups (no other team uses the cluster)"
    message = f"Consumer groups starting with “{prefix}” on {cluster.name}: {whose}."
    check.findings.append(limits.Finding(level, "consumer_group_prefix", message))


def _check_principal_account(arn: str, *, cluster: Cluster, quotas: PlatformSettings, check: _AccessCheck):
    """A role outside the cluster's account is one the portal cannot attach a policy to (AWS refuses it at
    apply time): refused now, unless the platform allows cross-account principals; then flagged, and its
    policy is handed over as a document (see `_grant_delivery`)."""
    role_account = rules.parse_role_arn(arn).account_id
    own = cluster.account.account_id
    if role_account == own:
        return
    known = AwsAccount.objects.filter(account_id=role_account).first()
    where = f"the portal's account “{known.name}”" if known else "an account the portal does not know"
    if not quotas.allow_cross_account_principals:
        check.errors.setdefault("principal_arn", []).append(
            f"This role is in AWS account {role_account} ({where}); {cluster.name} is in account {own}. "
            "The portal only grants access to roles in the cluster's own account, the only ones it can "
            f"attach a policy to: use a role of account {own}, or ask a platform admin about cross-account access."
        )
        return
    check.findings.append(
        limits.Finding(
            limits.WARNING,
            "principal_arn",
            f"Cross-account principal: {arn} is in AWS account {role_account} ({where}), not in {cluster.name}'s "
            f"account {own}. The portal cannot attach a policy there: the team gets the policy document to attach "
            "itself and arranges cross-account connectivity to the cluster.",
        )
    )


def _grant_delivery(cluster: Cluster, principal_arn: str) -> str:
    """The platform's delivery, except for a role in another account: only its team can attach a policy."""
    if rules.arn_account_id(principal_arn) != cluster.account.account_id:
        return GrantDelivery.DOCUMENT
    return PlatformSettings.current().grant_delivery


def _access_entry_checks(
    entries: list[AccessInput], *, team: Team, cluster: Cluster, quotas: PlatformSettings
) -> tuple[list[ValidationError], list[limits.Finding]]:
    """The combined topic request's access rows: one API field ("access") whose messages say the row
    ("Access #2: …") and carry the row's field as their code, for the form to put them in place."""
    errors, findings, roles = [], [], set()
    for row, entry in enumerate(entries, start=1):
        check = _check_access(entry, team=team, cluster=cluster, quotas=quotas)
        if (
            entry.principal_arn is not None
            and entry.principal_arn in roles
            and "principal_arn" not in check.errors
        ):
            # Two rows for one role would make two grants of it on the topic.
            check.errors["principal_arn"] = [
                "This role is in another row already: give it produce and consume in one row."
            ]
        roles.add(entry.principal_arn)
        errors += [
            ValidationError(f"Access #{row}: {message}", code=field)
            for field, messages in check.errors.items()
            for message in messages
        ]
        findings += [
            limits.Finding(finding.level, "access", f"Access #{row}: {finding.message}")
            for finding in check.findings
        ]
    return errors, findings


def _topic_configs(
    *,
    retention_ms: int | None,
    retention_bytes: int | None,
    max_message_bytes: int | None,
    compression_type: str | None,
    message_timestamp_type: str | None,
) -> tuple[dict, dict[str, str]]:
    """The topic configs and what is wrong with them (a value that did not parse is None: not checked)."""
    errors = {}
    if retention_ms is not None and (error := rules.retention_error(retention_ms, unit="milliseconds")):
        errors["retention_ms"] = error
    if retention_bytes is not None and (error := rules.retention_error(retention_bytes, unit="bytes")):
        errors["retention_bytes"] = error
    if max_message_bytes is not None and not 1 <= max_message_bytes <= rules.MAX_MESSAGE_BYTES:
        errors["max_message_bytes"] = f"MSK Serverless allows 1 to {rules.MAX_MESSAGE_BYTES:,} bytes (8 MiB)."
    if compression_type is not None and compression_type not in rules.COMPRESSION_TYPES:
        errors["compression_type"] = f"Choose one of {', '.join(rules.COMPRESSION_TYPES)}."
    if message_timestamp_type is not None and message_timestamp_type not in rules.TIMESTAMP_TYPES:
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
    return topic_monthly_estimate(
        rates_for(region),
        partitions=partitions,
        in_mbps=in_mbps,
        out_mbps=out_mbps,
        retention_ms=configs["retention.ms"],
        retention_bytes=configs["retention.bytes"],
    )


def topic_name_error(*, team: Team | None, cluster: Cluster | None, name: str, quotas: PlatformSettings):
    """The short name's own rule; once team and cluster are known, Kafka's rule on the full name and no
    collision with a live topic or a waiting request on the cluster."""
    if error := rules.topic_short_name_error(name):
        return error
    if team is None:
        return None
    full_name = rules.full_topic_name(quotas.topic_name_template, team_slug=team.slug, name=name)
    if error := rules.topic_name_error(full_name):
        return error
    return limits.topic_name_clash(cluster, full_name) if cluster is not None else None


def kept_topic_name_error(*, team: Team | None, cluster: Cluster | None, name: str, quotas: PlatformSettings):
    """A full name kept as it is (`prepare_topic_create(name_as_is=True)`): Kafka's rule, no name Kafka keeps
    for itself, not in another team's namespace, no collision with a live topic or a waiting request."""
    others = Team.objects.exclude(pk=team.pk) if team is not None else Team.objects.all()
    if error := rules.kept_topic_name_error(
        name, template=quotas.topic_name_template, other_team_slugs=others.values_list("slug", flat=True)
    ):
        return error
    return limits.topic_name_clash(cluster, name) if cluster is not None else None


def prepare_topic_create(
    *,
    actor: User,
    team: Team | None,
    cluster: Cluster | None,
    name: str | None,
    expected_in_mbps: Decimal | None,
    expected_out_mbps: Decimal | None,
    partitions: int | None = None,
    cleanup_policy: str | None = "delete",
    retention_ms: int | None = rules.DEFAULT_RETENTION_MS,
    retention_bytes: int | None = rules.DEFAULT_RETENTION_BYTES,
    max_message_bytes: int | None = rules.DEFAULT_MAX_MESSAGE_BYTES,
    compression_type: str | None = "producer",
    message_timestamp_type: str | None = "CreateTime",
    justification: str | None = "",
    access_entries: list[AccessInput] | None = None,
    name_as_is: bool = False,
    partial: bool = False,
) -> Prepared | None:
    """`partial`: some fields did not parse (they are None); check the rest, prepare nothing.
    `name_as_is`: `name` is the full name, not built from the naming convention (a monolith's topic that
    replication copies under its own name: see docs/migration.md, "Topics")."""
    if _given(team, cluster):
        _require_cluster_for_team(actor, team, cluster)
    quotas = PlatformSettings.current()
    if name is not None and team is not None and not name_as_is:
        name = rules.short_topic_name(name, template=quotas.topic_name_template, team_slug=team.slug)
    errors: dict[str, str | list] = {}
    check_name = kept_topic_name_error if name_as_is else topic_name_error
    if name is not None and (error := check_name(team=team, cluster=cluster, name=name, quotas=quotas)):
        errors["name"] = error
    if _given(expected_in_mbps, expected_out_mbps):
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
    if cleanup_policy is not None and cleanup_policy not in dict(rules.CLEANUP_POLICY_CHOICES):
        errors["cleanup_policy"] = "Choose delete or compact."
    configs, config_errors = _topic_configs(
        retention_ms=retention_ms,
        retention_bytes=retention_bytes,
        max_message_bytes=max_message_bytes,
        compression_type=compression_type,
        message_timestamp_type=message_timestamp_type,
    )
    errors.update(config_errors)
    access_entries = access_entries or []
    access_findings = []
    if _given(team, cluster):
        access_errors, access_findings = _access_entry_checks(
            access_entries, team=team, cluster=cluster, quotas=quotas
        )
        if access_errors:
            errors["access"] = access_errors
    _raise_if(errors)
    if partial:
        return None

    full_name = (
        name
        if name_as_is
        else rules.full_topic_name(quotas.topic_name_template, team_slug=team.slug, name=name)
    )
    configs["cleanup.policy"] = cleanup_policy
    assessment = limits.assess_topic_on_cluster(
        cluster=cluster,
        quotas=quotas,
        add_write_mbps=expected_in_mbps,
        add_read_mbps=expected_out_mbps,
        add_partitions=partitions,
        compacted=cleanup_policy == "compact",
    )
    assessment.findings += access_findings
    cost = _topic_cost(
        cluster.region,
        partitions=partitions,
        in_mbps=expected_in_mbps,
        out_mbps=expected_out_mbps,
        configs=configs,
    )
    grant_policies = [
        policies.access_policy(
            region=cluster.region,
            account_id=cluster.account.account_id,
            cluster_name=cluster.name,
            cluster_arn=cluster.arn,
            topic=full_name,
            produce=entry.produce,
            consume=entry.consume,
            consumer_group_prefix=entry.consumer_group_prefix,
        )
        for entry in access_entries
    ]
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
    if name_as_is:
        payload["name_as_is"] = True
    roles = len(access_entries)
    with_access = f" + access for {roles} principal{pluralize(roles)}" if access_entries else ""
    kept = ", name kept as is" if name_as_is else ""
    summary = f"Topic {full_name} on {cluster.name} ({partitions} partition{pluralize(partitions)}{kept}){with_access}"
    return Prepared(
        Kind.TOPIC_CREATE,
        team,
        cluster.environment,
        summary,
        justification.strip(),
        payload,
        assessment,
        cost,
        cluster=cluster,
    )


@_refuses_duplicates
def prepare_topic_update(
    *,
    actor: User,
    topic: Topic,
    partitions: int | None,
    retention_ms: int | None,
    retention_bytes: int | None,
    max_message_bytes: int | None,
    compression_type: str | None,
    message_timestamp_type: str | None,
    expected_in_mbps: Decimal | None = None,
    expected_out_mbps: Decimal | None = None,
    justification: str | None = "",
    partial: bool = False,
) -> Prepared | None:
    """`partial`: some fields did not parse (they are None); check the rest, prepare nothing. Otherwise
    an expected throughput left out (None) keeps the topic's own."""
    _require_cluster_for_team(actor, topic.team, topic.cluster)
    in_mbps = topic.expected_in_mbps if expected_in_mbps is None else expected_in_mbps
    out_mbps = topic.expected_out_mbps if expected_out_mbps is None else expected_out_mbps
    errors: dict[str, str] = {}
    if topic.status not in Topic.CHANGEABLE:
        errors["topic"] = f"The topic is {topic.get_status_display().lower()}."
    if partitions is not None:
        if partitions > rules.MAX_PARTITIONS_PER_TOPIC:
            errors["partitions"] = f"Choose at most {rules.MAX_PARTITIONS_PER_TOPIC:,} partitions."
        elif partitions < topic.partitions:
            errors["partitions"] = f"Kafka can only add partitions: it has {topic.partitions}."
        suggested = rules.suggested_partitions(in_mbps, out_mbps)
        throughput_parsed = not partial or _given(expected_in_mbps, expected_out_mbps)
        if throughput_parsed and partitions < suggested:
            errors["partitions"] = (
                f"At the expected throughput this topic needs at least {suggested} partitions."
            )
    configs, config_errors = _topic_configs(
        retention_ms=retention_ms,
        retention_bytes=retention_bytes,
        max_message_bytes=max_message_bytes,
        compression_type=compression_type,
        message_timestamp_type=message_timestamp_type,
    )
    errors.update(config_errors)
    if partial:
        _raise_if(errors)
        return None
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
        cluster=topic.cluster,
        quotas=PlatformSettings.current(),
        add_write_mbps=in_mbps,
        add_read_mbps=out_mbps,
        add_partitions=partitions,
        compacted=topic.cleanup_policy == "compact",
        exclude_topic_id=topic.pk,
    )
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
        Kind.TOPIC_UPDATE,
        topic.team,
        topic.cluster.environment,
        summary[:300],
        justification.strip(),
        payload,
        assessment,
        cost,
        cluster=topic.cluster,
        topic=topic,
    )


@_refuses_duplicates
def prepare_topic_delete(*, actor: User, topic: Topic, justification: str) -> Prepared:
    _require_member(actor, topic.team)
    errors = {}
    if topic.status in Topic.REMOVED:
        errors["topic"] = "The topic is already being deleted."
    if not justification.strip():
        errors["justification"] = "Say why the topic can go (its data is lost)."
    _raise_if(errors)
    payload = {"topic_id": topic.pk, "name": topic.name}
    return Prepared(
        Kind.TOPIC_DELETE,
        topic.team,
        topic.cluster.environment,
        f"Delete {topic.name} on {topic.cluster.name}",
        justification.strip(),
        payload,
        limits.Assessment(),
        CostEstimate(()),
        cluster=topic.cluster,
        topic=topic,
    )


# --- Access ---------------------------------------------------------------------------------------


def replicated_onto(topic: Topic, cluster: Cluster) -> bool:
    """Is `topic` copied onto the read cluster `cluster` by its replicator (under the same name)? Access to
    it there is requested on the read cluster, naming the source topic."""
    if cluster.kind != Cluster.Kind.READ:
        return False
    replicator = (
        Replicator.objects.filter(read_cluster=cluster, source_cluster_id=topic.cluster_id)
        .exclude(status=Replicator.Status.DELETED)
        .first()
    )
    return replicator is not None and topic.name in replicator.topics


@_refuses_duplicates
def prepare_access_grant(
    *,
    actor: User,
    team: Team | None,
    cluster: Cluster | None,
    entry: AccessInput,
    topic: Topic | None = None,
    topic_prefix: str | None = "",
    justification: str | None = "",
    partial: bool = False,
) -> Prepared | None:
    """`partial`: some fields did not parse (they are None); check the rest, prepare nothing."""
    if not _given(team, cluster):
        if partial:
            return None  # everything here is about this team on this cluster
        raise ValidationError({"cluster": ["Choose a cluster and a team."]})
    _require_cluster_for_team(actor, team, cluster)
    quotas = PlatformSettings.current()
    namespace = rules.topic_namespace(quotas.topic_name_template, team_slug=team.slug)
    errors: dict[str, str | list[str]] = {}
    if topic_prefix is None:
        pass  # did not parse: its own error says so
    elif topic is None and not topic_prefix:
        errors["topic"] = "Choose a topic, or give a topic prefix."
    elif topic is not None and topic_prefix:
        errors["topic"] = "Choose a topic or give a topic prefix, not both."
    elif topic is not None and topic.cluster_id != cluster.pk and not replicated_onto(topic, cluster):
        # The form narrows the list to the chosen cluster; without JavaScript, or over the API, it is said here.
        errors["topic"] = (
            f"{topic.name} is on {topic.cluster.name}, not on {cluster.name}: choose a topic of {cluster.name}."
        )
    elif topic is not None and topic.team_id != team.pk:
        errors["topic"] = "Choose a topic your team owns on this cluster."
    elif topic_prefix and (error := rules.topic_prefix_error(topic_prefix, namespace=namespace)):
        errors["topic_prefix"] = error
    check = _check_access(entry, team=team, cluster=cluster, quotas=quotas)
    for field, messages in check.errors.items():
        errors[field] = [*errors.get(field, []), *messages]
    _raise_if(errors)
    if partial:
        return None
    assessment = limits.Assessment(findings=check.findings)
    policy = policies.access_policy(
        region=cluster.region,
        account_id=cluster.account.account_id,
        cluster_name=cluster.name,
        cluster_arn=cluster.arn,
        topic=topic.name if topic else "",
        topic_prefix=topic_prefix,
        produce=entry.produce,
        consume=entry.consume,
        consumer_group_prefix=entry.consumer_group_prefix,
    )
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
        Kind.ACCESS_GRANT,
        team,
        cluster.environment,
        summary,
        justification.strip(),
        payload,
        assessment,
        CostEstimate(()),
        cluster=cluster,
        topic=topic,
    )


@_refuses_duplicates
def prepare_access_revoke(*, actor: User, grant: AccessGrant, justification: str = "") -> Prepared:
    _require_member(actor, grant.team)
    if grant.status in AccessGrant.REMOVED:
        raise ValidationError({"grant": ["This access is already removed or being removed."]})
    payload = {"grant_id": grant.pk, "principal_arn": grant.principal_arn}
    return Prepared(
        Kind.ACCESS_REVOKE,
        grant.team,
        grant.cluster.environment,
        f"Revoke {grant}",
        justification.strip(),
        payload,
        limits.Assessment(),
        CostEstimate(()),
        cluster=grant.cluster,
        topic=grant.topic,
        grant=grant,
    )


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
    from clusters.requests.tasks import notify_request_event

    enqueue_on_commit(notify_request_event, request_id, event)


def submit_request(*, actor: User, prepared: Prepared, notify_approvers: bool = True) -> Request:
    """Save a prepared request (hard quota violations refuse it); auto-approve it if a rule matches.

    `notify_approvers=False`: the caller takes over the approvers' "Approval needed" mail for a request that
    waits (the migration assistant mails one digest per filing: `notifications.notify_submitted_together`).
    Nothing is enqueued for it here; if the caller's mail never goes out, beat's `lost_notifications` finds the
    request like any other whose mail was lost and sends it on its own."""
    if prepared.assessment.errors:
        raise ValidationError(prepared.assessment.field_errors())
    with transaction.atomic():
        _recheck_under_lock(prepared)
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
        rule, held_back = _matching_rule(request)
        if held_back is not None:
            note = (
                f"not auto-approved: {actor.get_username()} created or last changed the rule "
                f"“{held_back.name}”, so another admin decides"
            )
            _record(
                request,
                actor=None,
                from_status=Request.Status.SUBMITTED,
                to_status=Request.Status.SUBMITTED,
                note=note,
            )
        if rule is None and notify_approvers:
            _notify_on_commit(request.pk, "submitted")
    if rule is not None:
        try:
            _approve(request.pk, actor=None, rule=rule)
        except Conflict as exc:
            # Quotas moved between submission and the rule's approval: leave it to a person.
            with transaction.atomic():
                _record(
                    request,
                    actor=None,
                    from_status=Request.Status.SUBMITTED,
                    to_status=Request.Status.SUBMITTED,
                    note=f"not auto-approved: {exc.message}",
                )
                if notify_approvers:
                    _notify_on_commit(request.pk, "submitted")
        request.refresh_from_db()
    return request


def _recheck_under_lock(prepared: Prepared) -> None:
    """What prepare checked without a lock and a concurrent submission could change, checked again while
    the row approval locks (`_lock_scope`: the cluster, or the account of a new cluster) is locked: a topic
    name against live topics and waiting requests, so two requests differing only by '.' and '_' cannot both
    get in; any other request against a waiting twin (`duplicates`), so two submissions at once file one."""
    if prepared.cluster is not None:
        Cluster.objects.select_for_update().filter(pk=prepared.cluster.pk).first()
    elif prepared.kind == Kind.CLUSTER_CREATE:
        AwsAccount.objects.select_for_update().filter(pk=prepared.payload["account_id"]).first()
    if prepared.kind == Kind.TOPIC_CREATE:
        if clash := limits.topic_name_clash(prepared.cluster, prepared.payload["name"]):
            raise ValidationError({"name": [clash]})
        return
    _unless_duplicate(prepared)


def _matching_rule(request: Request) -> tuple[AutoApprovalRule | None, AutoApprovalRule | None]:
    """(the first enabled rule that matches, None) or (None, a matching rule passed over because the
    requester created or last changed it in Django admin: four eyes, nobody approves their own request,
    not even through a rule they wrote)."""
    held_back = None
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
        if request.requested_by_id in portal_selectors.admin_editors(rule):
            held_back = held_back or rule
            continue
        return rule, None
    return None, held_back


def _lock_scope(request: Request) -> None:
    """Serialise approvals that share a quota: same cluster, or same account for new clusters."""
    if request.cluster_id:
        Cluster.objects.select_for_update().filter(pk=request.cluster_id).first()
    elif request.kind == Kind.CLUSTER_CREATE:
        AwsAccount.objects.select_for_update().filter(pk=request.payload["account_id"]).first()


def _reassess(request: Request) -> limits.Assessment:
    """Quotas again at approval time: other requests may have been approved since this one was filed; and
    the principals against today's rules (an admin may have turned cross-account principals off since). A
    new cluster's or topic's name too: another request for it may have been approved meanwhile; and that it
    does not repeat what a twin approved meanwhile (`duplicates.approval_error`)."""
    quotas = PlatformSettings.current()
    payload = request.payload
    if request.kind == Kind.CLUSTER_CREATE:
        assessment = limits.assess_new_cluster(
            account_id=payload["account_id"],
            region=payload["region"],
            write_mbps=Decimal(payload["expected_write_mbps"]),
            read_mbps=Decimal(payload["expected_read_mbps"]),
            quotas=quotas,
        )
        if clash := cluster_name_error(payload["name"], region=payload["region"]):
            assessment.findings.append(limits.Finding(limits.ERROR, "name", clash))
        return assessment
    assessment = limits.Assessment()
    if request.kind in (Kind.TOPIC_CREATE, Kind.TOPIC_UPDATE):
        assessment = limits.assess_topic_on_cluster(
            cluster=request.cluster,
            quotas=quotas,
            add_write_mbps=Decimal(payload["expected_in_mbps"]),
            add_read_mbps=Decimal(payload["expected_out_mbps"]),
            add_partitions=int(payload["partitions"]),
            compacted=payload["configs"]["cleanup.policy"] == "compact",
            exclude_topic_id=request.topic_id if request.kind == Kind.TOPIC_UPDATE else None,
        )
    if request.kind == Kind.TOPIC_CREATE and (
        clash := limits.topic_name_clash(request.cluster, payload["name"], include_pending=False)
    ):
        assessment.findings.append(limits.Finding(limits.ERROR, "name", clash))
    entries = payload.get("access", []) if request.kind == Kind.TOPIC_CREATE else []
    if request.kind == Kind.ACCESS_GRANT:
        entries = [payload]
    for entry in entries:
        access = AccessInput(
            entry["principal_arn"], entry["produce"], entry["consume"], entry["consumer_group_prefix"]
        )
        check = _check_access(access, team=request.team, cluster=request.cluster, quotas=quotas)
        assessment.findings += [
            limits.Finding(limits.ERROR, field, message)
            for field, messages in check.errors.items()
            for message in messages
        ]
    if duplicate := duplicates.approval_error(request):
        assessment.findings.append(limits.Finding(limits.ERROR, *duplicate))
    return assessment


def _materialize(request: Request) -> dict:
    """Create or update the inventory an approved request asks for; provisioning takes it from there."""
    payload = request.payload
    if request.kind == Kind.CLUSTER_CREATE:
        cluster = Cluster.objects.create(
            name=payload["name"],
            team=request.team,
            kind=payload["kind"],
            environment=payload["environment"],
            account_id=payload["account_id"],
            region=payload["region"],
            network_profile_id=payload["network_profile_id"],
            source_cluster_id=payload["source_cluster_id"],
            expected_write_mbps=Decimal(payload["expected_write_mbps"]),
            expected_read_mbps=Decimal(payload["expected_read_mbps"]),
            contains_pii=payload["contains_pii"],
            latency_class=payload["latency_class"],
        )
        Request.objects.filter(pk=request.pk).update(cluster=cluster)
        if payload.get("share_with"):
            cluster.shared_with.set(Team.objects.filter(slug__in=payload["share_with"]))
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
            cluster=request.cluster,
            team=request.team,
            name=payload["name"],
            partitions=payload["partitions"],
            cleanup_policy=payload["configs"]["cleanup.policy"],
            configs=payload["configs"],
            expected_in_mbps=Decimal(payload["expected_in_mbps"]),
            expected_out_mbps=Decimal(payload["expected_out_mbps"]),
        )
        grants = [
            AccessGrant.objects.create(
                cluster=request.cluster,
                team=request.team,
                topic=topic,
                principal_arn=entry["principal_arn"],
                can_produce=entry["produce"],
                can_consume=entry["consume"],
                consumer_group_prefix=entry["consumer_group_prefix"],
                policy=entry["policy"],
                delivery=_grant_delivery(request.cluster, entry["principal_arn"]),
            )
            for entry in payload["access"]
        ]
        Request.objects.filter(pk=request.pk).update(topic=topic)
        return {"topic_id": topic.pk, "grant_ids": [grant.pk for grant in grants]}
    if request.kind == Kind.TOPIC_UPDATE:
        Topic.objects.filter(pk=request.topic_id).update(
            partitions=payload["partitions"],
            configs=payload["configs"],
            expected_in_mbps=Decimal(payload["expected_in_mbps"]),
            expected_out_mbps=Decimal(payload["expected_out_mbps"]),
        )
        return {"topic_id": request.topic_id}
    if request.kind == Kind.ACCESS_GRANT:
        grant = AccessGrant.objects.create(
            cluster=request.cluster,
            team=request.team,
            topic_id=payload["topic_id"],
            topic_prefix=payload["topic_prefix"],
            principal_arn=payload["principal_arn"],
            can_produce=payload["produce"],
            can_consume=payload["consume"],
            consumer_group_prefix=payload["consumer_group_prefix"],
            policy=payload["policy"],
            delivery=_grant_delivery(request.cluster, payload["principal_arn"]),
        )
        Request.objects.filter(pk=request.pk).update(grant=grant)
        return {"grant_id": grant.pk}
    # Deletions, decommissions and revocations are carried out by provisioning after approval.
    return {}


def _approve(
    request_id: int,
    *,
    actor: User | None,
    rule: AutoApprovalRule | None = None,
    override_reason: str = "",
    notify_requester: bool = True,
) -> Request:
    with transaction.atomic():
        request = Request.objects.select_related("cluster", "team").get(pk=request_id)
        _lock_scope(request)
        override = {}
        if request.status == Request.Status.SUBMITTED:
            assessment = _reassess(request)
            if assessment.errors:
                raise Conflict(
                    "This request no longer fits: "
                    + " ".join(finding.message for finding in assessment.errors)
                )
            override = _other_teams_override(request, override_reason)

        def carry_out() -> None:
            # Once the move won, in its transaction: the inventory, provisioning on commit, then the event,
            # which names what was made.
            request.refresh_from_db()
            data = _materialize(request)
            request.refresh_from_db()
            provisioning.dispatch_after_approval(request)
            _record(
                request,
                actor=actor,
                from_status=Request.Status.SUBMITTED,
                to_status=Request.Status.APPROVED,
                note=f"approved by rule “{rule.name}”" if rule else override.get("note", ""),
                data={**data, **override.get("data", {})},
            )

        _decide(request, Request.Status.APPROVED, actor=actor, record=carry_out, approved_by_rule=rule)
        if notify_requester:
            _notify_on_commit(request.pk, "approved")
    return request


def _other_teams_override(request: Request, reason: str) -> dict:
    """A decommission takes other teams' live topics down only when the approver says why (the cluster's
    row is locked: no topic appears meanwhile). Returns the history note and data of the override."""
    impact = limits.decommissions_taking_down([request]).get(request.pk)
    if not impact:
        return {}
    described = f"{limits.count_topics(impact)}: {limits.describe_topics_by_team(impact)}"
    reason = (reason or "").strip()
    if not reason:
        raise Conflict(
            f"{request.cluster.name} still carries {described}. Ask them to move or delete those topics first, "
            "or approve with an override reason (recorded in the request's history)."
        )
    return {
        "note": f"approved over {described} — override: {reason}",
        "data": {"override_reason": reason, "other_teams_topics": impact},
    }


def _get_for_decision(request_id: int, actor: User) -> Request:
    request = Request.objects.filter(pk=request_id).select_related("team").first()
    if request is None or not access.can_view_request(actor, request):
        raise NotAllowed("No such request.")
    if not access.is_platform_admin(actor):
        raise NotAllowed("Only platform admins approve or reject requests.")
    if request.requested_by_id == actor.pk:
        raise NotAllowed("You cannot approve or reject a request you submitted; another admin must decide.")
    return request


def require_decider(*, request_id: int, actor: User) -> None:
    """NotAllowed unless `actor` may approve or reject the request (an admin, and not its requester)."""
    _get_for_decision(request_id, actor)


def approve_request(
    *, request_id: int, actor: User, override_reason: str = "", notify_requester: bool = True
) -> Request:
    """`override_reason`: why a decommission may take down other teams' live topics (else refused).

    `notify_requester=False`: the caller takes over the requester's mail (`decide_many` sends one digest per
    requester); nothing is enqueued for it here, so if the caller's mail never goes out beat's
    `lost_notifications` finds the request and mails it on its own."""
    _get_for_decision(request_id, actor)
    return _approve(
        request_id, actor=actor, override_reason=override_reason, notify_requester=notify_requester
    )


REASON_REQUIRED = "Tell the requester why: the reason is shown to them."


def reject_request(*, request_id: int, actor: User, reason: str, notify_requester: bool = True) -> Request:
    """`notify_requester=False`: the caller takes over the requester's mail, as for `approve_request`."""
    _get_for_decision(request_id, actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [REASON_REQUIRED]})
    return _close(
        request_id,
        actor=actor,
        to_status=Request.Status.REJECTED,
        reason=reason,
        notify_requester=notify_requester,
    )


# --- Many decisions at once (the approval queue's bulk bar) ---------------------------------------

BULK_DECISION_LIMIT = 50  # requests per bulk decision: one page of the approval queue


@dataclass(frozen=True)
class Skipped:
    """A request a bulk decision left as it was, and why (the message a single decision would have had)."""

    request_id: int
    reason: str

    def sentence(self) -> str:
        """`#12 is already rejected.` (not `#12: Request #12 is …`); `#19: This request no longer fits: …`."""
        own = f"Request #{self.request_id} "
        if self.reason.startswith(own):
            return f"#{self.request_id} {self.reason.removeprefix(own)}"
        return f"#{self.request_id}: {self.reason}"


@dataclass
class BulkDecision:
    """What `decide_many` did with each request, in the order asked."""

    approve: bool
    approved: list[int] = dataclasses.field(default_factory=list)
    rejected: list[int] = dataclasses.field(default_factory=list)
    skipped: list[Skipped] = dataclasses.field(default_factory=list)

    @property
    def decided(self) -> list[int]:
        return self.approved if self.approve else self.rejected

    def summary(self) -> str:
        """`Approved 2 of 3. Not decided: #12 is already rejected.`: the message the queue shows."""
        asked = len(self.decided) + len(self.skipped)
        verb = "Approved" if self.approve else "Rejected"
        text = f"{verb} {len(self.decided)} of {asked}."
        if self.skipped:
            text += " Not decided: " + " ".join(skipped.sentence() for skipped in self.skipped)
        return text


def require_bulk_decider(actor: User) -> None:
    """NotAllowed unless `actor` may decide in bulk (a platform admin; four eyes are checked per request)."""
    if not access.is_platform_admin(actor):
        raise NotAllowed("Only platform admins approve or reject requests.")


def decide_many(*, actor: User, request_ids: list[int], approve: bool, reason: str = "") -> BulkDecision:
    """Approve (or reject, with one `reason` for all) up to BULK_DECISION_LIMIT requests, each exactly as
    one decision would be (`approve_request` / `reject_request`: four eyes, quotas re-checked under their
    lock, events, provisioning), each in its own transaction (a savepoint when the caller holds one: the
    API's Idempotency-Key commits the decisions with their answer), in the order given. A request that
    cannot be decided (already decided, no longer fits, the admin's own, no such request) is skipped with
    the reason a single decision would have given, and the others go on. Nothing is decided when the actor is not an
    admin (NotAllowed) or the selection itself is wrong (ValidationError).

    Requesters get one mail per bulk decision, not one per request: the decisions enqueue no mail of their
    own, and once the loop ends (even when an unexpected error stops it) the requests it decided go, by id,
    to `notify_decided_together`, enqueued on commit, which mails each requester once and claims each
    request's notification. If that task is lost, beat mails the requests one by one."""
    require_bulk_decider(actor)
    ids = list(dict.fromkeys(request_ids))
    if not ids:
        raise ValidationError({"ids": ["Select at least one request."]})
    if len(ids) > BULK_DECISION_LIMIT:
        raise ValidationError(
            {
                "ids": [
                    f"Select at most {BULK_DECISION_LIMIT} requests at a time (one page of the queue); "
                    f"this selection has {len(ids):,}."
                ]
            }
        )
    reason = (reason or "").strip()
    if not approve and not reason:
        raise ValidationError({"reason": [REASON_REQUIRED]})
    outcome = BulkDecision(approve=approve)
    try:
        for request_id in ids:
            try:
                if approve:
                    approve_request(request_id=request_id, actor=actor, notify_requester=False)
                else:
                    reject_request(request_id=request_id, actor=actor, reason=reason, notify_requester=False)
            except (Conflict, NotAllowed) as exc:
                outcome.skipped.append(Skipped(request_id, exc.message))
            else:
                outcome.decided.append(request_id)
    finally:
        if outcome.decided:
            from clusters.requests.tasks import notify_decided_together

            enqueue_on_commit(notify_decided_together, list(outcome.decided))
    return outcome


def cancel_request(*, request_id: int, actor: User) -> Request:
    request = Request.objects.filter(pk=request_id).first()
    if request is None or not access.can_view_request(actor, request):
        raise NotAllowed("No such request.")
    if request.requested_by_id != actor.pk:
        raise NotAllowed("Only the person who submitted a request can cancel it.")
    return _close(request_id, actor=actor, to_status=Request.Status.CANCELLED, reason="")


def _close(
    request_id: int, *, actor: User, to_status: str, reason: str, notify_requester: bool = True
) -> Request:
    with transaction.atomic():
        request = Request.objects.get(pk=request_id)
        _decide(
            request,
            to_status,
            actor=actor,
            record=lambda: _record(
                request, actor=actor, from_status=Request.Status.SUBMITTED, to_status=to_status, note=reason
            ),
            decision_reason=reason,
        )
        if to_status == Request.Status.REJECTED and notify_requester:
            _notify_on_commit(request.pk, "rejected")
    return request


def _decide(request: Request, to_status: str, *, actor: User | None, record, **fields) -> None:
    """Move a submitted request to `to_status`, with who decided and when (and `fields`), calling `record`
    once the move won, in its transaction. Conflict, with nothing written, when it was decided first."""
    moved = transitions.move(
        Request,
        request,
        from_status=Request.Status.SUBMITTED,
        to_status=to_status,
        record=record,
        decided_by=actor,
        decided_at=timezone.now(),
        **fields,
    )
    if not moved:
        request.refresh_from_db()
        raise Conflict(f"Request #{request.pk} is already {request.get_status_display().lower()}.")
