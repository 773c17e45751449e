"""Billing reads: chargeback runs, per-team breakdowns, trends and budgets. No writes here.

Every function that returns costs takes the user and goes through `portal.access`, so a member only ever
reads their own teams' lines.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.http import Http404
from django.utils import timezone

from billing import forecast, metering, trends
from billing.forecast import Forecast
from billing.models import BudgetAlert, ChargebackLine, ChargebackRun
from billing.months import current_month, first_of_month, months_back, previous_month
from billing.sums import DecimalSum
from portal import access
from portal.models import Team

ZERO = Decimal("0.00")
TREND_MONTHS = 12
CHARGE_LABELS = dict(ChargebackLine.ChargeType.choices)
BASIS_LABELS = dict(ChargebackLine.Basis.choices)


# --- Runs -------------------------------------------------------------------------------------------


def run_for_month(month: dt.date) -> ChargebackRun | None:
    return ChargebackRun.objects.filter(month=month).select_related("finalized_by").first()


def run_list(*, user):
    """Every month's run, newest first: finance and platform admins only (they cover every team)."""
    if not access.sees_all_costs(user):
        return ChargebackRun.objects.none()
    return ChargebackRun.objects.select_related("finalized_by").order_by("-month")


def run_get(*, user, month: dt.date) -> ChargebackRun:
    run = run_list(user=user).filter(month=month).first()
    if run is None:
        raise Http404("No chargeback run for this month")
    return run


def default_finance_month() -> dt.date:
    """The finance page opens on last month (the one to close) when it was computed, else this month."""
    last = previous_month(current_month())
    return last if ChargebackRun.objects.filter(month=last).exists() else current_month()


def line_list(*, user, run: ChargebackRun):
    """The run's lines the user may see, in order (`billing.filters.LineFilterSet` narrows them)."""
    return access.chargeback_lines_visible_to(user).filter(run=run).order_by("position")


# --- A month's costs per team: the one source of every page's figures ---------------------------------


@dataclass
class TeamMonth:
    """One team's month (names as copied into the lines): its cost by charge type and in total — the month to
    date for the current month — and last month's total beside it."""

    team_name: str
    cost_center: str
    team_slug: str = ""
    team_id: int | None = None
    by_type: list[dict] = field(default_factory=list)
    total: Decimal = ZERO
    last_month: Decimal | None = None  # None: last month was not computed
    forecast: Decimal | None = None  # the current month only: month to date + the rest of the month


@dataclass
class MonthCosts:
    """Every team's costs in a month as the user may see them. The dashboard cards, the team cost pages and
    the finance page all read this, so their figures cannot drift apart."""

    month: dt.date
    run: ChargebackRun | None
    teams: list[TeamMonth]
    is_current: bool
    last_month_run: ChargebackRun | None = None
    last_month_totals: dict[tuple, Decimal] = field(default_factory=dict)
    forecast: Forecast | None = None
    remaining_lines: tuple = ()  # the forecast's lines the user may see (billing.allocation.Line)
    remaining_totals: dict[tuple, Decimal] = field(default_factory=dict)

    @property
    def total(self) -> Decimal:
        return sum((team.total for team in self.teams), ZERO)

    @property
    def forecasts_topics(self) -> bool:
        """Per-topic forecasts need a data average: after the month's first full day of traffic."""
        return self.forecast is not None and self.forecast.full_days > 0

    @property
    def compares_with_last_month(self) -> bool:
        """Trends need last month's run, and this month as a whole: a past month, or a forecast per topic."""
        return self.last_month_run is not None and (not self.is_current or self.forecasts_topics)

    @property
    def forecast_total(self) -> Decimal | None:
        return self.total + sum(self.remaining_totals.values(), ZERO) if self.forecast else None

    def forecast_of(self, key: tuple, month_to_date: Decimal) -> Decimal | None:
        return month_to_date + self.remaining_totals.get(key, ZERO) if self.forecast else None

    @property
    def last_month_total(self) -> Decimal | None:
        return sum(self.last_month_totals.values(), ZERO) if self.last_month_run else None

    def last_month_of(self, key: tuple) -> Decimal | None:
        return self.last_month_totals.get(key, ZERO) if self.last_month_run else None

    def for_team(self, team: Team) -> TeamMonth:
        """The team's month; a team without a line in it costs $0.00."""
        found = next((row for row in self.teams if row.team_id == team.pk), None)
        return found or TeamMonth(
            team.name,
            team.cost_center,
            team.slug,
            team.pk,
            last_month=self.last_month_of((team.pk,)),
            forecast=self.forecast_of((team.pk,), ZERO),
        )


def _team_key(row: dict) -> tuple:
    """Lines of a team are grouped by its id; lines without a team (nobody to pay) by the copied name."""
    return (row["team_id"],) if row["team_id"] is not None else (None, row["team_name"], row["cost_center"])


def _payer_key(payer) -> tuple:
    return _team_key({"team_id": payer.team_id, "team_name": payer.name, "cost_center": payer.cost_center})


