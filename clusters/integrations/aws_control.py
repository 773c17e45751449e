"""The AWS control plane (kafka, iam, sts): the one module that imports boto3 for it.

Every call goes to one account and region (`AccountRef`) through the role the portal assumes there.
Assumed-role credentials are cached per (role ARN, external id) until five minutes before they expire;
clients are cached per service, account and settings, and rebuilt when their credentials are refreshed.
boto3 low-level clients are thread-safe, so workers share them.

Errors leave this module only as `clusters.integrations.errors`: throttling, 5xx and network trouble are
`TransientError`; a denied call or role is `AccessDenied` naming the account and role; a duplicate cluster
name is `NameConflict`; a missing cluster or IAM entity is `NotFound`; anything else is a permanent
`ProviderError` carrying the AWS message. Credentials are never logged nor put into messages.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError as BotoHTTPClientError
from django.conf import settings

from clusters.integrations.errors import AccessDenied, NameConflict, NotFound, ProviderError, TransientError
from clusters.integrations.records import (
    AccountRef,
    ClusterSpec,
    ClusterState,
    ReplicatorSpec,
    ReplicatorState,
    role_name_from_principal_arn,
)

logger = logging.getLogger(__name__)

ROLE_SESSION_NAME = "msk-portal"
# Assumed-role credentials are renewed this long before they expire, so no call goes out with a dying key.
REFRESH_MARGIN = timedelta(minutes=5)

TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "PriorRequestNotComplete",
        "ConcurrentModification",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalServerError",
        "InternalServerErrorException",
        "InternalFailure",
        "ServiceFailure",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
ACCESS_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "Unauthorized",
        "UnauthorizedException",
        "Forbidden",
        "ForbiddenException",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "AuthFailure",
    }
)
EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})
NOT_FOUND_CODES = frozenset({"NotFoundException", "NoSuchEntity", "NoSuchEntityException"})
CONFLICT_CODES = frozenset({"ConflictException"})


# --- Sessions, credentials and clients ------------------------------------------------------------


@dataclass(frozen=True)
class _Credentials:
    access_key_id: str
    secret_access_key: str = ""  # repr shows only the key id
    session_token: str = ""
    expires_at: datetime | None = None

    def __repr__(self) -> str:
        return f"_Credentials(access_key_id={self.access_key_id!r}, expires_at={self.expires_at!r})"


_credentials: dict[tuple[str, str], _Credentials] = {}
_clients: dict[tuple, tuple[_Credentials, Any]] = {}
_locks: dict[tuple, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(key: tuple) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def _now() -> datetime:
    return datetime.now(UTC)


def clear_caches() -> None:
    """Forget every cached credential and client (tests; after rotating the portal's own keys)."""
    with _locks_guard:
        _credentials.clear()
        _clients.clear()


def _config() -> Config:
    return Config(
        connect_timeout=settings.AWS_CONNECT_TIMEOUT_SECONDS,
        read_timeout=settings.AWS_READ_TIMEOUT_SECONDS,
        # total_max_attempts counts the first try too (botocore's max_attempts counts retries only), so
        # AWS_MAX_ATTEMPTS=1 means one call and no retry, as the setting and the shared AWS config mean it.
        retries={"mode": "adaptive", "total_max_attempts": settings.AWS_MAX_ATTEMPTS},
        user_agent_extra="msk-portal",
    )


def _endpoint_url() -> str | None:
    return settings.AWS_ENDPOINT_URL or None


def _sts_client(region: str):
    """STS with the portal's own credentials (the default chain: env, instance/task role, IRSA…)."""
    return boto3.session.Session().client(
        "sts", region_name=region, endpoint_url=_endpoint_url(), config=_config()
    )


def _assume(account: AccountRef) -> _Credentials:
    params = {"RoleArn": account.role_arn, "RoleSessionName": ROLE_SESSION_NAME}
    if account.external_id:
        params["ExternalId"] = account.external_id
    try:
        response = _sts_client(account.region).assume_role(**params)
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise AccessDenied(
            f"The portal cannot assume {account.role_arn} in account {account.account_id}: "
            "the portal has no AWS credentials of its own."
        ) from exc
    except ClientError as exc:
        code, message, status = _error_parts(exc)
        if code in TRANSIENT_CODES or status >= 500 or status == 429:
            raise TransientError(
                f"AWS STS is unavailable while assuming {account.role_arn} in account "
                f"{account.account_id}: {message}"
            ) from exc
        raise AccessDenied(
            f"The portal cannot assume {account.role_arn} in account {account.account_id}: {message}"
        ) from exc
    except (BotoConnectionError, BotoHTTPClientError) as exc:
        raise TransientError(
            f"AWS STS is unreachable while assuming {account.role_arn} in account {account.account_id}: "
            f"{type(exc).__name__}"
        ) from exc
    except BotoCoreError as exc:
        raise ProviderError(
            f"The portal cannot assume {account.role_arn} in account {account.account_id}: {exc}"
        ) from exc
    raw = response["Credentials"]
    logger.info("assumed %s in account %s", account.role_arn, account.account_id)
    return _Credentials(
        access_key_id=raw["AccessKeyId"],
        secret_access_key=raw["SecretAccessKey"],
        session_token=raw["SessionToken"],
        expires_at=raw["Expiration"],
    )


def _fresh(creds: _Credentials | None) -> bool:
    return creds is not None and (creds.expires_at is None or _now() < creds.expires_at - REFRESH_MARGIN)


def credentials(account: AccountRef) -> _Credentials:
    """Credentials of the role assumed in the account: cached, refreshed 5 minutes before expiry."""
    key = (account.role_arn, account.external_id)
    creds = _credentials.get(key)
    if _fresh(creds):
        return creds
    with _lock_for(("sts", *key)):
        creds = _credentials.get(key)  # another thread may have refreshed while this one waited
        if not _fresh(creds):
            creds = _assume(account)
            _credentials[key] = creds
        return creds


def _forget_credentials(account: AccountRef) -> None:
    _credentials.pop((account.role_arn, account.external_id), None)


def client(account: AccountRef, service: str):
    """A boto3 client for `service` in the account's region, with the assumed role's credentials."""
    creds = credentials(account)
    key = (
        service,
        account.region,
        account.role_arn,
        account.external_id,
        _endpoint_url(),
        settings.AWS_CONNECT_TIMEOUT_SECONDS,
        settings.AWS_READ_TIMEOUT_SECONDS,
        settings.AWS_MAX_ATTEMPTS,
    )
    cached = _clients.get(key)
    if cached is not None and cached[0] is creds:
        return cached[1]
    with _lock_for(key):
        cached = _clients.get(key)
        if cached is not None and cached[0] is creds:
            return cached[1]
        session = boto3.session.Session(
            aws_access_key_id=creds.access_key_id,
            aws_secret_access_key=creds.secret_access_key,
            aws_session_token=creds.session_token or None,
            region_name=account.region,
        )
        built = session.client(service, endpoint_url=_endpoint_url(), config=_config())
        _clients[key] = (creds, built)
        return built


def kafka_client(account: AccountRef):
    return client(account, "kafka")


def iam_client(account: AccountRef):
    return client(account, "iam")


# --- Error translation ----------------------------------------------------------------------------


def _error_parts(exc: ClientError) -> tuple[str, str, int]:
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or "")
    message = str(error.get("Message") or error.get("message") or code or "no message")
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return code, message, status


