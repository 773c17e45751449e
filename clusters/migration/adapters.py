"""The one place the migration assistant imports the portal's outside-system adapters and request services.

The restructure of issue 12 moves these modules (kafka_admin and aws_control to clusters.integrations,
services to clusters.requests, account_region_ref to clusters.providers); only these lines follow them.
"""

from __future__ import annotations

import os
from datetime import datetime

from clusters.integrations import (  # noqa: F401  (re-exported for the assistant's modules)
    aws_control,
    cloudwatch,
    kafka_admin,
)
from clusters.integrations.kafka_admin import ClusterInventory, KafkaAuth
from clusters.migration.models import Monolith
from clusters.providers import account_region_ref
from clusters.providers.base import AccountRef, ClusterEndpoint, ProviderError
from clusters.requests import notifications as request_notifications  # noqa: F401
from clusters.requests import services as request_services  # noqa: F401

# Any account will do for a monolith that is not MSK: the endpoint's account is used only to sign MSK IAM.
NO_ACCOUNT = AccountRef(account_id="", region="", role_arn="")


class MissingSecret(ProviderError):
    """The environment variable the monolith names is not set on this worker."""


def monolith_account(monolith: Monolith) -> AccountRef:
    if monolith.aws_account is None:
        return NO_ACCOUNT
    region = (
        monolith.msk_cluster_arn.split(":")[3]
        if monolith.msk_cluster_arn.count(":") >= 5
        else monolith.region
    )
    return account_region_ref(monolith.aws_account, region)


def monolith_endpoint(monolith: Monolith) -> ClusterEndpoint:
    return ClusterEndpoint(
        account=monolith_account(monolith), arn=monolith.msk_cluster_arn, bootstrap_brokers=monolith.bootstrap
    )


def monolith_auth(monolith: Monolith, *, timeout_seconds: float = 15.0) -> KafkaAuth:
    """How to log in to the monolith. The password is read from the named environment variable now and
    kept only in this object (whose repr hides it); it is never written anywhere."""
    Security = Monolith.Security
    if monolith.security_protocol == Security.MSK_IAM:
        return KafkaAuth.msk_iam(timeout_seconds=timeout_seconds)
    if monolith.security_protocol in (Security.PLAINTEXT, Security.SSL):
        return KafkaAuth(
            mechanism="NONE", tls=monolith.security_protocol == Security.SSL, timeout_seconds=timeout_seconds
        )
    password = os.environ.get(monolith.password_env, "") if monolith.password_env else ""
    if not password:
        raise MissingSecret(
            f"The password for {monolith.name} is read from the environment variable "
            f"{monolith.password_env or '(none named)'}, which is not set on the portal's workers."
        )
    return KafkaAuth.sasl(
        monolith.sasl_mechanism,
        monolith.sasl_username,
        password,
        tls=monolith.security_protocol == Security.SASL_SSL,
        timeout_seconds=timeout_seconds,
    )


def read_monolith(monolith: Monolith) -> ClusterInventory:
    return kafka_admin.read_inventory(monolith_endpoint(monolith), monolith_auth(monolith))


def sample_record_bytes(
    monolith: Monolith, ranges: dict[str, tuple[int, int, int]]
) -> dict[str, tuple[int, int]]:
    return kafka_admin.sample_record_bytes(monolith_endpoint(monolith), ranges, monolith_auth(monolith))


def monolith_offsets(monolith: Monolith, topics: list[str]):
    return kafka_admin.partition_offsets(monolith_endpoint(monolith), topics, monolith_auth(monolith))


def cluster_account(cluster) -> AccountRef:
    """Where calls about a planned cluster go: its account and region, through the role assumed there."""
    return account_region_ref(cluster.account, cluster.region)


def cluster_endpoint_and_auth(cluster) -> tuple[ClusterEndpoint, KafkaAuth]:
    """A planned cluster once it is live: MSK IAM with the role the portal assumes in its account."""
    endpoint = ClusterEndpoint(
        account=cluster_account(cluster),
        arn=cluster.arn,
        bootstrap_brokers=cluster.bootstrap_brokers,
    )
    return endpoint, KafkaAuth.msk_iam()


def cluster_offsets(cluster, topics: list[str]):
    endpoint, auth = cluster_endpoint_and_auth(cluster)
    return kafka_admin.partition_offsets(endpoint, topics, auth)


def cluster_group_offsets(cluster, group_id: str):
    endpoint, auth = cluster_endpoint_and_auth(cluster)
    return kafka_admin.committed_offsets(endpoint, group_id, auth)


def replicator_lag(cluster, replicator_name: str, topics: list[str], start: datetime, end: datetime):
    """MSK Replicator's own lag per topic, from CloudWatch in the target cluster's account and region
    (the replicator runs there: same account, target region)."""
    return cloudwatch.replicator_lag(cluster_account(cluster), replicator_name, topics, start, end)


def monolith_topic_peaks(
    monolith: Monolith, cluster_name: str, topics: list[str], start: datetime, end: datetime
):
    """An MSK monolith's per-topic peak bytes in and out from CloudWatch, in its own account and region."""
    return cloudwatch.topic_peaks(monolith_account(monolith), cluster_name, topics, start, end)
