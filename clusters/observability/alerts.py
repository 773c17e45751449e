"""Alert rules evaluated at a clock (beat, after each collection): episodes open, peak and resolve.

- topic throughput: every 5-minute point of the last `for_minutes` is above `percent_of_limit` of the
  topic's partitions' throughput (in: partitions × 5 MB/s, or out: partitions × 10 MB/s);
- group lag: the estimated time lag rose at every point of the last `for_minutes` (and is at least
  MIN_GROWING_LAG_SECONDS, so a healthy consumer's jitter is no alert), or its latest point exceeds
  `lag_seconds`;
- cluster throughput: every point of the last `for_minutes` is above `percent_of_limit` of the cluster's
  ingress or egress quota (Platform settings, 200 / 400 MB/s by default).

An open episode resolves once the subject's latest point no longer meets the rule's threshold (or the subject
sent nothing for the whole window) — opening needs the condition to hold, clearing needs it to stop, so a
single dip does not make an episode flap. A missing latest point (collection still catching up) keeps the
episode open. Opening is an insert guarded by the partial unique constraint "one open episode per rule and
subject": of two workers evaluating at once, one opens and the other gets IntegrityError and moves on.
Resolving is a compare-and-set on the status (`portal.transitions.move`, against `AlertEpisode.TRANSITIONS`).
Each transition writes an AlertEvent and enqueues its notification after commit; the notification itself is
sent once (`notify.py`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from clusters.models import Cluster, Topic
from clusters.observability.collect import POINT_SECONDS, floor_point
from clusters.observability.limits import MB, PARTITION_IN, PARTITION_OUT, cluster_limits
from clusters.observability.models import (
    AlertEpisode,
    AlertEvent,
    AlertRule,
    GroupLagSample,
    Resolution,
    TopicSample,
)
from clusters.observability.words import lag_duration
from portal import transitions

logger = logging.getLogger(__name__)

MIN_GROWING_LAG_SECONDS = 60
POINT = timedelta(seconds=POINT_SECONDS)


@dataclass(frozen=True)
class Condition:
    """A subject meeting a rule now: who it belongs to, its worst value, and the sentence an alert reads."""

    cluster_id: int
    team_id: int
    value: float
    summary: str
    topic_id: int | None = None
    consumer_group: str = ""


@dataclass
class EvaluationResult:
    opened: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    renotified: int = 0


def evaluate(now: datetime | None = None) -> EvaluationResult:
    now = floor_point(now or timezone.now())
    result = EvaluationResult()
    AlertRule.ensure_defaults()
    finders = {
        AlertRule.Kind.TOPIC_THROUGHPUT: _topic_throughput,
        AlertRule.Kind.GROUP_LAG: _group_lag,
        AlertRule.Kind.CLUSTER_THROUGHPUT: _cluster_throughput,
    }
    for rule in AlertRule.objects.all():
        open_keys = set(
            AlertEpisode.objects.filter(rule=rule, status=AlertEpisode.Status.OPEN).values_list(
                "subject_key", flat=True
            )
        )
        if rule.enabled:
            firing, clear = finders[rule.kind](rule, now, open_keys)
        else:
            firing, clear = {}, open_keys  # a rule switched off closes its episodes
        for key, condition in firing.items():
            if key in open_keys:
                AlertEpisode.objects.filter(
                    rule=rule, subject_key=key, status=AlertEpisode.Status.OPEN, peak__lt=condition.value
                ).update(peak=condition.value)
            else:
                episode_id = _open(rule, key, condition, now)
                if episode_id:
                    result.opened.append(episode_id)
        for key in clear & open_keys:
            episode_id = _resolve(rule, key, now, "switched off" if not rule.enabled else "")
            if episode_id:
                result.resolved.append(episode_id)
    result.renotified = _enqueue_lost_notifications(now)
    return result


def _enqueue(episode_id: int, event: str) -> None:
    from clusters.observability.tasks import notify_episode

    notify_episode.delay(episode_id, event)


def _open(rule: AlertRule, key: str, condition: Condition, now: datetime) -> int | None:
    try:
        with transaction.atomic():
            episode = AlertEpisode.objects.create(
                rule=rule,
                subject_key=key,
                cluster_id=condition.cluster_id,
                topic_id=condition.topic_id,
                consumer_group=condition.consumer_group,
                team_id=condition.team_id,
                summary=condition.summary,
                peak=condition.value,
                opened_at=now,
            )
            AlertEvent.objects.create(
                episode=episode,
                created_at=now,
                to_status=AlertEpisode.Status.OPEN,
                value=condition.value,
                note=condition.summary,
            )
    except IntegrityError:
        return None  # another worker opened this episode first
    transaction.on_commit(lambda: _enqueue(episode.pk, "opened"))
    return episode.pk


def _resolve(rule: AlertRule, key: str, now: datetime, why: str) -> int | None:
    with transaction.atomic():
        episode = AlertEpisode.objects.filter(
            rule=rule, subject_key=key, status=AlertEpisode.Status.OPEN
        ).first()
        if episode is None:
            return None
        moved = transitions.move(
            AlertEpisode,
            episode,
            from_status=AlertEpisode.Status.OPEN,
            to_status=AlertEpisode.Status.RESOLVED,
            record=lambda: AlertEvent.objects.create(
                episode=episode,
                created_at=now,
                from_status=AlertEpisode.Status.OPEN,
                to_status=AlertEpisode.Status.RESOLVED,
                note=f"The rule was {why}." if why else "Back under the threshold.",
            ),
            resolved_at=now,
        )
        if not moved:
            return None  # another worker resolved it first
    transaction.on_commit(lambda: _enqueue(episode.pk, "resolved"))
    return episode.pk


def _enqueue_lost_notifications(now: datetime) -> int:
    """Episodes whose notification task was lost (broker down) get it enqueued again; it still sends once."""
    waited = now - timedelta(seconds=settings.PROVISIONING_REDISPATCH_SECONDS)
    too_old = now - timedelta(seconds=settings.NOTIFICATION_RESEND_MAX_AGE_SECONDS)
    lost = [
        *(
            (pk, "opened")
            for pk in AlertEpisode.objects.filter(
                opened_notified_at__isnull=True, opened_at__lt=waited, opened_at__gte=too_old
            ).values_list("pk", flat=True)
        ),
        *(
            (pk, "resolved")
            for pk in AlertEpisode.objects.filter(
                status=AlertEpisode.Status.RESOLVED,
                resolved_notified_at__isnull=True,
                resolved_at__lt=waited,
                resolved_at__gte=too_old,
            ).values_list("pk", flat=True)
        ),
    ]
    for episode_id, event in lost:
        transaction.on_commit(lambda episode_id=episode_id, event=event: _enqueue(episode_id, event))
    return len(lost)


def _points_needed(rule: AlertRule) -> int:
    return max(1, rule.for_minutes * 60 // POINT_SECONDS)


def _subject_ids(open_keys: set[str], prefix: str) -> set[int]:
    return {int(key.split(":")[1]) for key in open_keys if key.startswith(prefix)}


def _topic_throughput(rule: AlertRule, now: datetime, open_keys: set[str]):
    share = rule.percent_of_limit / 100
    needed = _points_needed(rule)
    start, latest = now - needed * POINT, now - POINT
    window = TopicSample.objects.filter(resolution=Resolution.FIVE_MINUTES, at__gte=start, at__lt=now)
    hot = Q(bytes_in_per_sec__gt=share * PARTITION_IN * F("topic__partitions")) | Q(
        bytes_out_per_sec__gt=share * PARTITION_OUT * F("topic__partitions")
    )
    rows = window.filter(hot | Q(topic_id__in=_subject_ids(open_keys, "topic:"))).values_list(
        "topic_id", "at", "bytes_in_per_sec", "bytes_out_per_sec", "topic__partitions"
    )
    points = defaultdict(list)
    for topic_id, at, rate_in, rate_out, partitions in rows:
        ratio = max(rate_in / (partitions * PARTITION_IN), rate_out / (partitions * PARTITION_OUT))
        points[topic_id].append((at, ratio, rate_in, rate_out))
    firing, clear = {}, set()
    topics = {t.pk: t for t in Topic.objects.filter(pk__in=points).select_related("cluster")}
    for topic_id, series in points.items():
        series.sort()
        key = f"topic:{topic_id}"
        if sum(ratio > share for _, ratio, _, _ in series) >= needed:
            topic = topics[topic_id]
            worst = max(series, key=lambda point: point[1])
            firing[key] = Condition(
                cluster_id=topic.cluster_id,
                team_id=topic.team_id,
                topic_id=topic_id,
                value=worst[1] * 100,
                summary=f"Topic {topic.name} on {topic.cluster.name} used {worst[1]:.0%} of its "
                f"{topic.partitions} {_partitions_whose(topic.partitions)} throughput ({worst[2] / MB:,.1f} MB/s in, "
                f"{worst[3] / MB:,.1f} MB/s out) for {rule.for_minutes} minutes",
            )
        elif series[-1][0] == latest and series[-1][1] <= share:
            clear.add(key)
    clear |= {key for key in open_keys if int(key.split(":")[1]) not in points}  # silent for the window
    return firing, clear


def _group_lag(rule: AlertRule, now: datetime, open_keys: set[str]):
    needed = _points_needed(rule)
    start, latest = now - (needed + 1) * POINT, now - POINT
    rows = GroupLagSample.objects.filter(
        resolution=Resolution.FIVE_MINUTES, at__gte=start, at__lt=now, max_time_lag_seconds__gt=0
    ).values_list("topic_id", "consumer_group", "at", "max_time_lag_seconds")
    points = defaultdict(list)
    for topic_id, group, at, lag in rows:
        points[(topic_id, group)].append((at, lag))
    firing, clear, seen = {}, set(), set()
    candidates = {}
    for (topic_id, group), series in points.items():
        series.sort()
        key = f"group:{topic_id}:{group}"
        seen.add(key)
        lags = [lag for _, lag in series]
        growing = (
            len(series) == needed + 1
            and all(b > a for a, b in pairwise(lags))
            and lags[-1] >= MIN_GROWING_LAG_SECONDS
        )
        if growing or (series[-1][0] == latest and lags[-1] > rule.lag_seconds):
            candidates[key] = (topic_id, group, lags[-1], growing)
        elif series[-1][0] == latest and (len(lags) < 2 or lags[-1] <= lags[-2]):
            clear.add(key)
    topics = {
        t.pk: t
        for t in Topic.objects.filter(pk__in={c[0] for c in candidates.values()}).select_related("cluster")
    }
    for key, (topic_id, group, lag, growing) in candidates.items():
        topic = topics[topic_id]
        how = f"its lag grew for {rule.for_minutes} minutes" if growing else f"above {rule.lag_seconds:,} s"
        firing[key] = Condition(
            cluster_id=topic.cluster_id,
            team_id=topic.team_id,
            topic_id=topic_id,
            consumer_group=group,
            value=lag,
            summary=f"Consumer group {group} is {lag_duration(lag)} behind on {topic.name} ({how})",
        )
    clear |= {key for key in open_keys if key not in seen}
    return firing, clear


def _cluster_throughput(rule: AlertRule, now: datetime, open_keys: set[str]):
    share = rule.percent_of_limit / 100
    needed = _points_needed(rule)
    start, latest = now - needed * POINT, now - POINT
    limit_in, limit_out = cluster_limits()
    sums = (
        TopicSample.objects.filter(resolution=Resolution.FIVE_MINUTES, at__gte=start, at__lt=now)
        .values("topic__cluster_id", "at")
        .annotate(rate_in=Sum("bytes_in_per_sec"), rate_out=Sum("bytes_out_per_sec"), topics=Count("pk"))
    )
    points = defaultdict(list)
    for row in sums:
        ratio = max(row["rate_in"] / limit_in, row["rate_out"] / limit_out)
        points[row["topic__cluster_id"]].append((row["at"], ratio, row["rate_in"], row["rate_out"]))
    firing, clear = {}, set()
    clusters = {c.pk: c for c in Cluster.objects.filter(pk__in=points)}
    for cluster_id, series in points.items():
        series.sort()
        key = f"cluster:{cluster_id}"
        if sum(ratio > share for _, ratio, _, _ in series) >= needed:
            cluster = clusters[cluster_id]
            worst = max(series, key=lambda point: point[1])
            firing[key] = Condition(
                cluster_id=cluster_id,
                team_id=cluster.team_id,
                value=worst[1] * 100,
                summary=f"Cluster {cluster.name} used {worst[1]:.0%} of its limits ({worst[2] / MB:,.0f} of "
                f"{limit_in / MB:,.0f} MB/s in, {worst[3] / MB:,.0f} of {limit_out / MB:,.0f} MB/s out) for "
                f"{rule.for_minutes} minutes",
            )
        elif series[-1][0] == latest and series[-1][1] <= share:
            clear.add(key)
    clear |= {key for key in open_keys if int(key.split(":")[1]) not in points}
    return firing, clear


def _partitions_whose(count: int) -> str:
    """ "partition's" for one, "partitions'" for more."""
    return "partition's" if count == 1 else "partitions'"
