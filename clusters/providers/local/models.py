"""The simulated MSK's state: clusters, topics, IAM grants and replicators as the local provider keeps
them, in the database so the web server, workers and beat see one MSK. Installed only with
MSK_PROVIDER=local, so a production schema has none of these tables.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class LocalMskCluster(models.Model):
    account_id = models.CharField(max_length=12)
    region = models.CharField(max_length=20)
    name = models.CharField(max_length=64)
    arn = models.CharField(max_length=2048, unique=True)
    tags = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account_id", "region", "name"],
                condition=Q(deleted_at__isnull=True),
                name="local_msk_live_cluster_name",
            )
        ]

    def __str__(self) -> str:
        return self.arn


class LocalMskTopic(models.Model):
    cluster_arn = models.CharField(max_length=2048)
    name = models.CharField(max_length=249)
    partitions = models.PositiveIntegerField()
    configs = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cluster_arn", "name"], name="local_msk_topic_per_cluster")
        ]

    def __str__(self) -> str:
        return self.name


class LocalMskGrant(models.Model):
    account_id = models.CharField(max_length=12)
    principal_arn = models.CharField(max_length=2048)
    policy_name = models.CharField(max_length=128)
    document = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["principal_arn", "policy_name"], name="local_msk_policy_per_principal"
            )
        ]

    def __str__(self) -> str:
        return f"{self.policy_name} on {self.principal_arn}"


class LocalMskReplicator(models.Model):
    """The local provider's simulated MSK Replicators."""

    name = models.CharField(max_length=128, unique=True)
    arn = models.CharField(max_length=2048, unique=True)
    source_arn = models.CharField(max_length=2048)
    target_arn = models.CharField(max_length=2048)
    topics = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name
