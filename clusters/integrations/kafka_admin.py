"""Topic administration over the Kafka protocol: the one module that imports confluent-kafka and the MSK
IAM signer. MSK Serverless has no topic API, so the portal talks to the brokers like any Kafka client.

AdminClients are reused within a worker process (`_session`): building one costs about a second with MSK
IAM (confluent-kafka waits for the first token), a call on a warm one a few milliseconds. At most
`CLIENT_POOL_SIZE` are kept, one per (auth, account, bootstrap), least recently used dropped first. A
client is used by one call at a time (a concurrent call builds its own), is only reused in the process
that built it (never across a fork), for at most `CLIENT_MAX_AGE_SECONDS` (10 min, well before its 900 s
MSK IAM token and the credentials that signed it expire: nothing relies on librdkafka refreshing a token),
and is dropped after an authentication or connection failure (`AccessDenied`, `TransientError`). On real
MSK it authenticates with SASL_SSL + OAUTHBEARER, the token being an MSK IAM token signed with the role the
portal assumes in the cluster's account (`aws_control.credentials`: cached, external id included) or, for
an account without a role, the portal's own credentials. Tests pass
a `KafkaAuth` for a plain broker instead.

Every wait is bounded (`KafkaAuth.timeout_seconds`). librdkafka keeps reconnecting forever on its own, so
the connection errors it reports while a request waits are watched: a refused login fails the call at once
as `AccessDenied`, no broker reachable at all as `TransientError`, without sitting out the timeout.
Kafka's errors leave this module only as `clusters.integrations.errors`: retriable ones (timeouts,
transport, throttling, controller moves) as `TransientError`; authentication and authorization failures as
`AccessDenied`; invalid configs, partitions or policy violations as a permanent `ProviderError` carrying
Kafka's message. Passwords and tokens are never logged nor put into messages.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from concurrent import futures
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from aws_msk_iam_sasl_signer import MSKAuthTokenProvider
from botocore.credentials import CredentialProvider, Credentials
from confluent_kafka import KafkaError, KafkaException, TopicCollection
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
    ResourceType,
)
from django.conf import settings
from django.template.defaultfilters import pluralize

from clusters.integrations import aws_control
from clusters.integrations.errors import AccessDenied, NotFound, ProviderError, TransientError
from clusters.integrations.records import AccountRef, ClusterEndpoint, TopicSpec

logger = logging.getLogger(__name__)
# librdkafka's own log lines (connection failures and the like) go here rather than to stderr.
librdkafka_logger = logging.getLogger(f"{__name__}.librdkafka")

DEFAULT_TIMEOUT_SECONDS = 15.0
POLL_SECONDS = 0.1
# A future still pending this long after the request timeout is abandoned (librdkafka should have failed it).
GRACE_SECONDS = 5.0
# Reused AdminClients (see the module docstring).
CLIENT_POOL_SIZE = 16
CLIENT_MAX_AGE_SECONDS = 600.0
# A client is not reused this close to the expiry of the credentials that signed its token.
CREDENTIALS_MARGIN_SECONDS = 60.0

Mechanism = Literal["AWS_MSK_IAM", "NONE", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


@dataclass(frozen=True)
class KafkaAuth:
    """How the admin client reaches and authenticates to the brokers, and what it asks of them.

    `AWS_MSK_IAM` (the default, real MSK) always uses SASL_SSL with OAUTHBEARER MSK IAM tokens for the
    endpoint's account. The others exist for test brokers: `NONE` is PLAINTEXT (SSL with `tls`), `PLAIN`
    and `SCRAM-*` are SASL_PLAINTEXT (SASL_SSL with `tls`).

    `replication_factor` -1 lets the broker decide (what MSK Serverless wants); that needs Kafka 2.4 or
    later (KIP-464), so tests against an older broker pass 1.
    """

    mechanism: Mechanism = "AWS_MSK_IAM"
    username: str = ""
    password: str = field(default="", repr=False)
    tls: bool = True
    replication_factor: int = -1
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    @classmethod
    def msk_iam(cls, *, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> KafkaAuth:
        return cls(timeout_seconds=timeout_seconds)

    @classmethod
    def plaintext(
        cls, *, replication_factor: int = -1, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    ) -> KafkaAuth:
        return cls(
            mechanism="NONE",
            tls=False,
            replication_factor=replication_factor,
            timeout_seconds=timeout_seconds,
        )

    @classmethod
    def sasl(
        cls,
        mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"],
        username: str,
        password: str,
        *,
        tls: bool = False,
        replication_factor: int = -1,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> KafkaAuth:
        return cls(
            mechanism=mechanism,
            username=username,
            password=password,
            tls=tls,
            replication_factor=replication_factor,
            timeout_seconds=timeout_seconds,
        )


MSK_IAM = KafkaAuth.msk_iam()


# --- MSK IAM tokens ---------------------------------------------------------------------------------


class _AssumedRoleCredentials(CredentialProvider):
    """The signer's credential source: the role the portal assumes in the account, as aws_control caches it."""

    METHOD = "msk-portal-assume-role"

    def __init__(self, account: AccountRef):
        super().__init__()
        self._account = account

    def load(self) -> Credentials:
        creds = aws_control.credentials(self._account)
        return Credentials(
            creds.access_key_id, creds.secret_access_key, creds.session_token or None, method=self.METHOD
        )