@contextmanager
def translated(account: AccountRef, action: str) -> Iterator[None]:
    """Turn boto3/botocore errors of one call into provider errors with a readable message."""
    where = f"account {account.account_id} ({account.region})"
    try:
        yield
    except ProviderError:
        raise
    except ClientError as exc:
        code, message, status = _error_parts(exc)
        if code in EXPIRED_CODES:
            _forget_credentials(account)  # the retry assumes the role again
            raise TransientError(f"The credentials for {where} expired during {action}; retrying.") from exc
        if code in CONFLICT_CODES:
            raise NameConflict(f"{action} in {where}: {message}") from exc
        if code in NOT_FOUND_CODES:
            raise NotFound(f"{action} in {where}: {message}") from exc
        if code in ACCESS_CODES or status in (401, 403):
            raise AccessDenied(
                f"The role {account.role_arn} in account {account.account_id} may not {action}: {message}"
            ) from exc
        if code in TRANSIENT_CODES or status >= 500 or status == 429:
            raise TransientError(
                f"AWS could not {action} in {where} now ({code or status}): {message}"
            ) from exc
        raise ProviderError(f"AWS refused to {action} in {where} ({code or status}): {message}") from exc
    except (BotoConnectionError, BotoHTTPClientError) as exc:
        raise TransientError(f"AWS is unreachable to {action} in {where}: {type(exc).__name__}") from exc
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise AccessDenied(f"The portal has no AWS credentials to {action} in {where}.") from exc
    except BotoCoreError as exc:
        raise ProviderError(f"Cannot {action} in {where}: {exc}") from exc


# --- Kafka (MSK Serverless) -----------------------------------------------------------------------


