"""Reads for requests, clusters, topics and grants, always through `portal.access`.

List selectors return querysets with their foreign keys joined (`select_related`), so a page of 50 rows
costs the same number of queries whether there are ten requests or ten thousand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.paginator import Paginator
from django.db.models import (
    CharField,
    Count,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.http import Http404
from django.template.defaultfilters import pluralize
from django.urls import reverse

from billing.pricing import CostEstimate, estimate_from_dict
from clusters.models import (
    AccessGrant,
    AwsAccount,
    Cluster,
    DriftFinding,
    NetworkProfile,
    PlatformSettings,
    ProvisioningEvent,
    Replicator,
    Request,
    RequestEvent,
    RequestKind,
    Topic,
)
from clusters.provisioning import REDISPATCH_NOTE, can_be_retried
from clusters.requests import limits
from portal import access
from portal.models import Team, User
from portal.selectors import count_all, count_per_team

Kind = Request.Kind

# Clusters a new topic or grant may be requested on (the service refuses the others with a message).
USABLE_CLUSTER_STATUSES = (Cluster.Status.PENDING, Cluster.Status.PROVISIONING, Cluster.Status.ACTIVE)
LIVE_TOPIC_STATUSES = (Topic.Status.PENDING, Topic.Status.CREATING, Topic.Status.ACTIVE)

# --- Who may file requests ----------------------------------------------------------------------


def acting_team_ids(user: User) -> set[int]:
    """Teams the user may file requests for (empty for finance and for people in no team)."""
    if access.is_finance(user):
        return set()
    return set(access.member_team_ids(user))


def acting_teams(user: User) -> QuerySet[Team]:
    return Team.objects.filter(pk__in=acting_team_ids(user)).order_by("name")


def can_file_requests(user: User) -> bool:
    return bool(acting_team_ids(user))


def usable_clusters(team_ids: set[int]) -> QuerySet[Cluster]:
    """Clusters these teams own or that admins opened to them, and that take new topics and grants."""
    return (
        access.clusters_of_teams(team_ids)
        .filter(status__in=USABLE_CLUSTER_STATUSES)
        .select_related("team")
        .order_by("name", "pk")
    )


def source_clusters(team_ids: set[int]) -> QuerySet[Cluster]:
    """Live write clusters a read cluster may replicate from (the service checks region and topics)."""
    return usable_clusters(team_ids).filter(kind=Cluster.Kind.WRITE)


def usable_accounts(team_ids: set[int]) -> QuerySet[AwsAccount]:
    return AwsAccount.objects.filter(
        Q(ownership=AwsAccount.Ownership.PLATFORM) | Q(team_id__in=team_ids)
    ).order_by("name")


def usable_network_profiles(team_ids: set[int]) -> QuerySet[NetworkProfile]:
    return NetworkProfile.objects.filter(account__in=usable_accounts(team_ids)).select_related("account")


def team_topics(team_ids: set[int]) -> QuerySet[Topic]:
    """Live topics these teams own: what a grant may name."""
    return (
        Topic.objects.filter(team_id__in=team_ids, status__in=LIVE_TOPIC_STATUSES)
        .select_related("cluster")
        .order_by("name", "pk")
    )


# --- Inventory ------------------------------------------------------------------------------------


def cluster_list(*, user: User, include_deleted: bool = False) -> QuerySet[Cluster]:
    live_topics = ~Q(topics__status="deleted") & Q(topics__isnull=False)
    clusters = (
        access.clusters_visible_to(user)
        .select_related("team", "account")
        .annotate(
            topic_count=Count("topics", filter=live_topics),
            partition_total=Sum("topics__partitions", filter=live_topics),
            write_total=Sum("topics__expected_in_mbps", filter=live_topics),
            read_total=Sum("topics__expected_out_mbps", filter=live_topics),
        )
    )
    if not include_deleted:
        clusters = clusters.exclude(status=Cluster.Status.DELETED)
    return clusters.order_by("name", "pk")


@dataclass(frozen=True)
class QuotaUse:
    """How much of the per-cluster quotas a cluster's live topics take, in percent (rounded)."""

    write_pct: int
    read_pct: int
    partition_pct: int


def quota_use(cluster: Cluster, quotas: PlatformSettings) -> QuotaUse:
    """Of a `cluster_list` row (its topic totals annotated), as the request forms count headroom."""
    return QuotaUse(
        write_pct=round(100 * (cluster.write_total or 0) / quotas.max_write_mbps),
        read_pct=round(100 * (cluster.read_total or 0) / quotas.max_read_mbps),
        partition_pct=round(100 * (cluster.partition_total or 0) / quotas.max_partitions),
    )


def with_quota_use(clusters) -> list[Cluster]:
    """`cluster_list` rows (a page of them), each with its `quota_use`."""
    quotas = PlatformSettings.current()
    clusters = list(clusters)
    for cluster in clusters:
        cluster.quota = quota_use(cluster, quotas)
    return clusters


@dataclass(frozen=True)
class ClusterActions:
    """What the user may do from a cluster's page."""

    request_here: bool  # file topic and access requests on it (a team of theirs owns it or may use it)
    decommission: bool
    retry: bool


