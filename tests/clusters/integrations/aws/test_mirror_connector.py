"""MirrorMaker 2 on MSK Connect (moto has no kafkaconnect backend): botocore's Stubber checks each request
against the kafkaconnect service model, with the connector configuration the migration assistant generates."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from clusters.integrations import aws_control
from clusters.migration import replication
from clusters.migration.models import Monolith
from clusters.providers.base import ProviderError

CONNECTOR = "arn:aws:kafkaconnect:us-east-1:123456789012:connector/mm2-source-legacy/abcd"
PLUGIN = "arn:aws:kafkaconnect:us-east-1:123456789012:custom-plugin/mm2-3-7/efgh"
ROLE = "arn:aws:iam::123456789012:role/msk-connect-mm2"
TARGET = "boot-abc.c1.kafka-serverless.us-east-1.amazonaws.com:9098"


@pytest.fixture
def connect_stub(account):
    stubber = Stubber(aws_control.client(account, "kafkaconnect"))
    with stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def _config():
    monolith = Monolith(name="legacy", bootstrap="10.0.0.5:9092", security_protocol="PLAINTEXT")
    return replication.connector_configs(
        monolith, target_bootstrap=TARGET, topics=["orders.created"], groups=["billing"]
    )


def test_create_mirror_connector_sends_a_valid_request(account, connect_stub):
    config = _config()["source"]
    connect_stub.add_response(
        "create_connector",
        {"connectorArn": CONNECTOR, "connectorName": "mm2-source-legacy", "connectorState": "CREATING"},
        expected_params={
            "connectorName": "mm2-source-legacy",
            "kafkaConnectVersion": "3.7.x",
            "capacity": {"provisionedCapacity": {"workerCount": 1, "mcuCount": 1}},
            "connectorConfiguration": config,
            "kafkaCluster": {
                "apacheKafkaCluster": {
                    "bootstrapServers": TARGET,
                    "vpc": {"subnets": ["subnet-1", "subnet-2"], "securityGroups": ["sg-1"]},
                }
            },
            "kafkaClusterClientAuthentication": {"authenticationType": "IAM"},
            "kafkaClusterEncryptionInTransit": {"encryptionType": "TLS"},
            "plugins": [{"customPlugin": {"customPluginArn": PLUGIN, "revision": 1}}],
            "serviceExecutionRoleArn": ROLE,
            "tags": {"migration": "legacy"},
        },
    )
    state = aws_control.create_mirror_connector(
        account,
        name="mm2-source-legacy",
        connector_configuration=config,
        target_bootstrap=TARGET,
        subnet_ids=("subnet-1", "subnet-2"),
        security_group_ids=("sg-1",),
        plugin_arn=PLUGIN,
        plugin_revision=1,
        service_execution_role_arn=ROLE,
        tags={"migration": "legacy"},
    )
    assert (state.arn, state.state) == (CONNECTOR, "CREATING")


def test_find_mirror_connector_adopts_the_exact_name_only(account, connect_stub):
    connect_stub.add_response(
        "list_connectors",
        {
            "connectors": [
                {
                    "connectorName": "mm2-source-legacy-old",
                    "connectorArn": CONNECTOR + "-old",
                    "connectorState": "RUNNING",
                },
                {
                    "connectorName": "mm2-source-legacy",
                    "connectorArn": CONNECTOR,
                    "connectorState": "RUNNING",
                },
            ]
        },
        expected_params={"connectorNamePrefix": "mm2-source-legacy"},
    )
    found = aws_control.find_mirror_connector(account, "mm2-source-legacy")
    assert (found.arn, found.state) == (CONNECTOR, "RUNNING")


def test_a_connector_error_is_translated_and_a_missing_plugin_refused_before_any_call(account, connect_stub):
    with pytest.raises(ProviderError, match="plugin"):
        aws_control.create_mirror_connector(
            account,
            name="x",
            connector_configuration={},
            target_bootstrap=TARGET,
            subnet_ids=(),
            security_group_ids=(),
            plugin_arn="",
            plugin_revision=1,
            service_execution_role_arn=ROLE,
        )
    connect_stub.add_client_error(
        "delete_connector", service_error_code="NotFoundException", http_status_code=404
    )
    aws_control.delete_mirror_connector(account, CONNECTOR)  # already gone is success
