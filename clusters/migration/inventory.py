"""Services for step 1, the inventory: register a monolith, read it (from the cluster or from a CSV file),
find its applications and let teams claim them.

Reading the cluster happens outside any database transaction (no network call inside one); the snapshot is
then written in one transaction. A CSV file is imported whole or not at all.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.template.defaultfilters import pluralize
from django.utils import timezone

from clusters import rules
from clusters.integrations.records import TopicPeak
from clusters.migration import adapters, events, selectors, takeover
from clusters.migration.models import (
    Application,
    ApplicationClaim,
    ApplicationTopic,
    InventoryGroup,
    InventorySnapshot,
    InventoryTopic,
    Monolith,
)
from clusters.providers.base import ProviderError
from portal import access
from portal import text as text_rules
from portal.errors import NotAllowed
from portal.models import Team

DEFAULT_RETENTION_MS = 604_800_000
RECORDS_SAMPLED_PER_TOPIC = 20


def _require_admin(actor) -> None:
    access.require_migration_manager(actor, "Only platform admins manage the migration of a monolith.")


# --- Registering -------------------------------------------------------------------------------------


def _settings_errors(monolith: Monolith) -> dict[str, list[str]]:
    """Every problem with a monolith's connection and replication settings, per field, in words."""
    errors: dict[str, list[str]] = {}
    try:
        monolith.full_clean()
    except ValidationError as exc:
        errors = exc.message_dict

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    Security = Monolith.Security
    if monolith.security_protocol in (Security.SASL_SSL, Security.SASL_PLAINTEXT):
        if not monolith.sasl_mechanism:
            add("sasl_mechanism", "SASL needs a mechanism: SCRAM-SHA-512, -256 or PLAIN.")
        if not monolith.sasl_username:
            add("sasl_username", "SASL needs a user name.")
        if not monolith.password_env:
            add(
                "password_env",
                "Name the environment variable that holds the password on the portal's workers.",
            )
    elif monolith.sasl_mechanism or monolith.password_env:
        add("sasl_mechanism", "Only SASL logins use a mechanism and a password.")
    if monolith.security_protocol == Security.MSK_IAM and monolith.aws_account is None:
        add("aws_account", "MSK IAM signs in through a registered AWS account.")
    if monolith.msk_cluster_arn and not monolith.msk_cluster_arn.startswith("arn:aws:kafka:"):
        add("msk_cluster_arn", "An MSK cluster ARN starts with arn:aws:kafka:.")
    if monolith.mm2_plugin_arn and not monolith.mm2_plugin_arn.startswith("arn:aws:kafkaconnect:"):
        add("mm2_plugin_arn", "An MSK Connect custom plugin ARN starts with arn:aws:kafkaconnect:.")
    if monolith.connect_role_arn and not monolith.connect_role_arn.startswith("arn:aws:iam::"):
        add("connect_role_arn", "A role ARN starts with arn:aws:iam::.")
    if not isinstance(monolith.subnet_ids, list) or not isinstance(monolith.security_group_ids, list):
        add("subnet_ids", "List the subnet and security group ids, separated by commas.")
        return errors
    for field, message in rules.vpc_id_errors(monolith.subnet_ids, monolith.security_group_ids).items():
        add(field, message)
    if (monolith.subnet_ids or monolith.security_group_ids) and not monolith.msk_cluster_arn:
        add(
            "subnet_ids", "Subnets and security groups are for an MSK monolith: give its MSK cluster ARN too."
        )
    return errors


def register_monolith(*, actor, **fields) -> Monolith:
    """An admin registers the monolith. `fields` are Monolith's; there is no password field to give."""
    _require_admin(actor)
    monolith = Monolith(registered_by=actor, **fields)
    errors = _settings_errors(monolith)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        monolith.save()
        events.record(
            monolith,
            "monolith.registered",
            actor=actor,
            details={"bootstrap": monolith.bootstrap, "security": monolith.security_protocol},
        )
    return monolith


# What an admin may change after registration. The name stays: replications and planned clusters are named
# after it, and the portal adopts them by name.
EDITABLE_SETTINGS = (
    "bootstrap",
    "security_protocol",
    "sasl_mechanism",
    "sasl_username",
    "password_env",
    "aws_account",
    "msk_cluster_arn",
    "subnet_ids",
    "security_group_ids",
    "kafka_version",
    "region",
    "mm2_plugin_arn",
    "mm2_plugin_revision",
    "connect_role_arn",
)