def msk_iam_token(account: AccountRef) -> tuple[str, float]:
    """An MSK IAM auth token for the account's region and its expiry in seconds since the epoch.

    Signing is local (SigV4 presigning); only assuming the account's role, when not cached, calls STS.
    """
    try:
        if account.role_arn:
            token, expiry_ms = MSKAuthTokenProvider.generate_auth_token_from_credentials_provider(
                account.region, _AssumedRoleCredentials(account)
            )
        else:
            token, expiry_ms = MSKAuthTokenProvider.generate_auth_token(account.region)
    except ProviderError:
        raise
    except Exception as exc:  # the signer fails on missing credentials with ValueError or AttributeError
        who = account.role_arn or "the portal's own AWS identity"
        raise AccessDenied(
            f"The portal cannot sign an MSK IAM token for account {account.account_id} in {account.region} "
            f"as {who}: {type(exc).__name__}: {exc}"
        ) from exc
    # confluent-kafka wants the expiry in seconds since the epoch; the signer gives milliseconds.
    return token, expiry_ms / 1000


def _oauth_callback(account: AccountRef):
    def oauth_cb(_oauth_config: str) -> tuple[str, float]:
        return msk_iam_token(account)

    return oauth_cb


# --- Client configuration ---------------------------------------------------------------------------


def client_config(endpoint: ClusterEndpoint, auth: KafkaAuth = MSK_IAM) -> dict[str, Any]:
    """The librdkafka configuration for an admin client of the endpoint's cluster."""
    timeout_ms = int(auth.timeout_seconds * 1000)
    config: dict[str, Any] = {
        "bootstrap.servers": endpoint.bootstrap_brokers,
        "client.id": "msk-portal",
        "socket.timeout.ms": timeout_ms,
        "socket.connection.setup.timeout.ms": min(timeout_ms, 10_000),
        "reconnect.backoff.ms": 200,
        "reconnect.backoff.max.ms": 2_000,
    }
    if auth.mechanism == "AWS_MSK_IAM":
        config.update(
            {
                "security.protocol": "SASL_SSL",
                "sasl.mechanisms": "OAUTHBEARER",
                "oauth_cb": _oauth_callback(endpoint.account),
            }
        )
    elif auth.mechanism == "NONE":
        config["security.protocol"] = "SSL" if auth.tls else "PLAINTEXT"
    else:
        config.update(
            {
                "security.protocol": "SASL_SSL" if auth.tls else "SASL_PLAINTEXT",
                "sasl.mechanisms": auth.mechanism,
                "sasl.username": auth.username,
                "sasl.password": auth.password,
            }
        )
    if config["security.protocol"] in ("SSL", "SASL_SSL") and settings.KAFKA_SSL_CA_LOCATION:
        config["ssl.ca.location"] = settings.KAFKA_SSL_CA_LOCATION
    return config