def cluster_actions(*, user: User, cluster: Cluster, shared_with: list[Team]) -> ClusterActions:
    usable_by = {cluster.team_id, *(team.pk for team in shared_with)}
    return ClusterActions(
        request_here=bool(acting_team_ids(user) & usable_by) and cluster.status in USABLE_CLUSTER_STATUSES,
        decommission=access.can_request_changes(user, cluster) and cluster.is_live,
        retry=access.can_retry_provisioning(user, cluster),
    )


def with_row_actions(user: User, items: list):
    """Topics or grants, each marked with what the user may do on its row: request a change (`can_change`:
    its team's members) and retry a failed step (`can_retry`: platform admins)."""
    for item in items:
        item.can_change = access.can_request_changes(user, item)
        item.can_retry = access.can_retry_provisioning(user, item)
    return items


def replicator_with_actions(user: User, replicator: Replicator | None) -> Replicator | None:
    """A read cluster's replicator (or None), marked with whether the user may retry its failed step."""
    if replicator is not None:
        replicator.can_retry = access.can_retry_provisioning(user, replicator)
    return replicator


def cluster_get(*, user: User, pk: int) -> Cluster:
    """The cluster, or 404 when it does not exist *or* the user may not see it."""
    cluster = (
        access.clusters_visible_to(user)
        .select_related("team", "account", "network_profile", "source_cluster")
        .filter(pk=pk)
        .first()
    )
    if cluster is None:
        raise Http404("No such cluster")
    return cluster


def topics_visible_to(user: User) -> QuerySet[Topic]:
    """Admins and finance: every topic. Members: their teams' topics and every topic on their clusters."""
    if access.sees_all_teams(user):
        return Topic.objects.all()
    teams = access.member_team_ids(user)
    return Topic.objects.filter(Q(team_id__in=teams) | Q(cluster__team_id__in=teams))


def grants_visible_to(user: User) -> QuerySet[AccessGrant]:
    if access.sees_all_teams(user):
        return AccessGrant.objects.all()
    teams = access.member_team_ids(user)
    return AccessGrant.objects.filter(Q(team_id__in=teams) | Q(cluster__team_id__in=teams))


def cluster_topics(*, user: User, cluster: Cluster) -> QuerySet[Topic]:
    return (
        topics_visible_to(user)
        .filter(cluster=cluster)
        .exclude(status=Topic.Status.DELETED)
        .select_related("team")
        .order_by("name", "pk")
    )


def cluster_grants(*, user: User, cluster: Cluster) -> QuerySet[AccessGrant]:
    return (
        grants_visible_to(user)
        .filter(cluster=cluster)
        .exclude(status=AccessGrant.Status.REVOKED)
        .select_related("team", "topic")
        .order_by("-created_at", "-pk")
    )


def topic_get(*, user: User, pk: int) -> Topic:
    topic = (
        topics_visible_to(user).select_related("team", "cluster", "cluster__account").filter(pk=pk).first()
    )
    if topic is None:
        raise Http404("No such topic")
    return topic


def grant_get(*, user: User, pk: int) -> AccessGrant:
    grant = (
        grants_visible_to(user)
        .select_related("team", "topic", "cluster", "cluster__account")
        .filter(pk=pk)
        .first()
    )
    if grant is None:
        raise Http404("No such access grant")
    return grant


def replicator_get(*, user: User, pk: int) -> Replicator:
    """A read cluster's replicator, visible to whoever sees the read cluster (its team owns it)."""
    replicator = (
        Replicator.objects.filter(read_cluster__in=access.clusters_visible_to(user))
        .select_related("read_cluster", "source_cluster")
        .filter(pk=pk)
        .first()
    )
    if replicator is None:
        raise Http404("No such replicator")
    return replicator


def cluster_replicator(*, cluster: Cluster) -> Replicator | None:
    """The replicator feeding a read cluster (None for other kinds, or once it is deleted)."""
    return (
        Replicator.objects.filter(read_cluster=cluster)
        .exclude(status=Replicator.Status.DELETED)
        .select_related("source_cluster", "read_cluster")
        .first()
    )


# --- Requests -------------------------------------------------------------------------------------


SORTS = {
    "oldest": ("created_at", "id"),
    "newest": ("-created_at", "-id"),
    "cost": ("-estimated_monthly_cost", "created_at", "id"),
}


# --- Where the work of an approved request is ------------------------------------------------------

WORK_MOVING, WORK_DONE, WORK_FAILED = "moving", "done", "failed"
_REMOVALS = (Kind.CLUSTER_DECOMMISSION, Kind.TOPIC_DELETE, Kind.ACCESS_REVOKE)
_GONE = {"deleted", "revoked"}
_NOT_YET_CREATED = {"pending", "provisioning", "creating"}
# What "moving" is called for each kind of request.
_MOVING_WORDS = {
    Kind.CLUSTER_CREATE: "Provisioning",
    Kind.TOPIC_CREATE: "Provisioning",
    Kind.ACCESS_GRANT: "Provisioning",
    Kind.TOPIC_UPDATE: "Applying",
    Kind.CLUSTER_DECOMMISSION: "Removing",
    Kind.TOPIC_DELETE: "Removing",
    Kind.ACCESS_REVOKE: "Removing",
}