def _shown(value) -> str:
    if isinstance(value, list):
        return ", ".join(value) or "(none)"
    return "(none)" if value in (None, "") else str(value)


def update_monolith(*, actor, monolith_id: int, **fields) -> Monolith:
    """An admin changes the monolith's connection or replication settings, checked as at registration; the
    event lists each changed field as [before, after] (there is no password among them to show)."""
    _require_admin(actor)
    unknown = set(fields) - set(EDITABLE_SETTINGS)
    if unknown:
        raise ValidationError(f"These settings cannot be changed here: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        monolith = Monolith.objects.select_for_update().get(pk=monolith_id)
        before = {name: getattr(monolith, name) for name in fields}
        for name, value in fields.items():
            setattr(monolith, name, value)
        errors = _settings_errors(monolith)
        if errors:
            raise ValidationError(errors)
        changed = {
            name: [_shown(before[name]), _shown(getattr(monolith, name))]
            for name in fields
            if before[name] != getattr(monolith, name)
        }
        if not changed:
            return monolith
        monolith.save(update_fields=list(changed))
        events.record(monolith, "monolith.updated", actor=actor, details={"changes": changed})
    return monolith


def set_monolith_cost(*, actor, monolith_id: int, monthly_cost_usd: Decimal) -> Monolith:
    _require_admin(actor)
    if monthly_cost_usd is None or monthly_cost_usd < 0:
        raise ValidationError({"monthly_cost_usd": ["Enter the monolith's monthly cost in USD, 0 or more."]})
    with transaction.atomic():
        monolith = Monolith.objects.select_for_update().get(pk=monolith_id)
        before = monolith.monthly_cost_usd
        monolith.monthly_cost_usd = monthly_cost_usd
        monolith.save(update_fields=["monthly_cost_usd"])
        events.record(
            monolith,
            "monolith.cost_set",
            actor=actor,
            details={"before": str(before) if before is not None else "", "after": str(monthly_cost_usd)},
        )
    return monolith


# --- Reading the cluster ---------------------------------------------------------------------------------


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 1:
        return f"{round(seconds)} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def _configured(configs: dict[str, str], key: str, default: int) -> int:
    try:
        return int(configs.get(key, default))
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class Estimate:
    peak_in_mbps: Decimal | None
    peak_out_mbps: Decimal | None
    basis: str


def estimate_throughput(
    *,
    end_offsets: list[int],
    previous_end_offsets: list[int] | None,
    seconds: float,
    bytes_per_record: Decimal | None,
    groups: int,
    previous_peak_in: Decimal | None,
    previous_windows: int,
) -> tuple[Estimate, int]:
    """Ingress over one window between two readings: records written × bytes per record / seconds; the peak
    is the highest window seen so far. Egress ≈ ingress × the consumer groups committing on the topic
    (migration.md §4). Returns the estimate and how many windows it covers."""
    if previous_end_offsets is None or len(previous_end_offsets) != len(end_offsets) or seconds <= 0:
        why = "The topic is new since the last reading or its partitions changed: "
        if previous_end_offsets is None:
            why = ""
        return (
            Estimate(
                None,
                None,
                why + "no throughput estimate yet; it needs two readings of the cluster some time apart.",
            ),
            0,
        )
    written = sum(max(0, now - before) for now, before in zip(end_offsets, previous_end_offsets, strict=True))
    if bytes_per_record is None:
        bpr_text = "no record could be sampled, so 1,000 bytes per record is assumed"
        bytes_per_record = Decimal(1000)
    else:
        bpr_text = f"{bytes_per_record:,.0f} bytes per record (measured on the newest records)"
    window_in = (Decimal(written) * bytes_per_record / Decimal(str(seconds)) / Decimal(10**6)).quantize(
        Decimal("0.000001")
    )
    peak_in = max(window_in, previous_peak_in or Decimal(0))
    windows = previous_windows + 1
    basis = (
        f"Estimate: highest of {windows} window{pluralize(windows)} between readings; the last one, "
        f"{_duration(seconds)} long, saw {written:,} record{pluralize(written)} written, at {bpr_text}. "
        f"Egress = ingress × {groups} consumer group{pluralize(groups)} reading the topic. Bursts shorter "
        "than a window and compacted-away records are not seen."
    )
    return Estimate(peak_in, (peak_in * groups).quantize(Decimal("0.000001")), basis), windows


_WINDOWS = re.compile(r"highest of (\d+) window")
MAX_METRICS_HOURS = 1512  # 63 days: CloudWatch keeps 5-minute data that long


def _mbps(bytes_per_second: float) -> Decimal:
    return (Decimal(str(bytes_per_second)) / Decimal(10**6)).quantize(Decimal("0.000001"))


def exact_throughput(peak: TopicPeak, *, cluster_name: str, start: datetime, end: datetime) -> Estimate:
    """An MSK monolith's topic as CloudWatch measured it: the highest 5-minute average of BytesInPerSec and of
    BytesOutPerSec (each its own highest) in the window, with the window in words."""
    where = (
        f"summed over {peak.brokers} broker{pluralize(peak.brokers)}"
        if peak.brokers
        else "the topic's own series"
    )
    hours = round((end - start).total_seconds() / 3600)
    basis = (
        f"Exact, from CloudWatch: highest {peak.period // 60}-minute average of BytesInPerSec and of "
        f"BytesOutPerSec (AWS/Kafka, cluster {cluster_name}, {where}) in the {hours} h from "
        f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"
        + ("; no BytesOutPerSec: nobody read it." if peak.peak_out is None else ".")
    )
    return Estimate(_mbps(peak.peak_in or 0.0), _mbps(peak.peak_out or 0.0), basis)


def _exact_peaks(monolith: Monolith, topics: list[str], end: datetime) -> tuple[dict, str, str, datetime]:
    """For an MSK monolith, the per-topic peaks CloudWatch has (network: call outside transactions), the
    cluster name, the window's start, and why there are none when there are none ("" for other monoliths)."""
    start = end - timedelta(hours=min(settings.MIGRATION_MSK_METRICS_HOURS, MAX_METRICS_HOURS))
    name = rules.msk_cluster_name(monolith.msk_cluster_arn)
    if not monolith.is_msk:
        return {}, name, "", start
    if monolith.aws_account_id is None:
        return {}, name, "CloudWatch was not read: the MSK monolith has no AWS account registered.", start
    if not name:
        return {}, name, f"CloudWatch was not read: {monolith.msk_cluster_arn} names no MSK cluster.", start
    try:
        peaks = adapters.monolith_topic_peaks(monolith, name, topics, start, end)
    except ProviderError as exc:
        return {}, name, f"CloudWatch could not be read: {exc}"[:1000], start
    if not peaks:
        return (
            {},
            name,
            f"CloudWatch lists no per-topic BytesInPerSec for the cluster {name} in the last two weeks (an MSK "
            "Provisioned cluster may need a per-topic monitoring level, e.g. PER_TOPIC_PER_BROKER).",
            start,
        )
    return peaks, name, "", start


def take_inventory(*, monolith_id: int, actor=None, after_number: int | None = None) -> InventorySnapshot:
    """Read the monolith through the Kafka admin adapter and keep it as the next snapshot. With
    `after_number` (the newest snapshot when the reading was asked for) at most one snapshot is written per
    request: when a newer one exists by the time this one is written (a duplicate delivery ran alongside),
    that one is returned and nothing is written. `actor` None: the schedule (beat)."""
    if actor is not None:
        _require_admin(actor)
    monolith = Monolith.objects.select_related("aws_account").get(pk=monolith_id)
    previous = (
        InventorySnapshot.objects.filter(monolith=monolith, source=InventorySnapshot.Source.CLUSTER)
        .order_by("-number")
        .first()
    )
    before = {topic.name: topic for topic in previous.topics.all()} if previous else {}

    inventory = adapters.read_monolith(monolith)  # network: outside any transaction
    exact, cluster_name, throughput_note, window_start = _exact_peaks(
        monolith, [topic.name for topic in inventory.topics], inventory.read_at
    )
    ranges = {}
    for topic in inventory.topics:
        if topic.partitions:
            fullest = max(
                range(topic.partitions), key=lambda p: topic.end_offsets[p] - topic.start_offsets[p]
            )
            ranges[topic.name] = (fullest, topic.start_offsets[fullest], topic.end_offsets[fullest])
    sizes = adapters.sample_record_bytes(monolith, ranges)

    readers: dict[str, int] = {}
    for group in inventory.groups:
        for topic_name in group.committed:
            readers[topic_name] = readers.get(topic_name, 0) + 1
    seconds = (inventory.read_at - previous.taken_at).total_seconds() if previous else 0.0

    with transaction.atomic():
        Monolith.objects.select_for_update().get(pk=monolith.pk)
        number = (monolith.snapshots.aggregate(n=Max("number"))["n"] or 0) + 1
        if after_number is not None and number > after_number + 1:
            return monolith.snapshots.get(number=number - 1)
        snapshot = InventorySnapshot.objects.create(
            monolith=monolith,
            number=number,
            source=InventorySnapshot.Source.CLUSTER,
            taken_at=inventory.read_at,
            taken_by=actor,
            cluster_id=inventory.cluster_id,
            brokers=inventory.brokers,
            throughput_note=throughput_note,
        )
        rows = []
        for topic in inventory.topics:
            old = before.get(topic.name)
            count, size = sizes.get(topic.name, (0, 0))
            bytes_per_record = (Decimal(size) / count).quantize(Decimal("0.1")) if count else None
            if bytes_per_record is None and old is not None:
                bytes_per_record = old.bytes_per_record
            old_windows = int(m.group(1)) if old and (m := _WINDOWS.search(old.throughput_basis)) else 0
            # Only an earlier estimate carries into this one (never an exact CloudWatch figure).
            old_estimate = old is not None and old.throughput_basis.startswith("Estimate")
            estimate, _ = estimate_throughput(
                end_offsets=list(topic.end_offsets),
                previous_end_offsets=list(old.end_offsets) if old else None,
                seconds=seconds,
                bytes_per_record=bytes_per_record,
                groups=readers.get(topic.name, 0),
                previous_peak_in=old.peak_in_mbps if old_estimate else None,
                previous_windows=old_windows,
            )
            peak = exact.get(topic.name)
            if peak is not None and peak.peak_in is not None:
                estimate = exact_throughput(
                    peak, cluster_name=cluster_name, start=window_start, end=inventory.read_at
                )
            elif exact:
                estimate = Estimate(
                    estimate.peak_in_mbps,
                    estimate.peak_out_mbps,
                    "No CloudWatch bytes for this topic; " + estimate.basis,
                )
            policy = topic.configs.get("cleanup.policy", "delete")
            rows.append(
                InventoryTopic(
                    snapshot=snapshot,
                    name=topic.name,
                    partitions=topic.partitions,
                    compacted="compact" in policy,
                    retention_ms=_configured(topic.configs, "retention.ms", DEFAULT_RETENTION_MS),
                    retention_bytes=_configured(topic.configs, "retention.bytes", -1),
                    configs=topic.configs,
                    start_offsets=list(topic.start_offsets),
                    end_offsets=list(topic.end_offsets),
                    bytes_per_record=bytes_per_record,
                    records_sampled=count,
                    peak_in_mbps=estimate.peak_in_mbps,
                    peak_out_mbps=estimate.peak_out_mbps,
                    throughput_basis=estimate.basis,
                )
            )
        InventoryTopic.objects.bulk_create(rows)
        by_name = {topic.name: topic for topic in inventory.topics}
        groups = []
        for group in inventory.groups:
            # Lag per partition = end - committed. A partition of a topic the group reads but has no
            # committed offset on counts from the partition's start (what auto.offset.reset=earliest reads).
            offsets, lag = {}, 0
            for topic_name, committed in group.committed.items():
                topic = by_name.get(topic_name)
                if topic is None:
                    continue
                offsets[topic_name] = {}
                for partition in range(topic.partitions):
                    end = topic.end_offsets[partition]
                    offset = committed.get(partition)
                    offsets[topic_name][str(partition)] = [offset, end]
                    lag += max(0, end - (offset if offset is not None else topic.start_offsets[partition]))
            groups.append(
                InventoryGroup(
                    snapshot=snapshot,
                    group_id=group.group_id,
                    state=group.state,
                    members=group.members,
                    client_ids=list(group.client_ids),
                    topics=sorted(group.committed),
                    offsets=offsets,
                    lag=lag,
                )
            )
        InventoryGroup.objects.bulk_create(groups)
        _keep_changes(snapshot)
        events.record(
            monolith,
            "inventory.read",
            actor=actor,
            obj=snapshot,
            details={"topics": len(rows), "consumer_groups": len(groups), "number": number},
        )
    return snapshot


def _keep_changes(snapshot: InventorySnapshot) -> None:
    """Compare the new snapshot with the one before it once, now, and keep the result for the page."""
    snapshot.changes = selectors.inventory_changes(snapshot).as_record()
    snapshot.save(update_fields=["changes"])


def record_read_failure(*, monolith_id: int, actor=None, reason: str) -> None:
    """A reading that failed for good (wrong password, unreachable, access denied): in the monolith's log,
    so its page says so (a scheduled reading has nobody else to tell)."""
    events.record(Monolith.objects.get(pk=monolith_id), "inventory.read_failed", actor=actor, reason=reason)


# --- From a CSV file ------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "topic",
    "partitions",
    "retention_ms",
    "peak_in_mbps",
    "peak_out_mbps",
    "application",
    "team",
    "consumer_groups",
)
CSV_OPTIONAL = ("compacted",)
MAX_CSV_BYTES = 5 * 1024 * 1024
TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


