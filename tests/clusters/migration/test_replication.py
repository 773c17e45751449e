"""Generated MirrorMaker 2 configuration, parsed back and asserted (no MM2 runs on this machine:
shared/reference/migration.md §6)."""

from __future__ import annotations

import re

import pytest

from clusters.migration import replication
from clusters.migration.models import Monolith

TOPICS = ["orders.created", "orders.audit"]
OTHERS = ["orders-created", "ordersXcreated", "orders.created.v2", "payments.events"]
GROUPS = ["billing", "shipping"]
TARGET = "boot-abc.c1.kafka-serverless.us-east-1.amazonaws.com:9098"


@pytest.fixture
def scram_monolith(admin):
    return Monolith(
        name="legacy",
        bootstrap="10.0.0.5:9096",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="mirror",
        password_env="LEGACY_MIRROR_PASSWORD",
        registered_by=admin,
    )


def _matches(expressions: str, name: str) -> bool:
    return any(re.fullmatch(expression, name) for expression in expressions.split(","))


def test_mm2_properties_parse_back_with_identity_names_offset_sync_and_iam(scram_monolith, monkeypatch):
    monkeypatch.setenv("LEGACY_MIRROR_PASSWORD", "s3cret-value")
    text = replication.mm2_properties(scram_monolith, target_bootstrap=TARGET, topics=TOPICS, groups=GROUPS)
    props = replication.parse_properties(text)
    assert props["clusters"] == "monolith,serverless"
    assert (
        props["monolith->serverless.enabled"] == "true" and props["serverless->monolith.enabled"] == "false"
    )
    assert props["replication.policy.class"] == "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"
    assert props["sync.group.offsets.enabled"] == "true" and props["emit.checkpoints.enabled"] == "true"
    assert props["replication.factor"] == "3" and props["offset-syncs.topic.location"] == "target"
    assert props["serverless.sasl.mechanism"] == "AWS_MSK_IAM"
    assert props["serverless.security.protocol"] == "SASL_SSL"
    assert props["serverless.sasl.client.callback.handler.class"].endswith("IAMClientCallbackHandler")
    assert props["monolith.sasl.mechanism"] == "SCRAM-SHA-512"
    assert "${env:LEGACY_MIRROR_PASSWORD}" in props["monolith.sasl.jaas.config"]
    assert "s3cret-value" not in text
    topics = props["monolith->serverless.topics"]
    assert all(_matches(topics, name) for name in TOPICS)
    assert not any(_matches(topics, name) for name in OTHERS)
    groups = props["monolith->serverless.groups"]
    assert all(_matches(groups, group) for group in GROUPS) and not _matches(groups, "billing-v2")


def test_both_connectors_carry_the_identity_policy_and_only_checkpoints_sync_groups(scram_monolith):
    configs = replication.connector_configs(
        scram_monolith, target_bootstrap=TARGET, topics=TOPICS, groups=GROUPS
    )
    source, checkpoint = configs["source"], configs["checkpoint"]
    for config in (source, checkpoint):
        assert config["replication.policy.class"] == replication.IDENTITY_POLICY
        assert config["target.cluster.sasl.mechanism"] == "AWS_MSK_IAM"
        assert config["source.cluster.bootstrap.servers"] == "10.0.0.5:9096"
        assert all(isinstance(value, str) for value in config.values())
    assert source["connector.class"].endswith("MirrorSourceConnector")
    assert checkpoint["connector.class"].endswith("MirrorCheckpointConnector")
    assert (
        checkpoint["sync.group.offsets.enabled"] == "true"
        and "groups" in checkpoint
        and "topics" not in checkpoint
    )
    assert source["sync.topic.acls.enabled"] == "false"


def test_plaintext_and_msk_iam_sources(admin):
    plain = Monolith(name="p", bootstrap="h:9092", security_protocol="PLAINTEXT", registered_by=admin)
    assert replication.source_client_settings(plain) == {"security.protocol": "PLAINTEXT"}
    iam = Monolith(name="i", bootstrap="h:9098", security_protocol="MSK_IAM", registered_by=admin)
    assert replication.source_client_settings(iam)["sasl.mechanism"] == "AWS_MSK_IAM"


@pytest.mark.parametrize(
    ("protocol", "mechanism", "expected"),
    [
        ("PLAINTEXT", "", ("NONE", False, "")),
        ("SSL", "", ("NONE", True, "")),
        ("SASL_SSL", "SCRAM-SHA-512", ("SCRAM-SHA-512", True, "s3cret")),
        ("SASL_PLAINTEXT", "SCRAM-SHA-256", ("SCRAM-SHA-256", False, "s3cret")),
        ("MSK_IAM", "", ("AWS_MSK_IAM", True, "")),
    ],
)
def test_the_portal_logs_in_to_the_monolith_as_registered(admin, monkeypatch, protocol, mechanism, expected):
    """Issue 13 §1: PLAINTEXT, TLS, SASL/SCRAM and MSK IAM; the password only from the named variable."""
    from clusters.migration import adapters

    monolith = Monolith(
        name="legacy",
        bootstrap="10.0.0.5:9096",
        security_protocol=protocol,
        sasl_mechanism=mechanism,
        sasl_username="portal" if mechanism else "",
        password_env="LEGACY_KAFKA_PASSWORD" if mechanism else "",
        registered_by=admin,
    )
    if mechanism:
        with pytest.raises(adapters.MissingSecret, match="LEGACY_KAFKA_PASSWORD, which is not set"):
            adapters.monolith_auth(monolith)
        monkeypatch.setenv("LEGACY_KAFKA_PASSWORD", "s3cret")
    auth = adapters.monolith_auth(monolith)
    assert (auth.mechanism, auth.tls, auth.password) == expected
    assert "s3cret" not in repr(auth)
