"""MSK Serverless and Kafka rules: names, partitions, topic configs, ARNs, network placement.

Pure functions, no database: used by forms, API serializers and services alike. Facts come from
`shared/reference/msk-serverless.md` (Serverless quotas and allowed topic configs).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

CLUSTER_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$"
CLUSTER_NAME_RULE = "1–64 letters, digits or hyphens, starting with a letter or digit."
TOPIC_NAME_RE = r"^[A-Za-z0-9._-]{1,249}$"
TOPIC_NAME_RULE = "Kafka topic names use letters, digits, '.', '_' and '-' (at most 249 characters)."
ROLE_ARN_RE = r"^arn:aws(-[a-z]+)*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$"
PRINCIPAL_ARN_RULE = "Enter an IAM role ARN like arn:aws:iam::123456789012:role/orders-service."
GROUP_PREFIX_RE = r"^[A-Za-z0-9._-]{1,200}$"

MAX_WRITE_MBPS_PER_PARTITION = 5
MAX_READ_MBPS_PER_PARTITION = 10
MAX_MESSAGE_BYTES = 8 * 1024 * 1024  # 8 MiB, MSK Serverless
DEFAULT_MAX_MESSAGE_BYTES = 1_048_588
DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000  # MSK Serverless default: 7 days
DEFAULT_RETENTION_BYTES = -1
UNLIMITED = -1
KAFKA_LONG_MAX = 2**63 - 1
MAX_PARTITIONS_PER_TOPIC = 100_000  # far above any cluster quota; bounds arithmetic on bad input  # retention.ms / retention.bytes are Java longs

CLEANUP_POLICY_CHOICES = [("delete", "delete"), ("compact", "compact")]
COMPRESSION_TYPES = ["producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"]
TIMESTAMP_TYPES = ["CreateTime", "LogAppendTime"]

_SUBNET_RE = re.compile(r"^subnet-[0-9a-f]{8,17}$")
_SECURITY_GROUP_RE = re.compile(r"^sg-[0-9a-f]{8,17}$")


def cluster_name_error(name: str) -> str | None:
    if not re.fullmatch(CLUSTER_NAME_RE, name or ""):
        return f"“{name}” is not a valid MSK cluster name: {CLUSTER_NAME_RULE}"
    return None


def topic_name_error(full_name: str) -> str | None:
    if full_name in {".", ".."}:
        return "A topic cannot be named “.” or “..”."
    if len(full_name) > 249:
        return f"The full topic name “{full_name[:40]}…” is {len(full_name)} characters; Kafka allows 249."
    if not re.fullmatch(TOPIC_NAME_RE, full_name or ""):
        bad = sorted({char for char in full_name if not re.fullmatch(r"[A-Za-z0-9._-]", char)})
        shown = " ".join(repr(char) for char in bad) if bad else "none"
        return f"{TOPIC_NAME_RULE} Not allowed here: {shown}."
    return None


def full_topic_name(template: str, *, team_slug: str, name: str) -> str:
    return template.format(team=team_slug, name=name)


def topic_namespace(template: str, *, team_slug: str) -> str:
    """The fixed part a team's topic names start with, e.g. 'payments.' for '{team}.{name}'."""
    return template.split("{name}", 1)[0].format(team=team_slug)


def suggested_partitions(in_mbps: Decimal | float, out_mbps: Decimal | float) -> int:
    """max(⌈in/5⌉, ⌈out/10⌉), at least 1: a Serverless partition takes 5 MB/s in and 10 MB/s out."""
    return max(
        math.ceil(Decimal(in_mbps) / MAX_WRITE_MBPS_PER_PARTITION),
        math.ceil(Decimal(out_mbps) / MAX_READ_MBPS_PER_PARTITION),
        1,
    )


def retention_error(value: int, *, unit: str) -> str | None:
    if value == UNLIMITED or 1 <= value <= KAFKA_LONG_MAX:
        return None
    if value > KAFKA_LONG_MAX:
        return f"Kafka cannot store more than {KAFKA_LONG_MAX:,} {unit}; use -1 for unlimited."
    return f"Use a positive number of {unit}, or -1 for unlimited."


def principal_arn_error(arn: str) -> str | None:
    if not re.fullmatch(ROLE_ARN_RE, arn or ""):
        return PRINCIPAL_ARN_RULE
    return None


def network_errors(subnets, security_group_ids, region: str) -> dict[str, str]:
    """Field errors for a network profile: ≥ 2 subnets in ≥ 2 availability zones of the region."""
    errors: dict[str, str] = {}
    if not isinstance(subnets, list) or not all(
        isinstance(item, dict) and set(item) == {"id", "az"} for item in subnets
    ):
        return {"subnets": 'List subnets as [{"id": "subnet-…", "az": "<region><letter>"}, …].'}
    bad_ids = [item["id"] for item in subnets if not _SUBNET_RE.fullmatch(str(item["id"]))]
    if bad_ids:
        errors["subnets"] = f"Not subnet ids: {', '.join(map(str, bad_ids))}."
    elif len({item["id"] for item in subnets}) < 2 or len({item["az"] for item in subnets}) < 2:
        errors["subnets"] = "Give at least two subnets in two different availability zones."
    elif region and any(not str(item["az"]).startswith(region) for item in subnets):
        errors["subnets"] = f"Every subnet's availability zone must be in {region}."
    if not isinstance(security_group_ids, list) or not all(
        _SECURITY_GROUP_RE.fullmatch(str(group)) for group in security_group_ids
    ):
        errors["security_group_ids"] = "List security group ids like sg-0123456789abcdef0."
    return errors
