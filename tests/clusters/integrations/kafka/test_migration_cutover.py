"""Cutover between two real Kafka 2.3 brokers: the portal measures replication and gates the steps while a
small replication loop (tests only; no MirrorMaker 2 runs here, migration.md §6) copies records partition by
partition and commits translated consumer offsets on the target, as MM2's checkpoint connector would."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from django.core.exceptions import ValidationError

from clusters.integrations import kafka_admin
from clusters.migration import adapters, cutover, inventory, planning
from clusters.migration.models import Cutover, Monolith
from clusters.models import Cluster
from clusters.providers.base import TopicSpec
from tests.clusters.integrations.kafka.test_kafka_admin import PLAINTEXT, _endpoint

pytestmark = [pytest.mark.services, pytest.mark.django_db]
PARTITIONS = 3


@pytest.fixture(scope="module")
def target_broker(kafka_broker):
    """A second broker: the new cluster."""
    from tests.clusters.integrations.kafka.broker import session_broker

    with session_broker() as broker:
        _warm_group_coordinator(broker.bootstrap)
        yield broker


def _warm_group_coordinator(bootstrap: str) -> None:
    """A fresh broker creates __consumer_offsets (50 partitions) on the first group call, which takes longer
    than one request timeout under load; wait for it once here rather than in the gates under test."""
    endpoint = _endpoint(bootstrap)
    deadline = time.monotonic() + 120
    while True:
        try:
            kafka_admin.committed_offsets(endpoint, "warm-up", PLAINTEXT)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def _produce(bootstrap, topic, start, count):
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(start, start + count):
        producer.produce(topic, key=f"k{i}".encode(), value=f"v{i}".encode(), partition=i % PARTITIONS)
    assert producer.flush(15) == 0


def _read(bootstrap, topic, group, *, limit=None, seconds=30, commit=True):
    """Records a group reads (auto.offset.reset=earliest), committing as it goes."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
    seen, deadline, idle = [], time.monotonic() + seconds, 0
    while time.monotonic() < deadline and (limit is None or len(seen) < limit) and idle < 5:
        message = consumer.poll(1)
        if message is None:
            idle += 1 if seen or limit is None else 0
            continue
        if message.error():
            continue
        idle = 0
        seen.append(message.key().decode())
        if commit:
            consumer.commit(message, asynchronous=False)
    consumer.close()
    return seen


class ReplicationLoop:
    """Copies new records of a topic partition by partition and remembers (source, target) offset pairs."""

    def __init__(self, source, target, topic):
        self.source, self.target, self.topic = source, target, topic
        self.position = {p: 0 for p in range(PARTITIONS)}
        self.syncs = {p: [] for p in range(PARTITIONS)}  # (source offset, target offset)

    def run(self):
        consumer = Consumer(
            {
                "bootstrap.servers": self.source,
                "group.id": "test-replication-loop",
                "enable.auto.commit": False,
            }
        )
        consumer.assign(
            [TopicPartition(self.topic, p, self.position[p] or OFFSET_BEGINNING) for p in range(PARTITIONS)]
        )
        ends = kafka_admin.partition_offsets(_endpoint(self.source), [self.topic], PLAINTEXT)[self.topic][1]
        producer = Producer({"bootstrap.servers": self.target})
        pending = []
        deadline = time.monotonic() + 30
        while any(self.position[p] < ends[p] for p in range(PARTITIONS)) and time.monotonic() < deadline:
            message = consumer.poll(1)
            if message is None or message.error():
                continue
            partition, offset = message.partition(), message.offset()
            producer.produce(
                self.topic,
                key=message.key(),
                value=message.value(),
                partition=partition,
                on_delivery=lambda err, msg, src=offset: pending.append((msg.partition(), src, msg.offset())),
            )
            self.position[partition] = offset + 1
        assert producer.flush(15) == 0
        consumer.close()
        for partition, src, dst in pending:
            self.syncs[partition].append((src, dst))

    def translate(self, group):
        """Commit the group's source offsets on the target, translated and never ahead (MM2's rule)."""
        endpoint = _endpoint(self.source)
        committed = kafka_admin.committed_offsets(endpoint, group, PLAINTEXT).get(self.topic, {})
        offsets = []
        for partition, source_offset in committed.items():
            synced = [dst for src, dst in self.syncs[partition] if src < source_offset]
            if synced:
                offsets.append(TopicPartition(self.topic, partition, max(synced) + 1))
            else:
                offsets.append(TopicPartition(self.topic, partition, 0))
        for partition in range(PARTITIONS):
            if partition not in committed:
                offsets.append(TopicPartition(self.topic, partition, 0))
        consumer = Consumer(
            {"bootstrap.servers": self.target, "group.id": group, "enable.auto.commit": False}
        )
        consumer.commit(offsets=offsets, asynchronous=False)
        consumer.close()