def _cluster_state(info: dict) -> ClusterState:
    return ClusterState(
        name=info["ClusterName"],
        arn=info["ClusterArn"],
        state=info.get("State", ""),
        tags=dict(info.get("Tags") or {}),
    )


def create_serverless_cluster(account: AccountRef, spec: ClusterSpec) -> ClusterState:
    """CreateClusterV2 (Serverless, SASL/IAM). MSK has no client token: a duplicate name is NameConflict."""
    vpc_config: dict[str, list[str]] = {"SubnetIds": list(spec.subnet_ids)}
    if spec.security_group_ids:
        vpc_config["SecurityGroupIds"] = list(spec.security_group_ids)
    with translated(account, f"create the MSK Serverless cluster {spec.name}"):
        response = kafka_client(account).create_cluster_v2(
            ClusterName=spec.name,
            Tags=dict(spec.tags),
            Serverless={
                "VpcConfigs": [vpc_config],
                "ClientAuthentication": {"Sasl": {"Iam": {"Enabled": True}}},
            },
        )
    return ClusterState(
        name=response.get("ClusterName") or spec.name,
        arn=response["ClusterArn"],
        state=response.get("State", "CREATING"),
        tags=dict(spec.tags),
    )


def _list_clusters(account: AccountRef, action: str, page_size: int | None, **filters) -> Iterator[dict]:
    pagination = {"PageSize": page_size} if page_size else {}
    with translated(account, action):
        paginator = kafka_client(account).get_paginator("list_clusters_v2")
        for page in paginator.paginate(
            ClusterTypeFilter="SERVERLESS", PaginationConfig=pagination, **filters
        ):
            yield from page.get("ClusterInfoList", [])


def find_cluster_by_name(
    account: AccountRef, name: str, *, page_size: int | None = None
) -> ClusterState | None:
    """The live cluster named exactly `name`. MSK's ClusterNameFilter is a prefix match, so filter again.

    A cluster that is DELETING is not live: adopting it would leave provisioning waiting for an ACTIVE
    that never comes, so it is skipped (creating the name again then fails with NameConflict until it
    is gone).
    """
    for info in _list_clusters(account, f"look up the cluster {name}", page_size, ClusterNameFilter=name):
        if info.get("ClusterName") == name and info.get("State") != "DELETING":
            return _cluster_state(info)
    return None


def list_serverless_clusters(account: AccountRef, *, page_size: int | None = None) -> list[ClusterState]:
    """Every Serverless cluster in the account and region, all pages."""
    return [_cluster_state(info) for info in _list_clusters(account, "list the clusters", page_size)]


def bootstrap_brokers(account: AccountRef, arn: str) -> str:
    """The SASL/IAM bootstrap string (`boot-….kafka-serverless.<region>.amazonaws.com:9098`)."""
    with translated(account, f"get the bootstrap brokers of {arn}"):
        response = kafka_client(account).get_bootstrap_brokers(ClusterArn=arn)
    brokers = response.get("BootstrapBrokerStringSaslIam") or ""
    if not brokers:
        raise TransientError(f"{arn} has no SASL/IAM bootstrap brokers yet (the cluster is not active).")
    return brokers


def delete_cluster(account: AccountRef, arn: str) -> None:
    """Start deleting; a cluster that is already gone is not an error."""
    try:
        with translated(account, f"delete the cluster {arn}"):
            kafka_client(account).delete_cluster(ClusterArn=arn)
    except NotFound:
        logger.info("cluster %s in account %s is already gone", arn, account.account_id)


def tag_cluster(account: AccountRef, arn: str, tags: dict[str, str]) -> None:
    """TagResource: add or overwrite these tags on the cluster; tags not named here are kept."""
    with translated(account, f"tag the cluster {arn}"):
        kafka_client(account).tag_resource(ResourceArn=arn, Tags=dict(tags))


# --- MSK Replicator (read clusters fed from write clusters) -----------------------------------------


# CreateReplicator takes regular expressions, at most 249 characters for a topic and 256 for a group.
_TOPIC_PATTERN_MAX, _GROUP_PATTERN_MAX = 249, 256


def _exact_patterns(names, *, what: str, limit: int) -> list[str]:
    """Each name as a regular expression that matches it and nothing else ("orders.created" would also
    match "ordersXcreated"). Java's regex, which MSK Replicator uses, accepts Python's escapes."""
    patterns = [re.escape(name) for name in sorted(names)]
    too_long = [name for name, pattern in zip(sorted(names), patterns, strict=True) if len(pattern) > limit]
    if too_long:
        raise ProviderError(
            f"MSK Replicator cannot match the {what} {', '.join(too_long)} exactly: escaped for its regular "
            f"expressions the name is longer than the {limit} characters it accepts."
        )
    return patterns


