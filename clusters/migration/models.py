"""What the migration assistant keeps: the registered monolith, its inventory snapshots, the applications
found in it and the teams' claims on them, plan versions, and each application's cutover.

Workflow objects (claims, plans, filings and their opt-ins, cutovers, replications) have one status field
(a cutover's is `step`) and a `TRANSITIONS` table `{from: {to}}`; the services change it only by
compare-and-set through `clusters.migration.events.move` (`portal.transitions.move`), which refuses a move
the table does not list and writes an append-only `MigrationEvent` row per change. Secrets are never
stored: a monolith names the environment variable that holds its password.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from clusters import rules
from clusters.models import REGION_CHOICES, AwsAccount
from portal.models import AppendOnlyModel, Team

ENV_VAR_NAME = RegexValidator(
    r"^[A-Z_][A-Z0-9_]{0,99}$",
    "The name of an environment variable: capital letters, digits and underscores, e.g. MONOLITH_PASSWORD.",
)


def role_lines(text: str) -> list[list[str]]:
    """The non-empty lines of a principals field, each split on white space."""
    return [line.split() for line in (text or "").splitlines() if line.strip()]


def _check_lines(text: str, *, words: int, shape: str, extra=None) -> None:
    """Each line: `words` words, the first an IAM role ARN (the portal's rule, `rules.validate_role_arn`);
    `extra(line)` says what else is wrong with a line, or None. All problems at once, by line."""
    errors = []
    for number, line in enumerate(role_lines(text), start=1):
        if len(line) != words:
            errors.append(f"Line {number}: {shape}")
            continue
        try:
            rules.validate_role_arn(line[0])
        except ValidationError as exc:
            errors.append(f"Line {number}: {' '.join(exc.messages)}")
        if extra is not None and (error := extra(line)):
            errors.append(f"Line {number}: {error}")
    if errors:
        raise ValidationError(errors)


def validate_producer_roles(text: str) -> None:
    """One IAM role ARN per line."""
    _check_lines(text, words=1, shape="one IAM role ARN per line, nothing else.")


def validate_consumer_roles(text: str) -> None:
    """Per line an IAM role ARN and the consumer group it reads with (the same group id as on the monolith:
    translated offsets are kept per group), e.g. `arn:aws:iam::123456789012:role/billing billing`."""
    _check_lines(
        text,
        words=2,
        shape="an IAM role ARN, a space, then its consumer group.",
        extra=lambda line: rules.group_prefix_error(line[1]),
    )


class Monolith(models.Model):
    """A Kafka cluster to split, registered by an admin. Read-only to the portal."""

    class Security(models.TextChoices):
        PLAINTEXT = "PLAINTEXT", "PLAINTEXT (no TLS, no login)"
        SSL = "SSL", "TLS, no login"
        SASL_SSL = "SASL_SSL", "SASL over TLS (SCRAM or PLAIN)"
        SASL_PLAINTEXT = "SASL_PLAINTEXT", "SASL without TLS (SCRAM or PLAIN)"
        MSK_IAM = "MSK_IAM", "Amazon MSK with IAM"

    class Mechanism(models.TextChoices):
        NONE = "", "None"
        SCRAM_SHA_512 = "SCRAM-SHA-512", "SCRAM-SHA-512"
        SCRAM_SHA_256 = "SCRAM-SHA-256", "SCRAM-SHA-256"
        PLAIN = "PLAIN", "PLAIN"

    name = models.CharField(max_length=100, unique=True)
    bootstrap = models.CharField("Bootstrap servers", max_length=1000, blank=True)
    security_protocol = models.CharField(max_length=20, choices=Security.choices, default=Security.SASL_SSL)
    sasl_mechanism = models.CharField(max_length=20, choices=Mechanism.choices, blank=True)
    sasl_username = models.CharField(max_length=200, blank=True)
    password_env = models.CharField(
        "Password environment variable",
        max_length=100,
        blank=True,
        validators=[ENV_VAR_NAME],
        help_text="The environment variable on the portal's workers that holds the password. The password "
        "itself is never stored by the portal.",
    )
    aws_account = models.ForeignKey(
        AwsAccount,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="For an MSK monolith: the account it runs in (MSK Replicator needs the same account).",
    )
    msk_cluster_arn = models.CharField("MSK cluster ARN", max_length=2048, blank=True)
    # MSK Replicator reaches each cluster through a VPC of its own: for the source, the monolith's.
    subnet_ids = models.JSONField(
        "Subnets of the MSK monolith",
        default=list,
        blank=True,
        help_text="For an MSK monolith copied by MSK Replicator: subnet ids through which it reaches the "
        "monolith (the cluster's client subnets), separated by commas.",
    )
    security_group_ids = models.JSONField(
        "Security groups of the MSK monolith",
        default=list,
        blank=True,
        help_text="Security groups that may reach the monolith's brokers, separated by commas. Empty: the "
        "VPC's default security group.",
    )
    kafka_version = models.CharField(max_length=20, blank=True)
    region = models.CharField(
        "Region of the new clusters", max_length=20, choices=REGION_CHOICES, default="us-east-1"
    )
    monthly_cost_usd = models.DecimalField(
        "Monthly cost of the monolith (USD)",
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
    )
    # MirrorMaker 2 on MSK Connect (used when MSK Replicator cannot be): registered once per monolith by an
    # admin, because the plugin and the role that may read this monolith are specific to it.
    mm2_plugin_arn = models.CharField(
        "MirrorMaker 2 plugin ARN (MSK Connect)",
        max_length=2048,
        blank=True,
        help_text="The MSK Connect custom plugin holding MirrorMaker 2 and aws-msk-iam-auth.",
    )
    mm2_plugin_revision = models.PositiveIntegerField("MirrorMaker 2 plugin revision", default=1)
    connect_role_arn = models.CharField(
        "MSK Connect service execution role ARN",
        max_length=2048,
        blank=True,
        help_text="The role MSK Connect workers use to write to the new clusters with IAM.",
    )
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name

    @property
    def is_msk(self) -> bool:
        return bool(self.msk_cluster_arn)

    def replication_tool(self, account_id: int | None) -> str:
        """The tool that copies this monolith into a Serverless cluster of the AWS account `account_id` (its
        primary key; migration.md §1.1): MSK Replicator when the monolith is MSK in that same registered
        account (Replicator works within one account only), else MirrorMaker 2 on MSK Connect. The one rule,
        used by the plan (what it reserves on each planned cluster) and by starting replication."""
        same_account = self.aws_account_id is not None and self.aws_account_id == account_id
        return Replication.Tool.REPLICATOR if self.is_msk and same_account else Replication.Tool.MM2

    @property
    def login_label(self) -> str:
        """How the portal logs in, in one plain phrase: "SASL/SCRAM-SHA-512 over TLS", "TLS, no login"."""
        Security = self.Security
        if self.security_protocol in (Security.SASL_SSL, Security.SASL_PLAINTEXT):
            transport = "over TLS" if self.security_protocol == Security.SASL_SSL else "without TLS"
            return f"SASL/{self.sasl_mechanism or '(no mechanism)'} {transport}"
        return self.get_security_protocol_display()


class InventorySnapshot(models.Model):
    """One reading of the monolith's topics and consumer groups, from the cluster or from a CSV file."""

    class Source(models.TextChoices):
        CLUSTER = "cluster", "Read from the cluster"
        CSV = "csv", "Uploaded CSV file"

    monolith = models.ForeignKey(Monolith, on_delete=models.CASCADE, related_name="snapshots")
    number = models.PositiveIntegerField()
    source = models.CharField(max_length=10, choices=Source.choices)
    taken_at = models.DateTimeField(default=timezone.now)
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cluster_id = models.CharField(max_length=100, blank=True)
    brokers = models.PositiveIntegerField(default=0)
    filename = models.CharField(max_length=200, blank=True)
    # What changed against the snapshot before it, kept when written (selectors.InventoryChanges.as_record):
    # the page lists the last readings' changes without comparing thousands of topics again.
    changes = models.JSONField(default=dict, blank=True)
    # An MSK monolith whose throughput could not be read from CloudWatch this time, and why (the topics then
    # carry the end-offset estimate).
    throughput_note = models.CharField(max_length=1000, blank=True)

    class Meta:
        ordering = ["monolith", "-number"]
        constraints = [models.UniqueConstraint(fields=["monolith", "number"], name="snapshot_number_once")]

    def __str__(self) -> str:
        return f"{self.monolith} inventory #{self.number}"


class InventoryTopic(models.Model):
    snapshot = models.ForeignKey(InventorySnapshot, on_delete=models.CASCADE, related_name="topics")
    name = models.CharField(max_length=249)
    partitions = models.PositiveIntegerField()
    compacted = models.BooleanField(default=False)
    retention_ms = models.BigIntegerField(default=604_800_000)  # -1: unlimited
    retention_bytes = models.BigIntegerField(default=-1)  # per partition; -1: unlimited
    configs = models.JSONField(default=dict, blank=True)
    start_offsets = models.JSONField(default=list, blank=True)
    end_offsets = models.JSONField(default=list, blank=True)
    bytes_per_record = models.DecimalField(max_digits=12, decimal_places=1, null=True, blank=True)
    records_sampled = models.PositiveIntegerField(default=0)
    # Peak MB/s (10^6 bytes/s): from the CSV, or estimated from end offsets (see `throughput_basis`).
    peak_in_mbps = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    peak_out_mbps = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    throughput_basis = models.CharField(max_length=400, blank=True)
    # From a CSV file: the owners as the file names them.
    owner_application = models.CharField(max_length=100, blank=True)
    owner_team = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["snapshot", "name"]
        constraints = [models.UniqueConstraint(fields=["snapshot", "name"], name="inventory_topic_once")]

    def __str__(self) -> str:
        return self.name

    @property
    def records(self) -> int:
        return sum(end - start for start, end in zip(self.start_offsets, self.end_offsets, strict=False))


class InventoryGroup(models.Model):
    snapshot = models.ForeignKey(InventorySnapshot, on_delete=models.CASCADE, related_name="groups")
    group_id = models.CharField(max_length=255)
    state = models.CharField(max_length=30, blank=True)
    members = models.PositiveIntegerField(default=0)
    client_ids = models.JSONField(default=list, blank=True)
    topics = models.JSONField(default=list, blank=True)
    # topic -> {partition: [committed, end]}; lag = end - committed per partition
    offsets = models.JSONField(default=dict, blank=True)
    lag = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["snapshot", "group_id"]
        constraints = [models.UniqueConstraint(fields=["snapshot", "group_id"], name="inventory_group_once")]

    def __str__(self) -> str:
        return self.group_id


class Application(models.Model):
    """A unit that moves together: the topics it writes, the consumer groups that read them, and what it
    requires of its new cluster. Owned by a team once an admin approved the team's claim."""

    class Latency(models.TextChoices):
        TIME_SENSITIVE = "time_sensitive", "Time-sensitive"
        TIME_INSENSITIVE = "time_insensitive", "Not time-sensitive"

    monolith = models.ForeignKey(Monolith, on_delete=models.CASCADE, related_name="applications")
    name = models.CharField(max_length=100)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    found_in = models.CharField(max_length=100, blank=True, help_text="Which inventory found it.")
    # The team a CSV file names as owner: shown to that team's members, who still claim it like anyone.
    suggested_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Requirements (peaks, not averages). Empty throughput: the inventory's figures for its topics.
    peak_in_mbps = models.DecimalField(
        max_digits=14, decimal_places=6, null=True, blank=True, validators=[MinValueValidator(Decimal(0))]
    )
    peak_out_mbps = models.DecimalField(
        max_digits=14, decimal_places=6, null=True, blank=True, validators=[MinValueValidator(Decimal(0))]
    )
    retention_hours = models.PositiveIntegerField(null=True, blank=True)
    latency_class = models.CharField(max_length=20, choices=Latency.choices, default=Latency.TIME_INSENSITIVE)
    contains_pii = models.BooleanField("Contains PII", default=False)
    tolerates_duplicates = models.BooleanField(default=True)
    client_connections = models.PositiveIntegerField(default=0)
    producers = models.TextField("Producers (declared by the team)", blank=True)
    # The principals that get access on the new clusters when the plan is filed (docs/migration.md, "Execute").
    producer_roles = models.TextField(
        "Producer IAM roles",
        blank=True,
        validators=[validate_producer_roles],
        help_text="One IAM role ARN per line: they get produce access to the application's topics on its "
        "write (or own) cluster.",
    )
    consumer_roles = models.TextField(
        "Consumer IAM roles and groups",
        blank=True,
        validators=[validate_consumer_roles],
        help_text="Per line an IAM role ARN, a space and the consumer group it reads with (the same group id "
        "as on the monolith): they get consume access on the cluster the plan puts the application's "
        "consumers on.",
    )
    requirements_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["monolith", "name"]
        constraints = [models.UniqueConstraint(fields=["monolith", "name"], name="application_name_once")]

    def __str__(self) -> str:
        return self.name


class ApplicationTopic(models.Model):
    """A monolith topic belongs to at most one application (enforced here, not only in code). Once its
    application's cutover is done the topic is marked migrated: replication stopped, its readers and writers
    on the new cluster (`migrated_to`); the monolith keeps it until someone decommissions it there."""

    monolith = models.ForeignKey(Monolith, on_delete=models.CASCADE, related_name="+")
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="topic_links")
    topic = models.CharField(max_length=249)
    migrated_at = models.DateTimeField(null=True, blank=True)
    migrated_to = models.CharField(max_length=100, blank=True)  # the plan's cluster key

    class Meta:
        ordering = ["topic"]
        constraints = [models.UniqueConstraint(fields=["monolith", "topic"], name="topic_in_one_application")]

    def __str__(self) -> str:
        return self.topic


