"""Steps 2 and 3: requirements feed a plan; every version is kept, moves are checked, versions compare."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from clusters.migration import inventory, planning
from clusters.migration.models import Application, MigrationPlan
from portal.audit_wording import detail_phrases
from portal.errors import NotAllowed
from portal.models import AuditEvent

HEADER = "topic,partitions,retention_ms,peak_in_mbps,peak_out_mbps,application,team,consumer_groups\n"
FILE = HEADER + "".join(
    [
        "orders.created,12,604800000,30,60,orders,team-a,billing;shipping\n",
        "orders.audit,3,-1,1,1,orders,team-a,audit\n",
        "payments.events,6,604800000,20,40,payments,team-a,ledger\n",
        "customers.pii,6,604800000,5,10,customers,team-a,crm\n",
        "clicks.raw,4,86400000,60,120,clicks,team-b,analytics\n",  # 15 MB/s per partition: too hot
        "search.index,24,86400000,40,40,search,team-b,indexer\n",
        "tiny.events,1,86400000,1,1,tiny,team-b,\n",
    ]
)


@pytest.fixture
def owned(monolith, admin, second_admin, member_a, member_b, team_a, team_b):
    inventory.import_csv(actor=admin, monolith_id=monolith.pk, content=FILE.encode(), filename="legacy.csv")
    inventory.discover_applications(actor=admin, monolith_id=monolith.pk)
    for application in monolith.applications.all():
        team, member = (team_a, member_a) if application.suggested_team == team_a else (team_b, member_b)
        claim = inventory.claim_application(actor=member, application_id=application.pk, team=team)
        inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=True)
    customers = monolith.applications.get(name="customers")
    inventory.update_requirements(actor=member_a, application_id=customers.pk, contains_pii=True)
    payments = monolith.applications.get(name="payments")
    inventory.update_requirements(
        actor=member_a, application_id=payments.pk, tolerates_duplicates=False, latency_class="time_sensitive"
    )
    inventory.set_monolith_cost(actor=admin, monolith_id=monolith.pk, monthly_cost_usd=Decimal("12000"))
    monolith.refresh_from_db()
    return monolith


def _where(plan) -> dict[str, str]:
    return {name: cluster["key"] for cluster in plan.result["clusters"] for name in cluster["applications"]}


def test_segregated_plan_keeps_teams_pii_and_latency_apart_under_headroom(owned, admin):
    plan = planning.create_plan(actor=admin, monolith_id=owned.pk, backup_region="us-west-2")
    result = plan.result
    apps = {app.name: app for app in owned.applications.select_related("team")}
    for cluster in result["clusters"]:
        members = [apps[name] for name in cluster["applications"]]
        assert len({app.team_id for app in members}) == 1
        assert len({app.contains_pii for app in members}) == 1
        assert len({app.latency_class for app in members}) == 1
        for load in cluster["load"]:
            assert Decimal(load["used"]) - Decimal(load["reserved"]) <= Decimal(load["budget"])
        assert Decimal(cluster["monthly_usd"]) > 0
    assert sorted(_where(plan)) == sorted(apps)
    # Self-managed monolith: MirrorMaker 2, whose Connect internal topics take 31 compacted partitions.
    assert result["replication"]["tool"] == planning.MM2
    assert {
        load["reserved"]
        for c in result["clusters"]
        for load in c["load"]
        if load["quota"] == "compacted_partitions"
    } == {"31"}
    assert [flag["job"] for flag in result["flags"]] == ["exactly-once"]
    assert "payments cannot tolerate duplicates" in result["flags"][0]["message"]
    warning = next(w for w in result["partition_warnings"] if w["topic"] == "clicks.raw")
    assert warning["partitions_needed"] == 12  # ⌈60/5⌉
    teams = {row["team"]: row for row in result["teams"]}
    assert sum(Decimal(row["after_usd"]) for row in teams.values()) == pytest.approx(
        Decimal(result["total_usd"]), abs=Decimal("0.05")
    )
    assert sum(Decimal(row["monolith_share_usd"]) for row in teams.values()) == pytest.approx(
        Decimal(12000), abs=Decimal("0.05")
    )
    assert result["backup"]["region"] == "us-west-2" and Decimal(result["backup"]["monthly_usd"]) > 0
    assert plan.version == 1 and plan.status == MigrationPlan.Status.DRAFT


def test_write_read_plan_flags_pii_for_masking_and_reserves_replicator_partitions_on_read_clusters(
    owned, admin
):
    result = planning.create_plan(actor=admin, monolith_id=owned.pk, strategy="write_read").result
    sides = {cluster["side"] for cluster in result["clusters"]}
    assert sides == {"write", "read"}
    read_reserved = {
        load["reserved"]
        for c in result["clusters"]
        if c["side"] == "read"
        for load in c["load"]
        if load["quota"] == "compacted_partitions"
    }
    assert read_reserved == {"83"}
    assert ("customers", "masking") in {(flag["application"], flag["job"]) for flag in result["flags"]}
    assert result["backup"] is None


def test_moving_an_application_makes_a_new_version_and_checks_it(owned, admin):
    # At 40 %, a cluster takes 80 MB/s in: team B's clicks (60) and search (40) need two clusters.
    first = planning.create_plan(
        actor=admin, monolith_id=owned.pk, headroom_percent=40, separate_latency_classes=False
    )
    where = _where(first)
    assert where["clicks"] != where["search"]
    with pytest.raises(ValidationError, match="cannot go to"):  # PII never shares with non-PII
        planning.move_application(
            actor=admin, plan_id=first.pk, application="orders", to_cluster=where["customers"]
        )
    with pytest.raises(ValidationError, match="team team-b"):  # segregated: teams apart
        planning.check_move(first, application="orders", to_cluster=where["search"])
    with pytest.raises(ValidationError, match="above the 80 MB/s of ingress its 40 % headroom allows"):
        planning.check_move(first, application="search", to_cluster=where["clicks"])
    assert MigrationPlan.objects.count() == 1  # refused moves save nothing

    target = where["search"] if where["tiny"] == where["clicks"] else where["clicks"]
    second = planning.move_application(actor=admin, plan_id=first.pk, application="tiny", to_cluster=target)
    assert second.version == 2 and second.based_on == first and second.moves == {"tiny": target}
    assert _where(second)["tiny"] == target
    moved_to = next(c for c in second.result["clusters"] if c["key"] == target)
    ingress = next(load for load in moved_to["load"] if load["quota"] == "ingress")
    before = next(c for c in first.result["clusters"] if c["key"] == target)
    assert (
        Decimal(ingress["used"])
        == Decimal(next(x["used"] for x in before["load"] if x["quota"] == "ingress")) + 1
    )
    comparison = planning.compare_plans(first, second)
    assert len(comparison.moved) == 1 and comparison.moved[0].startswith("tiny:")
    first.refresh_from_db()
    assert _where(first)["tiny"] == where["tiny"]  # the old version is unchanged


def test_accepting_is_compare_and_set_and_supersedes_the_previous_accepted_version(owned, admin):
    first = planning.create_plan(actor=admin, monolith_id=owned.pk)
    second = planning.create_plan(actor=admin, monolith_id=owned.pk, headroom_percent=60)
    planning.accept_plan(actor=admin, plan_id=first.pk)
    with pytest.raises(ValidationError, match="accepted, not a draft"):
        planning.accept_plan(actor=admin, plan_id=first.pk)
    planning.accept_plan(actor=admin, plan_id=second.pk)
    first.refresh_from_db()
    assert first.status == MigrationPlan.Status.SUPERSEDED


def test_members_neither_plan_nor_edit_other_teams_requirements(owned, member_a, member_b):
    with pytest.raises(NotAllowed):
        planning.create_plan(actor=member_a, monolith_id=owned.pk)
    orders = Application.objects.get(name="orders")
    with pytest.raises(NotAllowed):
        inventory.update_requirements(actor=member_b, application_id=orders.pk, contains_pii=True)


def test_stated_requirements_override_the_inventory_figures(owned, admin, member_b):
    clicks = Application.objects.get(name="clicks")
    inventory.update_requirements(
        actor=member_b, application_id=clicks.pk, peak_in_mbps=Decimal(120), peak_out_mbps=Decimal(150)
    )
    plan = planning.create_plan(actor=admin, monolith_id=owned.pk)
    cluster = next(c for c in plan.result["clusters"] if "clicks" in c["applications"])
    load = {entry["quota"]: Decimal(entry["used"]) for entry in cluster["load"]}
    assert load["ingress"] >= 120 and load["egress"] >= 150
    warning = next(w for w in plan.result["partition_warnings"] if w["topic"] == "clicks.raw")
    assert warning["partitions_needed"] == 24  # ⌈120/5⌉

    inventory.update_requirements(actor=member_b, application_id=clicks.pk, peak_in_mbps=Decimal(150))
    plan = planning.create_plan(actor=admin, monolith_id=owned.pk)
    unplaceable = next(item for item in plan.result["unplaceable"] if item["application"] == "clicks")
    assert any("ingress" in reason for reason in unplaceable["reasons"])
    with pytest.raises(ValidationError, match="fit no cluster"):
        planning.accept_plan(actor=admin, plan_id=plan.pk)


def _cluster_of(plan, application: str) -> dict:
    return next(c for c in plan.result["clusters"] if application in c["applications"])


def _used(cluster: dict, quota: str) -> Decimal:
    return next(Decimal(load["used"]) for load in cluster["load"] if load["quota"] == quota)


def test_splitting_a_cluster_makes_a_new_version_with_a_new_cluster_of_the_same_kind(owned, admin):
    first = planning.create_plan(actor=admin, monolith_id=owned.pk)
    team_b = _cluster_of(first, "search")
    assert sorted(team_b["applications"]) == ["clicks", "search", "tiny"]
    assert _used(team_b, "ingress") == 101

    second = planning.split_cluster(
        actor=admin, plan_id=first.pk, cluster=team_b["key"], applications=["tiny", "search"]
    )
    assert (second.version, second.based_on, second.change_note) == (
        2,
        first,
        "Split legacy-team-b-1: search, tiny to the new legacy-team-b-2",
    )
    stays, new = _cluster_of(second, "clicks"), _cluster_of(second, "search")
    assert stays["key"] == team_b["key"] and stays["applications"] == ["clicks"]
    assert new["name"] == "legacy-team-b-2" and new["applications"] == ["search", "tiny"]
    assert new["group"] == team_b["group"]  # same constraint group
    assert (_used(stays, "ingress"), _used(new, "ingress")) == (60, 41)
    assert new["key"] not in {c["key"] for c in first.result["clusters"]}
    assert second.moves == {"search": new["key"], "tiny": new["key"]}
    # Costs recomputed: one more cluster-month, the team's share follows.
    assert Decimal(second.result["total_usd"]) > Decimal(first.result["total_usd"])
    team_cost = {row["team"]: Decimal(row["after_usd"]) for row in second.result["teams"]}
    assert team_cost["team-b"] == pytest.approx(
        Decimal(stays["monthly_usd"]) + Decimal(new["monthly_usd"]), abs=Decimal("0.05")
    )
    event = owned.events.filter(action="plan.created").order_by("-id").first()
    assert event.details["edit"] == "split" and event.details["based_on"] == 1
    first.refresh_from_db()
    assert _cluster_of(first, "search")["key"] == team_b["key"]  # the old version is unchanged
    comparison = planning.compare_plans(first, second)
    assert comparison.added == ["legacy-team-b-2"] and comparison.removed == []
    assert [line.split(":")[0] for line in comparison.moved] == ["search", "tiny"]


def test_a_split_needs_some_but_not_all_of_the_clusters_applications(owned, admin, member_b):
    plan = planning.create_plan(actor=admin, monolith_id=owned.pk)
    key = _cluster_of(plan, "search")["key"]
    refusals = [
        ({"cluster": key, "applications": []}, "Choose the applications that leave legacy-team-b-1"),
        (
            {"cluster": key, "applications": ["clicks", "search", "tiny"]},
            "Leave at least one application on legacy-team-b-1",
        ),
        ({"cluster": key, "applications": ["orders"]}, "Not on legacy-team-b-1: orders"),
        ({"cluster": "c99", "applications": ["tiny"]}, "This plan has no cluster c99"),
    ]
    for arguments, message in refusals:
        with pytest.raises(ValidationError, match=message):
            planning.split_cluster(actor=admin, plan_id=plan.pk, **arguments)
    with pytest.raises(NotAllowed):
        planning.split_cluster(actor=member_b, plan_id=plan.pk, cluster=key, applications=["tiny"])
    with pytest.raises(NotAllowed):
        planning.merge_clusters(actor=member_b, plan_id=plan.pk, cluster=key, into=key)
    assert MigrationPlan.objects.count() == 1


def test_merging_keeps_constraint_groups_apart_and_quotas_at_headroom(owned, admin):
    plan = planning.create_plan(actor=admin, monolith_id=owned.pk, headroom_percent=40)
    key = {
        name: _cluster_of(plan, name)["key"]
        for name in ("orders", "payments", "customers", "clicks", "search")
    }
    refusals = [
        ("customers", "orders", "PII never shares a cluster with data that is not PII"),
        ("payments", "orders", "keeps time-sensitive applications apart"),
        ("clicks", "orders", r"keeps teams apart \(team-b, team-a\)"),
        ("search", "clicks", "above the 80 MB/s of ingress its 40 % headroom allows"),
        ("orders", "orders", "two different clusters"),
    ]
    for cluster, into, message in refusals:
        with pytest.raises(ValidationError, match=message):
            planning.check_merge(plan, cluster=key[cluster], into=key[into])
    assert MigrationPlan.objects.count() == 1

    # Latency classes share when the plan lets them: orders and payments merge, costs recomputed.
    mixed = planning.create_plan(actor=admin, monolith_id=owned.pk, separate_latency_classes=False)
    assert _cluster_of(mixed, "orders") == _cluster_of(mixed, "payments")  # packed together already
    split = planning.split_cluster(
        actor=admin, plan_id=mixed.pk, cluster=_cluster_of(mixed, "orders")["key"], applications=["payments"]
    )
    merged = planning.merge_clusters(
        actor=admin,
        plan_id=split.pk,
        cluster=_cluster_of(split, "payments")["key"],
        into=_cluster_of(split, "orders")["key"],
        note="One cluster is enough",
    )
    assert merged.change_note == "One cluster is enough" and merged.based_on == split
    assert len(merged.result["clusters"]) == len(mixed.result["clusters"])
    assert merged.result["total_usd"] == mixed.result["total_usd"]
    comparison = planning.compare_plans(split, merged)
    assert comparison.removed == [_cluster_of(split, "payments")["name"]] and comparison.added == []


def test_a_cluster_made_by_a_split_never_takes_a_name_an_earlier_version_or_a_live_cluster_used(
    owned, admin, team_b, network_profile
):
    from tests import builders

    first = planning.create_plan(actor=admin, monolith_id=owned.pk)
    key = _cluster_of(first, "search")["key"]
    second = planning.split_cluster(actor=admin, plan_id=first.pk, cluster=key, applications=["tiny"])
    made = _cluster_of(second, "tiny")
    third = planning.merge_clusters(actor=admin, plan_id=second.pk, cluster=made["key"], into=key)
    assert "legacy-team-b-2" not in {c["name"] for c in third.result["clusters"]}
    builders.cluster(team_b, network_profile, name="legacy-team-b-3")  # filed from some other version
    fourth = planning.split_cluster(actor=admin, plan_id=third.pk, cluster=key, applications=["tiny"])
    again = _cluster_of(fourth, "tiny")
    assert again["name"] == "legacy-team-b-4" and again["key"] != made["key"]


def test_write_read_clusters_merge_only_within_their_side(owned, admin):
    plan = planning.create_plan(actor=admin, monolith_id=owned.pk, strategy="write_read")
    write = next(c for c in plan.result["clusters"] if c["side"] == "write")
    read = next(c for c in plan.result["clusters"] if c["side"] == "read")
    with pytest.raises(ValidationError, match="only clusters of one side merge"):
        planning.check_merge(plan, cluster=write["key"], into=read["key"])


def _reserved_compacted(result) -> set[str]:
    return {
        load["reserved"]
        for cluster in result["clusters"]
        for load in cluster["load"]
        if load["quota"] == "compacted_partitions"
    }


def test_segregated_clusters_go_to_a_teams_registered_account(owned, admin, team_a, platform_account):
    from tests import builders

    builders.aws_account("210987654321", name="Team A", ownership="team", team=team_a)
    apps = {app.name: app for app in owned.applications.select_related("team")}
    result = planning.create_plan(actor=admin, monolith_id=owned.pk).result
    for cluster in result["clusters"]:
        team = {apps[name].team.slug for name in cluster["applications"]}
        assert cluster["group"]["account"] == ("210987654321" if team == {"team-a"} else "")
    # Write/read clusters are the platform's: one write side, read sides per consumer class.
    result = planning.create_plan(actor=admin, monolith_id=owned.pk, strategy="write_read").result
    assert {cluster["group"]["account"] for cluster in result["clusters"]} == {""}


def test_an_msk_monolith_in_the_platforms_account_plans_for_msk_replicator(owned, admin, platform_account):
    from clusters.migration.models import Monolith
    from tests import builders

    Monolith.objects.filter(pk=owned.pk).update(
        msk_cluster_arn="arn:aws:kafka:us-east-1:123456789012:cluster/legacy/abc",
        aws_account=platform_account,
    )
    result = planning.create_plan(actor=admin, monolith_id=owned.pk).result
    assert result["replication"]["tool"] == planning.REPLICATOR
    assert _reserved_compacted(result) == {"83"}  # MSK Replicator's share of 120 on every target

    other = builders.aws_account("210987654321", name="Elsewhere")
    Monolith.objects.filter(pk=owned.pk).update(aws_account=other)
    result = planning.create_plan(actor=admin, monolith_id=owned.pk).result
    assert result["replication"]["tool"] == planning.MM2
    assert "within one account only" in result["replication"]["why"]
    assert _reserved_compacted(result) == {"31"}  # Connect's internal topics
    # Write/read with MirrorMaker 2: Connect's 31 on the write clusters, MSK Replicator's 83 on the read ones.
    result = planning.create_plan(actor=admin, monolith_id=owned.pk, strategy="write_read").result
    for side, reserved in (("write", {"31"}), ("read", {"83"})):
        clusters = [cluster for cluster in result["clusters"] if cluster["side"] == side]
        assert _reserved_compacted({"clusters": clusters}) == reserved, side


def _by_team(result, apps) -> dict[str, list[dict]]:
    clusters: dict[str, list[dict]] = {}
    for cluster in result["clusters"]:
        (team,) = {apps[name].team.slug for name in cluster["applications"]}
        clusters.setdefault(team, []).append(cluster)
    return clusters


def test_each_planned_cluster_reserves_for_the_tool_that_will_feed_it(owned, admin, team_a, platform_account):
    """An MSK monolith in the platform's account: MSK Replicator feeds the clusters there, but a segregated
    plan puts team-a's clusters in team-a's own account, where only MirrorMaker 2 can (Replicator is same-account
    only). So team-a's clusters keep Connect's 31 compacted partitions, not Replicator's 83, and its 30-partition
    compacted topic fits (62 at 70 % of 120 − 31), where it would not beside Replicator (25)."""
    from clusters.migration.models import InventoryTopic, Monolith, Replication
    from tests import builders

    team_account = builders.aws_account("210987654321", name="Team A", ownership="team", team=team_a)
    Monolith.objects.filter(pk=owned.pk).update(
        msk_cluster_arn="arn:aws:kafka:us-east-1:123456789012:cluster/legacy/abc",
        aws_account=platform_account,
    )
    InventoryTopic.objects.filter(snapshot__monolith=owned, name="orders.created").update(
        partitions=30, compacted=True
    )
    owned.refresh_from_db()
    apps = {app.name: app for app in owned.applications.select_related("team")}
    result = planning.create_plan(actor=admin, monolith_id=owned.pk).result
    assert result["unplaceable"] == []
    clusters = _by_team(result, apps)
    for team, account, tool, reserved in (
        ("team-a", team_account, Replication.Tool.MM2, "31"),
        ("team-b", platform_account, Replication.Tool.REPLICATOR, "83"),
    ):
        # The tool starting replication chooses for a cluster in that account (replication_launch).
        assert owned.replication_tool(account.pk) == tool
        for cluster in clusters[team]:
            assert cluster["replication"]["tool"] == tool, team
            assert cluster["replication"]["reserved_compacted_partitions"] == int(reserved)
            assert _reserved_compacted({"clusters": [cluster]}) == {reserved}, team
    assert any("orders" in cluster["applications"] for cluster in clusters["team-a"])
    # The lower bound of each constraint group is computed with that group's reservation.
    reserved_by_group = {group["label"]: group["reserved_compacted_partitions"] for group in result["groups"]}
    assert {reserved for label, reserved in reserved_by_group.items() if "team-a" in label} == {31}
    assert {reserved for label, reserved in reserved_by_group.items() if "team-b" in label} == {83}
    assert result["replication"]["tool"] == "mixed"
    why = result["replication"]["why"]
    assert "MSK Replicator copies it to the clusters there" in why
    assert "MirrorMaker 2 on MSK Connect copies it to clusters in other accounts" in why


def test_an_msk_monolith_in_a_teams_account_is_copied_by_msk_replicator_to_that_teams_clusters(
    owned, admin, team_a, platform_account
):
    from clusters.migration.models import Monolith, Replication
    from tests import builders

    team_account = builders.aws_account("210987654321", name="Team A", ownership="team", team=team_a)
    Monolith.objects.filter(pk=owned.pk).update(
        msk_cluster_arn="arn:aws:kafka:us-east-1:210987654321:cluster/legacy/abc", aws_account=team_account
    )
    apps = {app.name: app for app in owned.applications.select_related("team")}
    clusters = _by_team(planning.create_plan(actor=admin, monolith_id=owned.pk).result, apps)
    assert {c["replication"]["tool"] for c in clusters["team-a"]} == {Replication.Tool.REPLICATOR}
    assert {c["replication"]["tool"] for c in clusters["team-b"]} == {Replication.Tool.MM2}
    assert _reserved_compacted({"clusters": clusters["team-a"]}) == {"83"}
    assert _reserved_compacted({"clusters": clusters["team-b"]}) == {"31"}


def test_an_edited_version_keeps_each_clusters_own_reservation(owned, admin, team_a, platform_account):
    """Moves are checked against the budget of the tool feeding the target cluster (planning._reassigned)."""
    from clusters.migration.models import Monolith
    from tests import builders

    builders.aws_account("210987654321", name="Team A", ownership="team", team=team_a)
    Monolith.objects.filter(pk=owned.pk).update(
        msk_cluster_arn="arn:aws:kafka:us-east-1:123456789012:cluster/legacy/abc",
        aws_account=platform_account,
    )
    plan = planning.create_plan(actor=admin, monolith_id=owned.pk, separate_latency_classes=False)
    apps = {app.name: app for app in owned.applications.select_related("team")}
    clusters = _by_team(plan.result, apps)
    source = clusters["team-a"][0]
    edit = planning.check_split(plan, cluster=source["key"], applications=source["applications"][:1])
    new = next(c for c in edit.result["clusters"] if c["key"] == edit.touched[1])
    assert new["replication"]["tool"] == "mm2"
    assert _reserved_compacted({"clusters": [new]}) == {"31"}


def test_a_requirements_change_reads_as_before_and_after_in_the_audit_log(owned):
    """The audit log said "Changed tolerates_duplicates after False; before True; …" (ada's audit log, the
    demo's four applications): a change reads "before → after", in words, with no Python value in it."""
    event = AuditEvent.objects.filter(action="migration.requirements.updated").latest("pk")
    phrases = detail_phrases(event)
    assert (
        "Changed latency class Not time-sensitive → Time-sensitive; tolerates duplicates yes → no" in phrases
    )
    assert not any(
        word in phrase for phrase in phrases for word in ("None", "True", "False", "after", "before")
    )
