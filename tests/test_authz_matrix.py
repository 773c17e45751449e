"""The authorization matrix: every URL pattern × every role, against own and other teams' objects.

Every named URL pattern must be declared in ENDPOINTS (or in EXEMPT with a reason), so an endpoint added
later fails `test_every_url_pattern_is_declared` until somebody states who may use it.

Object-scoped endpoints always address team A's objects: member_a is "own team", member_b is "other team".
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from billing.models import ChargebackLine, ChargebackRun
from clusters.models import Cluster, DriftFinding, Replicator, Request
from clusters.providers.local.models import LocalMskCluster
from portal import audit, services
from portal.models import Membership, User
from tests import builders
from tests.conftest import client_for

ROLES = ("anonymous", "member_a", "member_b", "admin", "finance")
EVERYONE = frozenset(ROLES)
SIGNED_IN = frozenset(ROLES) - {"anonymous"}
ADMIN = frozenset({"admin"})
SEES_TEAM_A = frozenset({"member_a", "admin", "finance"})

# Marker texts that only someone allowed to see team A's data may receive.
TEAM_A_MARKER = "team-a-cost-center-marker"  # team A's cost center
AUDIT_A_MARKER = "team-a-audit-marker"  # in an audit event of team A
MEMBER_A_MARKER = "member_a"  # team A's member's username
TEAM_DATA = {TEAM_A_MARKER: SEES_TEAM_A}
AUDIT_DATA = {AUDIT_A_MARKER: frozenset({"member_a", "admin"})}


@dataclass
class World:
    team_a: object
    team_b: object
    personas: dict
    membership_a: Membership
    token_a_id: int
    cluster_a: object = None
    topic_a: object = None
    grant_a: object = None
    request_a: object = None  # submitted by member_a
    account: object = None
    profile: object = None
    replicator_a: object = None  # feeds team A's read cluster from cluster_a
    unknown_finding: object = None  # drift: a cluster in the account the portal does not know
    retagged_finding: object = None  # drift: cluster_a's tags changed in AWS
    missing_finding: object = None  # drift: cluster_a deleted outside the portal


@dataclass(frozen=True)
class Endpoint:
    name: str
    allowed: frozenset[str]
    method: str = "GET"
    kwargs: Callable[[World], dict] = field(default=lambda w: {})
    data: Callable[[World], dict] | None = None
    api: bool = False
    # marker text -> roles allowed to receive it; everyone else must not (checked on success).
    markers: dict[str, frozenset[str]] = field(default_factory=dict)
    # Statuses that count as "refused" for signed-in roles. Creates may also answer 400 when the team or
    # cluster is not even a choice for the caller; then no request may have been created.
    refused: tuple[int, ...] = (403, 404)
    creates_request: bool = False

    @property
    def id(self) -> str:
        return f"{self.method} {self.name}"


TEAM_A = lambda w: {"slug": w.team_a.slug}  # noqa: E731
REQUEST_A = lambda w: {"pk": w.request_a.pk}  # noqa: E731
MEMBER_A_ONLY = frozenset({"member_a"})
SEES_REQUESTS_OF_A = frozenset({"member_a", "admin"})
REQUEST_MARKER = "authzmarker"  # in the name of team A's requested topic
CLUSTER_MARKER = "team-a-dev"  # team A's cluster name
DRIFT_MARKER = "drift-finding-marker"  # in the detail of every drift finding: admins only


MEMBERS = frozenset({"member_a", "member_b"})
SEES_ALL_COSTS = frozenset({"admin", "finance"})
FINANCE = frozenset({"finance"})
BILLING_RUN_MONTH = "2026-09"
BILLING_MONTH = lambda w: {"month": BILLING_RUN_MONTH}  # noqa: E731
BILLING_MONTH_QUERY = lambda w: {"month": BILLING_RUN_MONTH}  # noqa: E731
# Distinct costs of team A's and team B's lines: only those who may see a team's costs get its figure.
# (Under $1,000, so pages, which group thousands, and the API, which does not, show the same digits.)
TEAM_A_COST_MARKER = "432.19"
TEAM_B_COST_MARKER = "876.53"


def _csv_kwargs(kind: str):
    return lambda w: {"month": BILLING_RUN_MONTH, "kind": kind}


TOPIC_A = lambda w: {"topic_id": w.topic_a.pk}  # noqa: E731
TOPIC_FORM = lambda w: {  # noqa: E731
    "team": w.team_a.pk,
    "cluster": w.cluster_a.pk,
    "name": "formtopic",
    "expected_in_mbps": "1",
    "expected_out_mbps": "1",
    "cleanup_policy": "delete",
    "retention_ms": "604800000",
    "retention_bytes": "-1",
    "max_message_bytes": "1048588",
    "compression_type": "producer",
    "message_timestamp_type": "CreateTime",
}


def _form_post(name: str, allowed: frozenset[str], data, kwargs=None) -> Endpoint:
    """A new-request form POST: only `allowed` creates a request; a refused caller may get the form back
    with an error (200) or 403/404, and nothing is saved."""
    return Endpoint(
        name,
        allowed,
        method="POST",
        data=data,
        kwargs=kwargs or (lambda w: {}),
        refused=(200, 403, 404),
        creates_request=True,
    )


def _create(name: str, data) -> Endpoint:
    return Endpoint(
        name, MEMBER_A_ONLY, method="POST", api=True, data=data, refused=(400, 403, 404), creates_request=True
    )


ENDPOINTS: list[Endpoint] = [
    # Portal pages
    Endpoint("portal:dashboard", SIGNED_IN, markers=TEAM_DATA),
    Endpoint("portal:team-list", SIGNED_IN, markers=TEAM_DATA),
    Endpoint("portal:team-create", ADMIN),
    Endpoint(
        "portal:team-create",
        ADMIN,
        method="POST",
        data=lambda w: {
            "name": "New",
            "slug": "new",
            "cost_center": "CC-9",
            "contact_email": "n@example.com",
        },
    ),
    Endpoint("portal:team-detail", SEES_TEAM_A, kwargs=TEAM_A, markers=TEAM_DATA),
    Endpoint("portal:team-edit", ADMIN, kwargs=TEAM_A),
    Endpoint(
        "portal:team-edit",
        ADMIN,
        method="POST",
        kwargs=TEAM_A,
        data=lambda w: {"name": "Team A2", "cost_center": "CC-A", "contact_email": "a@example.com"},
    ),
    Endpoint(
        "portal:member-add",
        ADMIN,
        method="POST",
        kwargs=TEAM_A,
        data=lambda w: {"username": w.personas["member_b"].username},
    ),
    Endpoint(
        "portal:member-remove",
        ADMIN,
        method="POST",
        kwargs=lambda w: {"slug": w.team_a.slug, "pk": w.membership_a.pk},
    ),
    Endpoint("portal:audit-list", SIGNED_IN, markers=AUDIT_DATA),
    Endpoint("portal:audit-export", SIGNED_IN, markers=AUDIT_DATA),
    Endpoint("portal:token-list", SIGNED_IN),
    Endpoint("portal:token-list", SIGNED_IN, method="POST", data=lambda w: {"name": "matrix"}),
    # member_a's own token: nobody else may revoke it, admins included.
    Endpoint(
        "portal:token-revoke",
        frozenset({"member_a"}),
        method="POST",
        kwargs=lambda w: {"pk": w.token_a_id},
    ),
    # Authentication and operations
    Endpoint("login", EVERYONE),
    Endpoint("logout", EVERYONE, method="POST"),
    Endpoint("healthz", EVERYONE),
    # REST API
    Endpoint("api:me", SIGNED_IN, api=True),
    Endpoint("api:team-list", SIGNED_IN, api=True, markers=TEAM_DATA),
    Endpoint("api:team-detail", SEES_TEAM_A, api=True, kwargs=TEAM_A, markers=TEAM_DATA),
    Endpoint("api:membership-list", SIGNED_IN, api=True, markers={MEMBER_A_MARKER: SEES_TEAM_A}),
    # Requests and approvals (HTML)
    Endpoint("clusters:request-list", SIGNED_IN, markers={REQUEST_MARKER: SEES_REQUESTS_OF_A}),
    Endpoint("clusters:request-new", MEMBERS),
    Endpoint("clusters:request-new-cluster", MEMBERS),
    _form_post(
        "clusters:request-new-cluster",
        MEMBER_A_ONLY,
        lambda w: {
            "team": w.team_a.pk,
            "name": "team-a-form",
            "kind": "dedicated",
            "environment": "dev",
            "account": w.account.pk,
            "region": "us-east-1",
            "network_profile": w.profile.pk,
            "expected_write_mbps": "1",
            "expected_read_mbps": "1",
            "latency_class": "time_insensitive",
            "justification": "matrix",
        },
    ),
    Endpoint("clusters:request-new-topic", MEMBERS),
    _form_post("clusters:request-new-topic", MEMBER_A_ONLY, TOPIC_FORM),
    Endpoint("clusters:request-new-access", MEMBERS),
    _form_post(
        "clusters:request-new-access",
        MEMBER_A_ONLY,
        lambda w: {
            "team": w.team_a.pk,
            "cluster": w.cluster_a.pk,
            "topic": w.topic_a.pk,
            "produce": "on",
            "principal_arn": "arn:aws:iam::123456789012:role/other-app",
        },
    ),
    Endpoint(
        "clusters:request-preview",
        MEMBERS,
        method="POST",
        kwargs=lambda w: {"kind": "topic"},
        data=TOPIC_FORM,
        markers={"team-a.formtopic": MEMBER_A_ONLY},
    ),
    Endpoint("clusters:request-topic-update", MEMBER_A_ONLY, kwargs=TOPIC_A),
    _form_post(
        "clusters:request-topic-update",
        MEMBER_A_ONLY,
        lambda w: {
            "partitions": "4",
            "expected_in_mbps": "1",
            "expected_out_mbps": "1",
            "retention_ms": "-1",
            "retention_bytes": "-1",
            "max_message_bytes": "1048588",
            "compression_type": "producer",
            "message_timestamp_type": "CreateTime",
        },
        kwargs=TOPIC_A,
    ),
    Endpoint("clusters:request-topic-delete", MEMBER_A_ONLY, kwargs=TOPIC_A),
    _form_post(
        "clusters:request-topic-delete", MEMBER_A_ONLY, lambda w: {"justification": "x"}, kwargs=TOPIC_A
    ),
    Endpoint("clusters:request-access-revoke", MEMBER_A_ONLY, kwargs=lambda w: {"grant_id": w.grant_a.pk}),
    _form_post(
        "clusters:request-access-revoke",
        MEMBER_A_ONLY,
        lambda w: {"justification": "x"},
        kwargs=lambda w: {"grant_id": w.grant_a.pk},
    ),
    Endpoint("clusters:request-decommission", MEMBER_A_ONLY, kwargs=lambda w: {"cluster_id": w.cluster_a.pk}),
    _form_post(
        "clusters:request-decommission",
        MEMBER_A_ONLY,
        lambda w: {"justification": "x"},
        kwargs=lambda w: {"cluster_id": w.cluster_a.pk},
    ),
    Endpoint(
        "clusters:request-detail",
        SEES_REQUESTS_OF_A,
        kwargs=REQUEST_A,
        markers={REQUEST_MARKER: SEES_REQUESTS_OF_A},
    ),
    Endpoint(
        "clusters:request-progress",
        SEES_REQUESTS_OF_A,
        kwargs=REQUEST_A,
    ),
    Endpoint("clusters:request-approve", ADMIN, method="POST", kwargs=REQUEST_A),
    Endpoint(
        "clusters:request-reject", ADMIN, method="POST", kwargs=REQUEST_A, data=lambda w: {"reason": "no"}
    ),
    Endpoint("clusters:request-cancel", MEMBER_A_ONLY, method="POST", kwargs=REQUEST_A),
    Endpoint("clusters:approval-queue", ADMIN, markers={REQUEST_MARKER: ADMIN}),
    Endpoint(
        "clusters:approval-bulk",
        ADMIN,
        method="POST",
        data=lambda w: {"action": "approve", "ids": [w.request_a.pk], "next": "/approvals/"},
    ),
    Endpoint("clusters:cluster-list", SIGNED_IN, markers={CLUSTER_MARKER: SEES_TEAM_A}),
    Endpoint("clusters:drift-list", ADMIN, markers={DRIFT_MARKER: ADMIN}),
    Endpoint("clusters:cluster-detail", SEES_TEAM_A, kwargs=lambda w: {"pk": w.cluster_a.pk}),
    Endpoint("clusters:cluster-status", SEES_TEAM_A, kwargs=lambda w: {"pk": w.cluster_a.pk}),
    # Observability (issue 14): a topic's and a cluster's traffic follow the objects' own rule; the fleet view
    # lists only the clusters the caller may see.
    Endpoint("observability:topic", SEES_TEAM_A, kwargs=lambda w: {"pk": w.topic_a.pk}),
    Endpoint("observability:cluster", SEES_TEAM_A, kwargs=lambda w: {"pk": w.cluster_a.pk}),
    Endpoint("observability:fleet", SIGNED_IN, markers={CLUSTER_MARKER: SEES_TEAM_A}),
    # Retrying a failed cluster is for admins; cluster_a is active, so the call is a harmless no-op.
    Endpoint("clusters:cluster-retry", ADMIN, method="POST", kwargs=lambda w: {"pk": w.cluster_a.pk}),
    # Retrying a failed topic, grant or replicator step: admins (team A's objects are not failed, so the
    # admin gets "nothing to retry" back); members of other teams must not even learn they exist.
    Endpoint("clusters:topic-retry", ADMIN, method="POST", kwargs=lambda w: {"pk": w.topic_a.pk}),
    Endpoint("clusters:grant-retry", ADMIN, method="POST", kwargs=lambda w: {"pk": w.grant_a.pk}),
    Endpoint("clusters:replicator-retry", ADMIN, method="POST", kwargs=lambda w: {"pk": w.replicator_a.pk}),
    # Drift findings are platform admins' business: everyone else gets a 403, whatever the finding.
    Endpoint(
        "clusters:drift-adopt",
        ADMIN,
        kwargs=lambda w: {"pk": w.unknown_finding.pk},
        markers={DRIFT_MARKER: ADMIN},
    ),
    Endpoint(
        "clusters:drift-adopt",
        ADMIN,
        method="POST",
        kwargs=lambda w: {"pk": w.unknown_finding.pk},
        data=lambda w: {"team": w.team_a.pk, "environment": "dev", "network_profile": w.profile.pk},
    ),
    Endpoint("clusters:drift-retag", ADMIN, method="POST", kwargs=lambda w: {"pk": w.retagged_finding.pk}),
    Endpoint(
        "clusters:drift-mark-deleted", ADMIN, method="POST", kwargs=lambda w: {"pk": w.missing_finding.pk}
    ),
    # Requests and clusters (API)
    Endpoint("clusters-api:request-list", SIGNED_IN, api=True, markers={REQUEST_MARKER: SEES_REQUESTS_OF_A}),
    Endpoint("clusters-api:request-detail", SEES_REQUESTS_OF_A, api=True, kwargs=REQUEST_A),
    # Four-eyes: member_a submitted request_a, so only the (other) admin may decide.
    Endpoint("clusters-api:request-approve", ADMIN, method="POST", api=True, kwargs=REQUEST_A),
    Endpoint(
        "clusters-api:request-reject",
        ADMIN,
        method="POST",
        api=True,
        kwargs=REQUEST_A,
        data=lambda w: {"reason": "not now"},
    ),
    Endpoint("clusters-api:request-cancel", MEMBER_A_ONLY, method="POST", api=True, kwargs=REQUEST_A),
    # The bulk decision: platform admins only (the queue's bulk bar's rule), refused before the body is read.
    Endpoint(
        "clusters-api:request-decisions",
        ADMIN,
        method="POST",
        api=True,
        data=lambda w: {"ids": [w.request_a.pk], "decision": "approve"},
        refused=(403,),
    ),
    _create(
        "clusters-api:request-cluster",
        lambda w: {
            "team": "team-a",
            "name": "team-a-new",
            "kind": "dedicated",
            "environment": "dev",
            "account": w.account.pk,
            "region": "us-east-1",
            "network_profile": w.profile.pk,
            "expected_write_mbps": "1",
            "expected_read_mbps": "1",
            "contains_pii": False,
            "latency_class": "time_insensitive",
            "justification": "matrix",
        },
    ),
    _create(
        "clusters-api:request-topic",
        lambda w: {
            "team": "team-a",
            "cluster": w.cluster_a.pk,
            "name": "new",
            "expected_in_mbps": "1",
            "expected_out_mbps": "1",
        },
    ),
    _create("clusters-api:request-topic-update", lambda w: {"topic": w.topic_a.pk, "partitions": 4}),
    _create("clusters-api:request-topic-delete", lambda w: {"topic": w.topic_a.pk, "justification": "gone"}),
    _create(
        "clusters-api:request-access",
        lambda w: {
            "team": "team-a",
            "cluster": w.cluster_a.pk,
            "topic": w.topic_a.pk,
            "produce": True,
            "principal_arn": "arn:aws:iam::123456789012:role/other-app",
        },
    ),
    _create("clusters-api:request-access-revoke", lambda w: {"grant": w.grant_a.pk}),
    _create("clusters-api:request-decommission", lambda w: {"cluster": w.cluster_a.pk, "justification": "x"}),
    Endpoint("clusters-api:cluster-list", SIGNED_IN, api=True, markers={CLUSTER_MARKER: SEES_TEAM_A}),
    Endpoint(
        "clusters-api:cluster-detail",
        SEES_TEAM_A,
        api=True,
        kwargs=lambda w: {"pk": w.cluster_a.pk},
        markers={CLUSTER_MARKER: SEES_TEAM_A},
    ),
    # Billing (HTML): the finance page, its CSVs and actions cover every team; a team's cost page its own.
    Endpoint("billing:finance", SEES_ALL_COSTS, data=BILLING_MONTH_QUERY, markers=TEAM_DATA),
    *[
        Endpoint("billing:run-csv", SEES_ALL_COSTS, kwargs=_csv_kwargs(kind), markers=TEAM_DATA)
        for kind in ("summary", "lines", "focus")
    ],
    Endpoint("billing:run-recompute", SEES_ALL_COSTS, method="POST", kwargs=BILLING_MONTH),
    Endpoint("billing:run-actuals", SEES_ALL_COSTS, method="POST", kwargs=BILLING_MONTH),
    Endpoint(
        "billing:run-scaling", FINANCE, method="POST", kwargs=BILLING_MONTH, data=lambda w: {"enabled": "yes"}
    ),
    Endpoint(
        "billing:run-finalize",
        FINANCE,
        method="POST",
        kwargs=BILLING_MONTH,
        data=lambda w: {"confirm": "yes"},
    ),
    Endpoint(
        "billing:team-costs",
        SEES_TEAM_A,
        kwargs=TEAM_A,
        data=BILLING_MONTH_QUERY,
        markers={**TEAM_DATA, TEAM_A_COST_MARKER: SEES_TEAM_A, TEAM_B_COST_MARKER: frozenset()},
    ),
    # Billing (API): runs and CSVs for finance and admins; lines for everyone, limited to their teams.
    Endpoint("billing-api:run-list", SEES_ALL_COSTS, api=True),
    Endpoint("billing-api:run-detail", SEES_ALL_COSTS, api=True, kwargs=BILLING_MONTH),
    Endpoint(
        "billing-api:run-lines",
        SIGNED_IN,
        api=True,
        kwargs=BILLING_MONTH,
        markers={**TEAM_DATA, TEAM_A_COST_MARKER: SEES_TEAM_A},
    ),
    *[
        Endpoint(
            f"billing-api:run-{kind}-csv", SEES_ALL_COSTS, api=True, kwargs=BILLING_MONTH, markers=TEAM_DATA
        )
        for kind in ("summary", "lines", "focus")
    ],
    Endpoint("billing-api:run-finalize", FINANCE, method="POST", api=True, kwargs=BILLING_MONTH),
    # The API description is public: it documents shapes, not data.
    Endpoint("api-schema", EVERYONE),
    Endpoint("api-docs", EVERYONE),
]

EXEMPT_NAMESPACES = {
    "admin": "Django's admin: guarded by Django's own is_staff check, for superusers only",
    # The migration assistant's pages need a monolith, plans, claims and cutovers this world does not build;
    # tests/clusters/migration/test_views.py checks every one of its URL names per role (and fails when a
    # new one is not covered there).
    "migration": "per role in tests/clusters/migration/test_views.py",
}


def _pattern_names(resolver: URLResolver, namespace: str = "") -> list[tuple[str, str, str]]:
    """(full name, pattern, namespace) of every URL pattern, recursively."""
    names = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            child_ns = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else entry.namespace
            names += _pattern_names(entry, child_ns or namespace)
        elif isinstance(entry, URLPattern):
            full = f"{namespace}:{entry.name}" if namespace and entry.name else (entry.name or "")
            names.append((full, str(entry.pattern), namespace))
    return names


def test_every_url_pattern_is_declared():
    declared = {endpoint.name for endpoint in ENDPOINTS}
    undeclared = []
    for name, pattern, namespace in _pattern_names(get_resolver()):
        if namespace.split(":")[0] in EXEMPT_NAMESPACES:
            continue
        if not name:
            undeclared.append(f"unnamed pattern {pattern!r}")
        elif name not in declared:
            undeclared.append(name)
    assert undeclared == [], f"Declare who may use these in tests/test_authz_matrix.py: {undeclared}"


def test_declared_endpoints_exist():
    names = {name for name, _, _ in _pattern_names(get_resolver())}
    assert {endpoint.name for endpoint in ENDPOINTS} <= names


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> World:
    """Team A's and team B's world, built once for the module's ~355 cases inside a transaction that is
    rolled back after the last one. Each case runs in its own savepoint (pytest-django's `db`, requested by
    the test), so what one case changes (a revoked token, a removed member, a finalized run) is undone
    before the next."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            built = _build_world()
        except BaseException:
            outer.__exit__(*sys.exc_info())
            raise
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)