class CsvRejected(ValidationError):
    """The file was not imported; `row_errors` lists (line number, message) for every bad row."""

    def __init__(self, row_errors: list[tuple[int, str]]):
        self.row_errors = row_errors
        super().__init__([f"Line {line}: {message}" for line, message in row_errors])


# What the inventory's columns hold: a larger figure, a NUL or a longer text was a 500 on PostgreSQL.
CSV_MAX_PARTITIONS = 2_147_483_647
CSV_MAX_MBPS = Decimal("99999999.999999")  # DecimalField(max_digits=14, decimal_places=6)
CSV_MAX_GROUP_ID = 255


def _decimal(text: str, what: str, errors: list[str]) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        errors.append(f"{what} must be a number, not “{_cell(text)}”")
        return None
    if not value.is_finite() or value < 0:
        errors.append(f"{what} must be 0 or more, not “{_cell(text)}”")
        return None
    if value > CSV_MAX_MBPS:
        errors.append(f"{what} must be at most {CSV_MAX_MBPS:,} MB/s, not “{_cell(text)}”")
        return None
    return value


def _cell(text: str) -> str:
    """A cell as a message quotes it: at most 40 characters, control characters as their code."""
    cut = text[:40] + ("…" if len(text) > 40 else "")
    return "".join(f"\\u{ord(char):04x}" if text_rules.is_control(char) else char for char in cut)


