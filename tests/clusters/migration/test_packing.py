"""The packing planner (clusters/migration/packing.py): hand-worked cases, properties, the lower bound.

Quotas come from `PlatformSettings()`'s defaults (an unsaved row: no database), i.e. from the one place
the portal keeps them. The property checks recompute every limit here in Decimal from the inputs, not
from the packer's own integer units.
"""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.pricing import LIST_PRICES
from clusters.migration.packing import (
    ApplicationDemand,
    PackingOptions,
    TopicDemand,
    candidate_packings,
    empty_clusters,
    plan_packing,
)
from clusters.migration.quotas import (
    CONNECT_INTERNAL_COMPACTED_PARTITIONS,
    REPLICATOR_COMPACTED_PARTITIONS,
    ClusterQuotas,
    replication_compacted_partitions,
)
from clusters.models import PlatformSettings
from tests.clusters.migration.instances import contract_instances
from tests.conftest import examples

QUOTAS = ClusterQuotas.from_settings(PlatformSettings())


def app(name, *, team="payments", ingress=0, egress=0, partitions=1, compacted=False, **fields):
    """One application with one topic `<name>.events`."""
    topic = TopicDemand(
        f"{name}.events", partitions, Decimal(str(ingress)), Decimal(str(egress)), compacted=compacted
    )
    return ApplicationDemand(name=name, team=team, topics=(topic,), **fields)


def placed(plan) -> dict[str, int]:
    """Application name → index of the planned cluster holding it."""
    return {name: index for index, cluster in enumerate(plan.clusters) for name in cluster.applications}


# --- Quotas and reservations ---------------------------------------------------------------------------


def test_quotas_come_from_the_platform_settings_defaults_and_the_reference():
    expected = ClusterQuotas(
        ingress_mbps=Decimal(200),
        egress_mbps=Decimal(400),
        partitions=2400,
        compacted_partitions=120,
        clusters_per_account_region=10,
        client_connections=3000,
        consumer_groups=500,
    )
    assert expected == QUOTAS
    assert REPLICATOR_COMPACTED_PARTITIONS == 83
    assert CONNECT_INTERNAL_COMPACTED_PARTITIONS == 31
    assert replication_compacted_partitions(replicator=True) == 83
    assert replication_compacted_partitions(replicator=True, connect=True) == 114
    assert replication_compacted_partitions() == 0


def test_quotas_follow_an_edited_settings_row():
    edited = PlatformSettings(max_write_mbps=Decimal("150.5"), max_clusters_per_account_region=25)
    quotas = ClusterQuotas.from_settings(edited)
    assert quotas.ingress_mbps == Decimal("150.5")
    assert quotas.clusters_per_account_region == 25


# --- Hand-worked cases ---------------------------------------------------------------------------------


def test_small_applications_share_one_cluster_and_its_load_is_reported_per_quota():
    plan = plan_packing(
        [
            app("a", ingress=50, egress=100, partitions=12, client_connections=300, consumer_groups=4),
            app("b", ingress=60, egress=60, partitions=24, client_connections=150, consumer_groups=2),
            app("c", ingress=20, egress=0, partitions=6, compacted=True),
        ],
        QUOTAS,
    )
    assert [cluster.applications for cluster in plan.clusters] == [("a", "b", "c")]
    assert plan.clusters[0].topics == ("a.events", "b.events", "c.events")
    loads = {
        load.quota: (load.used, load.capacity, load.budget, load.percent) for load in plan.clusters[0].load
    }
    assert loads == {
        "ingress": (Decimal(130), Decimal(200), Decimal(140), Decimal("65.0")),
        "egress": (Decimal(160), Decimal(400), Decimal(280), Decimal("40.0")),
        "partitions": (Decimal(42), Decimal(2400), Decimal(1680), Decimal("1.8")),
        "compacted_partitions": (Decimal(6), Decimal(120), Decimal(84), Decimal("5.0")),
        "client_connections": (Decimal(450), Decimal(3000), Decimal(2100), Decimal("15.0")),
        "consumer_groups": (Decimal(6), Decimal(500), Decimal(350), Decimal("1.2")),
    }
    (group,) = plan.groups
    assert (group.applications, group.clusters, group.lower_bound, group.unplaceable) == (3, 1, 1, 0)
    assert plan.unplaceable == () and plan.partition_warnings == ()