def create_replicator(account: AccountRef, spec: ReplicatorSpec) -> ReplicatorState:
    """CreateReplicator: the chosen topics with their configs, consumer groups with offset sync; each
    cluster through its own VPC."""
    if not spec.service_execution_role_arn:
        raise ProviderError(
            f"Account {account.account_id} has no MSK Replicator service role registered: an admin must add it "
            "to the account before read clusters can be fed."
        )
    topics = _exact_patterns(spec.topics, what="topic", limit=_TOPIC_PATTERN_MAX)
    groups = (
        [".*"]
        if spec.consumer_groups is None
        else _exact_patterns(spec.consumer_groups, what="consumer group", limit=_GROUP_PATTERN_MAX)
    )
    topic_replication = {
        "TopicsToReplicate": topics,
        "CopyTopicConfigurations": True,
        "CopyAccessControlListsForTopics": False,  # Serverless has no Kafka ACLs
        "DetectAndCopyNewTopics": False,
        "TopicNameConfiguration": {"Type": "IDENTICAL"},
    }
    if spec.starting_position:
        topic_replication["StartingPosition"] = {"Type": spec.starting_position}
    with translated(account, f"create the replicator {spec.name}"):
        response = kafka_client(account).create_replicator(
            ReplicatorName=spec.name,
            ServiceExecutionRoleArn=spec.service_execution_role_arn,
            KafkaClusters=[
                {
                    "AmazonMskCluster": {"MskClusterArn": spec.source_arn},
                    "VpcConfig": _vpc(spec.source_subnet_ids, spec.source_security_group_ids),
                },
                {
                    "AmazonMskCluster": {"MskClusterArn": spec.target_arn},
                    "VpcConfig": _vpc(spec.target_subnet_ids, spec.target_security_group_ids),
                },
            ],
            ReplicationInfoList=[
                {
                    "SourceKafkaClusterArn": spec.source_arn,
                    "TargetKafkaClusterArn": spec.target_arn,
                    "TargetCompressionType": "NONE",
                    "TopicReplication": topic_replication,
                    "ConsumerGroupReplication": {
                        "ConsumerGroupsToReplicate": groups,
                        "DetectAndCopyNewConsumerGroups": True,
                        "SynchroniseConsumerGroupOffsets": True,
                    },
                }
            ],
            Tags=dict(spec.tags),
        )
    return ReplicatorState(
        name=response.get("ReplicatorName") or spec.name,
        arn=response["ReplicatorArn"],
        state=response.get("ReplicatorState", "CREATING"),
    )


def _vpc(subnet_ids, security_group_ids) -> dict:
    vpc: dict[str, list[str]] = {"SubnetIds": list(subnet_ids)}
    if security_group_ids:  # none given: the VPC's default security group
        vpc["SecurityGroupIds"] = list(security_group_ids)
    return vpc


def find_replicator(account: AccountRef, name: str) -> ReplicatorState | None:
    """The replicator named exactly `name` (ReplicatorNameFilter is a prefix match)."""
    with translated(account, f"look up the replicator {name}"):
        paginator = kafka_client(account).get_paginator("list_replicators")
        for page in paginator.paginate(ReplicatorNameFilter=name):
            for info in page.get("Replicators", []):
                if info.get("ReplicatorName") == name:
                    return ReplicatorState(
                        name=name, arn=info["ReplicatorArn"], state=info.get("ReplicatorState", "")
                    )
    return None


def describe_replicator(account: AccountRef, arn: str) -> ReplicatorState:
    """DescribeReplicator: its state now (CREATING, RUNNING, UPDATING, DELETING, FAILED)."""
    with translated(account, f"describe the replicator {arn}"):
        response = kafka_client(account).describe_replicator(ReplicatorArn=arn)
    failure = (response.get("StateInfo") or {}).get("Message") or ""
    return ReplicatorState(
        name=response.get("ReplicatorName", ""),
        arn=arn,
        state=response.get("ReplicatorState", ""),
        message=failure,
    )


def delete_replicator(account: AccountRef, arn: str) -> None:
    try:
        with translated(account, f"delete the replicator {arn}"):
            kafka_client(account).delete_replicator(ReplicatorArn=arn)
    except NotFound:
        logger.info("replicator %s in account %s is already gone", arn, account.account_id)


