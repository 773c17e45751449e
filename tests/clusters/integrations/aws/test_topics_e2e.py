"""The aws provider's topic path end to end: approval → Celery task (eager) → AwsProvider →
clusters.integrations.kafka_admin over SASL_SSL + OAUTHBEARER with an MSK IAM token signed with the credentials moto's
STS handed out for the account's role → the MSK IAM front (TLS, token check with the SigV4 signature
recomputed from moto's secret, KIP-464) → the real Kafka 2.3 broker.

The cluster is provisioned through the aws provider against moto; moto never turns clusters ACTIVE and has
no GetBootstrapBrokers, so the harness does both, the bootstrap string being the front's address. The
product code is the production code: the only setting the harness changes is KAFKA_SSL_CA_LOCATION (the CA
that signed the front's certificate). What is on the broker is checked over its PLAINTEXT listener with a
plain AdminClient, not through the product.
"""

from __future__ import annotations

import gc
import time
import uuid
from decimal import Decimal

import pytest
from confluent_kafka import TopicCollection
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

from clusters import provisioning
from clusters.integrations import aws_control, kafka_admin
from clusters.models import Cluster, PlatformSettings, Topic
from clusters.providers import get_provider
from clusters.provisioning import tasks
from clusters.requests import services
from tests import builders, moto_harness
from tests.clusters.integrations.kafka.msk_front import Secret, moto_secrets
from tests.moto_harness import ACCOUNT_ID, EXTERNAL_ID

pytestmark = pytest.mark.services