def test_exactly_at_the_headroom_target_fits_one_more_does_not():
    # 80 + 60 = 140 MB/s is exactly 70 % of 200: they share; 70 needs its own cluster. Σ 210 → bound ⌈210/140⌉ = 2.
    plan = plan_packing([app("a", ingress=80), app("b", ingress=70), app("c", ingress=60)], QUOTAS)
    assert sorted(cluster.applications for cluster in plan.clusters) == [("a", "c"), ("b",)]
    assert plan.groups[0].lower_bound == 2
    # 140.001 MB/s is over the target: a cluster of its own is not enough, it cannot be placed at all.
    plan = plan_packing([app("a", ingress="140.001")], QUOTAS)
    assert plan.clusters == () and plan.unplaceable[0].application == "a"


def test_many_equal_applications_fill_clusters_to_the_lower_bound():
    plan = plan_packing(
        [app(f"app{i:03d}", ingress=7) for i in range(100)], QUOTAS
    )  # 700 MB/s, 20 per cluster
    assert [len(cluster.applications) for cluster in plan.clusters] == [20] * 5
    assert plan.groups[0].lower_bound == 5


def test_pii_never_shares_a_cluster_with_non_pii():
    plan = plan_packing(
        [app("ledger", contains_pii=True), app("clicks"), app("profiles", contains_pii=True)], QUOTAS
    )
    assert [(c.group.label, c.applications) for c in plan.clusters] == [
        ("no PII", ("clicks",)),
        ("PII", ("ledger", "profiles")),
    ]


def test_latency_classes_share_unless_separation_is_chosen():
    apps = [app("fraud", time_sensitive=True), app("reports")]
    assert len(plan_packing(apps, QUOTAS).clusters) == 1
    plan = plan_packing(apps, QUOTAS, PackingOptions(separate_latency_classes=True))
    assert [(c.group.label, c.applications) for c in plan.clusters] == [
        ("no PII · time-insensitive", ("reports",)),
        ("no PII · time-sensitive", ("fraud",)),
    ]


def test_segregated_strategy_keeps_teams_apart_and_accounts_always_apart():
    apps = [
        app("pay", team="payments"),
        app("search", team="search"),
        app("ads", team="search", account="222"),
    ]
    assert [c.applications for c in plan_packing(apps, QUOTAS).clusters] == [("pay", "search"), ("ads",)]
    plan = plan_packing(apps, QUOTAS, PackingOptions(separate_teams=True))
    assert [(c.group.label, c.applications) for c in plan.clusters] == [
        ("no PII · team payments", ("pay",)),
        ("no PII · team search", ("search",)),
        ("no PII · team search · account 222", ("ads",)),
    ]


def test_an_application_larger_than_a_cluster_is_reported_not_packed():
    big = ApplicationDemand(
        name="firehose",
        team="search",
        topics=(
            TopicDemand("firehose.raw", 40, Decimal(100), Decimal(100)),
            TopicDemand("firehose.enriched", 40, Decimal(50), Decimal(50)),
        ),
    )
    huge_topic = app("audit", ingress=150, partitions=30)
    plan = plan_packing([big, huge_topic, app("small", ingress=1)], QUOTAS)
    assert [c.applications for c in plan.clusters] == [("small",)]
    reasons = {item.application: item.reasons for item in plan.unplaceable}
    assert reasons["firehose"] == (
        "firehose needs 150 MB/s of ingress; one cluster takes at most 140 MB/s at 70 % headroom (quota: 200 MB/s).",
        "firehose cannot be packed into one cluster: split it into smaller applications (some of its topics and "
        "clients on another cluster), or raise the headroom target.",
    )
    assert reasons["audit"][1] == (
        "Its topic audit.events alone needs 150 MB/s of ingress: no split of the application helps, the topic's "
        "load itself has to be divided."
    )
    assert plan.groups[0].unplaceable == 2 and plan.groups[0].lower_bound == 1


