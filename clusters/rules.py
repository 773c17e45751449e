"""MSK Serverless and Kafka rules: names, partitions, topic configs, ARNs, network placement.

Pure functions, no database: used by forms, API serializers and services alike. Facts come from
`shared/reference/msk-serverless.md` (Serverless quotas and allowed topic configs).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from django.core.exceptions import ValidationError

CLUSTER_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$"
CLUSTER_NAME_RULE = "1–64 letters, digits or hyphens, starting with a letter or digit."
TOPIC_NAME_RE = r"^[A-Za-z0-9._-]{1,249}$"
TOPIC_NAME_RULE = "Kafka topic names use letters, digits, '.', '_' and '-' (at most 249 characters)."
PRINCIPAL_ARN_RULE = "Enter an IAM role ARN like arn:aws:iam::123456789012:role/orders-service."
GROUP_PREFIX_RULE = "The consumer-group prefix may use letters, digits, '.', '_' and '-'."
GROUP_PREFIX_MAX = 200
ACCOUNT_ID_RE = r"^[0-9]{12}$"  # [0-9], not \d: \d also matches full-width and Arabic-Indic digits

MAX_WRITE_MBPS_PER_PARTITION = 5
MAX_READ_MBPS_PER_PARTITION = 10
MAX_MESSAGE_BYTES = 8 * 1024 * 1024  # 8 MiB, MSK Serverless
DEFAULT_MAX_MESSAGE_BYTES = 1_048_588
DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000  # MSK Serverless default: 7 days
DEFAULT_RETENTION_BYTES = -1
UNLIMITED = -1
KAFKA_LONG_MAX = 2**63 - 1
MAX_PARTITIONS_PER_TOPIC = 100_000  # far above any cluster quota; bounds arithmetic on bad input  # retention.ms / retention.bytes are Java longs

# How the forms and the API read these numbers (portal.numbers: bounds, unit and hint of the one message a
# mistake gets). Topic configs have no bounds here: the request services say what Kafka and MSK allow.
MBPS_FIELD = {
    "min_value": Decimal(0),
    "max_value": Decimal(100_000),  # beyond it the figures mean nothing (and overflow the estimates)
    "max_digits": 8,
    "decimal_places": 2,
    "unit": "MB/s",
}
PARTITIONS_FIELD = {"min_value": 1, "max_value": MAX_PARTITIONS_PER_TOPIC, "unit": "partitions"}
RETENTION_MS_FIELD = {"unit": "milliseconds", "hint": "-1 = unlimited"}
RETENTION_BYTES_FIELD = {"unit": "bytes", "hint": "-1 = unlimited"}
MAX_MESSAGE_BYTES_FIELD = {"unit": "bytes"}

CLEANUP_POLICY_CHOICES = [("delete", "delete"), ("compact", "compact")]
COMPRESSION_TYPES = ["producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"]
TIMESTAMP_TYPES = ["CreateTime", "LogAppendTime"]

_SUBNET_RE = re.compile(r"^subnet-[0-9a-f]{8,17}$")
_SECURITY_GROUP_RE = re.compile(r"^sg-[0-9a-f]{8,17}$")


def cluster_name_error(name: str) -> str | None:
    if not re.fullmatch(CLUSTER_NAME_RE, name or ""):
        return f"“{name}” is not a valid MSK cluster name: {CLUSTER_NAME_RULE}"
    return None


def _not_allowed(text: str, allowed: str) -> str:
    """The characters of `text` outside the character class `allowed`, quoted for a message."""
    bad = sorted({char for char in text if not re.fullmatch(allowed, char)})
    return " ".join(repr(char) for char in bad) if bad else "none"


def topic_name_error(full_name: str) -> str | None:
    """Kafka's own rule on a full topic name (ASCII letters, digits, '.', '_', '-'; ≤ 249; not '.'/'..')."""
    if full_name in {".", ".."}:
        return "A topic cannot be named “.” or “..”."
    if len(full_name) > 249:
        return f"The full topic name “{full_name[:40]}…” is {len(full_name)} characters; Kafka allows 249."
    if not re.fullmatch(TOPIC_NAME_RE, full_name or ""):
        return f"{TOPIC_NAME_RULE} Not allowed here: {_not_allowed(full_name, r'[A-Za-z0-9._-]')}."
    return None


def topic_short_name_error(name: str) -> str | None:
    """The part a team chooses: Kafka's characters, and at least one letter or digit, so that '.' or '..'
    never become full names like 'payments..' that read as nothing."""
    if not name:
        return "Give the topic a name."
    if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        return f"{TOPIC_NAME_RULE} Not allowed here: {_not_allowed(name, r'[A-Za-z0-9._-]')}."
    if not re.search(r"[A-Za-z0-9]", name):
        return f"“{name}” is not a name: use at least one letter or digit."
    return None


def kafka_collision_key(topic_name: str) -> str:
    """Kafka refuses a topic whose name equals an existing one once '.' is read as '_' (their metric
    names would clash): 'x_auto' cannot live next to 'x.auto'."""
    return topic_name.replace(".", "_")


