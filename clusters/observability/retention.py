"""Downsampling (beat, hourly): 5-minute points older than OBSERVABILITY_FINE_DAYS become hourly points,
hourly points older than OBSERVABILITY_COARSE_DAYS are dropped.

An hourly point is the mean of the hour's 5-minute rates (a missing 5-minute point does not count as zero)
and the maximum of its lags. Only whole hours are rolled up, and the roll-up is an upsert followed by the
delete of the rolled-up rows in one transaction: running it twice, or two at once, changes nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Avg, Max
from django.db.models.functions import TruncHour
from django.utils import timezone

from clusters.observability.models import GroupLagSample, Resolution, TopicSample

BATCH = 2000


@dataclass
class DownsampleResult:
    hourly_written: int = 0
    fine_deleted: int = 0
    coarse_deleted: int = 0


def downsample(now: datetime | None = None) -> DownsampleResult:
    now = now or timezone.now()
    fine_before = (now - timedelta(days=settings.OBSERVABILITY_FINE_DAYS)).replace(
        minute=0, second=0, microsecond=0
    )
    coarse_before = now - timedelta(days=settings.OBSERVABILITY_COARSE_DAYS)
    result = DownsampleResult()
    with transaction.atomic():
        for model, keys, averaged, maximised in (
            (TopicSample, ["topic_id"], ["bytes_in_per_sec", "bytes_out_per_sec", "messages_in_per_sec"], []),
            (
                GroupLagSample,
                ["topic_id", "consumer_group"],
                [],
                ["max_offset_lag", "sum_offset_lag", "max_time_lag_seconds"],
            ),
        ):
            fine = model.objects.filter(resolution=Resolution.FIVE_MINUTES, at__lt=fine_before)
            hours = (
                fine.annotate(hour=TruncHour("at"))
                .values(*keys, "hour")
                .annotate(**{name: Avg(name) for name in averaged}, **{name: Max(name) for name in maximised})
            )
            rows = [
                model(
                    resolution=Resolution.HOUR,
                    at=row.pop("hour"),
                    **{key: row.pop(key) for key in keys},
                    **row,
                )
                for row in hours
            ]
            model.objects.bulk_create(
                rows,
                batch_size=BATCH,
                update_conflicts=True,
                unique_fields=[key.removesuffix("_id") for key in keys] + ["resolution", "at"],
                update_fields=averaged + maximised,
            )
            result.hourly_written += len(rows)
            result.fine_deleted += fine.delete()[0]
            result.coarse_deleted += model.objects.filter(
                resolution=Resolution.HOUR, at__lt=coarse_before
            ).delete()[0]
    return result