def _build_world() -> World:
    team_a, team_b = builders.team("team-a"), builders.team("team-b")
    member_a = builders.user("member_a", team=team_a, first_name="Alice")
    personas = {
        "anonymous": None,
        "member_a": member_a,
        "member_b": builders.user("member_b", team=team_b, first_name="Bob"),
        "admin": builders.user("admin", role=User.Role.PLATFORM_ADMIN),
        "finance": builders.user("finance", role=User.Role.FINANCE),
    }
    platform_account = builders.aws_account()
    network_profile = builders.network_profile(platform_account)
    cluster_a = builders.cluster(team_a, network_profile)
    # Put the marker where only team A's viewers can see it: team A's cost center and an audit event.
    team_a.cost_center = TEAM_A_MARKER
    team_a.save()
    audit.record("portal.test.marker", actor=None, team=team_a, details={"marker": AUDIT_A_MARKER})
    token, _ = services.api_token_create(user=member_a, name="member-a-token")
    topic_a = builders.topic(cluster_a, "team-a.existing")
    grant_a = builders.grant(topic_a, "arn:aws:iam::123456789012:role/app")
    # A read cluster of team A fed from its own write cluster (not cluster_a: that one stays decommissionable).
    write_a = builders.cluster(team_a, network_profile, "team-a-write", kind=Cluster.Kind.WRITE, arn="")
    read_a = builders.cluster(
        team_a, network_profile, "team-a-read", kind=Cluster.Kind.READ, source_cluster=write_a, arn=""
    )
    replicator_a = Replicator.objects.create(
        read_cluster=read_a, source_cluster=write_a, topics=[topic_a.name], status=Replicator.Status.ACTIVE
    )
    # Drift: an unknown cluster in MSK, team A's write cluster re-tagged there, cluster_a gone from it.
    long_ago = timezone.now() - timedelta(hours=1)  # the simulated MSK reports both as ACTIVE
    shadow_arn = "arn:aws:kafka:us-east-1:123456789012:cluster/shadow/0e6f5a2c-8e33-4c1e-9a43-5b0a7ad1f6c2-s1"
    write_a.arn = (
        "arn:aws:kafka:us-east-1:123456789012:cluster/team-a-write/5b0a7ad1-8e33-4c1e-9a43-0e6f5a2c1f6c-s1"
    )
    write_a.save()
    for name, arn in (("shadow", shadow_arn), (write_a.name, write_a.arn)):
        LocalMskCluster.objects.create(
            account_id=platform_account.account_id,
            region="us-east-1",
            name=name,
            arn=arn,
            created_at=long_ago,
            tags={"team": "someone-else"},
        )
    findings = {
        kind: DriftFinding.objects.create(
            account=platform_account,
            region="us-east-1",
            arn=cluster.arn if cluster else shadow_arn,
            kind=kind,
            cluster=cluster,
            detail=f"{kind} {DRIFT_MARKER}",
        )
        for kind, cluster in (("unknown", None), ("retagged", write_a), ("missing", cluster_a))
    }
    request_a = builders.topic_request(member_a, cluster_a, REQUEST_MARKER)
    _billing_run(team_a, team_b, cluster_a)
    return World(
        team_a=team_a,
        team_b=team_b,
        personas=personas,
        membership_a=Membership.objects.get(team=team_a, user=member_a),
        token_a_id=token.pk,
        cluster_a=cluster_a,
        topic_a=topic_a,
        grant_a=grant_a,
        request_a=request_a,
        account=platform_account,
        profile=network_profile,
        replicator_a=replicator_a,
        unknown_finding=findings["unknown"],
        retagged_finding=findings["retagged"],
        missing_finding=findings["missing"],
    )