def work_stage(kind: str, statuses, *, change_applied: bool = True) -> str:
    """Where the work an approved request set in motion is: moving, done or failed ("" for nothing).

    `statuses` are those of everything the request created or changes (its cluster and replicator, its
    topic and the topic's grants, its grant). A creation is done once nothing waits to be created (a
    later deletion does not undo it); a removal once everything is gone; a topic change once a step
    was logged on the topic after the decision (`change_applied`)."""
    statuses = [status for status in statuses if status]
    if not statuses:
        return ""
    if "failed" in statuses:
        return WORK_FAILED
    if kind in _REMOVALS:
        return WORK_DONE if set(statuses) <= _GONE else WORK_MOVING
    if _NOT_YET_CREATED & set(statuses):
        return WORK_MOVING
    if kind == Kind.TOPIC_UPDATE and not change_applied and not set(statuses) <= _GONE:
        return WORK_MOVING
    return WORK_DONE


def work_label(kind: str, stage: str) -> str:
    return {
        WORK_MOVING: _MOVING_WORDS.get(kind, "In progress"),
        WORK_DONE: "Done",
        WORK_FAILED: "Failed",
    }.get(stage, "")


@dataclass
class RequestRow:
    """One line of the request list or the approval queue: plain values, no model instances. Who or what
    decided, and why, only when loaded `with_decisions` (pages of the lists do not show it). Not frozen:
    the selectors below mark a page's rows in place (a copy per row costs more than the marks)."""

    pk: int
    kind: str
    status: str
    team_id: int
    team_slug: str
    team_name: str  # what the lists show: every other page names a team by its name, not its slug
    requested_by_id: int
    requester: str
    environment: str
    summary: str
    has_warnings: bool
    estimated_monthly_cost: Decimal
    created_at: object  # datetime
    decided_at: object  # datetime or None
    cluster_id: int | None
    topic_id: int | None
    grant_id: int | None
    decided_by: str | None = None
    approved_by_rule: str | None = None
    decision_reason: str = ""
    work: str = ""  # approved requests: moving, done or failed (see work_stage)
    can_decide: bool = False  # the viewer may approve or reject it (`with_decision_rights`)
    is_own_open: bool = False  # the viewer is an admin who filed it: someone else must decide
    needs_override: str = ""  # an open decommission taking other teams' topics down (`with_override_needed`)
    links: dict[str, str] = field(default_factory=dict)  # its pages' URLs (`clusters.views.lists.with_links`)

    @property
    def work_label(self) -> str:
        return work_label(self.kind, self.work)

    @property
    def kind_label(self) -> str:
        return _KIND_LABELS.get(self.kind, self.kind)

    @property
    def status_label(self) -> str:
        return request_status_label(self.status)

    @property
    def is_open(self) -> bool:
        return self.status in Request.OPEN


# get_FOO_display() rebuilds its choices mapping on every call: rows look labels up in plain dicts.
_KIND_LABELS = {str(value): str(label) for value, label in Request.Kind.choices}
_STATUS_LABELS = {str(value): str(label) for value, label in Request.Status.choices}


def request_status_label(status: str) -> str:
    """'approved' → 'Approved'."""
    return _STATUS_LABELS.get(status, status)


def with_decision_rights(user: User, rows: list[RequestRow]) -> list[RequestRow]:
    """The rows, each saying whether this user may decide on it (`portal.access`, four-eyes)."""
    for row, (can_decide, is_own_open) in zip(rows, access.decision_rights(user, rows), strict=True):
        row.can_decide, row.is_own_open = can_decide, is_own_open
    return rows


def with_override_needed(rows: list[RequestRow]) -> list[RequestRow]:
    """The rows, each open decommission whose approval needs an override reason saying what it takes down
    (`limits.decommissions_taking_down`, the rule the approval applies): the approval queue offers no
    one-click approval of it, which would be refused. One query, none without a decommission among them."""
    found = limits.decommissions_taking_down(row for row in rows if row.status == Request.Status.SUBMITTED)
    for row in rows:
        if impact := found.get(row.pk):
            row.needs_override = f"Approving takes down {limits.count_topics(impact)} ({', '.join(impact)})"
    return rows


ROW_COLUMNS = (
    "pk",
    "kind",
    "status",
    "team_id",
    "team__slug",
    "team__name",
    "requested_by_id",
    "requested_by__username",
    "environment",
    "summary",
    "has_warnings",
    "estimated_monthly_cost",
    "created_at",
    "decided_at",
    "cluster_id",
    "topic_id",
    "grant_id",
)
# Two joins more: a query with four joins takes PostgreSQL twice as long to plan as one with two.
_DECISION_COLUMNS = ("decided_by__username", "approved_by_rule__name", "decision_reason")
_CLUSTER_KINDS = (Kind.CLUSTER_CREATE, Kind.CLUSTER_DECOMMISSION)
_ACCESS_KINDS = (Kind.ACCESS_GRANT, Kind.ACCESS_REVOKE)


def rows_of(values) -> list[RequestRow]:
    """Rows from tuples of `ROW_COLUMNS` (and `DECISION_COLUMNS`)."""
    return [RequestRow(*row) for row in values]


