"""The migration assistant's inventory against the real Kafka 2.3 broker: topics, configs, consumer groups,
committed offsets, lag, and a throughput estimate from end offsets sampled at two readings."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from clusters.integrations import kafka_admin
from clusters.migration import adapters, inventory, selectors
from clusters.migration.models import Monolith
from clusters.providers.base import AccessDenied, TopicSpec
from tests.clusters.integrations.kafka.test_kafka_admin import PLAINTEXT, _endpoint

pytestmark = [pytest.mark.services, pytest.mark.django_db]
VALUE = b"v" * 200


def _produce(bootstrap: str, topic: str, count: int, partitions: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(count):
        producer.produce(topic, key=f"k{i}".encode(), value=VALUE, partition=i % partitions)
    assert producer.flush(15) == 0


def _consume_and_commit(bootstrap: str, topic: str, group: str, count: int) -> None:
    """Read `count` records from partitions 0 and 1 (assigned: no rebalance to wait for) and commit them."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING), TopicPartition(topic, 1, OFFSET_BEGINNING)])
    seen, deadline = 0, time.monotonic() + 60
    while seen < count and time.monotonic() < deadline:
        message = consumer.poll(1)
        if message is None or message.error():
            continue
        seen += 1
        consumer.commit(message, asynchronous=False)
    consumer.close()
    assert seen == count


@pytest.fixture
def topics(kafka_broker):
    prefix = f"mig{uuid.uuid4().hex[:6]}"
    endpoint = _endpoint(kafka_broker.bootstrap)
    kafka_admin.ensure_topic(
        endpoint, TopicSpec(f"{prefix}.orders", 3, {"retention.ms": "86400000"}), auth=PLAINTEXT
    )
    kafka_admin.ensure_topic(
        endpoint, TopicSpec(f"{prefix}.state", 1, {"cleanup.policy": "compact"}), auth=PLAINTEXT
    )
    return prefix


def test_inventory_reads_topics_groups_lag_and_estimates_throughput(kafka_broker, topics, admin):
    orders = f"{topics}.orders"
    monolith = inventory.register_monolith(
        actor=admin,
        name="legacy",
        bootstrap=kafka_broker.bootstrap,
        security_protocol=Monolith.Security.PLAINTEXT,
    )
    _produce(kafka_broker.bootstrap, orders, 30, 3)
    _consume_and_commit(kafka_broker.bootstrap, orders, f"{topics}-billing", 20)

    first = inventory.take_inventory(monolith_id=monolith.pk, actor=admin)
    topic = first.topics.get(name=orders)
    assert topic.partitions == 3 and topic.retention_ms == 86_400_000 and not topic.compacted
    assert topic.records == 30 and sum(topic.end_offsets) == 30
    assert topic.bytes_per_record is not None and Decimal(200) < topic.bytes_per_record < Decimal(210)
    assert topic.peak_in_mbps is None and "needs two readings" in topic.throughput_basis
    assert first.topics.get(name=f"{topics}.state").compacted
    assert not first.topics.filter(name__startswith="__").exists()
    group = first.groups.get(group_id=f"{topics}-billing")
    assert group.topics == [orders] and group.lag == 10
    assert sum(committed or 0 for committed, _end in group.offsets[orders].values()) == 20

    _produce(kafka_broker.bootstrap, orders, 60, 3)
    second = inventory.take_inventory(monolith_id=monolith.pk, actor=admin)
    topic = second.topics.get(name=orders)
    seconds = (second.taken_at - first.taken_at).total_seconds()
    expected_in = Decimal(60) * topic.bytes_per_record / Decimal(str(seconds)) / Decimal(10**6)
    assert topic.peak_in_mbps == pytest.approx(expected_in, rel=Decimal("0.01"))
    assert topic.peak_out_mbps == topic.peak_in_mbps  # one group reads it
    assert "Estimate" in topic.throughput_basis and "60 records written" in topic.throughput_basis
    assert second.groups.get(group_id=f"{topics}-billing").lag == 70

    changes = selectors.inventory_changes(second)
    assert orders not in changes.topics_added and orders not in changes.topics_removed


def test_sasl_login_reads_the_password_from_the_named_environment_variable(
    kafka_broker, topics, admin, monkeypatch
):
    monolith = inventory.register_monolith(
        actor=admin,
        name="sasl",
        bootstrap=kafka_broker.sasl_bootstrap,
        security_protocol=Monolith.Security.SASL_PLAINTEXT,
        sasl_mechanism="PLAIN",
        sasl_username="alice",
        password_env="LEGACY_KAFKA_PASSWORD",
    )
    with pytest.raises(adapters.MissingSecret, match="LEGACY_KAFKA_PASSWORD"):
        inventory.take_inventory(monolith_id=monolith.pk, actor=admin)

    monkeypatch.setenv("LEGACY_KAFKA_PASSWORD", "wrong")
    with pytest.raises(AccessDenied):
        inventory.take_inventory(monolith_id=monolith.pk, actor=admin)

    monkeypatch.setenv("LEGACY_KAFKA_PASSWORD", "alice-secret")
    snapshot = inventory.take_inventory(monolith_id=monolith.pk, actor=admin)
    assert snapshot.topics.filter(name=f"{topics}.orders").exists()
    monolith.refresh_from_db()
    assert "alice-secret" not in str(Monolith.objects.filter(pk=monolith.pk).values().get())