def _billing_run(team_a, team_b, cluster) -> None:
    """A provisional month with one line per team (team A's carries the cost-center marker)."""
    run = ChargebackRun.objects.create(
        month=dt.date(2026, 9, 1), computed_at=timezone.now(), total_usd=Decimal("1308.72"), line_count=2
    )
    for position, (team, cost) in enumerate(((team_a, TEAM_A_COST_MARKER), (team_b, TEAM_B_COST_MARKER)), 1):
        ChargebackLine.objects.create(
            run=run,
            position=position,
            team=team,
            team_name=team.name,
            cost_center=team.cost_center,
            cluster=cluster,
            cluster_name=cluster.name,
            cluster_arn=cluster.arn,
            region="us-east-1",
            account_id="123456789012",
            topic_name="",
            charge_type="cluster_hours",
            quantity=Decimal(720),
            unit="cluster-hour",
            unit_price_usd=Decimal("0.75"),
            cost_usd=Decimal(cost),
            allocation_basis="usage_share",
            allocation_ratio=Decimal("0.5"),
        )


def _request(endpoint: Endpoint, world: World, role: str, token_for, headers: dict | None = None):
    user = world.personas[role]
    url = reverse(endpoint.name, kwargs=endpoint.kwargs(world))
    data = endpoint.data(world) if endpoint.data else {}
    headers = dict(headers or {})
    if endpoint.api and user is not None:
        # The API is exercised with personal tokens, the way automation uses it.
        client = client_for(None)
        headers["Authorization"] = f"Bearer {token_for(user)}"
    else:
        client = client_for(user)
    method = getattr(client, endpoint.method.lower())
    if endpoint.api and endpoint.method == "POST":
        return method(url, data=data, headers=headers, content_type="application/json")
    return method(url, data=data, headers=headers)