def open_request_rows(requests: QuerySet[Request], *, with_decisions: bool = False) -> list[RequestRow]:
    """Rows of these requests, in their order: only the columns a row shows, as plain tuples (a page of 50
    model instances with their related team and user costs more than the rest of the query). The
    approval queue's rows as they are: submitted requests have set nothing in motion yet."""
    columns = (*ROW_COLUMNS, *_DECISION_COLUMNS) if with_decisions else ROW_COLUMNS
    return rows_of(requests.values_list(*columns))


def with_work(rows: list[RequestRow]) -> list[RequestRow]:
    """Rows of the request list: each approved request also says where its work is (`work_stage`)."""
    work = _work_of([row for row in rows if row.status == Request.Status.APPROVED])
    for row in rows:
        row.work = work.get(row.pk, "")
    return rows


def request_rows(requests: QuerySet[Request], *, with_decisions: bool = False) -> list[RequestRow]:
    return with_work(open_request_rows(requests, with_decisions=with_decisions))


def one_request_row(pk: int) -> RequestRow:
    """One request as a list row, with its decision (a queue row answering an inline decision)."""
    return request_rows(Request.objects.filter(pk=pk), with_decisions=True)[0]


def _work_of(rows: list[RequestRow]) -> dict[int, str]:
    """Where the work of these approved requests is: one small query per kind of object they touch
    (clusters with their replicator, topics with their grants and last step, grants), at most three
    whatever the number of rows. Simple queries plan faster than one that joins and subqueries them all."""
    cluster_ids = {row.cluster_id for row in rows if row.kind in _CLUSTER_KINDS and row.cluster_id}
    grant_ids = {row.grant_id for row in rows if row.kind in _ACCESS_KINDS and row.grant_id}
    topic_ids = {
        row.topic_id for row in rows if row.kind not in (*_CLUSTER_KINDS, *_ACCESS_KINDS) and row.topic_id
    }
    clusters, topics, grants = {}, {}, {}
    if cluster_ids:
        clusters = {
            pk: (status, replicator)
            for pk, status, replicator in Cluster.objects.filter(pk__in=cluster_ids).values_list(
                "pk", "status", "replicator__status"
            )
        }
    if topic_ids:
        topics = {topic["pk"]: topic for topic in _topic_work(topic_ids, {row.kind for row in rows})}
    if grant_ids:
        grants = dict(AccessGrant.objects.filter(pk__in=grant_ids).values_list("pk", "status"))
    work = {}
    for row in rows:
        applied = True
        if row.kind in _CLUSTER_KINDS:
            status, replicator = clusters.get(row.cluster_id, (None, None))
            statuses = [status, replicator if row.kind == Kind.CLUSTER_CREATE else None]
        elif row.kind in _ACCESS_KINDS:
            statuses = [grants.get(row.grant_id)]
        else:
            topic = topics.get(row.topic_id, {})
            statuses = [topic.get("status")]
            if row.kind == Kind.TOPIC_CREATE:
                statuses.append(topic.get("grants_waiting"))
            if row.kind == Kind.TOPIC_UPDATE:
                last = topic.get("last_step")
                applied = bool(last and row.decided_at and last > row.decided_at)
        work[row.pk] = work_stage(row.kind, statuses, change_applied=applied)
    return work


def _topic_work(topic_ids: set[int], kinds: set[str]):
    """The topics' statuses, with what the kinds of request on them need besides: a creation whether a
    grant on the topic failed or waits, a change when a step was last logged on it (each subquery only
    when a row needs it: they cost more to build than the rest of the query)."""
    annotations = {}
    if Kind.TOPIC_CREATE in kinds:
        # "failed" if a grant on the topic failed, else "pending" if one waits ("failed" < "pending").
        annotations["grants_waiting"] = Subquery(
            AccessGrant.objects.filter(
                topic_id=OuterRef("pk"), status__in=(AccessGrant.Status.FAILED, AccessGrant.Status.PENDING)
            )
            .order_by("status")
            .values("status")[:1]
        )
    if Kind.TOPIC_UPDATE in kinds:
        annotations["last_step"] = Subquery(
            ProvisioningEvent.objects.filter(topic_id=OuterRef("pk"))
            .exclude(note__startswith=REDISPATCH_NOTE)
            .order_by("-created_at")
            .values("created_at")[:1]
        )
    return Topic.objects.filter(pk__in=topic_ids).annotate(**annotations).values("pk", "status", *annotations)


MAX_PAGE = 1_000_000  # 50 million requests: past any list's end, and its OFFSET fits every database


