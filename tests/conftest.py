"""Personas and shared fixtures.

- member_a: member of team A (acts on A's objects);
- member_b: member of team B (must never see A's objects);
- admin: platform admin (sees everything, approves);
- finance: finance user (reads billing for all teams; cannot request or approve).
"""

from __future__ import annotations

import pytest
from django.test import Client

from portal import services
from portal.models import Membership, Team, User

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def _empty_cache():
    """Sign-in throttle counters of one test must not lock out the personas of the next."""
    from django.core.cache import cache

    cache.clear()


def make_user(username: str, role: str = User.Role.MEMBER, **extra) -> User:
    user = User.objects.create_user(
        username=username, password=PASSWORD, email=f"{username}@example.com", role=role, **extra
    )
    return user


@pytest.fixture
def team_a(db) -> Team:
    return Team.objects.create(
        name="Team A", slug="team-a", cost_center="CC-A", contact_email="a@example.com"
    )


@pytest.fixture
def team_b(db) -> Team:
    return Team.objects.create(
        name="Team B", slug="team-b", cost_center="CC-B", contact_email="b@example.com"
    )


@pytest.fixture
def member_a(team_a) -> User:
    user = make_user("member_a", first_name="Alice")
    Membership.objects.create(team=team_a, user=user)
    return user


@pytest.fixture
def member_b(team_b) -> User:
    user = make_user("member_b", first_name="Bob")
    Membership.objects.create(team=team_b, user=user)
    return user


@pytest.fixture
def admin(db) -> User:
    return make_user("admin", role=User.Role.PLATFORM_ADMIN)


@pytest.fixture
def finance(db) -> User:
    return make_user("finance", role=User.Role.FINANCE)


@pytest.fixture
def personas(member_a, member_b, admin, finance) -> dict[str, User | None]:
    return {"anonymous": None, "member_a": member_a, "member_b": member_b, "admin": admin, "finance": finance}


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def token_for():
    def make(user: User) -> str:
        _, raw_key = services.api_token_create(user=user, name="test")
        return raw_key

    return make


# --- Clusters -------------------------------------------------------------------------------------


@pytest.fixture
def platform_account(db):
    from clusters.models import AwsAccount

    return AwsAccount.objects.create(
        name="Platform shared",
        account_id="123456789012",
        ownership=AwsAccount.Ownership.PLATFORM,
        role_arn="arn:aws:iam::123456789012:role/msk-portal",
    )


@pytest.fixture
def network_profile(platform_account):
    from clusters.models import NetworkProfile

    return NetworkProfile.objects.create(
        account=platform_account,
        region="us-east-1",
        name="shared-vpc",
        vpc_id="vpc-0123456789abcdef0",
        subnets=[
            {"id": "subnet-0123456789abcdef0", "az": "us-east-1a"},
            {"id": "subnet-0123456789abcdef1", "az": "us-east-1b"},
        ],
        security_group_ids=["sg-0123456789abcdef0"],
    )


@pytest.fixture
def cluster_a(team_a, platform_account, network_profile):
    from clusters.models import Cluster

    return Cluster.objects.create(
        name="team-a-dev",
        team=team_a,
        kind=Cluster.Kind.DEDICATED,
        environment="dev",
        account=platform_account,
        region="us-east-1",
        network_profile=network_profile,
        status=Cluster.Status.ACTIVE,
        arn="arn:aws:kafka:us-east-1:123456789012:cluster/team-a-dev/c07c74ea-5146-4a03-add1-9baa787a5b14-s3",
    )


@pytest.fixture(scope="session")
def kafka_broker():
    """The real Kafka 2.3 test broker (tests/kafka/broker.py), started once per session on first use."""
    from tests.kafka.broker import session_broker

    with session_broker() as broker:
        yield broker