def test_replication_reserves_compacted_partitions_and_headroom_applies_to_the_rest():
    options = PackingOptions(reserved_compacted_partitions=replication_compacted_partitions(replicator=True))
    # 120 - 83 = 37 compacted partitions left, 70 % of it = 25 for applications.
    apps = [app(name, partitions=12, compacted=True) for name in ("a", "b", "c")]
    plan = plan_packing(apps, QUOTAS, options)
    assert [c.applications for c in plan.clusters] == [("a", "b"), ("c",)]
    compacted = plan.clusters[0].quota("compacted_partitions")
    assert (compacted.used, compacted.reserved, compacted.budget, compacted.percent) == (
        Decimal(107),
        Decimal(83),
        Decimal(25),
        Decimal("89.2"),
    )
    partitions = plan.clusters[0].quota("partitions")
    assert (partitions.used, partitions.budget) == (Decimal(24 + 83), Decimal(1621))  # ⌊0.7 × 2317⌋

    # Five applications with 13 each: ⌈65 / 25⌉ = 3 by volume, but no two fit together: 5 clusters, optimal.
    plan = plan_packing([app(f"k{i}", partitions=13, compacted=True) for i in range(5)], QUOTAS, options)
    (group,) = plan.groups
    assert (group.volume_bound, group.large_item_bound, group.lower_bound, group.clusters) == (3, 5, 5, 5)

    plan = plan_packing([app("wide", partitions=26, compacted=True)], QUOTAS, options)
    assert plan.unplaceable[0].reasons[0] == (
        "wide needs 26 compacted partitions; one cluster takes at most 25 at 70 % headroom "
        "(quota: 120, less 83 kept by replication)."
    )


def test_each_account_reserves_for_its_own_tool_and_is_bounded_with_it():
    """A segregated plan of an MSK monolith in the platform's account: MSK Replicator feeds the platform's
    clusters (83 reserved, 25 compacted partitions left at 70 %), MirrorMaker 2 the team account's (Connect's
    31 reserved, 62 left). The same three applications need two clusters there and one here."""
    options = PackingOptions(
        reserved_compacted_partitions=replication_compacted_partitions(replicator=True),
        reserved_by_account={"222": replication_compacted_partitions(connect=True)},
    )
    apps = [app(name, partitions=12, compacted=True) for name in ("a", "b", "c")]
    apps += [app(name, partitions=12, compacted=True, account="222") for name in ("x", "y", "z")]
    plan = plan_packing(apps, QUOTAS, options)
    assert [(c.group.account, c.applications) for c in plan.clusters] == [
        ("", ("a", "b")),
        ("", ("c",)),
        ("222", ("x", "y", "z")),
    ]
    assert [
        (c.quota("compacted_partitions").reserved, c.quota("compacted_partitions").budget)
        for c in plan.clusters
    ] == [(83, 25), (83, 25), (31, 62)]
    assert [
        (g.group.account, g.reserved_compacted_partitions, g.volume_bound, g.clusters) for g in plan.groups
    ] == [("", 83, 2, 2), ("222", 31, 1, 1)]
    # 26 compacted partitions: too many beside MSK Replicator, fine beside Connect's topics.
    plan = plan_packing(
        [
            app("wide", partitions=26, compacted=True),
            app("wide2", partitions=26, compacted=True, account="222"),
        ],
        QUOTAS,
        options,
    )
    assert [item.application for item in plan.unplaceable] == ["wide"]
    assert [c.applications for c in plan.clusters] == [("wide2",)]