def month_forecast(*, user, run: ChargebackRun | None, team: Team | None = None):
    """The rest of the run's month, from where its month to date stops (`metered_until`),
    and its lines of the payers the user may see: (forecast, lines); (None, ()) before a first run."""
    if run is None or run.computed_at is None:
        return None, ()
    until = run.metered_until or metering.metered_until(run.month, run.computed_at)
    if team is None and access.sees_all_costs(user):
        remaining = forecast.remaining(run.month, until=until)
        return remaining, remaining.lines
    # A team's page, or a member's, needs only the clusters where those teams pay.
    payers = {
        pk
        for pk in ([team.pk] if team else access.member_team_ids(user))
        if access.can_view_costs_of(user, pk)
    }
    clusters = forecast.clusters_paid_by(run.month, payers)
    remaining = forecast.remaining(run.month, until=until, cluster_ids=clusters)
    return remaining, tuple(line for line in remaining.lines if line.payer.team_id in payers)


def month_costs(
    *, user, month: dt.date, team: Team | None = None, now: dt.datetime | None = None
) -> MonthCosts:
    """Per team (as copied into the lines) and charge type: quantity and cost, the team's total, its total
    last month and, for the current month, its forecast to month end. `team` limits it to one team (a team
    cost page); `now` decides which month is the current one."""
    lines = access.chargeback_lines_visible_to(user)
    if team is not None:
        lines = lines.filter(team=team)
    runs = {run.month: run for run in ChargebackRun.objects.filter(month__in=[month, previous_month(month)])}
    costs = MonthCosts(
        month=month,
        run=runs.get(month),
        teams=[],
        is_current=month == first_of_month((now or timezone.now()).date()),
        last_month_run=runs.get(previous_month(month)),
    )
    if costs.is_current:
        costs.forecast, costs.remaining_lines = month_forecast(user=user, run=costs.run, team=team)
        for line in costs.remaining_lines:
            key = _payer_key(line.payer)
            costs.remaining_totals[key] = costs.remaining_totals.get(key, ZERO) + line.cost
    teams: dict[tuple, TeamMonth] = {}
    if costs.run:
        for row in (
            lines.filter(run=costs.run)
            .values("team_id", "team_name", "cost_center", "team__slug", "charge_type", "unit")
            .annotate(quantity=DecimalSum("quantity"), cost=DecimalSum("cost_usd"))
            .order_by("team_name", "cost_center", "charge_type")
        ):
            entry = teams.setdefault(
                _team_key(row),
                TeamMonth(row["team_name"], row["cost_center"], row["team__slug"] or "", row["team_id"]),
            )
            entry.by_type.append({**row, "label": CHARGE_LABELS.get(row["charge_type"], row["charge_type"])})
            entry.total += row["cost"]
    if costs.last_month_run:
        for row in (
            lines.filter(run=costs.last_month_run)
            .values("team_id", "team_name", "cost_center")
            .annotate(cost=DecimalSum("cost_usd"))
            .order_by()
        ):
            key = _team_key(row)
            costs.last_month_totals[key] = costs.last_month_totals.get(key, ZERO) + row["cost"]
    for key, entry in teams.items():
        entry.last_month = costs.last_month_of(key)
        entry.forecast = costs.forecast_of(key, entry.total)
    costs.teams = list(teams.values())
    return costs


def cost_figures(*, user, costs: MonthCosts, team: Team | None = None) -> list[trends.Figure]:
    """Per team, cluster, topic and charge type: the month to date, what is compared with last month (the
    forecast to month end for the current month once it forecasts topics, else the month so far) and last
    month."""
    lines = access.chargeback_lines_visible_to(user)
    if team is not None:
        lines = lines.filter(team=team)
    fields = ("team_name", "cost_center", "cluster_name", "topic_name", "charge_type")

    def per_key(run: ChargebackRun | None) -> dict[tuple, Decimal]:
        if run is None:
            return {}
        rows = lines.filter(run=run).values_list(*fields).annotate(cost=DecimalSum("cost_usd")).order_by()
        return {tuple(row[:-1]): row[-1] for row in rows}

    this_month, last_month = per_key(costs.run), per_key(costs.last_month_run)
    remaining: dict[tuple, Decimal] = {}
    for line in costs.remaining_lines if costs.forecasts_topics else ():
        key = (line.payer.name, line.payer.cost_center, line.cluster.name, line.topic, line.charge_type)
        remaining[key] = remaining.get(key, ZERO) + line.cost
    return [
        trends.Figure(
            *key,
            month_to_date=this_month.get(key, ZERO),
            compared=this_month.get(key, ZERO) + remaining.get(key, ZERO),
            last_month=last_month.get(key, ZERO),
        )
        for key in sorted({*this_month, *last_month, *remaining})
    ]


@dataclass(frozen=True)
class CostCenterMonth:
    """A cost center's month for finance: its teams, totals, top topics and notable changes."""

    cost_center: str
    teams: list[str]
    month_to_date: Decimal
    forecast: Decimal | None
    last_month: Decimal | None
    top_topics: list[trends.TopicTrend]
    changes: list[str]