def _on_broker(bootstrap: str, name: str) -> tuple[int, dict[str, str]] | None:
    """(partitions, configs) of the topic as the broker itself reports it, or None when it is absent."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    metadata = admin.list_topics(topic=name, timeout=10).topics[name]
    if metadata.error is not None:
        return None
    resource = ConfigResource(ResourceType.TOPIC, name)
    configs = admin.describe_configs([resource], request_timeout=10)[resource].result(timeout=15)
    admin.describe_topics(TopicCollection([name]))[name].result(timeout=15)
    return len(metadata.partitions), {key: entry.value for key, entry in configs.items()}


def _drop_clients() -> None:
    """Pooled clients, and the failed ones still referenced from kept exceptions, destroyed now: a live
    librdkafka client keeps reconnecting (and logging in) on its own."""
    kafka_admin.clear_clients()
    gc.collect()


@pytest.fixture
def msk_cluster(aws, settings, kafka_broker, member_a, admin, team_a, django_capture_on_commit_callbacks):
    """An ACTIVE cluster provisioned through the aws provider, its bootstrap string the MSK IAM front."""
    settings.MSK_PROVIDER = "aws"
    settings.KAFKA_SSL_CA_LOCATION = str(kafka_broker.msk_front.ca_file)
    get_provider.cache_clear()
    _drop_clients()  # no client of an earlier test may log in through the front during this one
    kafka_broker.msk_front.reset()
    PlatformSettings.objects.update_or_create(pk=1, defaults={"max_clusters_per_account_region": 100})
    account = builders.aws_account(ACCOUNT_ID, name="moto", external_id=EXTERNAL_ID)
    network = builders.network_profile(account, name="n")
    name = f"topics-{uuid.uuid4().hex[:6]}"
    prepared = services.prepare_cluster_create(
        actor=member_a,
        team=team_a,
        name=name,
        kind="dedicated",
        environment="dev",
        account=account,
        region="us-east-1",
        network_profile=network,
        expected_write_mbps=Decimal(1),
        expected_read_mbps=Decimal(1),
        contains_pii=False,
        latency_class="time_insensitive",
        justification="x",
    )
    services.approve_request(
        request_id=services.submit_request(actor=member_a, prepared=prepared).pk, actor=admin
    )
    cluster = Cluster.objects.get(name=name)
    client = aws_control.kafka_client(provisioning.account_ref(cluster))
    # moto has no GetBootstrapBrokers: the harness answers it, pointing at the front.
    undo = moto_harness.answer_bootstrap_brokers(client, lambda arn: kafka_broker.msk_iam_bootstrap)
    try:
        tasks.provision_cluster.apply(args=[cluster.pk])
        moto_harness.make_clusters_active(ACCOUNT_ID)
        with django_capture_on_commit_callbacks(execute=True):
            tasks.reconcile.apply()
    finally:
        undo()
    cluster.refresh_from_db()
    assert cluster.status == Cluster.Status.ACTIVE, cluster.status_reason
    assert cluster.bootstrap_brokers == kafka_broker.msk_iam_bootstrap
    yield cluster
    get_provider.cache_clear()
    _drop_clients()


def _approve(member_a, admin, prepared, capture):
    request = services.submit_request(actor=member_a, prepared=prepared)
    with capture(execute=True):
        services.approve_request(request_id=request.pk, actor=admin)


def _request_topic(member_a, admin, team_a, cluster, capture) -> Topic:
    name = f"orders-{uuid.uuid4().hex[:6]}"
    prepared = services.prepare_topic_create(
        actor=member_a,
        team=team_a,
        cluster=cluster,
        name=name,
        expected_in_mbps=Decimal(6),
        expected_out_mbps=Decimal(6),
        retention_ms=3_600_000,
        compression_type="zstd",
    )
    _approve(member_a, admin, prepared, capture)
    return Topic.objects.get(name=f"team-a.{name}")


def test_an_approved_topic_is_created_updated_and_deleted_on_the_broker_with_msk_iam(
    msk_cluster, kafka_broker, member_a, admin, team_a, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    front = kafka_broker.msk_front

    topic = _request_topic(member_a, admin, team_a, msk_cluster, capture)

    assert topic.status == Topic.Status.ACTIVE, topic.status_reason
    partitions, configs = _on_broker(kafka_broker.bootstrap, topic.name)
    assert partitions == topic.partitions == 2
    assert configs["retention.ms"] == "3600000"
    assert configs["compression.type"] == "zstd"
    assert configs["max.message.bytes"] == str(topic.configs["max.message.bytes"])
    # Authenticated as the role the portal assumed in the account, with moto's STS credentials.
    assert front.accepted, front.refused
    assert set(front.accepted) == {
        f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/msk-portal/{aws_control.ROLE_SESSION_NAME}"
    }
    assert front.refused == []

    _approve(
        member_a,
        admin,
        services.prepare_topic_update(
            actor=member_a,
            topic=topic,
            partitions=4,
            retention_ms=7_200_000,
            retention_bytes=-1,
            max_message_bytes=1048588,
            compression_type="lz4",
            message_timestamp_type="CreateTime",
        ),
        capture,
    )

    topic.refresh_from_db()
    assert topic.status == Topic.Status.ACTIVE, topic.status_reason
    partitions, configs = _on_broker(kafka_broker.bootstrap, topic.name)
    assert partitions == 4
    assert (configs["retention.ms"], configs["compression.type"]) == ("7200000", "lz4")

    _approve(
        member_a,
        admin,
        services.prepare_topic_delete(actor=member_a, topic=topic, justification="gone"),
        capture,
    )

    topic.refresh_from_db()
    assert topic.status == Topic.Status.DELETED, topic.status_reason
    deadline = time.monotonic() + 10  # deletion is asynchronous on the broker
    while _on_broker(kafka_broker.bootstrap, topic.name) is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _on_broker(kafka_broker.bootstrap, topic.name) is None


def _wrong_secret(key_id: str) -> Secret | None:
    real = moto_secrets(key_id)
    return real and Secret("not-" + real.secret_access_key, real.session_token, real.principal)


@pytest.mark.parametrize(
    ("setup", "why"),
    [
        (lambda front: setattr(front, "refuse", True), "told to refuse"),
        (lambda front: setattr(front, "secrets", _wrong_secret), "signature does not match"),
        (lambda front: setattr(front, "secrets", lambda key_id: None), "is unknown"),
    ],
    ids=["validator-refuses", "wrong-secret", "unknown-key"],
)
def test_a_token_the_brokers_refuse_fails_the_topic_with_a_readable_reason(
    setup, why, msk_cluster, kafka_broker, member_a, admin, team_a, django_capture_on_commit_callbacks
):
    setup(kafka_broker.msk_front)

    started = time.monotonic()
    topic = _request_topic(member_a, admin, team_a, msk_cluster, django_capture_on_commit_callbacks)
    elapsed = time.monotonic() - started

    assert topic.status == Topic.Status.FAILED
    reason = topic.status_reason
    assert reason.startswith(f"Kafka refused the portal's credentials on {kafka_broker.msk_iam_bootstrap}: ")
    assert "Access denied" in reason and why in reason
    assert elapsed < 10, f"took {elapsed:.1f} s"  # refused at once, not after the request timeout
    assert _on_broker(kafka_broker.bootstrap, topic.name) is None
    assert kafka_broker.msk_front.refused and not kafka_broker.msk_front.accepted
