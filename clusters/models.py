"""Clusters, topics, access grants (the inventory) and the requests that change them.

A `Request` is the document a team files: its `payload` is the normalised "what was asked" and never
changes. Approval materialises inventory rows (Cluster, Topic, AccessGrant) in a pending state, which
provisioning then advances. Every request transition is a compare-and-set plus a `RequestEvent` row.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.template.defaultfilters import pluralize
from django.utils import timezone

from clusters import rules
from portal.models import AppendOnlyModel, Team

# Regions where MSK Serverless is offered (AWS doc note; admins can only pick from these).
MSK_SERVERLESS_REGIONS = [
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "ca-central-1",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
]
REGION_CHOICES = [(region, region) for region in MSK_SERVERLESS_REGIONS]


class Environment(models.TextChoices):
    DEV = "dev", "Development"
    STAGING = "staging", "Staging"
    PROD = "prod", "Production"


class AwsAccount(models.Model):
    """An AWS account the portal may create clusters in, through a role it assumes there."""

    class Ownership(models.TextChoices):
        TEAM = "team", "Team's own account (the team owns the cost)"
        PLATFORM = "platform", "Platform's shared account"

    name = models.CharField(max_length=100, unique=True)
    account_id = models.CharField(
        max_length=12,
        unique=True,
        validators=[RegexValidator(rules.ACCOUNT_ID_RE, "An AWS account id is 12 digits 0–9.")],
    )
    ownership = models.CharField(max_length=10, choices=Ownership.choices)
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="aws_accounts",
        help_text="Required for a team's own account; empty for the platform's shared account.",
    )
    role_arn = models.CharField(
        max_length=2048,
        validators=[rules.validate_role_arn],
        help_text="The role the portal assumes in this account.",
    )
    external_id = models.CharField(max_length=1224, blank=True)
    replicator_role_arn = models.CharField(
        max_length=2048,
        blank=True,
        validators=[rules.validate_role_arn],
        help_text="Service execution role MSK Replicator uses in this account (needed for read clusters).",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.account_id})"

    def clean(self):
        if self.ownership == self.Ownership.TEAM and self.team_id is None:
            raise ValidationError({"team": "A team's own account needs its team."})
        if self.ownership == self.Ownership.PLATFORM and self.team_id is not None:
            raise ValidationError({"team": "The platform's shared account belongs to no team."})
        if self.role_arn and f"::{self.account_id}:" not in self.role_arn:
            raise ValidationError({"role_arn": "The role must be in this account."})


class NetworkProfile(models.Model):
    """Subnets (in at least two availability zones) and security groups a cluster is placed in."""

    account = models.ForeignKey(AwsAccount, on_delete=models.PROTECT, related_name="network_profiles")
    region = models.CharField(max_length=20, choices=REGION_CHOICES)
    name = models.CharField(max_length=100)
    vpc_id = models.CharField(
        max_length=32, validators=[RegexValidator(r"^vpc-[0-9a-f]{8,17}$", "Enter a VPC id.")]
    )
    # [{"id": "subnet-0abc…", "az": "us-east-1a"}, …]
    subnets = models.JSONField(default=list)
    security_group_ids = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["account__name", "region", "name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "region", "name"], name="network_profile_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.region})"

    @property
    def subnet_ids(self) -> list[str]:
        return [subnet["id"] for subnet in self.subnets]

    def clean(self):
        errors = rules.network_errors(self.subnets, self.security_group_ids, self.region)
        if errors:
            raise ValidationError(errors)


class GrantDelivery(models.TextChoices):
    INLINE_POLICY = "inline_policy", "The portal puts an inline policy on the principal's IAM role"
    DOCUMENT = "document", "The team attaches the policy document to its role itself"


class PlatformSettings(models.Model):
    """Admin-editable quotas and conventions (one row). Defaults are MSK Serverless's documented limits."""

    max_write_mbps = models.DecimalField(
        "Max write throughput per cluster (MB/s)", max_digits=8, decimal_places=2, default=Decimal(200)
    )
    max_read_mbps = models.DecimalField(
        "Max read throughput per cluster (MB/s)", max_digits=8, decimal_places=2, default=Decimal(400)
    )
    max_partitions = models.PositiveIntegerField("Max partitions per cluster", default=2400)
    max_compacted_partitions = models.PositiveIntegerField(
        "Max compacted partitions per cluster", default=120
    )
    max_clusters_per_account_region = models.PositiveIntegerField(
        "Max Serverless clusters per account and region", default=10
    )
    soft_limit_percent = models.PositiveIntegerField(
        "Flag requests above this share of a limit (%)",
        default=80,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    topic_name_template = models.CharField(
        max_length=100,
        default="{team}.{name}",
        help_text="How full topic names are built; use {team} (the team's slug) and {name}.",
    )
    grant_delivery = models.CharField(
        "How access grants reach IAM",
        max_length=15,
        choices=GrantDelivery.choices,
        default=GrantDelivery.INLINE_POLICY,
        help_text="Inline policy: the portal writes and removes it (needs iam:PutRolePolicy in the account). "
        "Document: the portal hands the approved policy to the team, which attaches and detaches it.",
    )
    allow_cross_account_principals = models.BooleanField(
        "Allow principals in other AWS accounts",
        default=False,
        help_text="Off: access is only granted to IAM roles in the cluster's own account (the only roles the "
        "portal can attach policies to), and other roles are refused when the request is filed. On: a role "
        "in another account is accepted, flagged to approvers, and gets its policy as a document its team "
        "attaches itself; cross-account connectivity to the cluster is that team's to arrange.",
    )
    platform_team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Charged for unattributed usage: shared clusters nobody has topics on, traffic on topics "
        "without an owner in the inventory.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "platform settings"

    def __str__(self) -> str:
        return "Platform settings"

    def clean(self):
        if "{name}" not in self.topic_name_template:
            raise ValidationError({"topic_name_template": "The template must contain {name}."})
        try:
            self.topic_name_template.format(team="t", name="n")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValidationError(
                {"topic_name_template": "Use only {team} and {name} as placeholders."}
            ) from exc

    @classmethod
    def current(cls) -> PlatformSettings:
        settings_row, _ = cls.objects.get_or_create(pk=1)
        return settings_row


class Cluster(models.Model):
    class Kind(models.TextChoices):
        DEDICATED = "dedicated", "Dedicated team cluster"
        WRITE = "write", "Write cluster (producers)"
        READ = "read", "Read cluster (consumers, replicated from a write cluster)"

    class Status(models.TextChoices):
        PENDING = "pending", "Approved, waiting to be provisioned"
        PROVISIONING = "provisioning", "Provisioning"
        ACTIVE = "active", "Active"
        FAILED = "failed", "Failed"
        DELETING = "deleting", "Deleting"
        DELETED = "deleted", "Deleted"

    class LatencyClass(models.TextChoices):
        SENSITIVE = "time_sensitive", "Time-sensitive"
        INSENSITIVE = "time_insensitive", "Time-insensitive"

    # State groups and allowed moves, named once here (provisioning.transitions.move refuses any other).
    USABLE = (Status.PENDING, Status.PROVISIONING, Status.ACTIVE)  # takes new topics and grants
    IN_FLIGHT = (Status.PENDING, Status.PROVISIONING, Status.DELETING)  # the engine is working on it
    REMOVED = (Status.DELETING, Status.DELETED)  # being deleted or deleted
    TRANSITIONS = {
        Status.PENDING: {Status.PROVISIONING, Status.DELETING, Status.DELETED},
        Status.PROVISIONING: {Status.ACTIVE, Status.FAILED, Status.DELETED},
        Status.ACTIVE: {Status.DELETING, Status.DELETED},
        Status.FAILED: {Status.PENDING, Status.DELETING, Status.DELETED},  # an admin's retry; a decommission
        Status.DELETING: {Status.DELETED, Status.FAILED},
        Status.DELETED: set(),
    }  # → DELETED from anywhere: an admin marks a cluster deleted outside the portal (drift)

    name = models.CharField(
        max_length=64, validators=[RegexValidator(rules.CLUSTER_NAME_RE, rules.CLUSTER_NAME_RULE)]
    )
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="clusters")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    source_cluster = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="read_clusters"
    )
    environment = models.CharField(max_length=10, choices=Environment.choices)
    account = models.ForeignKey(AwsAccount, on_delete=models.PROTECT, related_name="clusters")
    region = models.CharField(max_length=20, choices=REGION_CHOICES)
    network_profile = models.ForeignKey(NetworkProfile, on_delete=models.PROTECT, related_name="clusters")
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.PENDING)
    arn = models.CharField(max_length=2048, blank=True)
    bootstrap_brokers = models.TextField(blank=True)
    status_reason = models.TextField(blank=True, help_text="Why it failed, in words a person understands.")
    status_changed_at = models.DateTimeField(default=timezone.now)
    expected_write_mbps = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal(0))
    expected_read_mbps = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal(0))
    contains_pii = models.BooleanField(default=False)
    latency_class = models.CharField(
        max_length=20, choices=LatencyClass.choices, default=LatencyClass.INSENSITIVE
    )
    shared_with = models.ManyToManyField(
        Team,
        blank=True,
        related_name="shared_clusters",
        help_text="Other teams allowed to request topics on this cluster.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Lifetime for cluster-hours: from the moment MSK first reported it ACTIVE until it was gone.
    active_since = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # MSK cluster names are unique per account and region; a deleted name may be reused.
            models.UniqueConstraint(
                fields=["account", "region", "name"],
                condition=~Q(status="deleted"),
                name="cluster_unique_live_name",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_live(self) -> bool:
        return self.status != self.Status.DELETED


class Topic(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Approved, waiting to be created"
        CREATING = "creating", "Creating"
        ACTIVE = "active", "Active"
        FAILED = "failed", "Failed"
        DELETING = "deleting", "Deleting"
        DELETED = "deleted", "Deleted"

    LIVE = (Status.PENDING, Status.CREATING, Status.ACTIVE)  # counts against quotas and names
    CHANGEABLE = (Status.PENDING, Status.ACTIVE)  # a change request may be filed
    REMOVED = (Status.DELETING, Status.DELETED)
    TRANSITIONS = {
        Status.PENDING: {Status.CREATING, Status.DELETING, Status.DELETED},
        Status.CREATING: {Status.ACTIVE, Status.FAILED, Status.DELETED},
        Status.ACTIVE: {Status.FAILED, Status.DELETING, Status.DELETED},  # FAILED: a change failed
        Status.FAILED: {Status.CREATING, Status.ACTIVE, Status.DELETING, Status.DELETED},  # retry the step
        Status.DELETING: {Status.DELETED, Status.FAILED},
        Status.DELETED: set(),
    }  # → DELETED from anywhere: its cluster is gone

    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="topics")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="topics")
    name = models.CharField(max_length=249)
    partitions = models.PositiveIntegerField()
    cleanup_policy = models.CharField(max_length=10, choices=rules.CLEANUP_POLICY_CHOICES, default="delete")
    configs = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    expected_in_mbps = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal(0))
    expected_out_mbps = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal(0))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    status_reason = models.TextField(blank=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["cluster__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "name"], condition=~Q(status="deleted"), name="topic_unique_live_name"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} on {self.cluster.name}"


class TopicPartitionChange(AppendOnlyModel):
    """The partition count a topic really had from `changed_at` on (0 once deleted): partition-hours."""

    topic = models.ForeignKey(Topic, on_delete=models.PROTECT, related_name="partition_changes")
    partitions = models.PositiveIntegerField()
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [models.Index(fields=["topic", "changed_at"], name="partition_change_topic_at")]

    def __str__(self) -> str:
        return (
            f"{self.partitions} partition{pluralize(self.partitions)} from {self.changed_at:%Y-%m-%d %H:%M}"
        )


class AccessGrant(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Approved, waiting to be applied"
        APPLIED = "applied", "Applied"
        FAILED = "failed", "Failed"
        REVOKING = "revoking", "Being removed"
        REVOKED = "revoked", "Removed"

    REMOVED = (Status.REVOKING, Status.REVOKED)
    TRANSITIONS = {
        Status.PENDING: {Status.APPLIED, Status.FAILED, Status.REVOKING},
        Status.APPLIED: {Status.REVOKING},
        Status.FAILED: {Status.PENDING, Status.REVOKING},  # retry the step; revoke
        Status.REVOKING: {Status.REVOKED, Status.FAILED},
        Status.REVOKED: set(),
    }

    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="grants")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="grants")
    principal_arn = models.CharField(max_length=2048)
    topic = models.ForeignKey(Topic, null=True, blank=True, on_delete=models.PROTECT, related_name="grants")
    topic_prefix = models.CharField(max_length=249, blank=True)
    can_produce = models.BooleanField(default=False)
    can_consume = models.BooleanField(default=False)
    consumer_group_prefix = models.CharField(max_length=249, blank=True)
    policy = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    # Fixed at approval from the platform setting, so changing the setting never strands a grant.
    delivery = models.CharField(
        max_length=15, choices=GrantDelivery.choices, default=GrantDelivery.INLINE_POLICY
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    status_reason = models.TextField(blank=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        rights = "+".join(
            name for name, on in (("produce", self.can_produce), ("consume", self.can_consume)) if on
        )
        target = self.topic.name if self.topic_id else f"{self.topic_prefix}*"
        return f"{rights} on {target} for {self.principal_arn.rsplit('/', 1)[-1]}"

    @property
    def granted_group_prefix(self) -> str:
        """The consumer groups it reaches: none without consume (grants filed before a prefix typed beside
        produce alone was dropped at filing may still carry one; their policy has no group statement)."""
        return self.consumer_group_prefix if self.can_consume else ""


class RequestKind(models.TextChoices):
    CLUSTER_CREATE = "cluster.create", "New cluster"
    CLUSTER_DECOMMISSION = "cluster.decommission", "Decommission cluster"
    TOPIC_CREATE = "topic.create", "New topic"
    TOPIC_UPDATE = "topic.update", "Change topic"
    TOPIC_DELETE = "topic.delete", "Delete topic"
    ACCESS_GRANT = "access.grant", "Grant access"
    ACCESS_REVOKE = "access.revoke", "Revoke access"


class AutoApprovalRule(models.Model):
    """Requests matching an enabled rule are approved at once, recorded as 'approved by rule <name>'."""

    name = models.CharField(max_length=100, unique=True)
    enabled = models.BooleanField(default=True)
    kind = models.CharField(max_length=30, choices=RequestKind.choices)
    environment = models.CharField(
        max_length=10, choices=Environment.choices, blank=True, help_text="Empty: any environment."
    )
    max_partitions = models.PositiveIntegerField(
        null=True, blank=True, help_text="Topic requests only: at most this many partitions."
    )
    require_headroom = models.BooleanField(
        default=True, help_text="Only when the request raises no quota warning (stays under the soft limit)."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Request(models.Model):
    Kind = RequestKind

    class Status(models.TextChoices):
        SUBMITTED = "submitted", "Submitted"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"

    OPEN = (Status.SUBMITTED,)
    DECIDED = (Status.APPROVED, Status.REJECTED, Status.CANCELLED)
    TRANSITIONS = {
        Status.SUBMITTED: {Status.APPROVED, Status.REJECTED, Status.CANCELLED},
        Status.APPROVED: set(),
        Status.REJECTED: set(),
        Status.CANCELLED: set(),
    }

    kind = models.CharField(max_length=30, choices=Kind.choices)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.SUBMITTED)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="requests")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="requests"
    )
    environment = models.CharField(max_length=10, choices=Environment.choices)
    summary = models.CharField(max_length=300)
    justification = models.TextField(blank=True)
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    assessment = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    has_warnings = models.BooleanField(default=False)
    # Wide enough for any estimate the validated inputs allow (retention up to Kafka's long max).
    estimated_monthly_cost = models.DecimalField(max_digits=20, decimal_places=2, default=Decimal(0))
    cluster = models.ForeignKey(
        Cluster, null=True, blank=True, on_delete=models.PROTECT, related_name="requests"
    )
    topic = models.ForeignKey(Topic, null=True, blank=True, on_delete=models.PROTECT, related_name="requests")
    grant = models.ForeignKey(
        AccessGrant, null=True, blank=True, on_delete=models.PROTECT, related_name="requests"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    approved_by_rule = models.ForeignKey(
        AutoApprovalRule, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        # One per page order: everyone's newest first, a team's newest first, the queue's oldest first;
        # a team's open requests, which the dashboard counts from the index alone; and the requests someone
        # filed ("Filed by me"), counted the same way.
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="request_created"),
            models.Index(fields=["team", "-created_at", "-id"], name="request_team_created"),
            models.Index(fields=["status", "created_at", "id"], name="request_status_created"),
            models.Index(fields=["team", "status"], name="request_team_status"),
            models.Index(fields=["requested_by", "team"], name="request_requester_team"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()}: {self.summary}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN


class RequestEvent(AppendOnlyModel):
    """One transition (or attempt) of a request: the request's own history, shown on its page."""

    request = models.ForeignKey(Request, on_delete=models.PROTECT, related_name="events")
    created_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    from_status = models.CharField(max_length=15, blank=True)
    to_status = models.CharField(max_length=15)
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"#{self.request_id}: {self.from_status or '∅'} → {self.to_status}"


class IdempotencyKey(models.Model):
    """Replays the first answer to an API create (or bulk decision) retried with the same Idempotency-Key
    header.

    The row is the claim: inserted before the request is validated, in the transaction that creates it
    (or decides them), so a concurrent repeat waits on the unique key until the first attempt commits
    (then replays its answer) or rolls back (then runs itself). `request` (a create's; none for a bulk
    decision) and `answer` are filled in before that commit.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)
    request = models.ForeignKey(Request, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    # The first answer's JSON text, replayed as it was (jsonb would not keep its key order).
    answer = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_unique_user_key")]

    def __str__(self) -> str:
        return f"{self.key} → request #{self.request_id}" if self.request_id else f"{self.key} → answered"


class ProvisioningEvent(AppendOnlyModel):
    """One provisioning step (or attempt) on a cluster, topic or grant: the log behind their status."""

    created_at = models.DateTimeField(default=timezone.now)
    cluster = models.ForeignKey(
        Cluster, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    topic = models.ForeignKey(Topic, null=True, blank=True, on_delete=models.PROTECT, related_name="events")
    grant = models.ForeignKey(
        AccessGrant, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    replicator = models.ForeignKey(
        "Replicator", null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    from_status = models.CharField(max_length=15, blank=True)
    to_status = models.CharField(max_length=15, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '∅'} → {self.to_status}: {self.note[:60]}"


# --- The local provider's simulated MSK (shared by web, worker and beat through the database) -------


class DriftFinding(models.Model):
    """A difference between the portal's inventory and what MSK reports, for admins to adopt or fix."""

    class Kind(models.TextChoices):
        MISSING = "missing", "Deleted outside the portal"
        UNKNOWN = "unknown", "Created outside the portal"
        RETAGGED = "retagged", "Tags changed outside the portal"

    account = models.ForeignKey(AwsAccount, on_delete=models.PROTECT, related_name="drift_findings")
    region = models.CharField(max_length=20)
    cluster = models.ForeignKey(
        Cluster, null=True, blank=True, on_delete=models.PROTECT, related_name="drift"
    )
    arn = models.CharField(max_length=2048)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    detail = models.TextField()
    detected_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-detected_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["arn", "kind"],
                condition=Q(resolved_at__isnull=True),
                name="drift_one_open_per_arn_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.arn}"


class Replicator(models.Model):
    """The MSK Replicator feeding a read cluster from its write cluster (costs belong to the read team)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for both clusters"
        CREATING = "creating", "Creating"
        ACTIVE = "active", "Running"
        FAILED = "failed", "Failed"
        DELETED = "deleted", "Deleted"

    TRANSITIONS = {
        Status.PENDING: {Status.CREATING, Status.DELETED},
        Status.CREATING: {Status.ACTIVE, Status.FAILED, Status.DELETED},
        Status.ACTIVE: {Status.DELETED},
        Status.FAILED: {Status.CREATING, Status.DELETED},  # retry; deleted with its read cluster
        Status.DELETED: set(),
    }

    read_cluster = models.OneToOneField(Cluster, on_delete=models.PROTECT, related_name="replicator")
    source_cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="outgoing_replicators")
    topics = models.JSONField(default=list)
    arn = models.CharField(max_length=2048, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    status_reason = models.TextField(blank=True)
    status_changed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.source_cluster.name} → {self.read_cluster.name}"

    @property
    def name(self) -> str:
        return f"{self.read_cluster.name}-from-{self.source_cluster.name}"[:128]


class SentNotification(models.Model):
    """One notification per request event: a redelivered task does not email people twice."""

    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=20)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["request", "event"], name="notification_once_per_event")
        ]

    def __str__(self) -> str:
        return f"#{self.request_id} {self.event}"


# Observability (issue 14) keeps its models in its own sub-package; importing them here registers them.
from clusters.observability.models import (  # noqa: E402, F401
    AlertEpisode,
    AlertEvent,
    AlertRule,
    GroupLagSample,
    TopicSample,
)