def test_a_reservation_larger_than_the_quota_is_refused():
    with pytest.raises(ValueError, match="more than the 120 a cluster allows"):
        plan_packing([app("a")], QUOTAS, PackingOptions(reserved_compacted_partitions=121))


def test_topics_too_hot_for_their_partitions_are_reported_and_packed_at_the_partitions_they_need():
    plan = plan_packing(
        [app("orders", ingress=30, egress=50, partitions=2), app("ok", ingress=5, partitions=1)], QUOTAS
    )
    (warning,) = plan.partition_warnings
    assert (warning.application, warning.topic, warning.partitions, warning.partitions_needed) == (
        "orders",
        "orders.events",
        2,
        6,
    )
    assert warning.message == (
        "Topic orders.events (orders) has 2 partitions for a peak of 30 MB/s in and 50 MB/s out; an MSK "
        "Serverless partition serves at most 5 MB/s in and 10 MB/s out, so it needs 6 partitions before it can "
        "move (MSK Replicator and MirrorMaker 2 keep the partition count). Adding partitions changes which "
        "partition a key goes to: agree the change with its owners."
    )
    assert plan.clusters[0].quota("partitions").used == 6 + 1


def test_a_peak_spread_over_topics_is_written_with_at_most_two_decimals():
    plan = plan_packing([app("spread", ingress="59.433962", egress="118.867924", partitions=1)], QUOTAS)
    assert "a peak of 59.43 MB/s in and 118.87 MB/s out" in plan.partition_warnings[0].message


def test_egress_per_partition_can_be_what_needs_more_partitions():
    plan = plan_packing([app("fanout", ingress=4, egress="40.5", partitions=1)], QUOTAS)
    assert plan.partition_warnings[0].partitions_needed == 5  # ⌈40.5 / 10⌉; ingress alone needs 1


def test_the_account_quota_is_reported_when_the_plan_exceeds_it():
    apps = [app(f"a{i:02d}", ingress=100) for i in range(3)] + [app("b", account="222")]
    plan = plan_packing(apps, QUOTAS, existing_clusters={"": 8})
    assert [(a.account, a.existing, a.planned, a.over_limit) for a in plan.accounts] == [
        ("", 8, 3, True),
        ("222", 0, 1, False),
    ]
    assert plan.over_account_limit[0].sentence() == (
        "The platform's account would hold 11 Serverless clusters in this region (8 existing, 3 planned); the "
        "quota is 10 per account and region. Ask AWS for a quota increase before executing the plan, or move "
        "groups to another account."
    )


def test_cost_per_cluster_comes_from_the_rate_card():
    # No traffic, 10 partitions: 730 cluster-hours × $0.75 + 7,300 partition-hours × $0.0015 = $547.50 + $10.95.
    plan = plan_packing([app("idle", partitions=10)], QUOTAS, rates=LIST_PRICES)
    assert plan.clusters[0].cost.total == Decimal("558.45")
    assert plan_packing([app("idle", partitions=10)], QUOTAS).clusters[0].cost is None


