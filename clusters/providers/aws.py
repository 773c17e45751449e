"""The real MSK: control plane and grants through `clusters.integrations.aws_control` (boto3), topics through
`clusters.integrations.kafka_admin` (the Kafka admin protocol over SASL/IAM; MSK has no topic API for Serverless)."""

from __future__ import annotations

from clusters.integrations import aws_control
from clusters.providers.base import (
    AccountRef,
    ClusterEndpoint,
    ClusterSpec,
    ClusterState,
    GrantSpec,
    TopicSpec,
)


class AwsProvider:
    # --- control plane ---
    def create_cluster(self, account: AccountRef, spec: ClusterSpec) -> ClusterState:
        return aws_control.create_serverless_cluster(account, spec)

    def find_cluster(self, account: AccountRef, name: str) -> ClusterState | None:
        return aws_control.find_cluster_by_name(account, name)

    def list_clusters(self, account: AccountRef) -> list[ClusterState]:
        return aws_control.list_serverless_clusters(account)

    def bootstrap_brokers(self, account: AccountRef, arn: str) -> str:
        return aws_control.bootstrap_brokers(account, arn)

    def delete_cluster(self, account: AccountRef, arn: str) -> None:
        aws_control.delete_cluster(account, arn)

    def tag_cluster(self, account: AccountRef, arn: str, tags: dict[str, str]) -> None:
        aws_control.tag_cluster(account, arn, tags)

    # --- topics ---
    # kafka_admin is imported lazily: it pulls in confluent-kafka, which only topic work needs. Its
    # functions are assumed to take (endpoint, spec|name) and to raise provider errors themselves.

    def ensure_topic(self, endpoint: ClusterEndpoint, spec: TopicSpec) -> None:
        from clusters.integrations import kafka_admin

        kafka_admin.ensure_topic(endpoint, spec)

    def update_topic(self, endpoint: ClusterEndpoint, spec: TopicSpec) -> None:
        from clusters.integrations import kafka_admin

        kafka_admin.update_topic(endpoint, spec)

    def delete_topic(self, endpoint: ClusterEndpoint, name: str) -> None:
        from clusters.integrations import kafka_admin

        kafka_admin.delete_topic(endpoint, name)

    # --- access (inline policy named GrantSpec.policy_name on the principal's role) ---
    def create_replicator(self, account: AccountRef, spec):
        return aws_control.create_replicator(account, spec)

    def find_replicator(self, account: AccountRef, name: str):
        return aws_control.find_replicator(account, name)

    def delete_replicator(self, account: AccountRef, arn: str) -> None:
        aws_control.delete_replicator(account, arn)

    def apply_grant(self, account: AccountRef, grant: GrantSpec) -> None:
        aws_control.put_role_policy(account, grant.principal_arn, grant.policy_name, grant.policy_document)

    def remove_grant(self, account: AccountRef, grant: GrantSpec) -> None:
        aws_control.delete_role_policy(account, grant.principal_arn, grant.policy_name)

    # --- usage metrics ---
    def daily_topic_bytes(self, account: AccountRef, topics, start, end):
        from clusters.integrations import cloudwatch

        return cloudwatch.daily_topic_bytes(account, topics, start, end)

    # --- the bill ---
    def cluster_costs(self, account: AccountRef, start, end):
        from clusters.integrations import cost_explorer

        return cost_explorer.monthly_cost_by_cluster(account, start, end)