class ApplicationClaim(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for an admin"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    TRANSITIONS = {
        Status.PENDING: {Status.APPROVED, Status.REJECTED},
        Status.APPROVED: set(),
        Status.REJECTED: set(),
    }

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="claims")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+")
    claimed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["application"],
                condition=Q(status="pending"),
                name="one_pending_claim_per_application",
            )
        ]

    def __str__(self) -> str:
        return f"{self.team} claims {self.application}"


class MigrationPlan(models.Model):
    """One version of a plan. Versions are never changed in place: an edit makes the next version."""

    class Strategy(models.TextChoices):
        SEGREGATED = "segregated", "Segregated: clusters per team"
        WRITE_READ = "write_read", "Write clusters and read clusters"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACCEPTED = "accepted", "Accepted"
        SUPERSEDED = "superseded", "Superseded"

    TRANSITIONS = {
        Status.DRAFT: {Status.ACCEPTED},
        Status.ACCEPTED: {Status.SUPERSEDED},  # when another version is accepted
        Status.SUPERSEDED: set(),
    }

    monolith = models.ForeignKey(Monolith, on_delete=models.CASCADE, related_name="plans")
    version = models.PositiveIntegerField()
    based_on = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    snapshot = models.ForeignKey(InventorySnapshot, on_delete=models.PROTECT, related_name="+")
    strategy = models.CharField(max_length=12, choices=Strategy.choices, default=Strategy.SEGREGATED)
    headroom_percent = models.PositiveIntegerField(
        default=70, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    separate_latency_classes = models.BooleanField(default=True)
    backup_region = models.CharField(max_length=20, choices=REGION_CHOICES, blank=True)
    moves = models.JSONField(default=dict, blank=True, help_text="application -> planned cluster key")
    change_note = models.CharField(max_length=300, blank=True)
    result = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["monolith", "-version"]
        constraints = [models.UniqueConstraint(fields=["monolith", "version"], name="plan_version_once")]

    def __str__(self) -> str:
        return f"{self.monolith} plan v{self.version}"


class Cutover(models.Model):
    """One application's way off the monolith, step by step (migration.md §3 A: consumers first)."""

    class Step(models.TextChoices):
        REPLICATING = "replicating", "Replicating"
        VERIFIED = "verified", "Replication verified"
        CONSUMERS_MOVED = "consumers_moved", "Consumers moved"
        PRODUCERS_MOVED = "producers_moved", "Producers moved"
        DONE = "done", "Replication stopped, topics migrated"

    ORDER = [Step.REPLICATING, Step.VERIFIED, Step.CONSUMERS_MOVED, Step.PRODUCERS_MOVED, Step.DONE]
    # One step forward, or back (a rollback) except from done: replication is stopped then.
    TRANSITIONS = {
        Step.REPLICATING: {Step.VERIFIED},
        Step.VERIFIED: {Step.CONSUMERS_MOVED, Step.REPLICATING},
        Step.CONSUMERS_MOVED: {Step.PRODUCERS_MOVED, Step.VERIFIED},
        Step.PRODUCERS_MOVED: {Step.DONE, Step.CONSUMERS_MOVED},
        Step.DONE: set(),
    }

    plan = models.ForeignKey(MigrationPlan, on_delete=models.PROTECT, related_name="cutovers")
    application = models.OneToOneField(Application, on_delete=models.PROTECT, related_name="cutover")
    target_cluster = models.CharField(max_length=100)  # the plan's cluster key
    position = models.PositiveIntegerField(default=0)  # the seed's order: smallest first
    step = models.CharField(max_length=20, choices=Step.choices, default=Step.REPLICATING)
    step_changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["plan", "position"]

    def __str__(self) -> str:
        return f"{self.application}: {self.get_step_display()}"


class Replication(models.Model):
    """Replication of one application's topics from the monolith to its target cluster, recorded before any
    call goes out (intent first): the MSK Replicator, or MirrorMaker 2's source and checkpoint connectors on
    MSK Connect. `resources` maps each part to its ARN once created or adopted by name.

    requested → creating → running (or failed, requested again); at the cutover's last step running/failed →
    stopping (recorded with the step, before any delete call) → stopped (every part deleted)."""

    class Tool(models.TextChoices):
        REPLICATOR = "replicator", "MSK Replicator"
        MM2 = "mm2", "MirrorMaker 2 on MSK Connect"

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        CREATING = "creating", "Creating"
        RUNNING = "running", "Running"
        FAILED = "failed", "Failed"
        STOPPING = "stopping", "Stopping"
        STOPPED = "stopped", "Stopped"

    TRANSITIONS = {
        Status.REQUESTED: {Status.CREATING},
        Status.CREATING: {Status.RUNNING, Status.FAILED},
        Status.RUNNING: {Status.STOPPING},
        Status.FAILED: {Status.REQUESTED, Status.STOPPING},  # requested again by an admin; the cutover's end
        Status.STOPPING: {Status.STOPPED},
        Status.STOPPED: set(),
    }

    cutover = models.OneToOneField(Cutover, on_delete=models.PROTECT, related_name="replication")
    tool = models.CharField(max_length=12, choices=Tool.choices)
    name = models.CharField(max_length=100, unique=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REQUESTED)
    resources = models.JSONField(default=dict, blank=True)  # part -> ARN
    reason = models.TextField(blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    status_changed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name}: {self.get_status_display()}"

    @property
    def parts(self) -> tuple[str, ...]:
        return ("replicator",) if self.tool == self.Tool.REPLICATOR else ("source", "checkpoint")


class Filing(models.Model):
    """One press of "File <team>'s requests" on an accepted plan, run by a task (`clusters.migration.filing`):
    queued → running → done, or failed with the reason. A running filing whose worker died (no progress for
    PROVISIONING_REDISPATCH_SECONDS) is put back to queued by beat and run again; a rerun files only what is
    still ready. `attempt` counts the runs: a superseded run stops at its next progress update."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Filing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.QUEUED, Status.RUNNING)  # at most one of these per plan and team
    TRANSITIONS = {
        Status.QUEUED: {Status.RUNNING, Status.FAILED},
        Status.RUNNING: {Status.DONE, Status.FAILED, Status.QUEUED},  # queued again: its worker was lost
        Status.DONE: set(),
        Status.FAILED: set(),
    }

    plan = models.ForeignKey(MigrationPlan, on_delete=models.PROTECT, related_name="filings")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Started by beat for the person who opted in to the next stages (None: a press of the button).
    auto_filing = models.ForeignKey(
        "AutoFiling", null=True, blank=True, on_delete=models.PROTECT, related_name="filings"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempt = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Last sign of life (queued, started, each item filed): beat treats an active filing quiet for longer
    # than PROVISIONING_REDISPATCH_SECONDS as lost.
    touched_at = models.DateTimeField(default=timezone.now)
    # Progress of the current run: items tried so far of those ready (the total grows when a request a rule
    # approved makes more ready in the same step).
    done_count = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    # The result the page shows once done: per item kind, cluster, label, state, request id and note. While it
    # runs (and if it fails), the items tried so far, filed or refused: an automatic filing of the next stages
    # never files those again by itself (`filing.tried_before`).
    result = models.JSONField(default=list, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "team"],
                condition=Q(status__in=["queued", "running"]),
                name="one_active_filing_per_plan_and_team",
            )
        ]

    def __str__(self) -> str:
        return f"{self.team} filing from {self.plan}: {self.get_status_display()}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def filed_request_ids(self) -> list[int]:
        """Request ids filed by any run of this filing, in filing order (from `result`, item by item)."""
        return [row["request"] for row in self.result if row["state"] == "filed"]  # execution.FILED


class AutoFiling(models.Model):
    """A person's opt-in to have the next stages of a plan's requests for their team filed by themselves
    (`clusters.migration.autofiling`): while it is on, beat starts a `Filing` in their name whenever items of
    the plan become ready to file. On → off, turned off by a person (`stopped_by`) or by itself with the
    reason (the plan is no longer the accepted version, the person left the team, nothing remains to file).
    Opting in again is a new row."""

    class Status(models.TextChoices):
        ON = "on", "On"
        OFF = "off", "Off"

    TRANSITIONS = {Status.ON: {Status.OFF}, Status.OFF: set()}

    plan = models.ForeignKey(MigrationPlan, on_delete=models.PROTECT, related_name="auto_filings")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+")
    # Who opted in: the requester of everything it files (and, four eyes, never its approver).
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=3, choices=Status.choices, default=Status.ON)
    created_at = models.DateTimeField(default=timezone.now)
    checked_at = models.DateTimeField(null=True, blank=True)  # beat's last look (least recent first)
    stopped_at = models.DateTimeField(null=True, blank=True)
    stopped_by = models.ForeignKey(  # None: it stopped by itself (`reason`)
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "team"], condition=Q(status="on"), name="one_auto_filing_per_plan_and_team"
            )
        ]

    def __str__(self) -> str:
        return f"{self.team}'s next stages from {self.plan}: {self.get_status_display()}"


class MigrationEvent(AppendOnlyModel):
    """Every change the assistant makes, with who, when and why; never changed or deleted."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    monolith = models.ForeignKey(Monolith, on_delete=models.CASCADE, related_name="events")
    object_type = models.CharField(max_length=30)
    object_id = models.CharField(max_length=30, blank=True)
    action = models.CharField(max_length=60)
    from_status = models.CharField(max_length=30, blank=True)
    to_status = models.CharField(max_length=30, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    reason = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label}"