def test_cost_uses_mean_throughput_when_known_and_the_peak_otherwise():
    def data_in(**mean):
        topic = TopicDemand("t", 20, Decimal(100), Decimal(0), retention_ms=1, **mean)  # storage ≈ 0
        plan = plan_packing([ApplicationDemand("a", "team", (topic,))], QUOTAS, rates=LIST_PRICES)
        line = next(line for line in plan.clusters[0].cost.lines if line.charge_type == "data_in")
        return line.quantity, line.cost

    # 1 MB/s for a 730-hour month = 2.628 × 10^12 bytes = 2,447.516 GiB, at $0.10 a GiB = $244.75.
    assert data_in(mean_in_mbps=Decimal(1)) == (Decimal("2447.516"), Decimal("244.75"))
    assert data_in() == (Decimal("244751.573"), Decimal("24475.16"))  # the 100 MB/s peak, all month


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: plan_packing([app("a"), app("a", team="x")], QUOTAS), "Two applications are named a"),
        (
            lambda: plan_packing(
                [app("a"), ApplicationDemand("b", "t", (TopicDemand("a.events", 1, 0, 0),))], QUOTAS
            ),
            "Topic a.events is listed by both a and b",
        ),
        (lambda: TopicDemand("t", 0, 1, 1), "partitions must be a whole number of at least 1"),
        (lambda: TopicDemand("t", 1, -1, 1), "peak_in_mbps must be a number of at least 0"),
        (lambda: TopicDemand("t", 1, "fast", 1), "peak_in_mbps must be a number"),
        (lambda: TopicDemand("t", 1, 1, 1, mean_out_mbps=2), r"mean_out_mbps \(2\) is above its peak"),
        (lambda: ApplicationDemand("a", "t", client_connections=-1), "client_connections must be"),
        (lambda: PackingOptions(headroom_percent=0), "whole percentage from 1 to 100"),
        (lambda: PackingOptions(headroom_percent=101), "whole percentage from 1 to 100"),
        (lambda: PackingOptions(reserved_by_account={"222": -1}), "cannot be negative"),
    ],
)
def test_bad_input_gets_a_clear_error(build, message):
    with pytest.raises(ValueError, match=message):
        build()


# --- Properties ----------------------------------------------------------------------------------------

MBPS = st.decimals(min_value=0, max_value=120, places=3)


@st.composite
def topic_demands(draw, prefix: str) -> tuple[TopicDemand, ...]:
    count = draw(st.integers(0, 4))
    return tuple(
        TopicDemand(
            f"{prefix}.t{i}",
            draw(st.integers(1, 900)),
            draw(MBPS),
            draw(MBPS) * draw(st.integers(0, 4)),
            compacted=draw(st.booleans()),
        )
        for i in range(count)
    )


@st.composite
def applications(draw) -> list[ApplicationDemand]:
    count = draw(st.integers(0, 30))
    return [
        ApplicationDemand(
            name=f"app{i:02d}",
            team=draw(st.sampled_from(["payments", "search", "ads"])),
            topics=draw(topic_demands(f"app{i:02d}")),
            client_connections=draw(st.integers(0, 2500)),
            consumer_groups=draw(st.integers(0, 400)),
            time_sensitive=draw(st.booleans()),
            contains_pii=draw(st.booleans()),
            account=draw(st.sampled_from(["", "", "222"])),
            segment=draw(st.sampled_from(["", "", "analytics"])),
        )
        for i in range(count)
    ]


RESERVATIONS = st.sampled_from([0, 31, 83, 114])
OPTIONS = st.builds(
    PackingOptions,
    headroom_percent=st.integers(20, 100),
    separate_latency_classes=st.booleans(),
    separate_teams=st.booleans(),
    reserved_compacted_partitions=RESERVATIONS,
    # Another tool in some accounts (a segregated plan's team account fed by MirrorMaker 2, the platform's
    # by MSK Replicator): each account's clusters reserve their own tool's share.
    reserved_by_account=st.dictionaries(st.sampled_from(["", "222"]), RESERVATIONS, max_size=2),
)


def reserved(options: PackingOptions, account: str) -> int:
    """What the test asked to reserve on a cluster of `account`, read back from the drawn options."""
    return dict(options.reserved_by_account).get(account, options.reserved_compacted_partitions)


def demand(application: ApplicationDemand) -> dict[str, Decimal]:
    """What the application asks of a cluster, recomputed here from its topics."""

    def needed(topic: TopicDemand) -> int:
        return max(topic.partitions, math.ceil(topic.peak_in_mbps / 5), math.ceil(topic.peak_out_mbps / 10))

    return {
        "ingress": sum((t.peak_in_mbps for t in application.topics), Decimal(0)),
        "egress": sum((t.peak_out_mbps for t in application.topics), Decimal(0)),
        "partitions": Decimal(sum(needed(t) for t in application.topics)),
        "compacted_partitions": Decimal(sum(needed(t) for t in application.topics if t.compacted)),
        "client_connections": Decimal(application.client_connections),
        "consumer_groups": Decimal(application.consumer_groups),
    }