def colliding_topic(name: str, others: Iterable[str]) -> str | None:
    """The first of `others` Kafka would take for the same topic as `name` (equal, or equal once '.' is
    read as '_'), else None."""
    key = kafka_collision_key(name)
    return next((other for other in others if kafka_collision_key(other) == key), None)


def group_prefix_error(prefix: str, *, namespace: str = "") -> str | None:
    """A consumer-group prefix ends up in an IAM resource (`group/<cluster>/<uuid>/<prefix>*`): only
    Kafka's name characters, so no IAM wildcard ('*', '?') or ':' widens or breaks it. With `namespace`
    (a shared cluster) it must start with the team's namespace, as topic names do, so that it reaches
    only the team's own groups."""
    if len(prefix) > GROUP_PREFIX_MAX:
        return f"The consumer-group prefix is {len(prefix)} characters; at most {GROUP_PREFIX_MAX}."
    if not re.fullmatch(r"[A-Za-z0-9._-]+", prefix or ""):
        return f"{GROUP_PREFIX_RULE} Not allowed here: {_not_allowed(prefix, r'[A-Za-z0-9._-]')}."
    if not re.search(r"[A-Za-z0-9]", prefix):
        return f"“{prefix}” is not a prefix: use at least one letter or digit."
    if namespace and not prefix.startswith(namespace):
        return (
            f"On a shared cluster a consumer-group prefix starts with your team's namespace “{namespace}”, "
            "as topic names do, so that it reaches only your team's groups."
        )
    return None


def full_topic_name(template: str, *, team_slug: str, name: str) -> str:
    return template.format(team=team_slug, name=name)


def topic_namespace(template: str, *, team_slug: str) -> str:
    """The fixed part a team's topic names start with, e.g. 'payments.' for '{team}.{name}'."""
    return template.split("{name}", 1)[0].format(team=team_slug)


def short_topic_name(name: str, *, template: str, team_slug: str) -> str:
    """The name a team chose, without its namespace: a member of payments who types the full name
    "payments.orders" means the topic payments.orders, not payments.payments.orders. One namespace comes
    off, so a name that really repeats it ("payments.payments.x") can still be asked for in full."""
    namespace = topic_namespace(template, team_slug=team_slug)
    return name.removeprefix(namespace) if namespace else name


def topic_prefix_error(prefix: str, *, namespace: str) -> str | None:
    """An access grant's topic prefix: inside the team's namespace (outside it, it would reach other teams'
    topics), in Kafka's name characters (no IAM wildcard widens it)."""
    if not prefix.startswith(namespace):
        example = namespace if namespace.startswith(prefix) else f"{namespace}{prefix}"
        return f"A prefix must start with your team's namespace “{namespace}”, such as “{example}”."
    if not re.fullmatch(r"[A-Za-z0-9._-]+", prefix):
        return f"{TOPIC_NAME_RULE} Not allowed here: {_not_allowed(prefix, r'[A-Za-z0-9._-]')}."
    return None


def kept_topic_name_error(name: str, *, template: str, other_team_slugs: Iterable[str]) -> str | None:
    """A topic name kept as it is rather than built from the naming convention (a monolith's topic moving
    with replication, which keeps names): Kafka's rule on the whole name, never a name Kafka and MSK keep
    for themselves ('__…'), and never inside another team's namespace, whose prefix grants would reach it."""
    if error := topic_name_error(name):
        return error
    if name.startswith("__"):
        return f"“{name}” starts with “__”, which Kafka and MSK keep for their own topics."
    for slug in sorted(other_team_slugs):
        namespace = topic_namespace(template, team_slug=slug)
        if namespace and name.startswith(namespace):
            return (
                f"“{name}” lies in team {slug}'s namespace “{namespace}”: that team's prefix grants would reach "
                "it. Rename the topic on the monolith first, or let that team own it."
            )
    return None


def request_mbps(value: Decimal | int | str | None) -> Decimal:
    """Throughput as requests and topics keep it, MB/s with two decimals, rounded up so that nothing is
    planned or requested below its peak (a migration plan prices its topics at exactly this figure)."""
    return Decimal(value or 0).quantize(Decimal("0.01"), rounding=ROUND_CEILING)


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


# --- IAM role ARNs ---------------------------------------------------------------------------------
# IAM's own constraints (botocore's IAM model): role names 1–64 of [\w+=,.@-]; paths "/" or
# "/…/" of at most 512 ASCII characters; account ids 12 digits; ARNs at most 2,048 characters. The portal
# is stricter where IAM is loose: path segments use the role-name characters and are never empty, "." or "..".

ROLE_NAME_MAX = 64
ROLE_PATH_MAX = 512
ARN_MAX = 2048
PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
_ROLE_CHARS = r"[A-Za-z0-9+=,.@_-]"


@dataclass(frozen=True)
class RoleArn:
    partition: str
    account_id: str
    path: str  # "/" or "/a/b/"
    name: str


