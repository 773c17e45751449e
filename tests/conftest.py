"""Personas and shared fixtures.

- member_a: member of team A (acts on A's objects);
- member_b: member of team B (must never see A's objects);
- admin: platform admin (sees everything, approves);
- finance: finance user (reads billing for all teams; cannot request or approve).
"""

from __future__ import annotations

import json
import os

import pytest
from django.test import Client
from hypothesis import Phase, settings

from portal import services
from portal.models import User
from tests import builders
from tests.builders import PASSWORD  # noqa: F401 - imported from here by tests

# Tests import make_user from here; it is the users' builder.
make_user = builders.user


# Hypothesis profiles, chosen by HYPOTHESIS_PROFILE: "default" (`make test`) runs every property test
# with the example count it names; "fast" (`make test-fast`, the edit-test loop) with a tenth of it, at
# least 5, and every explicit @example all the same. Property tests name their count through examples().
# "fast" reports a failing example as found, without shrinking it: shrinking a property test that builds
# database rows per example can take Hypothesis's full five minutes; `make test` (or
# HYPOTHESIS_PROFILE=default) shrinks it, and both replay it first from the example database (.hypothesis/).
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
settings.register_profile(
    "fast", max_examples=10, phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target]
)
settings.load_profile(HYPOTHESIS_PROFILE)