# --- Errors -----------------------------------------------------------------------------------------

_AUTHENTICATION = frozenset({KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED})
_AUTHORIZATION = frozenset(
    {
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
        KafkaError.GROUP_AUTHORIZATION_FAILED,
        KafkaError.DELEGATION_TOKEN_AUTHORIZATION_FAILED,
    }
)
_TRANSIENT = frozenset(
    {
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._TIMED_OUT,
        KafkaError._TIMED_OUT_QUEUE,
        KafkaError._RESOLVE,
        KafkaError._WAIT_COORD,
        KafkaError._DESTROY,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.THROTTLING_QUOTA_EXCEEDED,
        KafkaError.NOT_CONTROLLER,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.NETWORK_EXCEPTION,
        KafkaError.BROKER_NOT_AVAILABLE,
        KafkaError.NOT_ENOUGH_REPLICAS,
        KafkaError.KAFKA_STORAGE_ERROR,
        KafkaError.REASSIGNMENT_IN_PROGRESS,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    }
)
# librdkafka decorates connection errors: "sasl_ssl://b-1.example:9098/1: …(after 305ms in state AUTH_REQ)".
_BROKER_PREFIX = re.compile(r"^\S+://\S+/(?:bootstrap|\d+): |^\S+:\d+/(?:bootstrap|\d+): ")
_AFTER_SUFFIX = re.compile(r"\s*\(after \d+ms in state \w+(?:, \d+ identical error\(s\) suppressed)?\)$")


def _clean(text: str) -> str:
    return _AFTER_SUFFIX.sub("", _BROKER_PREFIX.sub("", text)).strip()


def translate(error: KafkaError, bootstrap: str, action: str) -> ProviderError:
    """A Kafka error as a provider error; `action` reads like "create topic 'orders'"."""
    code, text = error.code(), _clean(error.str())
    if code in _AUTHENTICATION:
        return AccessDenied(f"Kafka refused the portal's credentials on {bootstrap}: {text}")
    if code in _AUTHORIZATION:
        return AccessDenied(f"Kafka does not allow the portal to {action} on {bootstrap}: {text}")
    if code in _TRANSIENT or error.retriable():
        return TransientError(f"Kafka on {bootstrap} could not {action} for now: {text}")
    return ProviderError(f"Kafka refused to {action} on {bootstrap}: {text}")


# --- One admin session per public call ----------------------------------------------------------------


