"""Properties of a month's run over random inventory histories and usage (hypothesis): topic names reused
by other teams and re-created by the same one, partition changes, creations and deletions on and off
the hour, traffic on names nobody had, and a clock anywhere in the month or after it.

- every team's total (as the pages show it) is the sum of its lines, and the run's total the sum of all;
- each cluster's cluster-hour lines add up to its rounded cluster cost, its hours counted here by
  brute force (every clock hour up to and including the current one in which it existed);
- every line multiplies out: quantity × unit price rounds to its cost;
- no byte is dropped or counted twice: the data-in lines add up to the bytes collected for the metered days;
- the run is identical on SQLite and on PostgreSQL (the same world built on both).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from billing import chargeback, selectors
from billing.models import ChargebackLine, TopicDailyUsage
from billing.pricing import BYTES_PER_GIB, LIST_PRICES, money
from clusters.models import AwsAccount, Cluster, NetworkProfile, PlatformSettings, Topic, TopicPartitionChange
from portal.models import Team, User
from tests import twin_database
from tests.conftest import examples

MONTH = dt.date(2026, 10, 1)
START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
MONTH_HOURS = 31 * 24
HOUR = dt.timedelta(hours=1)
TEAMS = ("Team A", "Team B", "Team C")
NAMES = ("orders", "clicks")  # few names: reused often
LINE_FIELDS = (
    "position",
    "team_name",
    "cost_center",
    "cluster_name",
    "topic_name",
    "charge_type",
    "quantity",
    "unit",
    "unit_price_usd",
    "cost_usd",
    "allocation_basis",
    "allocation_ratio",
)
DATABASES = ["default", "twin"] if twin_database.available() else ["default"]


def moment(hours: int, minute: int) -> dt.datetime:
    """`hours` after the month's start, at `minute` past (0: exactly on the hour)."""
    return START + hours * HOUR + dt.timedelta(minutes=minute)


minutes = st.sampled_from([0, 0, 1, 30, 59])  # on the hour often: the hh:00:00 rule
clusters_ = st.lists(
    st.fixed_dictionaries(
        {
            "team": st.integers(0, 2),
            "shared_with": st.sets(st.integers(0, 2), max_size=2),
            "since": st.integers(-300, 600),
            "since_minute": minutes,
            "lives": st.none() | st.integers(0, 500),
            "gone_minute": minutes,
        }
    ),
    min_size=1,
    max_size=2,
)
topics_ = st.lists(
    st.fixed_dictionaries(
        {
            "cluster": st.integers(0, 1),
            "team": st.integers(0, 2),
            "name": st.sampled_from(NAMES),
            "born": st.integers(-100, 700),
            "born_minute": minutes,
            "partitions": st.integers(1, 6),
            "change": st.none() | st.tuples(st.integers(0, 200), minutes, st.integers(1, 8)),
            "lives": st.none() | st.integers(0, 300),
            "gone_minute": minutes,
        }
    ),
    min_size=1,
    max_size=8,
)
usage_ = st.lists(
    st.tuples(
        st.integers(0, 1),
        st.sampled_from((*NAMES, "stray")),
        st.integers(-9, 30),
        st.integers(0, 5 * 2**30),
        st.integers(0, 5 * 2**30),
    ),
    max_size=30,
)
worlds = st.fixed_dictionaries(
    {
        "clusters": clusters_,
        "topics": topics_,
        "usage": usage_,
        "now": st.integers(0, MONTH_HOURS + 30),
        "now_minute": st.integers(0, 59),
    }
)