def examples(count: int) -> int:
    """A property test's example count under the loaded profile: `count`, or a tenth of it for "fast"."""
    return max(5, count // 10) if HYPOTHESIS_PROFILE == "fast" else count


# Tests that share one expensive process run on one pytest-xdist worker (`make test` runs with
# --dist loadgroup): one Chromium instead of one per worker, one Kafka broker (two JVMs) instead of one
# per worker. Everything else a test starts is its own: each worker process has its own test database
# and Celery queue (named after the run's pid and the xdist worker's id in tests/settings.py; SQLite files
# too), processes started by tests listen on free ports and keep their files under tmp_path.
SHARED_PROCESSES = {
    "tests/system/browser/": "browser",
    "tests/clusters/integrations/kafka/test_kafka_admin.py": "kafka-broker",
    "tests/clusters/integrations/aws/test_topics_e2e.py": "kafka-broker",
}


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    """--dist loadgroup with the groups above, named by path: pytest-xdist 3.8 reads xdist_group marks
    through Item._nodeid, which pytest 9.2 no longer uses, so marks would not group anything."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedProcessScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            groups = (group for prefix, group in SHARED_PROCESSES.items() if nodeid.startswith(prefix))
            return next(groups, nodeid)

    return SharedProcessScheduling(config, log)


# --- Test databases -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def django_db_setup(
    request,
    django_test_environment,
    django_db_blocker,
    django_db_use_migrations,
    django_db_keepdb,
    django_db_createdb,
    django_db_modify_db_settings,
):
    """pytest-django's, for "default" alone. pytest-django makes every database that some collected test
    names, in every xdist worker (each collects them all): the "twin" (tests/twin_database.py, SQLite
    migrations, ~2 s) in each worker for the one test that uses it. `twin_test_database` makes it in the
    process that runs that test."""
    from django.test.utils import setup_databases, teardown_databases

    if not django_db_use_migrations:
        raise pytest.UsageError("tests/conftest.py makes the test databases with their migrations")
    verbosity = request.config.option.verbose
    with django_db_blocker.unblock():
        made = setup_databases(
            verbosity=verbosity,
            interactive=False,
            keepdb=django_db_keepdb and not django_db_createdb,
            aliases={"default"},
            serialized_aliases=set(),
        )
    yield
    if not django_db_keepdb:
        with django_db_blocker.unblock():
            teardown_databases(made, verbosity=verbosity)


@pytest.fixture(scope="session")
def twin_test_database(django_db_setup, django_db_blocker):
    """The "twin" alias's test database, made by the first test of this process that asks for it (tests
    that name "twin" in django_db(databases=...) must request this fixture: checked at collection)."""
    from django.db import connections

    from tests import twin_database

    if not twin_database.available():
        yield
        return
    twin = connections["twin"]
    configured_name = twin.settings_dict["NAME"]
    with django_db_blocker.unblock():
        twin.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    yield
    with django_db_blocker.unblock():
        twin.creation.destroy_test_db(configured_name, verbosity=0)


def pytest_collection_modifyitems(items):
    # The longest tests first, then the groups that share one process, so that under xdist they run beside
    # the many short ones instead of alone at the end (the README commands test alone took the last ~8 of
    # 18 minutes). The order is otherwise kept.
    def start_early(item) -> int:
        if item.get_closest_marker("slow"):
            return 0
        return 1 if any(item.nodeid.startswith(prefix) for prefix in SHARED_PROCESSES) else 2

    items.sort(key=start_early)
    for item in items:
        marker = item.get_closest_marker("django_db")
        databases = marker.kwargs.get("databases") or () if marker else ()
        if "twin" in databases and "twin_test_database" not in item.fixturenames:
            raise pytest.UsageError(f"{item.nodeid} uses the twin database: request twin_test_database")


@pytest.fixture(scope="session", autouse=True)
def _botocore_data_read_once():
    """Every boto3 session reads botocore's JSON models again (endpoints.json alone is ~1 MB) into a
    cache of its own, and tests make many sessions: aws_control's caches are cleared between tests, and
    it opens a session per assumed role and client. One cache per data path for the whole run instead:
    the data is the same files, and a session's clients already share what it loaded without changing
    it. Only the reading is shared; every session, credential and client is still made afresh."""
    from botocore import loaders, session

    create_loader = session.create_loader
    caches: dict[str | None, dict] = {}

    def loader_with_shared_cache(search_path_string=None):
        loader = create_loader(search_path_string)
        loader._cache = caches.setdefault(search_path_string, {})  # what loaders.instance_cache reads
        return loader

    assert loaders.create_loader is create_loader  # botocore.session imported it by name
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(session, "create_loader", loader_with_shared_cache)
        yield


@pytest.fixture(scope="session", autouse=True)
def _own_queues_removed_at_the_end():
    """Tests that publish to the real broker leave messages in this process's own queue (its name is
    unique per run and xdist worker, tests/settings.py), and nobody reads it again: without this, the
    machine's Redis database kept ~100 messages and the bindings of every run's queues, for ever. Only
    keys named after this process's queue are removed (another run on the machine has its own)."""
    yield
    from django.conf import settings as django_settings

    broker = django_settings.CELERY_BROKER_URL
    if not broker.startswith("redis://"):
        return
    import redis

    queue = os.environ["CELERY_QUEUE"]
    try:
        client = redis.Redis.from_url(broker, socket_connect_timeout=2)
        ours = [
            key
            for pattern in (f"{queue}*", f"_kombu.binding.{queue}*", f"_kombu.binding_permanent.{queue}*")
            for key in client.scan_iter(match=pattern)
        ]
        if ours:
            client.delete(*ours)
        # Messages a killed worker never acknowledged wait in kombu's shared "unacked" hash, each with
        # the queue (routing key) it came from: only ours go.
        for tag, entry in client.hgetall("unacked").items():
            if json.loads(entry)[-1] == queue:
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)
    except (redis.RedisError, ValueError, IndexError):
        pass  # Redis went away (a test stops it): nothing to clean


@pytest.fixture(autouse=True)
def _empty_cache():
    """Sign-in throttle counters of one test must not lock out the personas of the next."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def team_a(db):
    return builders.team("team-a")


@pytest.fixture
def team_b(db):
    return builders.team("team-b")


@pytest.fixture
def member_a(team_a) -> User:
    return builders.user("member_a", team=team_a, first_name="Alice")


@pytest.fixture
def member_b(team_b) -> User:
    return builders.user("member_b", team=team_b, first_name="Bob")


@pytest.fixture
def admin(db) -> User:
    return builders.user("admin", role=User.Role.PLATFORM_ADMIN)


@pytest.fixture
def finance(db) -> User:
    return builders.user("finance", role=User.Role.FINANCE)


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
    return builders.aws_account()


@pytest.fixture
def network_profile(platform_account):
    return builders.network_profile(platform_account)


@pytest.fixture
def cluster_a(team_a, network_profile):
    return builders.cluster(team_a, network_profile)


@pytest.fixture(scope="session")
def kafka_broker():
    """The real Kafka 2.3 test broker (tests/clusters/integrations/kafka/broker.py), started once per session on first use."""
    from tests.clusters.integrations.kafka.broker import session_broker

    with session_broker() as broker:
        yield broker
