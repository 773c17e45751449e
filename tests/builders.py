"""Builders of test data: one place that knows how to make a valid team, user, AWS account, network
profile, cluster, topic, grant or request, used by tests/ (fixtures and test modules) and bench/.

Plain functions, one per object: every argument a test does not care about has a valid default, and any
model field can be overridden by keyword (`cluster(..., status=Cluster.Status.PROVISIONING)`). Defaults
are the values the shared fixtures have always used (tests/conftest.py), so a builder call and a fixture
describe the same world.
"""

from __future__ import annotations

from decimal import Decimal

from clusters.models import AccessGrant, AwsAccount, Cluster, NetworkProfile, Topic
from portal.models import Membership, Team, User

PASSWORD = "correct-horse-battery-staple"
PLATFORM_ACCOUNT_ID = "123456789012"
VPC_ID = "vpc-0123456789abcdef0"
SECURITY_GROUP_ID = "sg-0123456789abcdef0"
APP_ROLE_ARN = "arn:aws:iam::123456789012:role/app"  # the application role topics grant access to
# Every setting of a new topic the request form asks for, as Kafka names them.
TOPIC_CONFIGS = {
    "retention.ms": 604800000,
    "retention.bytes": -1,
    "max.message.bytes": 1048588,
    "compression.type": "producer",
    "message.timestamp.type": "CreateTime",
    "cleanup.policy": "delete",
}


# --- People ---------------------------------------------------------------------------------------


def team(slug: str = "team-a", **fields) -> Team:
    """Team "Team A" (slug team-a, cost center CC-A, a@example.com) unless told otherwise."""
    letter = slug.removeprefix("team-").upper()
    defaults = {
        "name": f"Team {letter}",
        "cost_center": f"CC-{letter}",
        "contact_email": f"{slug.removeprefix('team-')}@example.com",
    }
    return Team.objects.create(slug=slug, **{**defaults, **fields})


def user(username: str, role: str = User.Role.MEMBER, *, team: Team | None = None, **fields) -> User:
    """A user who signs in with PASSWORD; a member of `team` when one is given."""
    created = User.objects.create_user(
        username=username, password=PASSWORD, email=f"{username}@example.com", role=role, **fields
    )
    if team is not None:
        Membership.objects.create(team=team, user=created)
    return created


# --- Inventory ------------------------------------------------------------------------------------


def aws_account(account_id: str = PLATFORM_ACCOUNT_ID, **fields) -> AwsAccount:
    """The platform's shared account ("Platform shared") unless told otherwise; a team's own account
    with `ownership="team", team=...`. The role ARN follows the account id."""
    defaults = {
        "name": "Platform shared",
        "ownership": AwsAccount.Ownership.PLATFORM,
        "role_arn": f"arn:aws:iam::{account_id}:role/msk-portal",
    }
    return AwsAccount.objects.create(account_id=account_id, **{**defaults, **fields})


def subnets(region: str = "us-east-1", first: int = 0) -> list[dict]:
    """Two subnets in two availability zones of `region` (MSK Serverless needs at least two)."""
    return [
        {"id": f"subnet-0123456789abcdef{first}", "az": f"{region}a"},
        {"id": f"subnet-0123456789abcdef{first + 1}", "az": f"{region}b"},
    ]


def network_profile(account: AwsAccount, region: str = "us-east-1", **fields) -> NetworkProfile:
    """A VPC of `account` in `region` ("shared-vpc") with two subnets and one security group."""
    defaults = {
        "name": "shared-vpc",
        "vpc_id": VPC_ID,
        "subnets": subnets(region),
        "security_group_ids": [SECURITY_GROUP_ID],
    }
    return NetworkProfile.objects.create(account=account, region=region, **{**defaults, **fields})


def eu_network_profile(account: AwsAccount) -> NetworkProfile:
    """A second VPC of `account` ("eu-vpc" in eu-west-1, other subnets, no security group): for checks
    that a cluster's network profile is in the cluster's region."""
    return network_profile(
        account,
        "eu-west-1",
        name="eu-vpc",
        vpc_id="vpc-0123456789abcdef1",
        subnets=subnets("eu-west-1", first=2),
        security_group_ids=[],
    )


def cluster(team: Team, network: NetworkProfile, name: str = "team-a-dev", **fields) -> Cluster:
    """An ACTIVE dedicated dev cluster of `team` in the account and region of `network`, with an ARN."""
    account = network.account
    defaults = {
        "kind": Cluster.Kind.DEDICATED,
        "environment": "dev",
        "status": Cluster.Status.ACTIVE,
        "arn": f"arn:aws:kafka:{network.region}:{account.account_id}:cluster/{name}/"
        "c07c74ea-5146-4a03-add1-9baa787a5b14-s3",
    }
    return Cluster.objects.create(
        name=name,
        team=team,
        account=account,
        region=network.region,
        network_profile=network,
        **{**defaults, **fields},
    )


def topic(cluster: Cluster, name: str = "team-a.existing", **fields) -> Topic:
    """An ACTIVE topic of the cluster's team with 3 partitions and the form's default settings."""
    defaults = {
        "team": cluster.team,
        "partitions": 3,
        "status": Topic.Status.ACTIVE,
        "configs": dict(TOPIC_CONFIGS),
    }
    return Topic.objects.create(cluster=cluster, name=name, **{**defaults, **fields})


