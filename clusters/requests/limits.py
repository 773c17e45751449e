"""Checks of a request against MSK Serverless quotas, with headroom figures for people to read.

`Assessment` is computed before submission (and again at approval): hard violations are errors that
block, usage above the soft limit (80 % by default) is a warning flagged to approvers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, F, Q, Sum

from clusters import rules
from clusters.models import Cluster, PlatformSettings, Replicator, Request, Topic
from portal.models import Team

ERROR = "error"
WARNING = "warning"
INFO = "info"  # shown to approvers, flags nothing


@dataclass(frozen=True)
class Headroom:
    """One quota: what is used now, what this request adds, and the limit."""

    field: str  # the form field the figure belongs to
    label: str
    unit: str
    current: Decimal
    added: Decimal
    limit: Decimal

    @property
    def after(self) -> Decimal:
        return self.current + self.added

    @property
    def percent_after(self) -> int:
        if self.limit <= 0:
            return 100
        return int((self.after * 100 / self.limit).to_integral_value(rounding="ROUND_HALF_UP"))

    def sentence(self) -> str:
        return (
            f"After this request: {self.percent_after}% of {self.label} "
            f"({_fmt(self.after)} of {_fmt(self.limit)} {self.unit})."
        )


@dataclass(frozen=True)
class Finding:
    level: str  # "error" blocks submission; "warning" is flagged to approvers; "info" is shown
    field: str
    message: str


@dataclass
class Assessment:
    headroom: list[Headroom] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.level == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.level == WARNING]

    def field_errors(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        for finding in self.errors:
            errors.setdefault(finding.field, []).append(finding.message)
        return errors

    def check(self, quota: Headroom, *, soft_percent: int) -> None:
        self.headroom.append(quota)
        if quota.added <= 0:
            return  # a request that does not add to a quota never blocks on it
        if quota.after > quota.limit:
            self.findings.append(
                Finding(
                    ERROR,
                    quota.field,
                    f"This would exceed the limit on {quota.label}: {_fmt(quota.after)} of {_fmt(quota.limit)} "
                    f"{quota.unit} ({_fmt(quota.current)} already used).",
                )
            )
        elif quota.percent_after > soft_percent:
            self.findings.append(Finding(WARNING, quota.field, quota.sentence()))

    def as_dict(self) -> dict:
        return {
            "headroom": [
                {
                    "field": quota.field,
                    "label": quota.label,
                    "unit": quota.unit,
                    "current": str(quota.current),
                    "added": str(quota.added),
                    "limit": str(quota.limit),
                    "percent_after": quota.percent_after,
                    "sentence": quota.sentence(),
                }
                for quota in self.headroom
            ],
            "findings": [{"level": f.level, "field": f.field, "message": f.message} for f in self.findings],
        }


def _fmt(value: Decimal) -> str:
    value = Decimal(value)
    return f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"


@dataclass(frozen=True)
class ClusterUsage:
    write_mbps: Decimal
    read_mbps: Decimal
    partitions: int
    compacted_partitions: int


def cluster_usage(cluster: Cluster, *, exclude_topic_id: int | None = None) -> ClusterUsage:
    """What the live topics on a cluster already take (approved ones count, deleted ones do not)."""
    topics = Topic.objects.filter(cluster=cluster).exclude(status=Topic.Status.DELETED)
    if exclude_topic_id is not None:
        topics = topics.exclude(pk=exclude_topic_id)
    totals = topics.aggregate(
        total_write=Sum("expected_in_mbps"),
        total_read=Sum("expected_out_mbps"),
        total_partitions=Sum("partitions"),
        total_compacted=Sum("partitions", filter=Q(cleanup_policy="compact")),
    )
    return ClusterUsage(
        write_mbps=totals["total_write"] or Decimal(0),
        read_mbps=totals["total_read"] or Decimal(0),
        partitions=totals["total_partitions"] or 0,
        compacted_partitions=totals["total_compacted"] or 0,
    )


def live_cluster_count(*, account_id: int, region: str) -> int:
    return (
        Cluster.objects.filter(account_id=account_id, region=region)
        .exclude(status=Cluster.Status.DELETED)
        .aggregate(n=Count("pk"))["n"]
    )


def assess_new_cluster(
    *, account_id: int, region: str, write_mbps: Decimal, read_mbps: Decimal, quotas: PlatformSettings
) -> Assessment:
    assessment = Assessment()
    soft = quotas.soft_limit_percent
    assessment.check(
        Headroom(
            "account",
            "Serverless clusters in this account and region",
            "clusters",
            Decimal(live_cluster_count(account_id=account_id, region=region)),
            Decimal(1),
            Decimal(quotas.max_clusters_per_account_region),
        ),
        soft_percent=soft,
    )
    assessment.check(
        Headroom(
            "expected_write_mbps", "write throughput", "MB/s", Decimal(0), write_mbps, quotas.max_write_mbps
        ),
        soft_percent=soft,
    )
    assessment.check(
        Headroom(
            "expected_read_mbps", "read throughput", "MB/s", Decimal(0), read_mbps, quotas.max_read_mbps
        ),
        soft_percent=soft,
    )
    return assessment


def assess_topic_on_cluster(
    *,
    cluster: Cluster,
    quotas: PlatformSettings,
    add_write_mbps: Decimal,
    add_read_mbps: Decimal,
    add_partitions: int,
    compacted: bool,
    exclude_topic_id: int | None = None,
) -> Assessment:
    """A new topic, or a change to one (then pass its id and its full new figures)."""
    usage = cluster_usage(cluster, exclude_topic_id=exclude_topic_id)
    assessment = Assessment()
    soft = quotas.soft_limit_percent
    assessment.check(
        Headroom(
            "expected_in_mbps",
            "the cluster's write throughput",
            "MB/s",
            usage.write_mbps,
            add_write_mbps,
            quotas.max_write_mbps,
        ),
        soft_percent=soft,
    )
    assessment.check(
        Headroom(
            "expected_out_mbps",
            "the cluster's read throughput",
            "MB/s",
            usage.read_mbps,
            add_read_mbps,
            quotas.max_read_mbps,
        ),
        soft_percent=soft,
    )
    assessment.check(
        Headroom(
            "partitions",
            "the cluster's partitions",
            "partitions",
            Decimal(usage.partitions),
            Decimal(add_partitions),
            Decimal(quotas.max_partitions),
        ),
        soft_percent=soft,
    )
    if compacted or usage.compacted_partitions:
        assessment.check(
            Headroom(
                "partitions",
                "the cluster's compacted partitions",
                "partitions",
                Decimal(usage.compacted_partitions),
                Decimal(add_partitions if compacted else 0),
                Decimal(quotas.max_compacted_partitions),
            ),
            soft_percent=soft,
        )
    return assessment


def group_prefix_reach(*, cluster: Cluster, prefix: str, template: str) -> list[Team]:
    """The teams using `cluster` whose consumer groups a group prefix can match: those whose namespace
    (the fixed start of their topic names, e.g. 'payments.') overlaps the prefix either way."""
    teams = [cluster.team, *cluster.shared_with.exclude(pk=cluster.team_id).order_by("name")]
    return [
        team
        for team in teams
        if (namespace := rules.topic_namespace(template, team_slug=team.slug)).startswith(prefix)
        or prefix.startswith(namespace)
    ]


def topic_name_clash(cluster: Cluster, full_name: str, *, include_pending: bool = True) -> str | None:
    """Why Kafka would refuse `full_name` on `cluster`, in words, or None: a live topic (or a topic the
    cluster's replicator copies in) of that name, or of one equal once '.' is read as '_'; with
    `include_pending`, also a topic request still waiting for approval. Callers that must not race hold
    the cluster's row lock (submission and approval do)."""
    live = list(
        Topic.objects.filter(cluster=cluster)
        .exclude(status=Topic.Status.DELETED)
        .values_list("name", flat=True)
    )
    replicator = (
        Replicator.objects.filter(read_cluster=cluster).exclude(status=Replicator.Status.DELETED).first()
    )
    if replicator is not None:
        live += replicator.topics
    if (other := rules.colliding_topic(full_name, live)) is not None:
        if other == full_name:
            return f"{full_name} already exists on {cluster.name}."
        return f"{full_name} collides with {other} on {cluster.name}: Kafka reads '.' and '_' in topic names as one."
    if not include_pending:
        return None
    pending = dict(
        Request.objects.filter(
            cluster=cluster, kind=Request.Kind.TOPIC_CREATE, status=Request.Status.SUBMITTED
        )
        .order_by("pk")
        .values_list("payload__name", "pk")
    )
    if (
        other := rules.colliding_topic(full_name, [name for name in pending if isinstance(name, str)])
    ) is None:
        return None
    waiting = f"request #{pending[other]}, waiting for approval"
    if other == full_name:
        return f"{full_name} is already requested on {cluster.name} ({waiting})."
    return (
        f"{full_name} collides with {other}, requested on {cluster.name} ({waiting}): Kafka reads '.' and '_' "
        "in topic names as one."
    )


def other_teams_live_topics(cluster: Cluster) -> dict[str, list[str]]:
    """Live topics on `cluster` of teams other than its owner, by team name: what decommissioning the
    cluster would take from them."""
    return _other_teams_live_topics_of([cluster.pk]).get(cluster.pk, {})


def _other_teams_live_topics_of(cluster_ids) -> dict[int, dict[str, list[str]]]:
    """`other_teams_live_topics` of each cluster, by cluster id (those carrying none left out), in one query."""
    impact: dict[int, dict[str, list[str]]] = {}
    rows = (
        Topic.objects.filter(cluster_id__in=cluster_ids)
        .exclude(status=Topic.Status.DELETED)
        .exclude(team_id=F("cluster__team_id"))
        .order_by("team__name", "name")
        .values_list("cluster_id", "team__name", "name")
    )
    for cluster_id, team, name in rows:
        impact.setdefault(cluster_id, {}).setdefault(team, []).append(name)
    return impact


def decommissions_taking_down(requests) -> dict[int, dict[str, list[str]]]:
    """The decommissions among `requests` (anything with `pk`, `kind` and `cluster_id`: requests or rows of
    the queue) whose cluster carries other teams' live topics now, by request id: what approving each would
    take down, by team name. The one rule for "approving needs an override reason" (`services`, which
    refuses without one, and the approval queue, which says so before anyone clicks). One query."""
    clusters = {
        request.pk: request.cluster_id
        for request in requests
        if request.kind == Request.Kind.CLUSTER_DECOMMISSION and request.cluster_id is not None
    }
    if not clusters:
        return {}
    impact = _other_teams_live_topics_of(set(clusters.values()))
    return {pk: impact[cluster_id] for pk, cluster_id in clusters.items() if cluster_id in impact}


def describe_topics_by_team(impact: dict[str, list[str]], *, shown: int = 10) -> str:
    """'Search: search.a, search.b; Analytics: analytics.x and 12 more' for a message."""
    parts = []
    for team, names in impact.items():
        more = f" and {len(names) - shown} more" if len(names) > shown else ""
        parts.append(f"{team}: {', '.join(names[:shown])}{more}")
    return "; ".join(parts)


def count_topics(impact: dict[str, list[str]]) -> str:
    total = sum(len(names) for names in impact.values())
    return f"{total} live topic{'s' if total != 1 else ''} of {len(impact)} other team{'s' if len(impact) != 1 else ''}"