class KeyPaginator(Paginator):
    """Pages of requests in one query each: the page's rows (`ROW_COLUMNS`, made into rows by
    `build(values)`) by their sorted keys, `WHERE id IN (SELECT id … ORDER BY … LIMIT 50)`, and, when the
    count is not known yet, the count of all as a scalar subquery of the same query.

    Sorting 10,000 narrow (created_at, id) pairs is cheaper than sorting 10,000 joined rows; the number of
    queries is fixed (one) whatever the number of requests. A page number past the end, or below 1, costs
    a COUNT and a second try (Django's `get_page`: the last page).
    """

    def __init__(self, object_list, per_page, *, build, count: int | None = None, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.build = build
        if count is not None:  # known already (see views.approvals): no COUNT
            self.count = count

    def get_page(self, number):
        if "count" in self.__dict__:
            return super().get_page(number)
        try:
            number = int(number)
        except (TypeError, ValueError):
            number = 1  # as Django's get_page
        # A page far past any end (?page=99999999999999999999) is the last page, as Django's get_page has
        # it, without an OFFSET the database cannot hold (PostgreSQL: "bigint out of range", a 500).
        if 1 <= number <= MAX_PAGE:
            rows, count = self._rows(number, count=True)
            if rows or number == 1:  # (no rows on page 1: no requests at all)
                self.count = count or 0
                return self._get_page(rows, number, self)
        return super().get_page(number)

    def page(self, number):
        number = self.validate_number(number)
        return self._get_page(self._rows(number)[0], number, self)

    def _rows(self, number: int, *, count: bool = False) -> tuple[list, int | None]:
        bottom = (number - 1) * self.per_page
        keys = self.object_list.values("pk")[bottom : bottom + self.per_page]
        page = self.object_list.filter(pk__in=keys)
        if not count:
            return self.build(page.values_list(*ROW_COLUMNS)), None
        counted = self.object_list.order_by().values(n=count_all())
        values = list(page.annotate(of_all=Subquery(counted)).values_list(*ROW_COLUMNS, "of_all"))
        return self.build([row[:-1] for row in values]), (values[0][-1] if values else None)


def request_list(*, user: User) -> QuerySet[Request]:
    """Requests the user may see (their teams'; all for admins), newest first. Filter it with
    `clusters.filters.RequestFilterSet`, page it with `KeyPaginator`."""
    return access.requests_visible_to(user).order_by(*SORTS["newest"])


def approval_queue(*, user: User) -> QuerySet[Request]:
    """Submitted requests waiting for a decision, oldest first (`clusters.filters.ApprovalFilterSet`
    filters and re-sorts it; page it like `request_list`)."""
    return access.requests_visible_to(user).filter(status=Request.Status.SUBMITTED).order_by(*SORTS["oldest"])


def request_row(*, user: User, pk: int) -> Request:
    """One request as a list row (after an inline decision); 404 when invisible."""
    request = Request.objects.select_related("team", "requested_by", "decided_by", "approved_by_rule")
    found = request.filter(pk=pk).first()
    if found is None or not access.can_view_request(user, found):
        raise Http404("No such request")
    return found


def request_get(*, user: User, pk: int) -> Request:
    """The request with everything its page shows, or 404 when it does not exist or is not visible."""
    request = (
        Request.objects.select_related(
            "team", "requested_by", "decided_by", "approved_by_rule", "cluster", "topic", "grant"
        )
        .filter(pk=pk)
        .first()
    )
    if request is None or not access.can_view_request(user, request):
        raise Http404("No such request")
    return request


def request_events(*, request: Request) -> QuerySet[RequestEvent]:
    return RequestEvent.objects.filter(request=request).order_by("created_at", "id")


def open_request_count() -> int:
    """Requests waiting for an admin: one COUNT, for the navigation badge."""
    return Request.objects.filter(status=Request.Status.SUBMITTED).count()


@dataclass(frozen=True)
class AdminCounts:
    """What an admin's menu counts: requests waiting for a decision, open drift findings."""

    open_requests: int
    open_drift: int


def admin_counts() -> AdminCounts:
    """Both of the admin menu's counts in one query (two COUNTs, UNION ALL): on every page an admin opens."""

    def counted(rows: QuerySet, what: str) -> QuerySet:  # (SELECT 'what', COUNT(*) FROM … WHERE …)
        return rows.order_by().values_list(Value(what, output_field=CharField()), count_all())

    counts = dict(
        counted(Request.objects.filter(status=Request.Status.SUBMITTED), "open_requests").union(
            counted(DriftFinding.objects.filter(resolved_at__isnull=True), "open_drift"), all=True
        )
    )
    return AdminCounts(open_requests=counts.get("open_requests", 0), open_drift=counts.get("open_drift", 0))


def cluster_requests(*, user: User, cluster: Cluster, limit: int = 20) -> list[RequestRow]:
    """The latest requests on a cluster that the user may see."""
    return request_rows(
        access.requests_visible_to(user).filter(cluster=cluster).order_by(*SORTS["newest"])[:limit],
        with_decisions=True,
    )


# --- Request documents, for reading ---------------------------------------------------------------


def policies_for(kind: str, payload: dict) -> list[tuple[str, str]]:
    """(principal, pretty JSON) of every IAM policy document a request's payload would apply."""
    payload = payload or {}
    if kind == Kind.ACCESS_GRANT and payload.get("policy"):
        return [(payload.get("principal_arn", ""), pretty_json(payload["policy"]))]
    if kind == Kind.TOPIC_CREATE:
        return [
            (entry.get("principal_arn", ""), pretty_json(entry["policy"]))
            for entry in payload.get("access", [])
            if entry.get("policy")
        ]
    return []


def decommission_takes_down(request: Request) -> dict[str, list[str]]:
    """For an open decommission: other teams' live topics on the cluster now, by team (what approval
    would take down); empty otherwise."""
    if not request.is_open:
        return {}
    return limits.decommissions_taking_down([request]).get(request.pk, {})


def request_policies(request: Request) -> list[tuple[str, str]]:
    if request.kind == Kind.ACCESS_REVOKE and request.grant_id and request.grant.policy:
        return [(request.grant.principal_arn, pretty_json(request.grant.policy))]
    return policies_for(request.kind, request.payload)


def pretty_json(document) -> str:
    """Indented JSON text; templates show it in <pre> (auto-escaped, never marked safe)."""
    return json.dumps(document, indent=2, sort_keys=False)


def request_cost(request: Request) -> CostEstimate | None:
    """The monthly estimate stored with the request when it was filed (None for requests with none)."""
    stored = (request.assessment or {}).get("cost")
    return estimate_from_dict(stored) if stored else None


@dataclass(frozen=True)
class HeadroomRow:
    sentence: str
    percent_after: int
    warning: bool
    over: bool


def headroom_rows(assessment: dict) -> list[HeadroomRow]:
    """Headroom sentences of a stored (or `Assessment.as_dict()`) assessment, flagged when over the soft
    limit (a warning finding repeats the sentence) or over the limit itself."""
    warnings = {f["message"] for f in assessment.get("findings", []) if f.get("level") == "warning"}
    rows = []
    for quota in assessment.get("headroom", []):
        try:
            added, after = Decimal(quota["added"]), Decimal(quota["current"]) + Decimal(quota["added"])
            over = added > 0 and after > Decimal(quota["limit"])
        except (KeyError, ArithmeticError, TypeError, ValueError):
            over = False
        rows.append(
            HeadroomRow(
                sentence=quota.get("sentence", ""),
                percent_after=int(quota.get("percent_after", 0)),
                warning=quota.get("sentence") in warnings,
                over=over,
            )
        )
    return rows


def findings(assessment: dict, level: str) -> list[str]:
    return [f["message"] for f in assessment.get("findings", []) if f.get("level") == level]


COST_LABELS = {
    "cluster_hours": "Cluster hours",
    "partition_hours": "Partition hours",
    "data_in": "Data in",
    "data_out": "Data out",
    "storage": "Storage (estimate)",
}


@dataclass(frozen=True)
class CostRow:
    label: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    cost: Decimal


def cost_rows(estimate: CostEstimate | None) -> list[CostRow]:
    if estimate is None:
        return []
    return [
        CostRow(
            COST_LABELS.get(line.charge_type, line.charge_type),
            line.quantity,
            line.unit,
            line.unit_price,
            line.cost,
        )
        for line in estimate.lines
    ]


# Shown in their own sections (what a cluster's estimate covers: under the estimate).
_PAYLOAD_HIDDEN = {"policy", "access", "changes", "estimate_covers"}
# Said elsewhere in the same list: the AWS account number is part of the account's name, the short name
# part of the topic's full name.
_PAYLOAD_REDUNDANT = {"aws_account", "short_name"}
_PAYLOAD_LABELS = {
    "name": "Name",
    "kind": "Kind",
    "environment": "Environment",
    "account_id": "AWS account",
    "region": "Region",
    "network_profile_id": "Network profile",
    "cluster_id": "Cluster",
    "source_cluster_id": "Replicated from",
    "replicate_topics": "Replicated topics",
    "topic_id": "Topic",
    "topic_prefix": "Topic prefix",
    "grant_id": "Access",
    "partitions": "Partitions",
    "suggested_partitions": "Suggested partitions",
    "expected_write_mbps": "Expected write (MB/s)",
    "expected_read_mbps": "Expected read (MB/s)",
    "expected_in_mbps": "Expected in (MB/s)",
    "expected_out_mbps": "Expected out (MB/s)",
    "contains_pii": "Contains personal data",
    "latency_class": "Latency class",
    "configs": "Kafka settings",
    "tags": "AWS tags",
    "principal_arn": "Principal (IAM role)",
    "produce": "Produce",
    "consume": "Consume",
    "consumer_group_prefix": "Consumer-group prefix",
    "other_teams_topics": "Other teams' live topics (when filed)",
    "share_with": "Opened to teams",
    "name_as_is": "Name kept as is (not built from the naming convention)",
}
# Values people type or that name a thing in Kafka or AWS: shown as code.
_PAYLOAD_LITERAL = {
    "name",
    "topic_prefix",
    "principal_arn",
    "consumer_group_prefix",
    "replicate_topics",
    "region",
}
_PAYLOAD_CHOICES = {
    "kind": dict(Cluster.Kind.choices),
    "environment": dict(Cluster._meta.get_field("environment").choices),
    "latency_class": dict(Cluster.LatencyClass.choices),
}


@dataclass(frozen=True)
class PayloadRow:
    label: str
    value: str
    depth: int = 0
    literal: bool = False  # a name or setting as typed: shown as code


def _text(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value == -1:
        return "-1 (unlimited)"
    if isinstance(value, list):
        return ", ".join(_text(item) for item in value) if value else "—"
    return str(value)


_MS_UNITS = ((86_400_000, "day"), (3_600_000, "hour"), (60_000, "minute"), (1000, "second"))
_BYTE_UNITS = ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"))


def setting_text(key: str, value) -> str:
    """A Kafka setting as people read it: retention.ms 604800000 → '604800000 (7 days)'."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return _text(value)
    if key.endswith(".ms"):
        for size, unit in _MS_UNITS:
            if value and value % size == 0:
                return f"{value} ({value // size} {unit}{pluralize(value // size)})"
    if key.endswith(".bytes"):
        for size, unit in _BYTE_UNITS:
            if value >= size:
                about = "" if value % size == 0 else "about "
                return f"{value} ({about}{round(value / size):,} {unit})"
    return str(value)


def _payload_names(payload: dict) -> dict[str, str]:
    """The names behind the ids a payload keeps (one query per kind of object, at most five)."""
    names: dict[str, str] = {}
    cluster_ids = {payload.get("cluster_id"), payload.get("source_cluster_id")} - {None}
    clusters = (
        dict(Cluster.objects.filter(pk__in=cluster_ids).values_list("pk", "name")) if cluster_ids else {}
    )
    for key in ("cluster_id", "source_cluster_id"):
        if payload.get(key) is not None:
            names[key] = clusters.get(payload[key], f"#{payload[key]} (no longer in the portal)")
    if payload.get("account_id") is not None:
        account = AwsAccount.objects.filter(pk=payload["account_id"]).first()
        names["account_id"] = (
            f"{account.name} ({account.account_id})" if account else payload.get("aws_account", "")
        )
    if payload.get("network_profile_id") is not None:
        profile = NetworkProfile.objects.filter(pk=payload["network_profile_id"]).first()
        names["network_profile_id"] = f"{profile.name} ({profile.vpc_id})" if profile else "—"
    if payload.get("topic_id") is not None:
        topic = Topic.objects.filter(pk=payload["topic_id"]).values_list("name", flat=True).first()
        names["topic_id"] = topic or "—"
    if payload.get("grant_id") is not None:
        grant = AccessGrant.objects.filter(pk=payload["grant_id"]).select_related("topic").first()
        names["grant_id"] = str(grant) if grant else "—"
    return names


def payload_rows(payload: dict) -> list[PayloadRow]:
    """What a request asked for, in words: labelled rows with names instead of ids and choice labels
    instead of codes (nested settings and tags indented); policy documents are left to their section."""
    payload = payload or {}
    names = _payload_names(payload)
    rows = []
    for key, value in payload.items():
        if (
            key in _PAYLOAD_HIDDEN
            or key in _PAYLOAD_REDUNDANT
            or (value in (None, "", []) and key not in names)
            or (key == "consumer_group_prefix" and not payload.get("consume"))  # grants no group
        ):
            continue
        label = _PAYLOAD_LABELS.get(key, key.replace("_", " ").capitalize())
        if isinstance(value, dict):
            rows.append(PayloadRow(label, ""))
            rows += [PayloadRow(inner, setting_text(inner, item), 1, True) for inner, item in value.items()]
        elif key in names:
            rows.append(PayloadRow(label, names[key]))
        elif key in _PAYLOAD_CHOICES:
            rows.append(PayloadRow(label, str(_PAYLOAD_CHOICES[key].get(value, value))))
        else:
            rows.append(PayloadRow(label, _text(value), 0, key in _PAYLOAD_LITERAL))
    return rows


def payload_changes(payload: dict) -> list[tuple[str, str, str]]:
    """(setting, before, after) for a topic change request."""
    return [
        (key, setting_text(key, values[0]), setting_text(key, values[1]))
        for key, values in sorted((payload or {}).get("changes", {}).items())
        if isinstance(values, list) and len(values) == 2
    ]


def payload_access(payload: dict) -> list[dict]:
    """The access rows of a combined topic request, without their policy documents."""
    return [
        {
            "principal_arn": entry.get("principal_arn", ""),
            "produce": bool(entry.get("produce")),
            "consume": bool(entry.get("consume")),
            # Without consume the policy has no group statement: a prefix typed anyway grants nothing.
            "consumer_group_prefix": entry.get("consumer_group_prefix", "") if entry.get("consume") else "",
        }
        for entry in (payload or {}).get("access", [])
    ]


# --- Team summaries (dashboard, team page) --------------------------------------------------------


@dataclass(frozen=True)
class TeamCounts:
    team: Team
    clusters: int
    open_requests: int | None  # None: the user does not see requests (finance)


def team_counts(*, user: User, teams: QuerySet[Team], limit: int) -> list[TeamCounts]:
    """The first `limit` of these teams with their live clusters and open requests, counted in the same
    query (a subquery per count)."""
    teams = teams.annotate(
        live_clusters=count_per_team(Cluster.objects.exclude(status=Cluster.Status.DELETED))
    )
    sees_requests = not access.is_finance(user)
    if sees_requests:
        submitted = access.requests_visible_to(user).filter(status=Request.Status.SUBMITTED)
        teams = teams.annotate(open_requests=count_per_team(submitted))
    return [
        TeamCounts(
            team=team,
            clusters=team.live_clusters,
            open_requests=team.open_requests if sees_requests else None,
        )
        for team in teams[:limit]
    ]


def team_clusters(*, user: User, team: Team) -> QuerySet[Cluster]:
    """The team's own live clusters (a team the user may see: its clusters are visible to them)."""
    if not access.can_view_team(user, team):
        return Cluster.objects.none()
    return (
        Cluster.objects.filter(team=team)
        .exclude(status=Cluster.Status.DELETED)
        .select_related("account")
        .order_by("name", "pk")
    )


def provisioning_events(*, cluster: Cluster, limit: int = 50) -> list:
    """The latest provisioning steps of a cluster and its topics and grants, oldest first."""
    from clusters.models import ProvisioningEvent

    events = (
        ProvisioningEvent.objects.filter(
            Q(cluster=cluster)
            | Q(topic__cluster=cluster)
            | Q(grant__cluster=cluster)
            | Q(replicator__read_cluster=cluster)
        )
        .select_related("topic")
        .order_by("-created_at", "-id")[:limit]
    )
    return list(reversed(events))


def open_drift(limit: int = 100) -> list:
    """Open differences between the inventory and MSK, newest first (platform admins' drift page)."""
    return list(
        DriftFinding.objects.filter(resolved_at__isnull=True).select_related("cluster", "account")[:limit]
    )


def drift_finding_get(*, user: User, pk: int) -> DriftFinding:
    """A drift finding (open or not): platform admins only; everyone else gets a 404."""
    finding = (
        DriftFinding.objects.filter(pk=pk).select_related("account", "cluster").first()
        if access.is_platform_admin(user)
        else None
    )
    if finding is None:
        raise Http404("No such drift finding")
    return finding


def adoption_network_profiles(finding: DriftFinding) -> QuerySet[NetworkProfile]:
    """Network profiles an adopted cluster may be recorded with: its own account and region."""
    return NetworkProfile.objects.filter(account=finding.account, region=finding.region).order_by("name")


# --- A request's provisioning, for its page -----------------------------------------------------------

IN_FLIGHT_STATUSES = {"pending", "provisioning", "creating", "deleting", "revoking"}


# How often the request's page asks for its provisioning panel: while something moves, and while a failed
# step waits for an admin's retry (which may come hours later, or never: a slower pace).
POLL_MOVING, POLL_RETRYABLE = "3s", "15s"


@dataclass(frozen=True)
class RequestProgress:
    items: list  # (label, object with status/status_reason, link or "")
    events: list
    in_flight: bool
    waiting: bool = False  # submitted: no decision yet
    retryable: bool = False  # a step failed that an admin can retry from the cluster's page

    @property
    def moving(self) -> bool:
        """Something will still change on the request's page (its decision, then its provisioning)."""
        return self.waiting or self.in_flight

    @property
    def poll_every(self) -> str:
        """The page's polling interval ("" once final: decided and nothing moves or can be retried)."""
        if self.moving:
            return POLL_MOVING
        return POLL_RETRYABLE if self.retryable else ""

    @property
    def shown(self) -> bool:
        return self.waiting or bool(self.items)


def request_progress(*, request: Request) -> RequestProgress:
    """What an approved request set in motion (its cluster, topic, grants, replicator), their states and
    the provisioning steps since it was decided. In flight while any of them is still moving."""
    if request.status != Request.Status.APPROVED:
        return RequestProgress([], [], False, waiting=request.is_open)
    items = []
    if request.cluster_id and request.kind in (RequestKind.CLUSTER_CREATE, RequestKind.CLUSTER_DECOMMISSION):
        cluster = request.cluster
        items.append(
            (f"Cluster {cluster.name}", cluster, reverse("clusters:cluster-detail", args=[cluster.pk]))
        )
        replicator = Replicator.objects.filter(read_cluster=cluster).first()
        if replicator is not None:
            items.append((f"Replicator from {replicator.source_cluster.name}", replicator, ""))
    if request.topic_id:
        items.append((f"Topic {request.topic.name}", request.topic, ""))
        if request.kind == RequestKind.TOPIC_CREATE:
            items.extend(
                (f"Access for {grant.principal_arn}", grant, "")
                for grant in AccessGrant.objects.filter(topic_id=request.topic_id).order_by("pk")
            )
    if request.grant_id:
        items.append((f"Access for {request.grant.principal_arn}", request.grant, ""))
    scope = Q()
    for _, obj, _ in items:
        scope |= Q(
            **{
                {Cluster: "cluster", Topic: "topic", AccessGrant: "grant", Replicator: "replicator"}[
                    type(obj)
                ]: obj
            }
        )
    events = (
        list(
            ProvisioningEvent.objects.filter(scope, created_at__gte=request.decided_at or request.created_at)
            .select_related("topic", "cluster")
            .order_by("created_at", "id")[:100]
        )
        if items
        else []
    )
    return RequestProgress(
        items,
        events,
        any(obj.status in IN_FLIGHT_STATUSES for _, obj, _ in items),
        retryable=any(obj.status == "failed" and can_be_retried(obj) for _, obj, _ in items),
    )