def test_a_cutover_between_two_brokers_is_gated_by_what_replication_did(
    kafka_broker, target_broker, admin, team_a, member_a, platform_account, network_profile, monkeypatch
):
    prefix = f"cut{uuid.uuid4().hex[:6]}"
    topic, group = f"{prefix}.orders", f"{prefix}-billing"
    for broker in (kafka_broker, target_broker):
        kafka_admin.ensure_topic(
            _endpoint(broker.bootstrap), TopicSpec(topic, PARTITIONS, {}), auth=PLAINTEXT
        )
    _produce(kafka_broker.bootstrap, topic, 0, 90)
    read_on_source = _read(kafka_broker.bootstrap, topic, group, limit=60)
    assert len(read_on_source) == 60

    monolith = inventory.register_monolith(
        actor=admin,
        name="legacy",
        bootstrap=kafka_broker.bootstrap,
        security_protocol=Monolith.Security.PLAINTEXT,
    )
    inventory.take_inventory(monolith_id=monolith.pk, actor=admin)
    inventory.discover_applications(actor=admin, monolith_id=monolith.pk)
    application = monolith.applications.get(name=prefix)
    plan = planning.accept_plan(
        actor=admin, plan_id=planning.create_plan(actor=admin, monolith_id=monolith.pk).pk
    )
    cutover.start_cutovers(actor=admin, plan_id=plan.pk)
    item = Cutover.objects.get(application=application)
    Cluster.objects.create(
        name=item.target_cluster,
        team=team_a,
        kind=Cluster.Kind.DEDICATED,
        environment="prod",
        account=platform_account,
        region="us-east-1",
        network_profile=network_profile,
        status=Cluster.Status.ACTIVE,
        arn="arn:aws:kafka:us-east-1:123456789012:cluster/new/x",
        bootstrap_brokers=target_broker.bootstrap,
    )
    # The test brokers speak PLAINTEXT, not MSK IAM: the harness fills that in at the adapter seam.
    monkeypatch.setattr(
        adapters,
        "cluster_endpoint_and_auth",
        lambda cluster: (_endpoint(cluster.bootstrap_brokers), PLAINTEXT),
    )

    with pytest.raises(ValidationError, match="differ by more than 0 records"):
        cutover.advance(actor=admin, cutover_id=item.pk, expected_step="replicating", threshold=0)
    loop = ReplicationLoop(kafka_broker.bootstrap, target_broker.bootstrap, topic)
    loop.run()
    item = cutover.advance(actor=admin, cutover_id=item.pk, expected_step="replicating", threshold=0)

    with pytest.raises(ValidationError, match=f"Group {group} has no translated offset"):
        cutover.advance(actor=admin, cutover_id=item.pk, expected_step="verified")
    loop.translate(group)  # the consumer is stopped on the source; its offsets are synced to the target
    item = cutover.advance(actor=admin, cutover_id=item.pk, expected_step="verified")
    read_on_target = _read(target_broker.bootstrap, topic, group)
    assert set(read_on_source) | set(read_on_target) == {
        f"k{i}" for i in range(90)
    }  # every record at least once

    _produce(kafka_broker.bootstrap, topic, 90, 30)  # producers still write to the monolith
    with pytest.raises(ValidationError, match="lag must be 0"):
        cutover.advance(actor=admin, cutover_id=item.pk, expected_step="consumers_moved")
    loop.run()
    item = cutover.advance(actor=admin, cutover_id=item.pk, expected_step="consumers_moved")
    item = cutover.advance(actor=admin, cutover_id=item.pk, expected_step="producers_moved")
    assert item.step == Cutover.Step.DONE