def _control_characters(values: dict[str, str]) -> list[str]:
    """Columns whose text holds control characters (NUL, escapes): never a name, and PostgreSQL refuses NUL."""
    return [key for key, value in values.items() if text_rules.control_characters(value)]


def parse_csv(content: bytes) -> tuple[list[dict], list[tuple[int, str]]]:
    """Rows as dicts, and every problem found (line number, message). Teams are checked by slug or name."""
    if len(content) > MAX_CSV_BYTES:
        return [], [(0, f"The file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB.")]
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [(0, "The file is not UTF-8 text.")]
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    missing = [column for column in CSV_COLUMNS if column not in header]
    if missing:
        return [], [(1, f"The header lacks the column{pluralize(len(missing))} {', '.join(missing)}.")]
    reader.fieldnames = header
    teams = {team.slug: team for team in Team.objects.all()} | {
        team.name.lower(): team for team in Team.objects.all()
    }
    rows, problems, seen = [], [], {}
    for row in reader:
        line = reader.line_num
        errors: list[str] = []
        if None in row:
            errors.append("more values than columns")
        values = {key: (value or "").strip() for key, value in row.items() if key}
        if odd := _control_characters(values):
            problems.append(
                (line, f"{', '.join(sorted(odd))}: control characters (such as NUL) are not allowed.")
            )
            continue
        name = values.get("topic", "")
        if not TOPIC_NAME.match(name):
            errors.append(f"“{_cell(name)}” is not a Kafka topic name (letters, digits, . _ -; at most 249)")
        elif name in seen:
            errors.append(f"topic {name} is already on line {seen[name]}")
        else:
            seen[name] = line
        partitions = values.get("partitions", "")
        if not re.fullmatch(r"[0-9]{1,10}", partitions) or not 1 <= int(partitions) <= CSV_MAX_PARTITIONS:
            errors.append(
                f"partitions must be a whole number from 1 to {CSV_MAX_PARTITIONS:,}, not “{_cell(partitions)}”"
            )
        retention = values.get("retention_ms", "")
        if not re.fullmatch(r"-1|[0-9]{1,19}", retention) or int(retention) > rules.KAFKA_LONG_MAX:
            errors.append(f"retention_ms must be milliseconds or -1 (unlimited), not “{_cell(retention)}”")
        peak_in = _decimal(values.get("peak_in_mbps", ""), "peak_in_mbps", errors)
        peak_out = _decimal(values.get("peak_out_mbps", ""), "peak_out_mbps", errors)
        application = values.get("application", "")
        if not application or len(application) > 100:
            errors.append("application must name the owning application (at most 100 characters)")
        team_text = values.get("team", "")
        team = teams.get(team_text.lower()) if team_text else None
        if team_text and team is None:
            errors.append(f"no team “{_cell(team_text)}” is registered in the portal")
        compacted = values.get("compacted", "").lower()
        if compacted not in ("", "yes", "no", "true", "false", "1", "0"):
            errors.append(f"compacted must be yes or no, not “{_cell(compacted)}”")
        groups = [group.strip() for group in values.get("consumer_groups", "").split(";") if group.strip()]
        if long := [group for group in groups if len(group) > CSV_MAX_GROUP_ID]:
            errors.append(
                f"a consumer group id has at most {CSV_MAX_GROUP_ID} characters, not {len(long[0]):,}"
            )
        if errors:
            problems.append((line, "; ".join(errors) + "."))
            continue
        rows.append(
            {
                "topic": name,
                "partitions": int(partitions),
                "retention_ms": int(retention),
                "peak_in_mbps": peak_in,
                "peak_out_mbps": peak_out,
                "application": application,
                "team": team,
                "groups": groups,
                "compacted": compacted in ("yes", "true", "1"),
            }
        )
    if not rows and not problems:
        problems.append((2, "The file has a header but no topics."))
    return rows, problems