class _Admin:
    """An AdminClient for one call, the connection errors librdkafka reported, and bounded waits."""

    def __init__(self, endpoint: ClusterEndpoint, auth: KafkaAuth):
        self.bootstrap = endpoint.bootstrap_brokers
        self.auth = auth
        self._connection_errors: list[KafkaError] = []
        self.pid = os.getpid()
        self.fresh_until = time.monotonic() + CLIENT_MAX_AGE_SECONDS
        if auth.mechanism == "AWS_MSK_IAM":
            # Sign once up front: a failure inside oauth_cb only shows as "OAuth token not set" after
            # confluent-kafka's 10 s wait in AdminClient(); here it fails at once with the real reason.
            msk_iam_token(endpoint.account)
            if endpoint.account.role_arn:
                expires_at = aws_control.credentials(endpoint.account).expires_at  # cached: no STS call
                if expires_at is not None:
                    left = (expires_at - datetime.now(UTC)).total_seconds() - CREDENTIALS_MARGIN_SECONDS
                    self.fresh_until = min(self.fresh_until, time.monotonic() + left)
        config = client_config(endpoint, auth)
        config["error_cb"] = self._connection_errors.append
        config["logger"] = librdkafka_logger
        try:
            self.client = AdminClient(config)
        except KafkaException as exc:
            if exc.args and isinstance(exc.args[0], KafkaError):
                raise translate(exc.args[0], self.bootstrap, "connect") from exc
            raise ProviderError(f"Cannot set up a Kafka admin client for {self.bootstrap}: {exc}") from exc

    @property
    def request_timeout(self) -> float:
        return self.auth.timeout_seconds

    def reusable(self) -> bool:
        return self.pid == os.getpid() and time.monotonic() < self.fresh_until

    def forget_connection_errors(self) -> None:
        """Before a new call on a reused client: what librdkafka reported while it sat idle is history."""
        self.client.poll(0)
        self._connection_errors.clear()

    def _connection_failure(self, action: str) -> ProviderError | None:
        for error in self._connection_errors:
            if error.code() in _AUTHENTICATION:
                return translate(error, self.bootstrap, action)
        for error in self._connection_errors:
            if error.code() == KafkaError._ALL_BROKERS_DOWN:
                detail = next(
                    (
                        _clean(e.str())
                        for e in self._connection_errors
                        if e.code() != KafkaError._ALL_BROKERS_DOWN
                    ),
                    _clean(error.str()),
                )
                return TransientError(f"Kafka on {self.bootstrap} is unreachable (to {action}): {detail}")
        return None

    def outcome(self, future: Future, action: str) -> tuple[Any, KafkaError | None]:
        """The future's result, or the Kafka error it failed with (for the caller to judge).

        Raises at once when the brokers refuse the login or none can be reached, and when the future
        outlives the request timeout.
        """
        deadline = time.monotonic() + self.request_timeout + GRACE_SECONDS
        while not future.done():
            self.client.poll(0)  # serves error_cb and the log callback
            if future.done():
                break
            failure = self._connection_failure(action)
            if failure is not None:
                raise failure
            if time.monotonic() > deadline:
                raise TransientError(
                    f"Kafka on {self.bootstrap} did not answer within {self.request_timeout:.0f} s (to {action})"
                )
            # Wakes as soon as the answer is there (a poll() would sit out its whole timeout).
            futures.wait([future], timeout=POLL_SECONDS)
        exc = future.exception()
        if exc is None:
            self._connection_errors.clear()  # an answer proves the brokers are reachable and accept the login
            return future.result(), None
        if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
            if exc.args[0].code() > 0:  # a broker's answer (negative codes are librdkafka's own)
                self._connection_errors.clear()
            return None, exc.args[0]
        raise ProviderError(f"Kafka admin call failed on {self.bootstrap} (to {action}): {exc}") from exc

    def result(self, future: Future, action: str) -> Any:
        value, error = self.outcome(future, action)
        if error is not None:
            raise translate(error, self.bootstrap, action)
        return value


# --- Reused clients ---------------------------------------------------------------------------------------

_pool: OrderedDict[tuple, _Admin] = OrderedDict()
_pool_lock = threading.Lock()


def clear_clients() -> None:
    """Drop every pooled client (tests; after rotating the portal's credentials)."""
    with _pool_lock:
        _pool.clear()


@contextlib.contextmanager
def _session(endpoint: ClusterEndpoint, auth: KafkaAuth) -> Iterator[_Admin]:
    """A pooled admin client for the endpoint for one call, put back afterwards unless the call failed to
    authenticate or to reach the brokers (a broker's answer, even a refusal, leaves the client sound)."""
    key = (auth, endpoint.account, endpoint.bootstrap_brokers)
    with _pool_lock:
        admin = _pool.pop(key, None)
    if admin is not None and admin.reusable():
        admin.forget_connection_errors()
    else:
        admin = _Admin(endpoint, auth)
    try:
        yield admin
    except (AccessDenied, TransientError):
        raise  # the client is dropped
    except ProviderError:
        _put_back(key, admin)
        raise
    else:
        _put_back(key, admin)


def _put_back(key: tuple, admin: _Admin) -> None:
    with _pool_lock:
        if key in _pool:  # a concurrent call put its own back first: keep one
            return
        _pool[key] = admin
        while len(_pool) > CLIENT_POOL_SIZE:
            _pool.popitem(last=False)


_UNKNOWN_TOPIC = (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC)