def cost_centers(*, costs: MonthCosts, figures: list[trends.Figure]) -> list[CostCenterMonth]:
    """`figures` grouped by cost center (as copied into the lines), ordered by cost center."""
    grouped: dict[str, list[trends.Figure]] = {}
    for figure in figures:
        grouped.setdefault(figure.cost_center, []).append(figure)
    remaining: dict[str, Decimal] = {}
    for line in costs.remaining_lines:
        remaining[line.payer.cost_center] = remaining.get(line.payer.cost_center, ZERO) + line.cost
    return [
        CostCenterMonth(
            cost_center=cost_center,
            teams=sorted({figure.team for figure in group}),
            month_to_date=sum((figure.month_to_date for figure in group), ZERO),
            forecast=(
                sum((figure.month_to_date for figure in group), remaining.get(cost_center, ZERO))
                if costs.forecast
                else None
            ),
            last_month=sum((figure.last_month for figure in group), ZERO) if costs.last_month_run else None,
            top_topics=trends.top_topics(group, count=3),
            changes=(
                trends.notable_changes(group, forecast=costs.is_current, with_team=True, count=5)
                if costs.compares_with_last_month
                else []
            ),
        )
        for cost_center, group in sorted(grouped.items())
    ]


# --- One team ---------------------------------------------------------------------------------------


def team_for_costs(*, user, slug: str) -> Team:
    """The team, or 404 when it does not exist or the user may not see its costs (no existence leak)."""
    team = Team.objects.filter(slug=slug).first()
    if team is None or not access.can_view_team_costs(user, team):
        raise Http404("No such team")
    return team


def cost_teams(*, user):
    return access.cost_teams_visible_to(user).order_by("name")


def _team_lines(user, team: Team, run: ChargebackRun | None):
    if run is None:
        return ChargebackLine.objects.none()
    return access.chargeback_lines_visible_to(user).filter(run=run, team=team)


def team_breakdown(*, user, team: Team, run: ChargebackRun | None) -> dict:
    """A team's month by cluster and by topic (cluster-hours have no topic); its total and charge types
    are in `month_costs`."""
    lines = _team_lines(user, team, run)
    by_cluster = list(
        lines.values("cluster_name", "region", "environment")
        .annotate(cost=DecimalSum("cost_usd"))
        .order_by("-cost", "cluster_name")
    )
    by_topic = list(
        lines.exclude(topic_name="")
        .values("cluster_name", "topic_name")
        .annotate(cost=DecimalSum("cost_usd"))
        .order_by("-cost", "cluster_name", "topic_name")
    )
    return {"by_cluster": by_cluster, "by_topic": by_topic}


def team_trend(*, user, team: Team, until: dt.date, months: int = TREND_MONTHS) -> list[dict]:
    """The team's total per month over the last `months` months up to `until` (0 where nothing ran)."""
    window = months_back(until, months)
    totals = dict(
        access.chargeback_lines_visible_to(user)
        .filter(team=team, run__month__gte=window[0], run__month__lte=window[-1])
        .values_list("run__month")
        .annotate(total=DecimalSum("cost_usd"))
        .order_by()
    )
    statuses = dict(ChargebackRun.objects.filter(month__in=window).values_list("month", "status"))
    return [
        {"month": month, "total": totals.get(month, ZERO), "status": statuses.get(month, "")}
        for month in window
    ]


def budget_vs_actual(*, team: Team, month: dt.date, spent: Decimal) -> dict | None:
    """The team's monthly budget against what it spent, with the 80 % / 100 % alerts recorded."""
    if not team.monthly_budget_usd:
        return None
    percent = (spent * 100 / team.monthly_budget_usd).quantize(Decimal("0.1"))
    alerts = list(BudgetAlert.objects.filter(team=team, month=month).order_by("threshold_percent"))
    return {
        "budget": team.monthly_budget_usd,
        "spent": spent,
        "remaining": team.monthly_budget_usd - spent,
        "percent": percent,
        "bar_percent": min(percent, Decimal(100)),
        "level": "over" if percent >= 100 else "warning" if percent >= 80 else "ok",
        "alerts": alerts,
    }


# --- Estimate vs the AWS bill ------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    cluster_id: int
    cluster_name: str
    estimate_usd: Decimal
    actual_usd: Decimal | None

    @property
    def difference_usd(self) -> Decimal | None:
        return None if self.actual_usd is None else self.actual_usd - self.estimate_usd


def estimate_vs_actual(run: ChargebackRun) -> list[Comparison]:
    """Per cluster: the run's total (estimate, or scaled) beside the bill's cost when known."""
    actual = dict(run.actual_costs.values_list("cluster_id", "amount_usd"))
    rows = (
        ChargebackLine.objects.filter(run=run)
        .exclude(cluster=None)
        .values("cluster_id", "cluster_name")
        .annotate(total=DecimalSum("cost_usd"))
        .order_by("cluster_name", "cluster_id")
    )
    return [
        Comparison(row["cluster_id"], row["cluster_name"], row["total"], actual.get(row["cluster_id"]))
        for row in rows
    ]
