"""MSK Replicator calls (moto does not implement them): botocore's Stubber answers and checks every
request against the kafka service model."""

import pytest

from clusters.integrations import aws_control
from clusters.providers.base import ProviderError, ReplicatorSpec

SOURCE = "arn:aws:kafka:us-east-1:111122223333:cluster/events-write/aaaa-s1"
TARGET = "arn:aws:kafka:us-east-1:111122223333:cluster/events-read/bbbb-s1"
REPLICATOR = "arn:aws:kafka:us-east-1:111122223333:replicator/events-read-from-events-write/cccc"
SPEC = ReplicatorSpec(
    name="events-read-from-events-write",
    source_arn=SOURCE,
    target_arn=TARGET,
    topics=("payments.orders",),
    subnet_ids=("subnet-0123456789abcdef0", "subnet-0123456789abcdef1"),
    security_group_ids=("sg-0123456789abcdef0",),
    service_execution_role_arn="arn:aws:iam::111122223333:role/msk-replicator",
    tags={"team": "search"},
)


def test_create_replicator_sends_a_valid_request_with_offset_sync(account, kafka_stub):
    vpc = {"SubnetIds": list(SPEC.subnet_ids), "SecurityGroupIds": list(SPEC.security_group_ids)}
    kafka_stub.add_response(
        "create_replicator",
        {"ReplicatorArn": REPLICATOR, "ReplicatorName": SPEC.name, "ReplicatorState": "CREATING"},
        expected_params={
            "ReplicatorName": SPEC.name,
            "ServiceExecutionRoleArn": SPEC.service_execution_role_arn,
            "KafkaClusters": [
                {"AmazonMskCluster": {"MskClusterArn": SOURCE}, "VpcConfig": vpc},
                {"AmazonMskCluster": {"MskClusterArn": TARGET}, "VpcConfig": vpc},
            ],
            "ReplicationInfoList": [
                {
                    "SourceKafkaClusterArn": SOURCE,
                    "TargetKafkaClusterArn": TARGET,
                    "TargetCompressionType": "NONE",
                    "TopicReplication": {
                        "TopicsToReplicate": ["payments.orders"],
                        "CopyTopicConfigurations": True,
                        "CopyAccessControlListsForTopics": False,
                        "DetectAndCopyNewTopics": False,
                        "TopicNameConfiguration": {"Type": "IDENTICAL"},
                    },
                    "ConsumerGroupReplication": {
                        "ConsumerGroupsToReplicate": [".*"],
                        "DetectAndCopyNewConsumerGroups": True,
                        "SynchroniseConsumerGroupOffsets": True,
                    },
                }
            ],
            "Tags": {"team": "search"},
        },
    )
    state = aws_control.create_replicator(account, SPEC)
    assert (state.arn, state.state) == (REPLICATOR, "CREATING")


def test_find_replicator_matches_the_exact_name(account, kafka_stub):
    kafka_stub.add_response(
        "list_replicators",
        {
            "Replicators": [
                {
                    "ReplicatorName": SPEC.name + "-old",
                    "ReplicatorArn": REPLICATOR + "-old",
                    "ReplicatorState": "RUNNING",
                },
                {"ReplicatorName": SPEC.name, "ReplicatorArn": REPLICATOR, "ReplicatorState": "RUNNING"},
            ]
        },
        expected_params={"ReplicatorNameFilter": SPEC.name},
    )
    found = aws_control.find_replicator(account, SPEC.name)
    assert (found.arn, found.state) == (REPLICATOR, "RUNNING")


def test_a_missing_service_role_is_a_readable_error_before_any_call(account, kafka_stub):
    from dataclasses import replace

    with pytest.raises(ProviderError, match="no MSK Replicator service role registered"):
        aws_control.create_replicator(account, replace(SPEC, service_execution_role_arn=""))


def test_deleting_a_replicator_twice_is_fine(account, kafka_stub):
    kafka_stub.add_response(
        "delete_replicator",
        {"ReplicatorArn": REPLICATOR, "ReplicatorState": "DELETING"},
        expected_params={"ReplicatorArn": REPLICATOR},
    )
    kafka_stub.add_client_error(
        "delete_replicator", service_error_code="NotFoundException", http_status_code=404
    )
    aws_control.delete_replicator(account, REPLICATOR)
    aws_control.delete_replicator(account, REPLICATOR)