def _body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


MATRIX = [(endpoint, role) for endpoint in ENDPOINTS for role in ROLES]


@pytest.mark.parametrize(
    ("endpoint", "role"), MATRIX, ids=[f"{endpoint.id}-as-{role}" for endpoint, role in MATRIX]
)
def test_authorization_matrix(endpoint: Endpoint, role: str, world, db, token_for):
    requests_before = Request.objects.count()
    response = _request(endpoint, world, role, token_for)
    status = response.status_code
    assert status < 500, f"{endpoint.id} as {role}: server error {status}"
    if role in endpoint.allowed:
        redirected_to_login = status == 302 and response["Location"].startswith(reverse("login"))
        assert status < 400 and (not redirected_to_login or endpoint.name in {"logout"}), (
            f"{endpoint.id} as {role} should be allowed, got {status}"
        )
        body = _body(response) if endpoint.markers else ""
        for marker, visible_to in endpoint.markers.items():
            present = marker in body
            assert present == (role in visible_to), (
                f"{endpoint.id} as {role}: {marker!r} {'leaked' if present else 'missing'}"
            )
    elif role == "anonymous":
        if endpoint.api:
            assert status == 401, f"{endpoint.id} anonymous should get 401, got {status}"
        else:
            assert status == 302 and response["Location"].startswith(reverse("login")), (
                f"{endpoint.id} anonymous should be sent to the login page, got {status}"
            )
    else:
        assert status in endpoint.refused, f"{endpoint.id} as {role} should be refused, got {status}"
        body = _body(response)
        assert TEAM_A_MARKER not in body and AUDIT_A_MARKER not in body and REQUEST_MARKER not in body
        assert DRIFT_MARKER not in body
    if endpoint.creates_request:
        created = Request.objects.count() - requests_before
        assert created == (1 if role in endpoint.allowed else 0), f"{endpoint.id} as {role} created {created}"