def _topic_state(admin: _Admin, name: str) -> tuple[int, dict[str, str]] | None:
    action = f"describe topic {name!r}"
    timeout = admin.request_timeout
    topic_future = admin.client.describe_topics(TopicCollection([name]), request_timeout=timeout)[name]
    resource = ConfigResource(ResourceType.TOPIC, name)
    configs_future = admin.client.describe_configs([resource], request_timeout=timeout)[resource]
    description, error = admin.outcome(topic_future, action)
    entries, configs_error = admin.outcome(configs_future, action)
    for failure in (error, configs_error):
        # Absent, or deleted between the two answers.
        if failure is not None and failure.code() in _UNKNOWN_TOPIC:
            return None
    for failure in (error, configs_error):
        if failure is not None:
            raise translate(failure, admin.bootstrap, action)
    configs = {key: entry.value for key, entry in entries.items() if entry.value is not None}
    return len(description.partitions), configs


def _validate(spec: TopicSpec) -> dict[str, str]:
    if not spec.name:
        raise ProviderError("A topic needs a name.")
    if spec.partitions < 1:
        raise ProviderError(f"Topic {spec.name!r} needs at least one partition, not {spec.partitions}.")
    return {str(key): str(value) for key, value in spec.configs.items()}


def _differences(
    spec: TopicSpec, configs: dict[str, str], partitions: int, current: dict[str, str]
) -> list[str]:
    found = []
    if partitions != spec.partitions:
        found.append(f"{partitions} partition{pluralize(partitions)} (wanted {spec.partitions})")
    for key, wanted in sorted(configs.items()):
        have = current.get(key)
        if have != wanted:
            found.append(f"{key}={have if have is not None else '(unset)'} (wanted {wanted})")
    return found


# --- Public API -----------------------------------------------------------------------------------------


def describe_topic(
    endpoint: ClusterEndpoint, name: str, auth: KafkaAuth | None = None
) -> tuple[int, dict[str, str]] | None:
    """(partition count, every config the broker reports with a value) of the topic, or None if absent."""
    with _session(endpoint, auth or MSK_IAM) as admin:
        return _topic_state(admin, name)


def ensure_topic(endpoint: ClusterEndpoint, spec: TopicSpec, auth: KafkaAuth | None = None) -> None:
    """Create the topic; an existing one with the same partitions and (given) configs is success.

    An existing topic that differs raises a permanent ProviderError naming the differences.
    """
    configs = _validate(spec)
    with _session(endpoint, auth or MSK_IAM) as admin:
        action = f"create topic {spec.name!r}"
        new_topic = NewTopic(
            spec.name,
            num_partitions=spec.partitions,
            replication_factor=admin.auth.replication_factor,
            config=configs,
        )
        timeout = admin.request_timeout
        future = admin.client.create_topics([new_topic], request_timeout=timeout, operation_timeout=timeout)[
            spec.name
        ]
        _, error = admin.outcome(future, action)
        if error is None:
            logger.info(
                "created topic %s on %s (partitions: %d)", spec.name, admin.bootstrap, spec.partitions
            )
            return
        if error.code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise translate(error, admin.bootstrap, action)
        state = _topic_state(admin, spec.name)
        if state is None:  # "already exists" but not describable: it is still being deleted
            raise TransientError(
                f"Topic {spec.name!r} on {admin.bootstrap} is still being deleted; it can be created again shortly "
                f"({_clean(error.str())})"
            )
        differences = _differences(spec, configs, *state)
        if differences:
            raise ProviderError(
                f"Topic {spec.name!r} already exists on {admin.bootstrap} with different settings: "
                + "; ".join(differences)
            )
        logger.info("topic %s already exists on %s with the requested settings", spec.name, admin.bootstrap)