class InvalidRoleArn(ValueError):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def partition_for_region(region: str) -> str:
    """The AWS partition a region belongs to: ARNs of its resources and principals start arn:<partition>:."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def parse_role_arn(arn: str) -> RoleArn:
    """`arn:<partition>:iam::<account>:role[/path]/<name>`, checked as IAM checks it; InvalidRoleArn
    says what is wrong in words."""
    if not arn:
        raise InvalidRoleArn(PRINCIPAL_ARN_RULE)
    if not arn.isascii():
        # Named by code point too: full-width digits look like digits, and some fonts cannot draw them.
        odd = sorted({char for char in arn if not char.isascii()})
        shown = ", ".join(f"'{char}' (U+{ord(char):04X})" for char in odd[:3]) + (
            " …" if len(odd) > 3 else ""
        )
        raise InvalidRoleArn(f"An IAM role ARN has only ASCII characters; not allowed: {shown}.")
    if len(arn) > ARN_MAX:
        raise InvalidRoleArn(f"The ARN is {len(arn):,} characters; IAM allows {ARN_MAX:,}.")
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam" or parts[3] != "":
        raise InvalidRoleArn(PRINCIPAL_ARN_RULE)
    partition, account_id, resource = parts[1], parts[4], parts[5]
    if partition not in PARTITIONS:
        raise InvalidRoleArn(f"“{partition}” is not an AWS partition: use aws, aws-cn or aws-us-gov.")
    if not re.fullmatch(ACCOUNT_ID_RE, account_id):
        raise InvalidRoleArn(f"“{account_id}” is not an AWS account id: 12 digits 0–9.")
    kind, slash, rest = resource.partition("/")
    if kind != "role" or not slash:
        raise InvalidRoleArn(f"Only IAM roles can be given access (…:role/<name>), not “{resource}”.")
    *segments, name = rest.split("/")
    if not name:
        raise InvalidRoleArn("The role name is missing after the last “/”.")
    if any(segment in ("", ".", "..") for segment in segments):
        raise InvalidRoleArn("A role path has no empty, “.” or “..” segments.")
    if not re.fullmatch(f"{_ROLE_CHARS}+", rest.replace("/", "")):
        raise InvalidRoleArn(
            "Role names and paths use letters, digits and + = , . @ _ -; not allowed: "
            f"{_not_allowed(rest, f'{_ROLE_CHARS}|/')}."
        )
    if len(name) > ROLE_NAME_MAX:
        raise InvalidRoleArn(f"The role name is {len(name)} characters; IAM allows {ROLE_NAME_MAX}.")
    path = "/" + "".join(f"{segment}/" for segment in segments)
    if len(path) > ROLE_PATH_MAX:
        raise InvalidRoleArn(f"The role path is {len(path)} characters; IAM allows {ROLE_PATH_MAX}.")
    return RoleArn(partition=partition, account_id=account_id, path=path, name=name)


def arn_account_id(arn: str) -> str:
    """The account field of any ARN (empty when there is none); no validation."""
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 else ""


def msk_cluster_name(arn: str) -> str:
    """The cluster name in an MSK cluster ARN, `arn:<partition>:kafka:<region>:<account>:cluster/<name>/<uuid>`
    (Provisioned and Serverless alike): CloudWatch's `Cluster Name` dimension. Empty when it is not one."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "kafka":
        return ""
    kind, _, rest = parts[5].partition("/")
    name = rest.split("/", 1)[0]
    return name if kind == "cluster" and "/" in rest and name else ""


def principal_arn_error(arn: str, *, region: str = "") -> str | None:
    """What is wrong with a role ARN; with `region`, also a partition other than the region's."""
    try:
        role = parse_role_arn(arn)
    except InvalidRoleArn as exc:
        return exc.message
    if region and role.partition != partition_for_region(region):
        expected = partition_for_region(region)
        return (
            f"{region} is in the {expected} partition: the role's ARN must start with arn:{expected}:, "
            f"not arn:{role.partition}:."
        )
    return None


def validate_role_arn(value: str) -> None:
    """Model-field validator (accounts' roles): the same rule as for principals."""
    if error := principal_arn_error(value):
        raise ValidationError(error)


def vpc_id_errors(subnet_ids, security_group_ids) -> dict[str, str]:
    """Field errors for plain lists of subnet and security group ids, e.g. the VPC through which MSK Replicator
    reaches an MSK cluster the portal did not make (no availability zones known, so no zone rule)."""
    errors: dict[str, str] = {}
    for field, ids, pattern, example in (
        ("subnet_ids", subnet_ids, _SUBNET_RE, "subnet-0123456789abcdef0"),
        ("security_group_ids", security_group_ids, _SECURITY_GROUP_RE, "sg-0123456789abcdef0"),
    ):
        bad = [str(value) for value in ids if not pattern.fullmatch(str(value))]
        if bad:
            errors[field] = (
                f"Not {field.removesuffix('_ids').replace('_', ' ')} ids: {', '.join(bad)} (like {example})."
            )
        elif len(set(ids)) != len(ids):
            errors[field] = "Each id once."
    return errors


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