# --- IAM (inline policies on principal roles) -----------------------------------------------------


def put_role_policy(account: AccountRef, principal_arn: str, policy_name: str, document: dict) -> None:
    """Create or replace the inline policy `policy_name` on the principal's role (idempotent)."""
    role_name = role_name_from_principal_arn(account, principal_arn)
    with translated(account, f"put the policy {policy_name} on the role {role_name}"):
        iam_client(account).put_role_policy(
            RoleName=role_name, PolicyName=policy_name, PolicyDocument=json.dumps(document)
        )


def delete_role_policy(account: AccountRef, principal_arn: str, policy_name: str) -> None:
    """Delete the inline policy; a policy or role that is already gone is not an error."""
    role_name = role_name_from_principal_arn(account, principal_arn)
    try:
        with translated(account, f"delete the policy {policy_name} from the role {role_name}"):
            iam_client(account).delete_role_policy(RoleName=role_name, PolicyName=policy_name)
    except NotFound:
        logger.info("policy %s on role %s is already gone", policy_name, role_name)


# --- MSK Connect (MirrorMaker 2 for a migration off a non-MSK or other-account monolith) ------------------


def create_mirror_connector(
    account: AccountRef,
    *,
    name: str,
    connector_configuration: dict[str, str],
    target_bootstrap: str,
    subnet_ids: tuple[str, ...],
    security_group_ids: tuple[str, ...],
    plugin_arn: str,
    plugin_revision: int,
    service_execution_role_arn: str,
    tags: dict[str, str] | None = None,
) -> ReplicatorState:
    """CreateConnector on MSK Connect (Kafka Connect 3.7.x, which has IdentityReplicationPolicy): the workers
    attach to the Serverless target with IAM (migration.md §1.4); the monolith's login is in the config."""
    if not plugin_arn or not service_execution_role_arn:
        raise ProviderError(
            "MirrorMaker 2 on MSK Connect needs the MM2 plugin and a service execution role registered by an admin."
        )
    with translated(account, f"create the MSK Connect connector {name}"):
        response = client(account, "kafkaconnect").create_connector(
            connectorName=name,
            kafkaConnectVersion="3.7.x",
            capacity={"provisionedCapacity": {"workerCount": 1, "mcuCount": 1}},
            connectorConfiguration={key: str(value) for key, value in connector_configuration.items()},
            kafkaCluster={
                "apacheKafkaCluster": {
                    "bootstrapServers": target_bootstrap,
                    "vpc": {"subnets": list(subnet_ids), "securityGroups": list(security_group_ids)},
                }
            },
            kafkaClusterClientAuthentication={"authenticationType": "IAM"},
            kafkaClusterEncryptionInTransit={"encryptionType": "TLS"},
            plugins=[{"customPlugin": {"customPluginArn": plugin_arn, "revision": plugin_revision}}],
            serviceExecutionRoleArn=service_execution_role_arn,
            tags=dict(tags or {}),
        )
    return ReplicatorState(
        name=response.get("connectorName") or name,
        arn=response["connectorArn"],
        state=response.get("connectorState", "CREATING"),
    )


def find_mirror_connector(account: AccountRef, name: str) -> ReplicatorState | None:
    """The connector named exactly `name` (adopt by name after a lost answer); connectorNamePrefix is a prefix."""
    with translated(account, f"look up the MSK Connect connector {name}"):
        paginator = client(account, "kafkaconnect").get_paginator("list_connectors")
        for page in paginator.paginate(connectorNamePrefix=name):
            for info in page.get("connectors", []):
                if info.get("connectorName") == name:
                    return ReplicatorState(
                        name=name, arn=info["connectorArn"], state=info.get("connectorState", "")
                    )
    return None


def describe_mirror_connector(account: AccountRef, arn: str) -> ReplicatorState:
    """DescribeConnector: its state now (CREATING, RUNNING, UPDATING, DELETING, FAILED)."""
    with translated(account, f"describe the MSK Connect connector {arn}"):
        response = client(account, "kafkaconnect").describe_connector(connectorArn=arn)
    failure = (response.get("stateDescription") or {}).get("message") or ""
    return ReplicatorState(
        name=response.get("connectorName", ""),
        arn=arn,
        state=response.get("connectorState", ""),
        message=failure,
    )


def delete_mirror_connector(account: AccountRef, arn: str) -> None:
    try:
        with translated(account, f"delete the MSK Connect connector {arn}"):
            client(account, "kafkaconnect").delete_connector(connectorArn=arn)
    except NotFound:
        logger.info("connector %s in account %s is already gone", arn, account.account_id)