def import_csv(*, actor, monolith_id: int, content: bytes, filename: str = "") -> InventorySnapshot:
    """Import the whole file as the next snapshot, or nothing: any bad row raises `CsvRejected`."""
    _require_admin(actor)
    rows, problems = parse_csv(content)
    if problems:
        raise CsvRejected(problems)
    with transaction.atomic():
        monolith = Monolith.objects.select_for_update().get(pk=monolith_id)
        number = (monolith.snapshots.aggregate(n=Max("number"))["n"] or 0) + 1
        snapshot = InventorySnapshot.objects.create(
            monolith=monolith,
            number=number,
            source=InventorySnapshot.Source.CSV,
            taken_by=actor,
            filename=filename[:200],
        )
        InventoryTopic.objects.bulk_create(
            InventoryTopic(
                snapshot=snapshot,
                name=row["topic"],
                partitions=row["partitions"],
                compacted=row["compacted"],
                retention_ms=row["retention_ms"],
                peak_in_mbps=row["peak_in_mbps"],
                peak_out_mbps=row["peak_out_mbps"],
                throughput_basis=f"Peak figures from the uploaded file {filename or ''}".strip() + ".",
                owner_application=row["application"],
                owner_team=row["team"].slug if row["team"] else "",
            )
            for row in rows
        )
        readers: dict[str, list[str]] = {}
        for row in rows:
            for group in row["groups"]:
                readers.setdefault(group, []).append(row["topic"])
        InventoryGroup.objects.bulk_create(
            InventoryGroup(snapshot=snapshot, group_id=group, topics=sorted(topics))
            for group, topics in sorted(readers.items())
        )
        _keep_changes(snapshot)
        events.record(
            monolith,
            "inventory.imported",
            actor=actor,
            obj=snapshot,
            details={"topics": len(rows), "consumer_groups": len(readers), "file": filename[:200]},
        )
    return snapshot


