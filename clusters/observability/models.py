"""Metric samples, alert rules and alert episodes (registered in the `clusters` app).

Samples hold rates (bytes or messages per second, averaged over the point's period) and lags (the maximum over
the period). One row per subject, resolution and point start: collecting the same window again overwrites,
never duplicates. Episodes follow the portal's workflow rule: one status field moved by compare-and-set
(`portal.transitions.move`, against `AlertEpisode.TRANSITIONS`), and an append-only event log; at most one
*open* episode per rule and subject, enforced by a partial unique constraint so two workers evaluating at once
never open (and notify) twice.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from portal.models import AppendOnlyModel


class Resolution(models.TextChoices):
    FIVE_MINUTES = "5m", "5 minutes"
    HOUR = "1h", "1 hour"


RESOLUTION_SECONDS = {Resolution.FIVE_MINUTES: 300, Resolution.HOUR: 3600}


class TopicSample(models.Model):
    """A topic's traffic during [at, at + resolution): per-second averages of the CloudWatch sums."""

    topic = models.ForeignKey("clusters.Topic", on_delete=models.CASCADE, related_name="samples")
    resolution = models.CharField(max_length=2, choices=Resolution.choices)
    at = models.DateTimeField()
    bytes_in_per_sec = models.FloatField(default=0)
    bytes_out_per_sec = models.FloatField(default=0)
    messages_in_per_sec = models.FloatField(default=0)

    class Meta:
        app_label = "clusters"
        constraints = [
            models.UniqueConstraint(fields=["topic", "resolution", "at"], name="topic_sample_unique_point")
        ]
        indexes = [models.Index(fields=["resolution", "at"], name="topic_sample_age")]

    def __str__(self) -> str:
        return f"topic {self.topic_id} at {self.at:%Y-%m-%d %H:%M} ({self.resolution})"


class GroupLagSample(models.Model):
    """One consumer group's lag on one topic during [at, at + resolution): maxima over the period.

    MSK emits lag only for groups in STABLE or EMPTY state with committed offsets, and none for a group
    whose name contains ':' — such groups simply have no rows.
    """

    topic = models.ForeignKey("clusters.Topic", on_delete=models.CASCADE, related_name="lag_samples")
    consumer_group = models.CharField(max_length=255)
    resolution = models.CharField(max_length=2, choices=Resolution.choices)
    at = models.DateTimeField()
    max_offset_lag = models.FloatField(default=0)
    sum_offset_lag = models.FloatField(default=0)
    max_time_lag_seconds = models.FloatField(default=0)

    class Meta:
        app_label = "clusters"
        constraints = [
            models.UniqueConstraint(
                fields=["topic", "consumer_group", "resolution", "at"], name="group_lag_sample_unique_point"
            )
        ]
        indexes = [models.Index(fields=["resolution", "at"], name="group_lag_sample_age")]

    def __str__(self) -> str:
        return (
            f"{self.consumer_group} on topic {self.topic_id} at {self.at:%Y-%m-%d %H:%M} ({self.resolution})"
        )


class AlertRule(models.Model):
    """What counts as trouble. Three rows exist from the start (a data migration); admins tune them."""

    class Kind(models.TextChoices):
        TOPIC_THROUGHPUT = "topic_throughput", "Topic near its partitions' throughput"
        GROUP_LAG = "group_lag", "Consumer group falling behind"
        CLUSTER_THROUGHPUT = "cluster_throughput", "Cluster near its ingress/egress limit"

    kind = models.CharField(max_length=20, choices=Kind.choices, unique=True)
    enabled = models.BooleanField(default=True)
    percent_of_limit = models.PositiveIntegerField(
        default=80,
        help_text="Throughput rules: fire above this share of the limit (partitions × 5 / × 10 "
        "MB/s for a topic; the cluster quotas in Platform settings for a cluster).",
    )
    for_minutes = models.PositiveIntegerField(
        default=15, help_text="How long the condition must hold (throughput) or the lag must keep growing."
    )
    lag_seconds = models.PositiveIntegerField(
        default=600, help_text="Group lag rule: fire at once when the estimated time lag exceeds this."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "clusters"
        ordering = ["kind"]

    def __str__(self) -> str:
        return self.get_kind_display()

    @classmethod
    def ensure_defaults(cls, using: str | None = None) -> None:
        """The three rules with their defaults, if missing (the migration creates them; a flushed or
        hand-emptied table gets them back rather than silently alerting on nothing)."""
        rules = cls.objects.db_manager(using)  # None: the router's database
        if rules.count() < len(cls.Kind):
            for kind, for_minutes in DEFAULT_FOR_MINUTES.items():
                rules.get_or_create(kind=kind, defaults={"for_minutes": for_minutes})


DEFAULT_FOR_MINUTES = {
    AlertRule.Kind.TOPIC_THROUGHPUT: 15,
    AlertRule.Kind.GROUP_LAG: 10,
    AlertRule.Kind.CLUSTER_THROUGHPUT: 15,
}


class AlertEpisode(models.Model):
    """One stretch of time a rule's condition held for one subject (topic, group × topic, or cluster)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    # A resolved episode stays resolved: the condition holding again opens a new episode.
    TRANSITIONS = {Status.OPEN: {Status.RESOLVED}, Status.RESOLVED: set()}

    rule = models.ForeignKey(AlertRule, on_delete=models.PROTECT, related_name="episodes")
    # "topic:12", "group:12:orders-app", "cluster:3": the unique key of an open episode.
    subject_key = models.CharField(max_length=400)
    cluster = models.ForeignKey("clusters.Cluster", on_delete=models.CASCADE, related_name="alert_episodes")
    topic = models.ForeignKey(
        "clusters.Topic", null=True, blank=True, on_delete=models.CASCADE, related_name="alert_episodes"
    )
    consumer_group = models.CharField(max_length=255, blank=True)
    team = models.ForeignKey("portal.Team", on_delete=models.PROTECT, related_name="alert_episodes")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    summary = models.CharField(max_length=300)
    peak = models.FloatField(default=0, help_text="Worst value seen (bytes/s or seconds of lag).")
    opened_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Send-once claims (compare-and-set from null): the opening and the clearing message.
    opened_notified_at = models.DateTimeField(null=True, blank=True)
    resolved_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "clusters"
        ordering = ["-opened_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "subject_key"], condition=Q(status="open"), name="alert_one_open_episode"
            )
        ]
        indexes = [
            models.Index(fields=["topic", "-opened_at"], name="alert_episode_topic"),
            models.Index(fields=["team", "status"], name="alert_episode_team"),
        ]

    def __str__(self) -> str:
        return self.summary


class AlertEvent(AppendOnlyModel):
    """The episode's history: opened, peak updates are not logged (the episode keeps the peak), resolved."""

    episode = models.ForeignKey(AlertEpisode, on_delete=models.PROTECT, related_name="events")
    created_at = models.DateTimeField(default=timezone.now)
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10)
    value = models.FloatField(default=0)
    note = models.TextField(blank=True)

    class Meta:
        app_label = "clusters"
        ordering = ["created_at", "pk"]
