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
    source_subnet_ids=("subnet-0aaaaaaaaaaaaaaa0", "subnet-0aaaaaaaaaaaaaaa1"),
    source_security_group_ids=("sg-0aaaaaaaaaaaaaaa0",),
    target_subnet_ids=("subnet-0123456789abcdef0", "subnet-0123456789abcdef1"),
    target_security_group_ids=("sg-0123456789abcdef0",),
    service_execution_role_arn="arn:aws:iam::111122223333:role/msk-replicator",
    tags={"team": "search"},
)


def create_replicator_request(
    *, name, role, source, target, source_vpc, target_vpc, topics, groups, tags, starting=None
) -> dict:
    """CreateReplicator's parameters as the adapter must send them; every value is the caller's."""
    topic_replication = {
        "TopicsToReplicate": topics,
        "CopyTopicConfigurations": True,
        "CopyAccessControlListsForTopics": False,
        "DetectAndCopyNewTopics": False,
        "TopicNameConfiguration": {"Type": "IDENTICAL"},
    }
    if starting:
        topic_replication["StartingPosition"] = {"Type": starting}
    return {
        "ReplicatorName": name,
        "ServiceExecutionRoleArn": role,
        "KafkaClusters": [
            {"AmazonMskCluster": {"MskClusterArn": source}, "VpcConfig": source_vpc},
            {"AmazonMskCluster": {"MskClusterArn": target}, "VpcConfig": target_vpc},
        ],
        "ReplicationInfoList": [
            {
                "SourceKafkaClusterArn": source,
                "TargetKafkaClusterArn": target,
                "TargetCompressionType": "NONE",
                "TopicReplication": topic_replication,
                "ConsumerGroupReplication": {
                    "ConsumerGroupsToReplicate": groups,
                    "DetectAndCopyNewConsumerGroups": True,
                    "SynchroniseConsumerGroupOffsets": True,
                },
            }
        ],
        "Tags": tags,
    }


CREATED = {"ReplicatorArn": REPLICATOR, "ReplicatorName": SPEC.name, "ReplicatorState": "CREATING"}
SOURCE_VPC = {
    "SubnetIds": ["subnet-0aaaaaaaaaaaaaaa0", "subnet-0aaaaaaaaaaaaaaa1"],
    "SecurityGroupIds": ["sg-0aaaaaaaaaaaaaaa0"],
}
TARGET_SUBNETS = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]


def spec_request(**varying) -> dict:
    """The request for SPEC's replicator, with what a test varies."""
    return create_replicator_request(
        name="events-read-from-events-write",
        role="arn:aws:iam::111122223333:role/msk-replicator",
        source=SOURCE,
        target=TARGET,
        source_vpc=SOURCE_VPC,
        tags={"team": "search"},
        **varying,
    )


def test_create_replicator_sends_a_valid_request_with_offset_sync(account, kafka_stub):
    """A read cluster mirrors its whole write cluster: every group; each cluster through its own VPC."""
    kafka_stub.add_response(
        "create_replicator",
        CREATED,
        expected_params=spec_request(
            target_vpc={"SubnetIds": TARGET_SUBNETS, "SecurityGroupIds": ["sg-0123456789abcdef0"]},
            topics=[r"payments\.orders"],
            groups=[".*"],
        ),
    )
    state = aws_control.create_replicator(account, SPEC)
    assert (state.arn, state.state) == (REPLICATOR, "CREATING")


def test_named_groups_and_topics_are_matched_exactly_and_a_name_too_long_to_escape_is_refused(
    account, kafka_stub
):
    import re
    from dataclasses import replace

    spec = replace(
        SPEC,
        topics=("orders.created", "orders-dlq"),
        consumer_groups=("billing.v2", "ship+ping"),
        starting_position="EARLIEST",
        target_security_group_ids=(),
    )
    kafka_stub.add_response(
        "create_replicator",
        CREATED,
        expected_params=spec_request(
            target_vpc={"SubnetIds": TARGET_SUBNETS},  # no security group: the VPC's default
            topics=[r"orders\-dlq", r"orders\.created"],
            groups=[r"billing\.v2", r"ship\+ping"],
            starting="EARLIEST",
        ),
    )
    aws_control.create_replicator(account, spec)
    # Each pattern matches its own name only.
    assert re.fullmatch(r"orders\.created", "orders.created")
    assert not re.fullmatch(r"orders\.created", "ordersXcreated")
    with pytest.raises(ProviderError, match=r"cannot match the topic .* exactly"):
        aws_control.create_replicator(account, replace(spec, topics=("a." * 120 + "b",)))


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