# htmx asks from a page (HX-Current-URL): a refusal or the way to the sign-in page must move that page to the
# sign-in page (HX-Redirect, coming back to it after), never be swapped into the panel that asked.
HTMX = {"HX-Request": "true", "HX-Current-URL": "http://testserver/requests/?status=submitted"}
SIGN_IN_AGAIN = "/login/?next=/requests/%3Fstatus%3Dsubmitted"
REFUSED_PAGES = [
    (endpoint, role)
    for endpoint in ENDPOINTS
    for role in ROLES
    if not endpoint.api and role not in endpoint.allowed
]


@pytest.mark.parametrize(
    ("endpoint", "role"),
    REFUSED_PAGES,
    ids=[f"{endpoint.id}-as-{role}" for endpoint, role in REFUSED_PAGES],
)
def test_htmx_requests_refused_send_the_page_to_sign_in(endpoint: Endpoint, role: str, world, db, token_for):
    plain = _request(endpoint, world, role, token_for).status_code  # 302 to sign in, 403, 404 or 400
    response = _request(endpoint, world, role, token_for, headers=HTMX)
    answer = (response.status_code, response.get("HX-Redirect"))
    if role == "anonymous" or plain == 403:
        assert answer == (200, SIGN_IN_AGAIN), f"{endpoint.id} as {role} (htmx, {plain} without): {answer}"
    else:  # not there for them (404), or a form's own message (400): nothing to sign in for
        assert answer[1] is None and response.status_code != 403, f"{endpoint.id} as {role} (htmx): {answer}"