# --- Applications ---------------------------------------------------------------------------------------

_PREFIX = re.compile(r"^([^._-]+)[._-]")


def application_name_for(topic: str) -> str:
    """An inventory read from the cluster names no owners: topics are grouped by their first name segment
    (`orders.created`, `orders-dlq` → `orders`), which teams then claim, rename or split."""
    match = _PREFIX.match(topic)
    return match.group(1) if match else topic


def discover_applications(*, actor, monolith_id: int) -> list[Application]:
    """Applications for every topic of the newest snapshot that no application holds yet. A CSV file's
    `application` column names them (and its `team` becomes a suggestion); otherwise the name prefix does."""
    _require_admin(actor)
    monolith = Monolith.objects.get(pk=monolith_id)
    snapshot = monolith.snapshots.order_by("-number").first()
    if snapshot is None:
        raise ValidationError("Read the inventory or upload a CSV file first.")
    teams = {team.slug: team for team in Team.objects.all()}
    with transaction.atomic():
        Monolith.objects.select_for_update().get(pk=monolith.pk)
        held = set(ApplicationTopic.objects.filter(monolith=monolith).values_list("topic", flat=True))
        wanted: dict[str, list] = {}
        for topic in snapshot.topics.exclude(name__in=held).order_by("name"):
            wanted.setdefault(topic.owner_application or application_name_for(topic.name), []).append(topic)
        existing = {app.name: app for app in Application.objects.filter(monolith=monolith, name__in=wanted)}
        created = Application.objects.bulk_create(
            Application(
                monolith=monolith,
                name=name,
                found_in=f"inventory #{snapshot.number}",
                suggested_team=teams.get(topics[0].owner_team),
            )
            for name, topics in sorted(wanted.items())
            if name not in existing
        )
        if not all(application.pk for application in created):  # backends that return no ids on bulk_create
            created = list(Application.objects.filter(monolith=monolith, name__in=[a.name for a in created]))
        by_name = existing | {application.name: application for application in created}
        ApplicationTopic.objects.bulk_create(
            ApplicationTopic(monolith=monolith, application=by_name[name], topic=topic.name)
            for name, topics in wanted.items()
            for topic in topics
        )
        if created:
            events.record(
                monolith,
                "applications.found",
                actor=actor,
                details={"applications": sorted(application.name for application in created)},
            )
    return created