def update_topic(endpoint: ClusterEndpoint, spec: TopicSpec, auth: KafkaAuth | None = None) -> None:
    """Set the given configs and raise the partition count to spec.partitions.

    Kafka cannot remove partitions: a lower count is refused before anything is sent. Configs not in
    the spec are left as they are.
    """
    configs = _validate(spec)
    with _session(endpoint, auth or MSK_IAM) as admin:
        state = _topic_state(admin, spec.name)
        if state is None:
            raise NotFound(f"Topic {spec.name!r} does not exist on {admin.bootstrap}.")
        partitions, current = state
        if spec.partitions < partitions:
            raise ProviderError(
                f"Topic {spec.name!r} has {partitions} partition{pluralize(partitions)} and Kafka cannot remove partitions, "
                f"so it cannot go down to {spec.partitions}."
            )
        timeout = admin.request_timeout

        changed = {key: value for key, value in configs.items() if current.get(key) != value}
        if changed:
            entries = [
                ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)
                for key, value in changed.items()
            ]
            resource = ConfigResource(ResourceType.TOPIC, spec.name, incremental_configs=entries)
            future = admin.client.incremental_alter_configs([resource], request_timeout=timeout)[resource]
            admin.result(future, f"change the configs of topic {spec.name!r}")
            logger.info("set %s on topic %s on %s", ", ".join(sorted(changed)), spec.name, admin.bootstrap)

        if spec.partitions > partitions:
            action = f"add partitions to topic {spec.name!r}"
            future = admin.client.create_partitions(
                [NewPartitions(spec.name, spec.partitions)],
                request_timeout=timeout,
                operation_timeout=timeout,
            )[spec.name]
            _, error = admin.outcome(future, action)
            if error is not None:
                # A retry after a lost answer finds the partitions already there: that is success.
                after = (
                    _topic_state(admin, spec.name) if error.code() == KafkaError.INVALID_PARTITIONS else None
                )
                if after is None or after[0] != spec.partitions:
                    raise translate(error, admin.bootstrap, action)
            logger.info(
                "topic %s on %s: %d -> %d partitions", spec.name, admin.bootstrap, partitions, spec.partitions
            )


def delete_topic(endpoint: ClusterEndpoint, name: str, auth: KafkaAuth | None = None) -> None:
    """Delete the topic; one that does not exist is success."""
    with _session(endpoint, auth or MSK_IAM) as admin:
        timeout = admin.request_timeout
        future = admin.client.delete_topics([name], request_timeout=timeout, operation_timeout=timeout)[name]
        _, error = admin.outcome(future, f"delete topic {name!r}")
        if error is None:
            logger.info("deleted topic %s on %s", name, admin.bootstrap)
        elif error.code() in _UNKNOWN_TOPIC:
            logger.info("topic %s on %s was already gone", name, admin.bootstrap)
        else:
            raise translate(error, admin.bootstrap, f"delete topic {name!r}")


# --- Inventory of a monolith (read-only; the migration assistant) ----------------------------------------
#
# Only describe/list calls and a consumer that reads a few records without a committed group: nothing here
# changes the cluster it reads. Kafka 2.3 limits (shared/reference/migration.md §4): consumer-group states
# read UNKNOWN before 2.6, so the state comes from describe_consumer_groups; committed offsets are one
# group per call; OffsetSpec.max_timestamp is not trusted on old brokers and not used.


@dataclass(frozen=True)
class TopicInventory:
    name: str
    partitions: int
    configs: dict[str, str]  # every config the broker reports with a value
    start_offsets: tuple[int, ...]  # per partition, partition order
    end_offsets: tuple[int, ...]


@dataclass(frozen=True)
class GroupInventory:
    group_id: str
    state: str  # Stable, Empty, Dead, ... as the broker says
    members: int
    client_ids: tuple[str, ...]
    committed: dict[str, dict[int, int]]  # topic -> partition -> committed offset


@dataclass(frozen=True)
class ClusterInventory:
    read_at: datetime
    cluster_id: str
    brokers: int
    topics: tuple[TopicInventory, ...]
    groups: tuple[GroupInventory, ...]


def _offsets(admin: _Admin, partitions: list, spec, action: str) -> dict[tuple[str, int], int]:
    from confluent_kafka import TopicPartition

    if not partitions:
        return {}
    request = {TopicPartition(topic, partition): spec for topic, partition in partitions}
    answers = admin.client.list_offsets(request, request_timeout=admin.request_timeout)
    return {(tp.topic, tp.partition): admin.result(future, action).offset for tp, future in answers.items()}


