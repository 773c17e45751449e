"""An MSK monolith's throughput comes from CloudWatch, exact and labelled with its window, instead of the
end-offset estimate: BytesInPerSec / BytesOutPerSec per topic (MSK Serverless: Cluster Name + Topic; MSK
Provisioned: one series per broker, Cluster Name + Broker ID + Topic, summed). CloudWatch is moto in server
mode over HTTP, seeded with PutMetricData; the Kafka side of the reading is faked at the adapter seam."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from clusters import rules
from clusters.integrations import aws_control
from clusters.migration import adapters, inventory
from clusters.migration.models import Monolith
from tests.builders import PLATFORM_ACCOUNT_ID
from tests.clusters.integrations.aws.cloudwatch_harness import (
    datum,
    error_response,
    put_datapoints,
    seeding_client,
)
from tests.clusters.integrations.aws.conftest import aws, moto_url  # noqa: F401  (fixtures)
from tests.conftest import client_for

ROLE = f"arn:aws:iam::{PLATFORM_ACCOUNT_ID}:role/msk-portal"


def _monolith(admin, account, cluster: str) -> Monolith:
    return inventory.register_monolith(
        actor=admin,
        name="legacy",
        bootstrap=f"b-1.{cluster}.kafka.us-east-1.amazonaws.com:9098",
        security_protocol=Monolith.Security.MSK_IAM,
        aws_account=account,
        msk_cluster_arn=f"arn:aws:kafka:us-east-1:{PLATFORM_ACCOUNT_ID}:cluster/{cluster}/0b9e2c7d-4f5a-1",
    )


@pytest.fixture
def topics(readings):
    readings.topics = {"orders.created": (3, 100), "orders.audit": (1, 10), "orders.dlq": (1, 0)}
    readings.groups = {"billing": ["orders.created"]}
    return readings


def _minutes(first: int, last: int):
    """Sample times, one a minute, from `first` to `last` minutes ago."""
    now = timezone.now().replace(second=0, microsecond=0)
    return [now - dt.timedelta(minutes=ago) for ago in range(first, last - 1, -1)]


def _serverless(cluster: str, topic: str, metric: str, partitions: int, base: float, burst: float) -> list:
    """Per partition and minute (MSK Serverless): `base` B/s for three hours, `burst` for 30 minutes in it."""
    return [
        datum(cluster, topic, metric, when, burst if 91 <= ago <= 120 else base)
        for ago, when in zip(range(180, 59, -1), _minutes(180, 60), strict=True)
        for _partition in range(partitions)
    ]


def test_serverless_monolith_topics_get_cloudwatchs_exact_peaks_with_their_window(
    aws,  # noqa: F811
    admin,
    platform_account,
    topics,
    personas,
):
    put_datapoints(
        seeding_client(aws, ROLE),
        _serverless("legacy-msk", "orders.created", "BytesInPerSec", 3, 1_000, 50_000)
        + _serverless("legacy-msk", "orders.created", "BytesOutPerSec", 3, 2_000, 100_000)
        + _serverless("legacy-msk", "orders.audit", "BytesInPerSec", 1, 20_000, 20_000)
        # Another cluster's topic of the same name is not this monolith's traffic.
        + _serverless("other-msk", "orders.created", "BytesInPerSec", 3, 9_000_000, 9_000_000),
    )
    monolith = _monolith(admin, platform_account, "legacy-msk")
    snapshot = inventory.take_inventory(monolith_id=monolith.pk, actor=admin)
    created = snapshot.topics.get(name="orders.created")
    # 3 partitions × 50,000 B/s in, × 100,000 out, at the highest 5-minute average: the first reading.
    assert (created.peak_in_mbps, created.peak_out_mbps) == (Decimal("0.150000"), Decimal("0.300000"))
    hours = f"in the 24 h from {snapshot.taken_at - dt.timedelta(hours=24):%Y-%m-%d %H:%M} to "
    assert created.throughput_basis.startswith("Exact, from CloudWatch: highest 5-minute average")
    assert "cluster legacy-msk, the topic's own series" in created.throughput_basis and hours in (
        created.throughput_basis
    )
    audit = snapshot.topics.get(name="orders.audit")
    assert (audit.peak_in_mbps, audit.peak_out_mbps) == (Decimal("0.020000"), Decimal(0))
    assert audit.throughput_basis.endswith("no BytesOutPerSec: nobody read it.")
    dlq = snapshot.topics.get(name="orders.dlq")  # no series: the end-offset estimate, saying why
    assert dlq.peak_in_mbps is None and dlq.throughput_basis.startswith(
        "No CloudWatch bytes for this topic; "
    )
    assert snapshot.throughput_note == ""

    url = reverse("migration:monolith-detail", args=[monolith.pk])
    for persona in ("member_a", "admin", "finance"):
        page = client_for(personas[persona]).get(url).content.decode()
        assert page.count("Exact, from CloudWatch") == 2 and "0.150 / 0.300" in page


def test_provisioned_monolith_sums_the_per_broker_series(aws, admin, platform_account, topics):  # noqa: F811
    data = [
        datum(
            "legacy-prov", "orders.created", "BytesInPerSec", when, rate if ago <= 120 else 0, broker=broker
        )
        for broker, rate in (("1", 30_000), ("2", 40_000), ("3", 50_000))
        for ago, when in zip(range(150, 89, -1), _minutes(150, 90), strict=True)
    ]
    # The broker's own BytesInPerSec (no Topic dimension) is all topics together: not one topic's.
    data += [
        {**datum("legacy-prov", "x", "BytesInPerSec", when, 5_000_000), "Dimensions": dims}
        for when in _minutes(150, 90)
        for dims in [[{"Name": "Cluster Name", "Value": "legacy-prov"}, {"Name": "Broker ID", "Value": "1"}]]
    ]
    put_datapoints(seeding_client(aws, ROLE), data)
    monolith = _monolith(admin, platform_account, "legacy-prov")
    created = inventory.take_inventory(monolith_id=monolith.pk, actor=admin).topics.get(name="orders.created")
    assert created.peak_in_mbps == Decimal("0.120000")  # 30 + 40 + 50 kB/s
    assert "summed over 3 brokers" in created.throughput_basis


def test_without_per_topic_metrics_or_access_the_estimate_stays_and_the_page_says_why(
    aws,  # noqa: F811
    admin,
    platform_account,
    topics,
    personas,
):
    monolith = _monolith(admin, platform_account, "quiet-msk")
    first = inventory.take_inventory(monolith_id=monolith.pk, actor=admin)
    assert "CloudWatch lists no per-topic BytesInPerSec for the cluster quiet-msk" in first.throughput_note
    assert not first.topics.filter(throughput_basis__startswith="Exact").exists()

    put_datapoints(
        seeding_client(aws, ROLE),
        _serverless("quiet-msk", "orders.created", "BytesInPerSec", 3, 1_000, 50_000),
    )
    second = inventory.take_inventory(monolith_id=monolith.pk, actor=admin)
    assert second.topics.get(name="orders.created").peak_in_mbps == Decimal("0.150000")

    client = aws_control.client(adapters.monolith_account(monolith), "cloudwatch")

    def refuse(request, **kwargs):
        return error_response(
            request, 403, "AccessDenied", "not authorized to perform cloudwatch:ListMetrics"
        )

    client.meta.events.register_first("before-send.cloudwatch.ListMetrics", refuse)
    try:
        topics.topics["orders.created"] = (3, 400)
        third = inventory.take_inventory(monolith_id=monolith.pk, actor=admin)
    finally:
        client.meta.events.unregister("before-send.cloudwatch.ListMetrics", refuse)
    assert third.throughput_note.startswith("CloudWatch could not be read: The role ")
    assert "cloudwatch:ListMetrics" in third.throughput_note
    created = third.topics.get(name="orders.created")
    # An estimate from end offsets, which the exact peak of the reading before does not inflate.
    assert created.throughput_basis.startswith("Estimate: highest of 1 window")
    page = client_for(personas["member_a"]).get(reverse("migration:monolith-detail", args=[monolith.pk]))
    assert "estimated from end offsets, not measured by CloudWatch: CloudWatch could not be read" in (
        page.content.decode()
    )


def test_a_monolith_not_on_msk_keeps_the_estimate_and_reads_no_cloudwatch(admin, topics, monkeypatch):
    monkeypatch.setattr(adapters, "monolith_topic_peaks", lambda *args: pytest.fail("CloudWatch was read"))
    monolith = inventory.register_monolith(
        actor=admin, name="self-managed", bootstrap="10.0.0.1:9092", security_protocol="PLAINTEXT"
    )
    snapshot = inventory.take_inventory(monolith_id=monolith.pk, actor=admin)
    assert snapshot.throughput_note == "" and "needs two readings" in snapshot.topics.first().throughput_basis


@pytest.mark.parametrize(
    ("arn", "name"),
    [
        ("arn:aws:kafka:us-east-1:123456789012:cluster/legacy-msk/0b9e2c7d-4f5a-1", "legacy-msk"),
        (
            "arn:aws:kafka:eu-west-1:123456789012:cluster/msk-serverless-tutorial/c07c74ea-s3",
            "msk-serverless-tutorial",
        ),
        ("arn:aws:kafka:us-east-1:123456789012:serverless-cluster/0b9e2c7d", ""),  # moto's form: no name
        ("arn:aws:kafka:us-east-1:123456789012:replicator/mig/3", ""),
        ("arn:aws:iam::123456789012:role/x", ""),
        ("", ""),
    ],
)
def test_cluster_name_from_the_arn(arn, name):
    assert rules.msk_cluster_name(arn) == name