def assign_topic(*, actor, monolith_id: int, topic: str, application_name: str) -> Application:
    """Admins move a topic to another application (creating it if new): the prefix guess is only a guess."""
    _require_admin(actor)
    application_name = application_name.strip()
    if not application_name or len(application_name) > 100:
        raise ValidationError({"application": ["Name the application (at most 100 characters)."]})
    with transaction.atomic():
        monolith = Monolith.objects.select_for_update().get(pk=monolith_id)
        application, _ = Application.objects.get_or_create(
            monolith=monolith, name=application_name, defaults={"found_in": "moved by an admin"}
        )
        link = ApplicationTopic.objects.filter(monolith=monolith, topic=topic).first()
        before = link.application.name if link else ""
        if link is None:
            ApplicationTopic.objects.create(monolith=monolith, application=application, topic=topic)
        else:
            link.application = application
            link.save(update_fields=["application"])
        events.record(
            monolith,
            "topic.assigned",
            actor=actor,
            obj=application,
            details={"topic": topic, "from": before, "to": application.name},
        )
    return application


# --- Claims ------------------------------------------------------------------------------------------------


def claim_application(*, actor, application_id: int, team: Team, note: str = "") -> ApplicationClaim:
    """A member claims an application for their team; an admin other than them decides. Claiming one another
    team owns asks to take it over: approved, it changes owner (the event keeps the previous one). One claim
    waits per application: another is refused, naming the team whose claim waits."""
    if not access.can_act_for_team(actor, team):
        raise NotAllowed("You can only claim applications for teams you are a member of.")
    application = Application.objects.select_related("monolith", "team").get(pk=application_id)
    if application.team_id == team.pk:
        raise ValidationError({"team": [f"{team.name} already owns {application.name}."]})
    waiting = (
        ApplicationClaim.objects.filter(application=application, status=ApplicationClaim.Status.PENDING)
        .select_related("team")
        .first()
    )
    if waiting is not None:
        raise ValidationError({"team": [_claim_waiting(application, waiting.team)]})
    owner = {"owner": application.team.slug} if application.team else {}
    try:
        with transaction.atomic():
            claim = ApplicationClaim.objects.create(
                application=application, team=team, claimed_by=actor, note=note.strip()
            )
            events.record(
                application.monolith,
                "claim.submitted",
                actor=actor,
                obj=claim,
                to_status=claim.status,
                team=team,
                details={"application": application.name, "team": team.slug, **owner},
            )
    except IntegrityError as exc:  # a claim made between the check above and this one
        waiting = ApplicationClaim.objects.filter(
            application=application, status=ApplicationClaim.Status.PENDING
        ).first()
        raise ValidationError(
            {"team": [_claim_waiting(application, waiting.team if waiting else None)]}
        ) from exc
    return claim