def read_inventory(endpoint: ClusterEndpoint, auth: KafkaAuth | None = None) -> ClusterInventory:
    """Topics (partitions, configs, start and end offsets) and consumer groups (state, members, committed
    offsets) of a cluster, read-only. Internal topics (`__consumer_offsets`, ...) are left out."""
    from confluent_kafka import ConsumerGroupTopicPartitions
    from confluent_kafka.admin import OffsetSpec

    with _session(endpoint, auth or MSK_IAM) as admin:
        timeout = admin.request_timeout
        try:
            metadata = admin.client.list_topics(timeout=timeout)
        except KafkaException as exc:  # list_topics raises instead of returning a future
            admin.client.poll(0)
            failure = admin._connection_failure("list topics")
            if failure is not None:
                raise failure from exc
            if exc.args and isinstance(exc.args[0], KafkaError):
                raise translate(exc.args[0], admin.bootstrap, "list topics") from exc
            raise ProviderError(f"Cannot list the topics of {admin.bootstrap}: {exc}") from exc
        names = sorted(name for name in metadata.topics if not name.startswith("__"))
        resources = [ConfigResource(ResourceType.TOPIC, name) for name in names]
        config_futures = (
            admin.client.describe_configs(resources, request_timeout=timeout) if resources else {}
        )
        configs = {
            resource.name: {
                key: entry.value
                for key, entry in admin.result(future, f"describe the configs of {resource.name!r}").items()
                if entry.value is not None
            }
            for resource, future in config_futures.items()
        }
        partitions = [
            (name, partition) for name in names for partition in sorted(metadata.topics[name].partitions)
        ]
        ends = _offsets(admin, partitions, OffsetSpec.latest(), "read end offsets")
        starts = _offsets(admin, partitions, OffsetSpec.earliest(), "read start offsets")
        topics = tuple(
            TopicInventory(
                name=name,
                partitions=len(metadata.topics[name].partitions),
                configs=configs.get(name, {}),
                start_offsets=tuple(starts[(name, p)] for p in sorted(metadata.topics[name].partitions)),
                end_offsets=tuple(ends[(name, p)] for p in sorted(metadata.topics[name].partitions)),
            )
            for name in names
        )

        listing = admin.result(
            admin.client.list_consumer_groups(request_timeout=timeout), "list consumer groups"
        )
        group_ids = sorted(entry.group_id for entry in listing.valid)
        groups = []
        if group_ids:
            described = admin.client.describe_consumer_groups(group_ids, request_timeout=timeout)
            for group_id in group_ids:
                description = admin.result(described[group_id], f"describe consumer group {group_id!r}")
                future = admin.client.list_consumer_group_offsets(
                    [ConsumerGroupTopicPartitions(group_id)], request_timeout=timeout
                )[group_id]
                offsets = admin.result(future, f"read the offsets of consumer group {group_id!r}")
                committed: dict[str, dict[int, int]] = {}
                for tp in offsets.topic_partitions or []:
                    if tp.offset >= 0 and not tp.topic.startswith("__"):
                        committed.setdefault(tp.topic, {})[tp.partition] = tp.offset
                groups.append(
                    GroupInventory(
                        group_id=group_id,
                        state=str(getattr(description.state, "name", description.state)).title(),
                        members=len(description.members),
                        client_ids=tuple(sorted({member.client_id for member in description.members})),
                        committed=committed,
                    )
                )
        return ClusterInventory(
            read_at=datetime.now(UTC),
            cluster_id=metadata.cluster_id or "",
            brokers=len(metadata.brokers),
            topics=topics,
            groups=tuple(groups),
        )