def budget(options: PackingOptions, account: str) -> dict[str, Decimal]:
    """headroom × (quota − reserved) on a cluster of `account`, in Decimal."""
    share = Decimal(options.headroom_percent) / 100
    kept = reserved(options, account)
    return {
        "ingress": share * QUOTAS.ingress_mbps,
        "egress": share * QUOTAS.egress_mbps,
        "partitions": share * (QUOTAS.partitions - kept),
        "compacted_partitions": share * (QUOTAS.compacted_partitions - kept),
        "client_connections": share * QUOTAS.client_connections,
        "consumer_groups": share * QUOTAS.consumer_groups,
    }


PROPERTY_SETTINGS = settings(
    max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(applications(), OPTIONS)
def test_every_constraint_holds(apps, options):
    by_name = {application.name: application for application in apps}
    for cluster in plan_packing(apps, QUOTAS, options).clusters:
        members = [by_name[name] for name in cluster.applications]
        assert len({m.contains_pii for m in members}) == 1
        assert len({m.account for m in members}) == 1
        assert len({m.segment for m in members}) == 1
        if options.separate_latency_classes:
            assert len({m.time_sensitive for m in members}) == 1
        if options.separate_teams:
            assert len({m.team for m in members}) == 1
        assert cluster.group.contains_pii == members[0].contains_pii


@PROPERTY_SETTINGS
@given(applications(), OPTIONS)
def test_every_quota_stays_under_headroom_on_every_planned_cluster(apps, options):
    by_name = {application.name: application for application in apps}
    for cluster in plan_packing(apps, QUOTAS, options).clusters:
        limits = budget(options, cluster.group.account)
        for load in cluster.load:
            total = sum(demand(by_name[name])[load.quota] for name in cluster.applications)
            assert total <= limits[load.quota], (cluster.applications, load.quota)
            assert load.used == total + load.reserved  # what the plan shows is what it packed
            if load.quota in ("partitions", "compacted_partitions"):
                assert load.reserved == reserved(options, cluster.group.account)
            assert load.used <= load.capacity


@PROPERTY_SETTINGS
@given(applications(), OPTIONS)
def test_every_placeable_application_is_placed_exactly_once(apps, options):
    plan = plan_packing(apps, QUOTAS, options)
    placements = [name for cluster in plan.clusters for name in cluster.applications]
    assert len(placements) == len(set(placements))
    unplaceable = {item.application for item in plan.unplaceable}
    assert not unplaceable & set(placements)
    for application in apps:
        limits = budget(options, application.account)
        fits_alone = all(value <= limits[key] for key, value in demand(application).items())
        assert (application.name in placements) == fits_alone
        assert (application.name in unplaceable) == (not fits_alone)
    for group in plan.groups:
        assert group.clusters >= group.lower_bound  # a lower bound no plan can beat


@PROPERTY_SETTINGS
@given(applications(), OPTIONS)
def test_each_groups_lower_bound_is_computed_with_its_own_reservation(apps, options):
    """The volume bound recomputed here, in Decimal, from the group's placed applications and the budget of
    the group's account (whole partitions: a budget of 1,621.9 partitions holds 1,621)."""
    plan = plan_packing(apps, QUOTAS, options)
    by_name = {application.name: application for application in apps}
    members: dict = {}
    for cluster in plan.clusters:
        members.setdefault(cluster.group, []).extend(by_name[name] for name in cluster.applications)
    for group in plan.groups:
        assert group.reserved_compacted_partitions == reserved(options, group.group.account)
        limits = {
            key: value if key in ("ingress", "egress") else math.floor(value)
            for key, value in budget(options, group.group.account).items()
        }
        placed_here = members.get(group.group, [])
        bound = max(
            (
                math.ceil(sum((demand(application)[key] for application in placed_here), Decimal(0)) / limit)
                for key, limit in limits.items()
                if limit > 0
            ),
            default=0,
        )
        assert group.volume_bound == (max(bound, 1) if placed_here else 0), group
        assert group.clusters >= group.lower_bound


@PROPERTY_SETTINGS
@given(applications(), OPTIONS, st.randoms(use_true_random=False))
def test_the_plan_is_deterministic_whatever_the_input_order(apps, options, rng):
    shuffled = list(apps)
    rng.shuffle(shuffled)
    first = plan_packing(apps, QUOTAS, options, rates=LIST_PRICES)
    assert plan_packing(shuffled, QUOTAS, options, rates=LIST_PRICES) == first
    assert plan_packing(list(reversed(apps)), QUOTAS, options, rates=LIST_PRICES) == first


VECTOR_BUDGET = (140_000, 280_000, 1680, 84, 2100, 350)  # 70 % of the default quotas, in packing units


@st.composite
def vectors(draw) -> list[tuple[int, ...]]:
    """Items that each fit alone, some large, some zero on a quota."""
    share = st.one_of(st.just(0.0), st.floats(0.0, 0.2), st.floats(0.0, 1.0))
    return [
        tuple(int(draw(share) * limit) for limit in VECTOR_BUDGET) for _ in range(draw(st.integers(1, 40)))
    ]


def assert_a_packing(bins, loads, items) -> None:
    assert sorted(item for members in bins for item in members) == list(range(len(items)))
    for members, load in zip(bins, loads, strict=True):
        assert load == [sum(items[item][dim] for item in members) for dim in range(6)]
        assert all(used <= limit for used, limit in zip(load, VECTOR_BUDGET, strict=True))


@PROPERTY_SETTINGS
@given(vectors())
def test_every_heuristic_and_the_improvement_pass_respect_every_quota(items):
    """Each candidate on its own (plan_packing stops at the first that reaches the lower bound, so the
    others would rarely be seen), then the improvement pass on the worst possible start: one per bin."""
    for _name, (loads, bins) in candidate_packings(items, VECTOR_BUDGET):
        assert_a_packing(bins, loads, items)
    bins = [[item] for item in range(len(items))]
    loads = [list(vector) for vector in items]
    emptied = empty_clusters(loads, bins, items, VECTOR_BUDGET, bound=1)
    assert_a_packing(bins, loads, items)
    assert len(bins) == len(items) - emptied


# --- Lower bound on 100 random instances ----------------------------------------------------------------


def test_cluster_count_is_within_one_of_the_lower_bound_on_100_random_instances():
    """Issue 13's contract: per constraint group, clusters ≤ max over quotas ⌈Σ / (h × capacity)⌉ + 1.

    Realistic inventories (tests/clusters/migration/instances.py) of 20 to 600 applications, each instance
    with its own strategy options, headroom and replication reservation (in the 29 that keep teams apart,
    some teams' accounts with another tool's reservation, each group bounded with its own): 850 groups in
    all. Measured: every instance holds the contract, 841 groups sit exactly on the volume bound and 9 one
    above it.
    No packer can always hold it: applications that each take over half of one quota's budget never share
    a cluster (test_replication_reserves_compacted_partitions_…: five of them, volume bound 3). So a group
    above the volume bound + 1 is accepted only at the large-item bound, i.e. optimal, and at most 2 of
    the 100 instances may have one.
    """
    instances_within = 0
    groups = at_volume_bound = 0
    for seed, apps, options in contract_instances(100):
        within = True
        for group in plan_packing(apps, QUOTAS, options).groups:
            groups += 1
            at_volume_bound += group.clusters == group.volume_bound
            assert group.clusters <= group.lower_bound + 1, (seed, group)
            if group.clusters > group.volume_bound + 1:
                within = False
                assert group.clusters == group.large_item_bound, (seed, group)  # provably optimal
        instances_within += within
    assert groups == 850
    assert instances_within >= 98
    assert at_volume_bound >= 840
