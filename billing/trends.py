"""Where a team's money goes and what changed: the top topics by cost with their trend, and one plain
sentence per notable change since last month. Pure functions over plain values (no ORM).

A month is compared with the month before as a whole month: the current month by its forecast to month
end (comparing a half month to date with a whole month would make everything look halved), a past month
by its total. A change is **notable** when it moved by at least NOTABLE_PERCENT % of last month's cost and
by at least NOTABLE_USD: traffic varies from day to day, and a 300 % jump on two cents is noise. A charge
that is new, or that stopped, is notable from NOTABLE_USD.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from billing.pricing import usd

NOTABLE_PERCENT = Decimal(50)
NOTABLE_USD = Decimal("1.00")
TOP_TOPICS = 5
MOST_CHANGES = 8
ZERO = Decimal("0.00")
CHARGE_WORDS = {
    "cluster_hours": "cluster-hours",
    "partition_hours": "partition-hours",
    "data_in": "data in",
    "data_out": "data out",
    "storage": "storage (estimate)",
}


@dataclass(frozen=True)
class Figure:
    """One team's cost of one charge type on one cluster (and topic) in a month and the month before.

    `compared` is what is set against last month: the forecast to month end for the current month, the
    total for a past month."""

    team: str
    cost_center: str
    cluster: str
    topic: str
    charge_type: str
    month_to_date: Decimal
    compared: Decimal
    last_month: Decimal


@dataclass(frozen=True)
class TopicTrend:
    team: str
    cost_center: str
    cluster: str
    topic: str
    month_to_date: Decimal
    compared: Decimal
    last_month: Decimal

    @property
    def trend(self) -> str:
        return change_text(self.compared, self.last_month)


def change_text(now: Decimal, before: Decimal) -> str:
    """`+180 %`, `-40 %`, `new`, `stopped`, `no change`: how `now` compares with `before`."""
    if before == 0:
        return "new" if now > 0 else "no change"
    if now == 0:
        return "stopped"
    percent = ((now - before) * 100 / before).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return "no change" if percent == 0 else f"{percent:+} %"


def is_notable(now: Decimal, before: Decimal) -> bool:
    if abs(now - before) < NOTABLE_USD:
        return False
    return before == 0 or abs(now - before) * 100 >= NOTABLE_PERCENT * before


def top_topics(figures: list[Figure], count: int = TOP_TOPICS) -> list[TopicTrend]:
    """The `count` topics costing the most (by the compared figure), all charge types together."""
    by_topic: dict[tuple, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO, ZERO])
    for figure in figures:
        if figure.topic:
            sums = by_topic[(figure.team, figure.cost_center, figure.cluster, figure.topic)]
            sums[0] += figure.month_to_date
            sums[1] += figure.compared
            sums[2] += figure.last_month
    trends = [TopicTrend(*key, *sums) for key, sums in by_topic.items() if sums[1] > 0 or sums[0] > 0]
    return sorted(trends, key=lambda t: (-t.compared, -t.month_to_date, t.topic, t.cluster, t.team))[:count]


def notable_changes(
    figures: list[Figure], *, forecast: bool, with_team: bool = False, count: int = MOST_CHANGES
) -> list[str]:
    """One sentence per notable change, the largest amounts first: "payments.orders data out +180 % since
    last month ($28.00 → $78.40 forecast to month end)"."""
    ambiguous = _names_on_several_clusters(figures)
    notable = [figure for figure in figures if is_notable(figure.compared, figure.last_month)]
    notable.sort(key=lambda f: (-abs(f.compared - f.last_month), f.team, f.cluster, f.topic, f.charge_type))
    return [_sentence(figure, forecast, with_team, ambiguous) for figure in notable[:count]]


def _names_on_several_clusters(figures: list[Figure]) -> set[str]:
    clusters: dict[str, set[str]] = defaultdict(set)
    for figure in figures:
        clusters[figure.topic].add(figure.cluster)
    return {name for name, seen in clusters.items() if len(seen) > 1}


def _sentence(figure: Figure, forecast: bool, with_team: bool, ambiguous: set[str]) -> str:
    if not figure.topic:
        subject = figure.cluster
    elif figure.topic in ambiguous:
        subject = f"{figure.topic} on {figure.cluster}"
    else:
        subject = figure.topic
    team = f"{figure.team}: " if with_team else ""
    what = f"{subject} {CHARGE_WORDS.get(figure.charge_type, figure.charge_type)}"
    now = (
        f"{usd(figure.compared)} forecast to month end" if forecast else f"{usd(figure.compared)} this month"
    )
    change = change_text(figure.compared, figure.last_month)
    if change == "new":
        return f"{team}{what} is new since last month ({now})."
    if change == "stopped":
        return f"{team}{what} stopped ({usd(figure.last_month)} last month)."
    return f"{team}{what} {change} since last month ({usd(figure.last_month)} → {now})."
