"""Which hours and days a run charges: the metering rules in one place (pure functions, no ORM).

- **Started hour**: hours are metered per started clock hour, as AWS meters cluster- and partition-hours.
  A change *up* (cluster became active, topic created, partitions added) counts from the start of the hour
  it happened in; a change *down* (cluster or topic deleted) counts from the end of its hour; each clock
  hour is charged at the highest level it saw. A deletion at exactly hh:00:00 is not charged for that
  hour (nothing existed in it). So a cluster active 10:20 → deleted 12:05 costs 3 cluster-hours
  (10:00-13:00).
- **Month to date**: a month is metered up to `metered_until(month, now)`: every clock hour from the 1st up
  to and including the one `now` falls in (a past month: all of it; a month not begun: none of it).
  Storage counts the days those hours touch (`metered_days`); data counts what was collected on them.
- **Days**: a day counts for a topic when at least one of its hours is charged (`DayMeter`); its
  partition count that day is the highest count charged in any of its hours.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from itertools import pairwise

from billing.months import month_bounds

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def hour_of(moment: dt.datetime) -> dt.datetime:
    """The start of the UTC clock hour `moment` falls in."""
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def metered_until(month: dt.date, now: dt.datetime) -> dt.datetime:
    """The end of what `month`'s run charges at `now`: the end of the clock hour `now` falls in (that
    hour is a started hour), kept within the month."""
    start, end = month_bounds(month)
    return min(max(hour_of(now) + HOUR, start), end)


def metered_days(month: dt.date, until: dt.datetime) -> list[dt.date]:
    """The month's UTC days with at least one metered hour before `until`."""
    start = month_bounds(month)[0]
    count = max(0, -(-(until - start) // DAY))  # days started before `until`
    return [month + dt.timedelta(days=offset) for offset in range(count)]


def lifetime_changes(active_since: dt.datetime | None, deleted_at: dt.datetime | None):
    """A cluster's life as level changes: 1 while active, 0 once deleted."""
    changes = []
    if active_since is not None:
        changes.append((active_since, 1))
        if deleted_at is not None:
            changes.append((deleted_at, 0))
    return changes


def clip_to_lifetime(changes, alive_from, alive_until):
    """A topic's partition history limited to a cluster's lifetime (a source topic's partitions as they are
    replicated on a read cluster)."""
    if alive_from is None:
        return []
    clipped, level_at_start = [], 0
    for when, level in changes:
        if when <= alive_from:
            level_at_start = level
        elif alive_until is None or when < alive_until:
            clipped.append((when, level))
    if level_at_start:
        clipped.insert(0, (alive_from, level_at_start))
    if alive_until is not None:
        clipped.append((alive_until, 0))
    return clipped


def charged_segments(
    changes: Iterable[tuple[dt.datetime, int]],
) -> list[tuple[dt.datetime, dt.datetime | None, int]]:
    """A step function given as (when, new level) as the levels charged per clock hour: hour-aligned
    (from, until, level) segments, the last one open (until None).

    The level is 0 before the first change; each clock hour is charged at the highest level it saw, and
    an hour whose first change is exactly on the hour never saw the level before it. Of several changes at
    one instant only the last counts: the levels before it lasted no time (a cluster deleted the instant
    it became active was never seen, and costs nothing).
    """
    at_instant: dict[dt.datetime, int] = {}
    for moment, level in sorted(changes, key=lambda change: change[0]):
        at_instant[moment] = level
    by_hour: dict[dt.datetime, list[int]] = {}
    starts_on_the_hour: set[dt.datetime] = set()
    for moment, level in at_instant.items():
        hour = hour_of(moment)
        if hour not in by_hour and moment == hour:
            starts_on_the_hour.add(hour)
        by_hour.setdefault(hour, []).append(level)
    segments: list[tuple[dt.datetime, dt.datetime | None, int]] = []

    def add(since: dt.datetime, until: dt.datetime | None, level: int) -> None:
        if segments and segments[-1][2] == level and segments[-1][1] == since:
            since = segments.pop()[0]  # the same level goes on: one segment
        segments.append((since, until, level))

    hours = list(by_hour)
    level = 0
    for index, hour in enumerate(hours):
        seen = by_hour[hour] if hour in starts_on_the_hour else [level, *by_hour[hour]]
        add(hour, hour + HOUR, max(seen))
        level = by_hour[hour][-1]
        until = hours[index + 1] if index + 1 < len(hours) else None
        if until is None or until > hour + HOUR:
            add(hour + HOUR, until, level)
    return segments


def _overlap_hours(
    since: dt.datetime, until: dt.datetime | None, start: dt.datetime, end: dt.datetime
) -> int:
    overlap = (end if until is None else min(until, end)) - max(since, start)
    return max(0, int(overlap / HOUR))


def level_hours(changes: Iterable[tuple[dt.datetime, int]], start: dt.datetime, end: dt.datetime) -> int:
    """Σ level × hours within [start, end) (hour-aligned), by the started-hour rule."""
    return sum(
        level * _overlap_hours(since, until, start, end) for since, until, level in charged_segments(changes)
    )


class DayMeter:
    """One topic's charged hours per UTC day, from its partition history: how many hours it existed on a
    day (it counts for that day's traffic and storage when > 0) and its highest partition count that day."""

    __slots__ = ("_contiguous", "_first_day", "_last_day", "born", "segments")

    def __init__(self, segments: Iterable[tuple[dt.datetime, dt.datetime | None, int]]):
        self.segments = tuple(segments)
        self.born = self.segments[0][0] if self.segments else None
        # The days from the first charged hour to the last, for the usual one-stretch life (asked once per
        # row of traffic, so kept to two date comparisons).
        self._contiguous = all(a[1] == b[0] for a, b in pairwise(self.segments))
        if self.segments:
            last = self.segments[-1][1]
            self._first_day = self.born.date()
            self._last_day = dt.date.max if last is None else (last - dt.timedelta(microseconds=1)).date()

    @classmethod
    def of(cls, changes: Iterable[tuple[dt.datetime, int]]) -> DayMeter:
        return cls(segment for segment in charged_segments(changes) if segment[2] > 0)

    def there_on(self, day: dt.date) -> bool:
        """Whether at least one hour of `day` is charged."""
        if not self.segments:
            return False
        if self._contiguous:
            return self._first_day <= day <= self._last_day
        return self.hours_on(day) > 0

    def level_hours(self, start: dt.datetime, end: dt.datetime) -> int:
        """`level_hours` of the history this meter was made of (its zero-level hours add nothing)."""
        return sum(level * _overlap_hours(since, until, start, end) for since, until, level in self.segments)

    def hours_on(self, day: dt.date) -> int:
        start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        end = start + DAY
        return sum(_overlap_hours(since, until, start, end) for since, until, _ in self.segments)

    def partitions_by_day(self, days: list[dt.date]) -> dict[dt.date, int]:
        """`partitions_on` for each of `days` (consecutive) on which the topic was there."""
        if not days:
            return {}
        start = dt.datetime.combine(days[0], dt.time(), tzinfo=dt.UTC)
        end = start + DAY * len(days)
        found: dict[dt.date, int] = {}
        for since, until, level in self.segments:
            low, high = max(since, start), end if until is None else min(until, end)
            for index in range((low - start) // DAY, -(-(high - start) // DAY)):
                day = days[index]
                found[day] = max(found.get(day, 0), level)
        return found

    def partitions_on(self, day: dt.date) -> int:
        """The highest partition count charged in any hour of `day` (0: not there that day)."""
        start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        end = start + DAY
        return max(
            (
                level
                for since, until, level in self.segments
                if since < end and (until is None or until > start)
            ),
            default=0,
        )