def grant(topic: Topic, principal_arn: str = APP_ROLE_ARN, **fields) -> AccessGrant:
    """An APPLIED produce grant on `topic` for `principal_arn`, owned by the topic's team."""
    defaults = {"team": topic.team, "can_produce": True, "status": AccessGrant.Status.APPLIED}
    return AccessGrant.objects.create(
        cluster=topic.cluster, topic=topic, principal_arn=principal_arn, **{**defaults, **fields}
    )


# --- Requests -------------------------------------------------------------------------------------


def topic_request(actor: User, cluster: Cluster, name: str, *, team: Team | None = None, **fields):
    """A submitted request by `actor` for a new topic on `cluster` (1 MB/s in and out by default). `name` is
    the short name, as a member types it: the team's prefix is added ("orders" → "team-a.orders")."""
    from clusters.requests import services

    prepared = services.prepare_topic_create(
        actor=actor,
        team=team or cluster.team,
        cluster=cluster,
        name=name,
        **{"expected_in_mbps": Decimal(1), "expected_out_mbps": Decimal(1), **fields},
    )
    return services.submit_request(actor=actor, prepared=prepared)


def cluster_request(actor: User, team: Team, network: NetworkProfile, name: str, **fields):
    """A submitted request by `actor` for a new dedicated dev cluster of `team` on `network`."""
    from clusters.requests import services

    defaults = {
        "kind": "dedicated",
        "environment": "dev",
        "expected_write_mbps": Decimal(1),
        "expected_read_mbps": Decimal(1),
        "contains_pii": False,
        "latency_class": "time_insensitive",
        "justification": "x",
    }
    prepared = services.prepare_cluster_create(
        actor=actor,
        team=team,
        name=name,
        account=network.account,
        region=network.region,
        network_profile=network,
        **{**defaults, **fields},
    )
    return services.submit_request(actor=actor, prepared=prepared)


def cluster_form(team: Team, network: NetworkProfile, **fields) -> dict:
    """What the new-cluster web form posts for a dedicated prod cluster "team-a-prod" of `team` on `network`."""
    return {
        "team": team.pk,
        "name": "team-a-prod",
        "kind": "dedicated",
        "environment": "prod",
        "account": network.account_id,
        "region": network.region,
        "network_profile": network.pk,
        "expected_write_mbps": "20",
        "expected_read_mbps": "40",
        "latency_class": "time_insensitive",
        "justification": "Production traffic.",
        **fields,
    }


def waiting_copy(request):
    """A second waiting request the same as `request`, as filed before the duplicate rule refused such twins
    (clusters/requests/duplicates.py), for the approval's own check."""
    from clusters.models import Request

    fields = ["kind", "team", "requested_by", "environment", "summary", "payload", "assessment"]
    return Request.objects.create(
        **{name: getattr(request, name) for name in fields},
        cluster=request.cluster,
        topic=request.topic,
        grant=request.grant,
    )


def produce_access(principal_arn: str = APP_ROLE_ARN) -> list:
    """The access entries of a topic request that let `principal_arn` produce (and not consume)."""
    from clusters.requests import services

    return [services.AccessInput(principal_arn, produce=True, consume=False)]


def submit(actor: User, prepared):
    """`actor` submits a prepared request (any `services.prepare_*` result)."""
    from clusters.requests import services

    return services.submit_request(actor=actor, prepared=prepared)


def approve(request, admin: User, capture, *, run_tasks: bool = True):
    """`admin` approves the submitted `request`. `capture` is pytest-django's django_capture_on_commit_callbacks:
    the tasks the approval enqueues on commit run at once (Celery is eager in tests), or, with
    `run_tasks=False`, are lost, as when the broker is down at commit."""
    from clusters.requests import services

    with capture(execute=run_tasks):
        services.approve_request(request_id=request.pk, actor=admin)
    return request


# --- Migration ------------------------------------------------------------------------------------


def owned_monolith(admin: User, owner_member: User, taker: User, *, size: int, name: str = ""):
    """A monolith of `size` applications (one topic and one consumer group each) that `owner_member`'s team
    claimed and `admin` approved, placed by an accepted plan; `taker` asks to take over every other one (the
    first, third, …) for their team. The applications page's world at any size (its query-count test,
    bench/pages.py)."""
    from clusters.migration import inventory, planning
    from clusters.migration.models import Monolith

    monolith = inventory.register_monolith(
        actor=admin,
        name=name or f"legacy-{size}",
        bootstrap="127.0.0.1:1",
        security_protocol=Monolith.Security.PLAINTEXT,
    )
    owner = owner_member.memberships.get().team
    header = "topic,partitions,retention_ms,peak_in_mbps,peak_out_mbps,application,team,consumer_groups\n"
    lines = "".join(
        f"app{i}.events,3,604800000,1,2,app{i},{owner.slug},app{i}-readers\n" for i in range(size)
    )
    inventory.import_csv(actor=admin, monolith_id=monolith.pk, content=(header + lines).encode())
    inventory.discover_applications(actor=admin, monolith_id=monolith.pk)
    applications = list(monolith.applications.order_by("name"))
    for application in applications:
        claim = inventory.claim_application(actor=owner_member, application_id=application.pk, team=owner)
        inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=True)
    planning.accept_plan(actor=admin, plan_id=planning.create_plan(actor=admin, monolith_id=monolith.pk).pk)
    taker_team = taker.memberships.get().team
    for application in applications[::2]:
        inventory.claim_application(actor=taker, application_id=application.pk, team=taker_team)
    return monolith