def build(world: dict, *, reverse: bool = False) -> dict:
    """The world's rows in the current database alias; returns what the checks need."""
    teams = [
        Team.objects.create(name=name, slug=name.lower().replace(" ", "-"), cost_center=f"CC-{name[-1]}")
        for name in TEAMS
    ]
    platform = Team.objects.create(name="Platform", slug="platform", cost_center="CC-P")
    settings_row = PlatformSettings.current()
    settings_row.platform_team = platform
    settings_row.save()
    account = AwsAccount.objects.create(
        name="acct",
        account_id="123456789012",
        ownership="platform",
        role_arn="arn:aws:iam::123456789012:role/msk-portal",
    )
    network = NetworkProfile.objects.create(
        account=account,
        region="us-east-1",
        name="n",
        vpc_id="vpc-0123456789abcdef0",
        subnets=[{"id": "subnet-0123456789abcdef0", "az": "us-east-1a"}],
        security_group_ids=["sg-0123456789abcdef0"],
    )
    clusters = []
    for number, spec in enumerate(world["clusters"]):
        since = moment(spec["since"], spec["since_minute"])
        gone = (
            None
            if spec["lives"] is None
            else since + spec["lives"] * HOUR + dt.timedelta(minutes=spec["gone_minute"])
        )
        cluster = Cluster.objects.create(
            name=f"c{number}",
            team=teams[spec["team"]],
            kind="write",
            environment="prod",
            account=account,
            region="us-east-1",
            network_profile=network,
            status="deleted" if gone else "active",
            active_since=since,
            deleted_at=gone,
            arn=f"arn:aws:kafka:us-east-1:123456789012:cluster/c{number}/x-s1",
        )
        cluster.shared_with.set([teams[index] for index in spec["shared_with"] if index != spec["team"]])
        clusters.append(cluster)
    live: set[tuple[int, str]] = set()
    topics = []
    for spec in world["topics"]:
        if spec["cluster"] >= len(clusters):
            continue
        cluster = clusters[spec["cluster"]]
        born = moment(spec["born"], spec["born_minute"])
        changes = [(born, spec["partitions"])]
        if spec["change"]:
            hours, minute, partitions = spec["change"]
            changes.append((changes[-1][0] + hours * HOUR + dt.timedelta(minutes=minute + 1), partitions))
        if spec["lives"] is not None:
            changes.append(
                (changes[-1][0] + spec["lives"] * HOUR + dt.timedelta(minutes=spec["gone_minute"]), 0)
            )
        elif (cluster.pk, spec["name"]) in live:
            continue  # one live topic per name and cluster (the inventory's constraint)
        else:
            live.add((cluster.pk, spec["name"]))
        topics.append((cluster, teams[spec["team"]], spec["name"], changes))
    # Rows in the opposite order on the twin: nothing may depend on row order or ids.
    for cluster, team, name, changes in reversed(topics) if reverse else topics:
        topic = Topic.objects.create(
            cluster=cluster,
            team=team,
            name=name,
            partitions=changes[0][1],
            status="deleted" if changes[-1][1] == 0 else "active",
            configs={"retention.ms": 2 * 86_400_000, "retention.bytes": 2**30},
        )
        TopicPartitionChange.objects.bulk_create(
            TopicPartitionChange(topic=topic, partitions=partitions, changed_at=when)
            for when, partitions in changes
        )
    collected: dict[tuple, list[int]] = {}
    for cluster_index, name, day, bytes_in, bytes_out in world["usage"]:  # the last of a day wins
        if cluster_index < len(clusters):
            key = (clusters[cluster_index].pk, name, MONTH + dt.timedelta(days=day))
            collected[key] = [bytes_in, bytes_out]  # a day collected again overwrites it
    TopicDailyUsage.objects.bulk_create(
        TopicDailyUsage(cluster_id=cluster_id, topic_name=name, day=day, metric=metric, bytes=count)
        for (cluster_id, name, day), pair in (reversed(collected.items()) if reverse else collected.items())
        for metric, count in zip(("bytes_in", "bytes_out"), pair, strict=True)
    )
    return {"clusters": clusters, "collected": collected, "teams": [*teams, platform]}


def started_hours(cluster: Cluster, until: dt.datetime) -> int:
    """By brute force: the month's clock hours before `until` in which the cluster existed at some instant
    (one deleted the instant it became active existed at none)."""
    if cluster.deleted_at is not None and cluster.deleted_at <= cluster.active_since:
        return 0
    return sum(
        1
        for hour in range(MONTH_HOURS)
        if START + hour * HOUR < until
        and cluster.active_since < START + (hour + 1) * HOUR
        and (cluster.deleted_at is None or cluster.deleted_at > START + hour * HOUR)
    )


