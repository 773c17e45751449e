"""Chargeback runs on the database: inventory history + collected usage → priced, allocated lines."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail

from billing import budgets, chargeback, services
from billing.models import BudgetAlert, ChargebackLine, ChargebackRun, TopicDailyUsage
from clusters.models import Cluster, PlatformSettings, TopicPartitionChange
from portal.models import AuditEvent, Team
from tests.billing.conftest import OCTOBER, at, make_topic

GIB = 2**30


def usage(cluster, topic, day, bytes_in=0, bytes_out=0):
    for metric, value in (("bytes_in", bytes_in), ("bytes_out", bytes_out)):
        TopicDailyUsage.objects.create(cluster=cluster, topic_name=topic, day=day, metric=metric, bytes=value)


def lines_by(run, **filters):
    return list(ChargebackLine.objects.filter(run=run, **filters).order_by("position"))


@pytest.fixture
def platform_team(db):
    team = Team.objects.create(
        name="Platform", slug="platform", cost_center="CC-P", contact_email="p@example.com"
    )
    settings_row = PlatformSettings.current()
    settings_row.platform_team = team
    settings_row.save()
    return team


def test_dedicated_cluster_deleted_mid_month_with_a_partition_increase(billed_cluster, team_a):
    Cluster.objects.filter(pk=billed_cluster.pk).update(status="deleted", deleted_at=at(16, 0, 30))
    topic = make_topic(
        billed_cluster, team_a, "team-a.orders", (at(1, month=9), 2), (at(11, 10, 30), 4), (at(16, 0, 30), 0)
    )
    usage(billed_cluster, topic.name, dt.date(2026, 10, 5), bytes_in=10 * GIB, bytes_out=20 * GIB)
    run = chargeback.compute_run(OCTOBER)
    by_type = {line.charge_type: line for line in lines_by(run)}
    # Cluster: Oct 1 00:00 → Oct 16 01:00 = 361 h × $0.75.
    assert by_type["cluster_hours"].quantity == 361 and by_type["cluster_hours"].cost_usd == Decimal("270.75")
    # Partitions: 2 × 250 h (to the 11th 10:00) + 4 × 111 h (to the 16th 01:00) = 944 partition-hours.
    assert by_type["partition_hours"].quantity == 944 and by_type["partition_hours"].cost_usd == Decimal(
        "1.42"
    )
    assert by_type["data_in"].cost_usd == Decimal("1.00") and by_type["data_out"].cost_usd == Decimal("1.00")
    # Storage (estimate): 1-day retention keeps the 10 GiB on the 5th only → 10/31 GiB-month.
    assert by_type["storage"].quantity == Decimal("0.322581") and by_type["storage"].cost_usd == Decimal(
        "0.03"
    )
    assert {line.team_id for line in lines_by(run)} == {team_a.pk}
    assert {line.allocation_basis for line in lines_by(run)} == {"dedicated"}
    assert run.total_usd == sum(line.cost_usd for line in lines_by(run)) == Decimal("274.20")


def test_shared_cluster_split_and_unattributed_usage(shared_cluster, team_a, team_b, platform_team):
    make_topic(shared_cluster, team_a, "team-a.clicks", (at(1, month=9), 1))
    make_topic(shared_cluster, team_b, "team-b.orders", (at(1, month=9), 1))
    usage(shared_cluster, "team-a.clicks", dt.date(2026, 10, 3), bytes_in=1 * GIB, bytes_out=1 * GIB)
    usage(shared_cluster, "team-b.orders", dt.date(2026, 10, 3), bytes_in=3 * GIB, bytes_out=3 * GIB)
    usage(shared_cluster, "legacy.unknown", dt.date(2026, 10, 3), bytes_in=2 * GIB)  # not in the inventory
    run = chargeback.compute_run(OCTOBER)
    hours = {line.team_name: line for line in lines_by(run, charge_type="cluster_hours")}
    # $558.00 split by bytes 2 : 6 : 2 (team A, team B, unattributed).
    assert {name: line.cost_usd for name, line in hours.items()} == {
        "Team A": Decimal("111.60"),
        "Team B": Decimal("334.80"),
        "Platform": Decimal("111.60"),
    }
    assert hours["Platform"].allocation_basis == "unattributed"
    assert hours["Team B"].allocation_basis == "usage_share" and hours["Team B"].allocation_ratio == Decimal(
        "0.6"
    )
    [legacy] = lines_by(run, topic_name="legacy.unknown")
    assert legacy.team_id == platform_team.pk and legacy.allocation_basis == "unattributed"
    assert sum(line.cost_usd for line in hours.values()) == Decimal("558.00")


def test_recomputing_is_idempotent_and_a_finalized_month_cannot_change(billed_cluster, team_a, finance):
    make_topic(billed_cluster, team_a, "team-a.orders", (at(1, month=9), 2))
    first = chargeback.compute_run(OCTOBER)
    rows = list(
        ChargebackLine.objects.filter(run=first).values_list(
            "position", "team_name", "charge_type", "quantity", "cost_usd"
        )
    )
    again = chargeback.compute_run(OCTOBER)
    assert again.pk == first.pk
    assert (
        list(
            ChargebackLine.objects.filter(run=again).values_list(
                "position", "team_name", "charge_type", "quantity", "cost_usd"
            )
        )
        == rows
    )
    chargeback.finalize_run(run_id=first.pk, actor=finance)
    TopicPartitionChange.objects.create(topic=billed_cluster.topics.get(), partitions=8, changed_at=at(2))
    with pytest.raises(chargeback.ChargebackError, match="finalized"):
        chargeback.compute_run(OCTOBER)
    with pytest.raises(chargeback.ChargebackError, match="already finalized"):
        chargeback.finalize_run(run_id=first.pk, actor=finance)
    assert (
        list(
            ChargebackLine.objects.filter(run=first).values_list(
                "position", "team_name", "charge_type", "quantity", "cost_usd"
            )
        )
        == rows
    )
    assert AuditEvent.objects.filter(action="billing.chargeback.finalized").count() == 1


def test_budget_alerts_at_80_and_100_percent_are_sent_once(
    billed_cluster, team_a, django_capture_on_commit_callbacks
):
    Team.objects.filter(pk=team_a.pk).update(monthly_budget_usd=Decimal("600.00"))
    with django_capture_on_commit_callbacks(execute=True):
        chargeback.compute_run(OCTOBER)  # $558.00 = 93 %
    assert list(BudgetAlert.objects.values_list("threshold_percent", flat=True)) == [80]
    assert len(mail.outbox) == 1 and "80 %" in mail.outbox[0].subject
    Team.objects.filter(pk=team_a.pk).update(monthly_budget_usd=Decimal("500.00"))
    with django_capture_on_commit_callbacks(execute=True):
        chargeback.compute_run(OCTOBER)
        chargeback.compute_run(OCTOBER)
    assert sorted(BudgetAlert.objects.values_list("threshold_percent", flat=True)) == [80, 100]
    assert len(mail.outbox) == 2 and "100 %" in mail.outbox[1].subject
    budgets.send(BudgetAlert.objects.get(threshold_percent=100).pk)  # redelivered: not again
    assert len(mail.outbox) == 2


def test_daily_billing_collects_from_the_local_provider_and_is_idempotent(billed_cluster, team_a):
    from decimal import Decimal as D

    topic = make_topic(billed_cluster, team_a, "team-a.orders", (at(1, month=9), 2))
    topic.expected_in_mbps, topic.expected_out_mbps = D(2), D(4)
    topic.save()
    report = services.daily_billing(today=dt.date(2026, 11, 2))  # month close for October + November
    assert [month["month"] for month in report["months"]] == ["2026-10", "2026-11"]
    october_rows = TopicDailyUsage.objects.filter(day__month=10)
    assert october_rows.count() == 31 * 2  # one per day and metric
    snapshot = sorted(october_rows.values_list("day", "metric", "bytes"))
    services.daily_billing(today=dt.date(2026, 11, 2))
    assert (
        sorted(TopicDailyUsage.objects.filter(day__month=10).values_list("day", "metric", "bytes"))
        == snapshot
    )
    assert ChargebackRun.objects.get(month=OCTOBER).total_usd > Decimal("558.00")


def test_a_read_cluster_pays_for_its_replicated_topics(shared_cluster, team_a, team_b, network_profile):
    from clusters.models import Replicator

    source = make_topic(shared_cluster, team_a, "team-a.clicks", (at(1, month=9), 3), (at(21, 12, 10), 0))
    Topic = type(source)
    Topic.objects.filter(pk=source.pk).update(expected_in_mbps=Decimal(2), expected_out_mbps=Decimal(2))
    read = Cluster.objects.create(
        name="team-b-read",
        team=team_b,
        kind=Cluster.Kind.READ,
        source_cluster=shared_cluster,
        environment="prod",
        account=shared_cluster.account,
        region="us-east-1",
        network_profile=network_profile,
        status=Cluster.Status.ACTIVE,
        active_since=at(11, 0, 5),
        arn="arn:aws:kafka:us-east-1:123456789012:cluster/team-b-read/7f1c2d3e-0000-4000-8000-000000000001-s1",
    )
    Replicator.objects.create(
        read_cluster=read,
        source_cluster=shared_cluster,
        topics=["team-a.clicks"],
        status=Replicator.Status.ACTIVE,
    )
    from billing.usage import collect_usage

    collect_usage(OCTOBER, dt.date(2026, 11, 1))
    replica_in = dict(
        TopicDailyUsage.objects.filter(cluster=read, metric="bytes_in").values_list("day", "bytes")
    )
    source_in = dict(
        TopicDailyUsage.objects.filter(cluster=shared_cluster, metric="bytes_in").values_list("day", "bytes")
    )
    assert replica_in and all(source_in[day] == byte_count for day, byte_count in replica_in.items())
    assert min(replica_in) == dt.date(2026, 10, 11) and max(replica_in) == dt.date(2026, 10, 21)

    run = chargeback.compute_run(OCTOBER)
    on_read = lines_by(run, cluster=read)
    assert {line.team_id for line in on_read} == {team_b.pk} and {
        line.allocation_basis for line in on_read
    } == {"dedicated"}
    replica = {line.charge_type: line for line in on_read if line.topic_name == "team-a.clicks"}
    # 3 partitions from the read cluster's start (11th 00:00) to the source topic's deletion (21st 13:00).
    assert replica["partition_hours"].quantity == 3 * (10 * 24 + 13)
    assert replica["data_in"].quantity > 0 and replica["data_out"].quantity > 0


def test_a_throttled_collection_still_computes_and_asks_the_task_to_retry(
    billed_cluster, team_a, monkeypatch
):
    from clusters.providers.base import TransientError
    from clusters.providers.local.provider import LocalProvider

    make_topic(billed_cluster, team_a, "team-a.orders", (at(1, month=9), 2))

    def throttled(self, account, topics, start, end):
        raise TransientError("Rate exceeded")

    monkeypatch.setattr(LocalProvider, "daily_topic_bytes", throttled)
    with pytest.raises(TransientError, match="Rate exceeded"):
        services.daily_billing(today=dt.date(2026, 10, 20))
    # Cluster- and partition-hours do not wait for CloudWatch: the month to date is computed anyway, and the
    # task's retry (the whole cycle is idempotent) brings the traffic in later.
    run = ChargebackRun.objects.get(month=OCTOBER)
    assert run.line_count == 2 and not TopicDailyUsage.objects.exists()
