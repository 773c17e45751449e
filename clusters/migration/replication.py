"""Step 4's replication settings: MirrorMaker 2 configuration for one application's topics and consumer groups.

Facts from shared/reference/migration.md §1.3-1.4: IdentityReplicationPolicy (Kafka ≥ 3.0) keeps topic names
and must be set on both the source and the checkpoint connector; `sync.group.offsets.enabled` (≥ 2.7) writes
translated offsets to the target while the group has no active member there; replication factor 3 for MSK;
offset syncs kept on the target (`offset-syncs.topic.location=target`, ≥ 3.0) so nothing is created on the
monolith; MSK IAM on the target needs the four `sasl.*` keys and the aws-msk-iam-auth jar. Both tools are
at-least-once. The monolith's password is never written: the file names the environment variable through
Kafka's EnvVarConfigProvider (KIP-887, Kafka ≥ 3.5 workers).
"""

from __future__ import annotations

import re

from clusters.migration.models import Monolith

SOURCE_ALIAS = "monolith"
TARGET_ALIAS = "serverless"
IDENTITY_POLICY = "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"
# Topic configs MSK Serverless accepts (msk-serverless.md §2.1); everything else stays behind.
SERVERLESS_TOPIC_CONFIGS = (
    "cleanup.policy",
    "compression.type",
    "max.message.bytes",
    "retention.bytes",
    "retention.ms",
)
IAM = {
    "security.protocol": "SASL_SSL",
    "sasl.mechanism": "AWS_MSK_IAM",
    "sasl.jaas.config": "software.amazon.msk.auth.iam.IAMLoginModule required;",
    "sasl.client.callback.handler.class": "software.amazon.msk.auth.iam.IAMClientCallbackHandler",
}


def exact_list(names: list[str]) -> str:
    """MM2's `topics` and `groups` take comma-separated regular expressions: each name, matched exactly."""
    return ",".join(re.escape(name) for name in sorted(names))


def source_client_settings(monolith: Monolith) -> dict[str, str]:
    """How MM2 logs in to the monolith; a password only as `${env:VARIABLE}`."""
    Security = Monolith.Security
    if monolith.security_protocol == Security.MSK_IAM:
        return dict(IAM)
    settings = {"security.protocol": monolith.security_protocol}
    if monolith.security_protocol in (Security.SASL_SSL, Security.SASL_PLAINTEXT):
        module = (
            "org.apache.kafka.common.security.plain.PlainLoginModule"
            if monolith.sasl_mechanism == "PLAIN"
            else "org.apache.kafka.common.security.scram.ScramLoginModule"
        )
        settings["sasl.mechanism"] = monolith.sasl_mechanism
        settings["sasl.jaas.config"] = (
            f'{module} required username="{monolith.sasl_username}" password="${{env:{monolith.password_env}}}";'
        )
    return settings


def connector_configs(
    monolith: Monolith, *, target_bootstrap: str, topics: list[str], groups: list[str]
) -> dict[str, dict[str, str]]:
    """The MirrorSourceConnector and MirrorCheckpointConnector configurations (Connect connector form, as MSK
    Connect takes them: `source.cluster.*` / `target.cluster.*`)."""
    common = {
        "source.cluster.alias": SOURCE_ALIAS,
        "target.cluster.alias": TARGET_ALIAS,
        "source.cluster.bootstrap.servers": monolith.bootstrap,
        "target.cluster.bootstrap.servers": target_bootstrap,
        "replication.policy.class": IDENTITY_POLICY,
        "key.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
        "value.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
        "tasks.max": "4",
        **{f"source.cluster.{key}": value for key, value in source_client_settings(monolith).items()},
        **{f"target.cluster.{key}": value for key, value in IAM.items()},
    }
    source = {
        **common,
        "name": f"mm2-source-{monolith.name}",
        "connector.class": "org.apache.kafka.connect.mirror.MirrorSourceConnector",
        "topics": exact_list(topics),
        "replication.factor": "3",
        "offset-syncs.topic.replication.factor": "3",
        "offset-syncs.topic.location": "target",
        "sync.topic.acls.enabled": "false",  # Serverless has no Kafka ACLs: IAM policies come from access requests
        "sync.topic.configs.enabled": "true",
        "refresh.topics.interval.seconds": "60",
    }
    checkpoint = {
        **common,
        "name": f"mm2-checkpoint-{monolith.name}",
        "connector.class": "org.apache.kafka.connect.mirror.MirrorCheckpointConnector",
        "groups": exact_list(groups),
        "emit.checkpoints.enabled": "true",
        "emit.checkpoints.interval.seconds": "20",
        "sync.group.offsets.enabled": "true",
        "sync.group.offsets.interval.seconds": "20",
        "refresh.groups.interval.seconds": "60",
        "checkpoints.topic.replication.factor": "3",
        "offset-syncs.topic.location": "target",
    }
    return {"source": source, "checkpoint": checkpoint}


def mm2_properties(monolith: Monolith, *, target_bootstrap: str, topics: list[str], groups: list[str]) -> str:
    """A dedicated-mode `mm2.properties` (connect-mirror-maker.sh) for the platform's own Connect, to download."""
    source, target = SOURCE_ALIAS, TARGET_ALIAS
    lines = [
        f"# MirrorMaker 2 for {monolith.name}: one way, {source} -> {target}, identical topic names.",
        "# At-least-once: consumers moved to the target must tolerate duplicates.",
        "# Needs Kafka >= 3.5 (IdentityReplicationPolicy, EnvVarConfigProvider) and aws-msk-iam-auth on the classpath.",
        "config.providers=env",
        "config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider",
        f"clusters={source},{target}",
        f"{source}.bootstrap.servers={monolith.bootstrap}",
        f"{target}.bootstrap.servers={target_bootstrap}",
        *(f"{source}.{key}={value}" for key, value in source_client_settings(monolith).items()),
        *(f"{target}.{key}={value}" for key, value in IAM.items()),
        f"{source}->{target}.enabled=true",
        f"{target}->{source}.enabled=false",
        f"{source}->{target}.topics={exact_list(topics)}",
        f"{source}->{target}.groups={exact_list(groups)}",
        f"replication.policy.class={IDENTITY_POLICY}",
        "sync.group.offsets.enabled=true",
        "sync.group.offsets.interval.seconds=20",
        "emit.checkpoints.enabled=true",
        "emit.checkpoints.interval.seconds=20",
        "offset-syncs.topic.location=target",
        "sync.topic.acls.enabled=false",
        "replication.factor=3",
        "checkpoints.topic.replication.factor=3",
        "offset-syncs.topic.replication.factor=3",
        "heartbeats.topic.replication.factor=3",
        f"{target}.config.storage.replication.factor=3",
        f"{target}.offset.storage.replication.factor=3",
        f"{target}.status.storage.replication.factor=3",
    ]
    return "\n".join(lines) + "\n"


def parse_properties(text: str) -> dict[str, str]:
    """Java properties as MirrorMaker reads them (key=value lines, # comments); enough for our own files."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values