def check_and_describe(world: dict, *, reverse: bool) -> list[tuple]:
    """Build the world here, compute the month, check the properties; the run's lines as plain values."""
    built = build(world, reverse=reverse)
    now = moment(world["now"], world["now_minute"])
    run = chargeback.compute_run(MONTH, now=now)
    lines = list(ChargebackLine.objects.filter(run=run).order_by("position"))
    assert run.total_usd == sum((line.cost_usd for line in lines), Decimal("0.00"))
    finance = User.objects.create(username="fin", role=User.Role.FINANCE)
    costs = selectors.month_costs(user=finance, month=MONTH, now=now)
    for team in built["teams"]:
        assert costs.for_team(team).total == sum(
            (line.cost_usd for line in lines if line.team_id == team.pk), Decimal(0)
        )
    for line in lines:
        assert money(line.quantity * line.unit_price_usd) == line.cost_usd, line
    for cluster in built["clusters"]:
        hours = started_hours(cluster, run.metered_until)
        charged = [
            line.cost_usd
            for line in lines
            if line.cluster_id == cluster.pk and line.charge_type == "cluster_hours"
        ]
        assert sum(charged, Decimal(0)) == money(hours * LIST_PRICES.cluster_hour), (cluster.name, hours)
    # The clusters in the run: existed at some moment between the month's start and `metered_until`.
    alive = {
        cluster.pk
        for cluster in built["clusters"]
        if cluster.active_since < run.metered_until
        and (cluster.deleted_at is None or cluster.deleted_at > START)
    }
    last_day = (run.metered_until - HOUR).date()
    collected_in = sum(
        pair[0]
        for (cluster_id, _, day), pair in built["collected"].items()
        if cluster_id in alive and MONTH <= day <= last_day
    )
    data_in = [line.quantity for line in lines if line.charge_type == "data_in"]
    # Each data-in quantity is rounded to 6 decimals of a GiB: half a millionth each at most. A topic's
    # quantity that rounds to 0 (under ~537 bytes) makes no line, so it counts among the roundings too.
    topics_with_bytes = {
        (cluster_id, name)
        for (cluster_id, name, day), pair in built["collected"].items()
        if cluster_id in alive and MONTH <= day <= last_day and pair[0]
    }
    roundings = len(data_in) + len(topics_with_bytes)
    assert abs(sum(data_in, Decimal(0)) - Decimal(collected_in) / BYTES_PER_GIB) <= Decimal(
        "0.0000005"
    ) * max(1, roundings)
    return [
        tuple(row)
        for row in ChargebackLine.objects.filter(run=run).order_by("position").values_list(*LINE_FIELDS)
    ]


@pytest.mark.django_db(databases=DATABASES)
@pytest.mark.usefixtures("twin_test_database")
@settings(
    max_examples=examples(30),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds)
@example(  # the case: team A deletes "orders" on the 5th at 04:30, team B creates it at 20:10
    world={
        "clusters": [
            {"team": 0, "shared_with": {1}, "since": -300, "since_minute": 0, "lives": None, "gone_minute": 0}
        ],
        "topics": [
            {
                "cluster": 0,
                "team": 0,
                "name": "orders",
                "born": -100,
                "born_minute": 0,
                "partitions": 2,
                "change": None,
                "lives": 100 + 4 * 24 + 4,
                "gone_minute": 30,
            },
            {
                "cluster": 0,
                "team": 1,
                "name": "orders",
                "born": 4 * 24 + 20,
                "born_minute": 10,
                "partitions": 3,
                "change": None,
                "lives": None,
                "gone_minute": 0,
            },
        ],
        "usage": [(0, "orders", day, 2**30 + day, 2**29) for day in range(10)],
        "now": 20 * 24 + 2,
        "now_minute": 50,
    }
)
@example(  # found by CI: a cluster deleted the instant it became active, on the hour, was charged an hour
    world={
        "clusters": [
            {"team": 0, "shared_with": set(), "since": 1, "since_minute": 0, "lives": 0, "gone_minute": 0}
        ],
        "topics": [
            {
                "cluster": 0,
                "team": 0,
                "name": "orders",
                "born": 0,
                "born_minute": 0,
                "partitions": 1,
                "change": None,
                "lives": None,
                "gone_minute": 0,
            }
        ],
        "usage": [],
        "now": 1,
        "now_minute": 0,
    }
)
def test_runs_add_up_meter_only_what_happened_and_are_the_same_on_sqlite_and_postgresql(world):
    results = {}
    for alias in DATABASES:
        with twin_database.on(alias), transaction.atomic(using=alias):
            results[alias] = check_and_describe(world, reverse=alias == "twin")
            transaction.set_rollback(True, using=alias)
    if len(results) == 2:
        assert results["default"] == results["twin"]
