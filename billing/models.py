from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from clusters.models import REGION_CHOICES


class RateCard(models.Model):
    """MSK Serverless unit prices for a region from a date on (admin-editable).

    A month is priced whole by the card in force on its 1st: the newest card whose `effective_from` is not
    after the first of the month (a card effective mid-month prices the next month on). With no card, the
    us-east-1 list prices in `billing.pricing.LIST_PRICES` apply.
    """

    region = models.CharField(max_length=20, choices=REGION_CHOICES)
    effective_from = models.DateField(default=timezone.now)
    cluster_hour = models.DecimalField("USD per cluster-hour", max_digits=10, decimal_places=6)
    partition_hour = models.DecimalField("USD per partition-hour", max_digits=10, decimal_places=6)
    gib_in = models.DecimalField("USD per GiB written", max_digits=10, decimal_places=6)
    gib_out = models.DecimalField("USD per GiB read", max_digits=10, decimal_places=6)
    gib_month = models.DecimalField("USD per GiB-month stored", max_digits=10, decimal_places=6)

    class Meta:
        ordering = ["region", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["region", "effective_from"], name="ratecard_unique_region_date")
        ]

    def __str__(self) -> str:
        return f"{self.region} from {self.effective_from}"

    def clean(self):
        from django.core.exceptions import ValidationError

        for field in ("cluster_hour", "partition_hour", "gib_in", "gib_out", "gib_month"):
            value = getattr(self, field)
            if value is not None and value < Decimal(0):
                raise ValidationError({field: "Prices cannot be negative."})


class TopicDailyUsage(models.Model):
    """Bytes one topic took in (or served) on one UTC day, as CloudWatch or the local provider reports them.

    Unique per cluster, topic, day and metric: collecting a day again overwrites it (idempotent).
    """

    class Metric(models.TextChoices):
        BYTES_IN = "bytes_in", "Bytes in (BytesInPerSec)"
        BYTES_OUT = "bytes_out", "Bytes out (BytesOutPerSec)"

    cluster = models.ForeignKey("clusters.Cluster", on_delete=models.PROTECT, related_name="daily_usage")
    topic_name = models.CharField(max_length=249)
    day = models.DateField()
    metric = models.CharField(max_length=10, choices=Metric.choices)
    bytes = models.PositiveBigIntegerField()
    collected_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "topic_name", "day", "metric"],
                name="usage_unique_cluster_topic_day_metric",
            )
        ]
        indexes = [models.Index(fields=["day", "cluster"], name="usage_day_cluster")]

    def __str__(self) -> str:
        return f"{self.topic_name} {self.metric} {self.day}: {self.bytes}"


class ChargebackRun(models.Model):
    """One month's chargeback: provisional (recomputed as data arrives) until finance finalizes it."""

    class Status(models.TextChoices):
        PROVISIONAL = "provisional", "Provisional"
        FINALIZED = "finalized", "Finalized"

    month = models.DateField(unique=True, help_text="First day of the month (UTC).")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PROVISIONAL)
    computed_at = models.DateTimeField(null=True, blank=True)
    metered_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The lines charge the month up to this instant: every clock hour started before it.",
    )
    total_usd = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))
    line_count = models.PositiveIntegerField(default=0)
    finalized_at = models.DateTimeField(null=True, blank=True)
    finalized_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    scale_shared_to_actual = models.BooleanField(
        default=False,
        help_text="Scale each shared cluster's lines so they add up to its actual cost from the AWS bill.",
    )

    class Meta:
        ordering = ["-month"]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} ({self.status})"

    @property
    def label(self) -> str:
        return f"{self.month:%Y-%m}"


class ActualCost(models.Model):
    """A cluster's actual MSK cost for a run's month, from Cost Explorer (by the portal-cluster-id tag)."""

    run = models.ForeignKey(ChargebackRun, on_delete=models.CASCADE, related_name="actual_costs")
    cluster = models.ForeignKey("clusters.Cluster", on_delete=models.PROTECT, related_name="+")
    amount_usd = models.DecimalField(max_digits=14, decimal_places=2)
    fetched_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "cluster"]
        constraints = [
            models.UniqueConstraint(fields=["run", "cluster"], name="actual_cost_unique_run_cluster")
        ]

    def __str__(self) -> str:
        return f"{self.cluster} {self.amount_usd}"


class ChargebackLine(models.Model):
    """One priced, allocated quantity: who pays what for which cluster/topic and why.

    Names, cost centers and prices are copied in, so a finalized month never changes when teams, clusters
    or rate cards do later.
    """

    class ChargeType(models.TextChoices):
        CLUSTER_HOURS = "cluster_hours", "Cluster-hours"
        PARTITION_HOURS = "partition_hours", "Partition-hours"
        DATA_IN = "data_in", "Data in"
        DATA_OUT = "data_out", "Data out"
        STORAGE = "storage", "Storage (estimate)"

    class Basis(models.TextChoices):
        DEDICATED = "dedicated", "Dedicated cluster"
        TOPIC_OWNER = "topic_owner", "Topic owner"
        USAGE_SHARE = "usage_share", "Share of the cluster's bytes"
        EVEN_SPLIT = "even_split", "Even split (no traffic)"
        UNATTRIBUTED = "unattributed", "Unattributed (platform team)"

    run = models.ForeignKey(ChargebackRun, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    team = models.ForeignKey("portal.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    team_name = models.CharField(max_length=100)
    cost_center = models.CharField(max_length=64, blank=True)
    cluster = models.ForeignKey(
        "clusters.Cluster", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cluster_name = models.CharField(max_length=64)
    cluster_arn = models.CharField(max_length=2048, blank=True)
    region = models.CharField(max_length=20)
    account_id = models.CharField(max_length=12)
    environment = models.CharField(max_length=10, blank=True)
    topic_name = models.CharField(max_length=249, blank=True)
    charge_type = models.CharField(max_length=16, choices=ChargeType.choices)
    quantity = models.DecimalField(max_digits=20, decimal_places=6)
    unit = models.CharField(max_length=20)
    unit_price_usd = models.DecimalField(max_digits=12, decimal_places=6)
    cost_usd = models.DecimalField(max_digits=14, decimal_places=2)
    allocation_basis = models.CharField(max_length=12, choices=Basis.choices)
    allocation_ratio = models.DecimalField(max_digits=9, decimal_places=6)

    class Meta:
        ordering = ["run", "position"]
        constraints = [models.UniqueConstraint(fields=["run", "position"], name="chargeback_line_position")]
        indexes = [models.Index(fields=["run", "team"], name="chargeback_line_run_team")]

    def __str__(self) -> str:
        return f"{self.team_name} {self.charge_type} {self.cost_usd}"


class BudgetAlert(models.Model):
    """A budget threshold a team crossed in a month: sent once."""

    team = models.ForeignKey("portal.Team", on_delete=models.CASCADE, related_name="budget_alerts")
    month = models.DateField()
    threshold_percent = models.PositiveIntegerField()
    spent_usd = models.DecimalField(max_digits=14, decimal_places=2)
    budget_usd = models.DecimalField(max_digits=12, decimal_places=2)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-month", "threshold_percent"]
        constraints = [
            models.UniqueConstraint(fields=["team", "month", "threshold_percent"], name="budget_alert_once")
        ]

    def __str__(self) -> str:
        return f"{self.team} reached {self.threshold_percent} % in {self.month:%Y-%m}"
