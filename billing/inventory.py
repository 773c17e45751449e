"""What the collector, a chargeback run and the forecast read of the inventory alike: the clusters and
topics alive in a window, and who pays (a team; the platform team for what nobody owns)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q

from billing.allocation import Payer
from clusters.models import Cluster, PlatformSettings, Topic, TopicPartitionChange
from portal.models import Team


def clusters_alive(start: dt.datetime, end: dt.datetime):
    """Clusters that were active at some moment in [start, end)."""
    return (
        Cluster.objects.filter(active_since__lt=end)
        .filter(Q(deleted_at__isnull=True) | Q(deleted_at__gt=start))
        .exclude(arn="")
    )


def topics_alive(clusters, start: dt.datetime, end: dt.datetime):
    """Topics that existed at some moment in [start, end), by their partition history."""
    gone_before = TopicPartitionChange.objects.filter(partitions=0, changed_at__lte=start).values("topic_id")
    started = TopicPartitionChange.objects.filter(changed_at__lt=end).values("topic_id")
    return Topic.objects.filter(cluster__in=clusters, pk__in=started).exclude(pk__in=gone_before)


def payer(team: Team) -> Payer:
    return Payer(team.name, team.cost_center, team.pk)


def platform_payer() -> Payer:
    team = PlatformSettings.current().platform_team
    return payer(team) if team else Payer("Platform (unassigned)")