def _claim_waiting(application: Application, team: Team | None) -> str:
    by = f" by {team.name}" if team else ""
    return (
        f"{application.name} already has a claim waiting for an admin{by}: a new claim can be made once it is "
        "decided."
    )


def decide_claim(*, actor, claim_id: int, approve: bool, reason: str = "") -> ApplicationClaim:
    """Approve or reject a pending claim (compare-and-set). Never by the person who claimed. A takeover is
    approved only while nothing was filed or started for the application in its owner's name
    (`takeover.blockers`); one the accepted plan places outdates that plan (named in the event)."""
    claim = ApplicationClaim.objects.select_related("application__monolith", "team").get(pk=claim_id)
    if not access.can_decide_claim(actor, claim):
        raise NotAllowed("Claims are decided by a platform admin other than the person who claimed.")
    if not approve and not reason.strip():
        raise ValidationError({"reason": ["Say why the claim is rejected; the team reads this."]})
    to_status = ApplicationClaim.Status.APPROVED if approve else ApplicationClaim.Status.REJECTED
    with transaction.atomic():
        application = (
            Application.objects.select_for_update(of=("self",))
            .select_related("monolith", "team")
            .get(pk=claim.application_id)
        )
        previous_team = application.team.slug if application.team else ""
        outdated = {}
        takes_over = application.team_id not in (None, claim.team_id)
        if approve and takes_over:  # where is its migration?
            if refused := takeover.blockers(application):
                why = (
                    f"{claim.team.name} cannot take over {application.name} from {application.team.name} now."
                )
                raise ValidationError([why, *refused])
            if plan := takeover.outdates(application):
                outdated = {"outdates_plan": plan.version}
        if not events.move(
            application.monolith,
            claim,
            f"claim.{to_status}",
            from_status=ApplicationClaim.Status.PENDING,
            to_status=to_status,
            actor=actor,
            reason=reason.strip(),
            team=claim.team,
            details={
                "application": application.name,
                "team": claim.team.slug,
                "previous_team": previous_team,
                **outdated,
            },
            fields={"decided_by": actor, "decided_at": timezone.now(), "reason": reason.strip()},
        ):
            claim.refresh_from_db()
            raise ValidationError(f"This claim was already {claim.get_status_display().lower()}.")
        if approve:
            application.team = claim.team
            application.save(update_fields=["team"])
    claim.refresh_from_db()
    return claim


# --- Requirements (step 2) ------------------------------------------------------------------------------

REQUIREMENT_FIELDS = (
    "peak_in_mbps",
    "peak_out_mbps",
    "retention_hours",
    "latency_class",
    "contains_pii",
    "tolerates_duplicates",
    "client_connections",
    "producers",
    "producer_roles",
    "consumer_roles",
)


def update_requirements(*, actor, application_id: int, **values) -> Application:
    """The owning team's members (or admins) say what the application needs of its new cluster."""
    unknown = set(values) - set(REQUIREMENT_FIELDS)
    if unknown:
        raise ValueError(f"Not a requirement: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        application = (
            Application.objects.select_for_update().select_related("monolith").get(pk=application_id)
        )
        if not access.can_edit_application(actor, application):
            raise NotAllowed("Only the owning team's members and platform admins set an application's needs.")
        before = {field: getattr(application, field) for field in values}
        for field, value in values.items():
            setattr(application, field, value)
        application.requirements_updated_at = timezone.now()
        application.full_clean()
        application.save()
        changed = {
            field: {"before": str(before[field]), "after": str(value)}
            for field, value in values.items()
            if before[field] != value
        }
        events.record(
            application.monolith,
            "requirements.updated",
            actor=actor,
            obj=application,
            team=application.team,
            details={"application": application.name, "changed": changed},
        )
    return application


def latest_snapshot_time(monolith: Monolith) -> datetime | None:
    snapshot = monolith.snapshots.order_by("-number").first()
    return snapshot.taken_at if snapshot else None