def sample_record_bytes(
    endpoint: ClusterEndpoint,
    ranges: dict[str, tuple[int, int, int]],
    auth: KafkaAuth | None = None,
    *,
    records_per_topic: int = 20,
) -> dict[str, tuple[int, int]]:
    """Read up to `records_per_topic` of the newest records of one partition per topic and measure them.

    `ranges`: topic -> (partition, start offset, end offset). Returns topic -> (records read, bytes of
    their keys, values and headers, uncompressed). Nothing is committed (no group offsets are written)
    and record contents are neither kept nor logged: only their sizes leave this function.
    """
    from confluent_kafka import Consumer, TopicPartition

    wanted = {topic: r for topic, r in ranges.items() if r[2] > r[1]}
    if not wanted:
        return {}
    auth = auth or MSK_IAM
    config = client_config(endpoint, auth)
    config.update(
        {
            "group.id": "msk-portal-inventory-sampler",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "logger": librdkafka_logger,
        }
    )
    consumer = Consumer(config)
    sizes: dict[str, list[int]] = {topic: [0, 0] for topic in wanted}
    try:
        assignment = [
            TopicPartition(topic, partition, max(start, end - records_per_topic))
            for topic, (partition, start, end) in wanted.items()
        ]
        consumer.assign(assignment)
        open_partitions = {(tp.topic, tp.partition) for tp in assignment}
        deadline = time.monotonic() + auth.timeout_seconds
        while open_partitions and time.monotonic() < deadline:
            message = consumer.poll(POLL_SECONDS)
            if message is None:
                continue
            key = (message.topic(), message.partition())
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    open_partitions.discard(key)
                    continue
                raise translate(error, endpoint.bootstrap_brokers, f"sample records of {message.topic()!r}")
            if key not in open_partitions:
                continue
            measured = sizes[message.topic()]
            if measured[0] >= records_per_topic:
                open_partitions.discard(key)
                continue
            headers = message.headers() or []
            measured[0] += 1
            measured[1] += (
                len(message.key() or b"")
                + len(message.value() or b"")
                + sum(len(name) + len(value or b"") for name, value in headers)
            )
    except KafkaException as exc:
        if exc.args and isinstance(exc.args[0], KafkaError):
            raise translate(exc.args[0], endpoint.bootstrap_brokers, "sample records") from exc
        raise ProviderError(f"Cannot sample records on {endpoint.bootstrap_brokers}: {exc}") from exc
    finally:
        consumer.close()
    return {topic: (count, size) for topic, (count, size) in sizes.items() if count}


def partition_offsets(
    endpoint: ClusterEndpoint, topics: list[str], auth: KafkaAuth | None = None
) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    """topic -> (start offsets, end offsets) per partition, for the topics that exist (cutover checks)."""
    from confluent_kafka.admin import OffsetSpec

    with _session(endpoint, auth or MSK_IAM) as admin:
        try:
            metadata = admin.client.list_topics(timeout=admin.request_timeout)
        except KafkaException as exc:
            admin.client.poll(0)
            failure = admin._connection_failure("list topics")
            if failure is not None:
                raise failure from exc
            raise ProviderError(f"Cannot list the topics of {admin.bootstrap}: {exc}") from exc
        present = [name for name in topics if name in metadata.topics]
        partitions = [(name, p) for name in present for p in sorted(metadata.topics[name].partitions)]
        ends = _offsets(admin, partitions, OffsetSpec.latest(), "read end offsets")
        starts = _offsets(admin, partitions, OffsetSpec.earliest(), "read start offsets")
        return {
            name: (
                tuple(starts[(name, p)] for p in sorted(metadata.topics[name].partitions)),
                tuple(ends[(name, p)] for p in sorted(metadata.topics[name].partitions)),
            )
            for name in present
        }


def committed_offsets(
    endpoint: ClusterEndpoint, group_id: str, auth: KafkaAuth | None = None
) -> dict[str, dict[int, int]]:
    """topic -> partition -> committed offset of one consumer group (translated offsets on a target)."""
    from confluent_kafka import ConsumerGroupTopicPartitions

    with _session(endpoint, auth or MSK_IAM) as admin:
        future = admin.client.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group_id)], request_timeout=admin.request_timeout
        )[group_id]
        offsets = admin.result(future, f"read the offsets of consumer group {group_id!r}")
        committed: dict[str, dict[int, int]] = {}
        for tp in offsets.topic_partitions or []:
            if tp.offset >= 0:
                committed.setdefault(tp.topic, {})[tp.partition] = tp.offset
        return committed
