"""Billing reads: rate cards, chargeback runs, per-team breakdowns, trends and budgets. No writes here.

Every function that returns costs takes the user and goes through `portal.access`, so a member only ever
reads their own teams' lines.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.http import Http404
from django.utils import timezone

from billing.models import BudgetAlert, ChargebackLine, ChargebackRun, RateCard
from billing.months import current_month, months_back, previous_month
from billing.pricing import LIST_PRICES, Rates
from billing.sums import DecimalSum
from portal import access
from portal.models import Team

ZERO = Decimal("0.00")
TREND_MONTHS = 12
CHARGE_LABELS = dict(ChargebackLine.ChargeType.choices)
BASIS_LABELS = dict(ChargebackLine.Basis.choices)


def rates_for(region: str, on: dt.date | None = None) -> Rates:
    """The rate card in force in `region` on `on` (today by default), else the list prices."""
    day = on or timezone.now().date()
    card = RateCard.objects.filter(region=region, effective_from__lte=day).order_by("-effective_from").first()
    if card is None:
        return LIST_PRICES
    return Rates(card.cluster_hour, card.partition_hour, card.gib_in, card.gib_out, card.gib_month)


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


def line_list(*, user, run: ChargebackRun, team_slug: str | None = None):
    lines = access.chargeback_lines_visible_to(user).filter(run=run)
    if team_slug:
        lines = lines.filter(team__slug=team_slug)
    return lines.order_by("position")


# --- Month summary (all teams) ----------------------------------------------------------------------


@dataclass
class TeamMonth:
    team_name: str
    cost_center: str
    team_slug: str = ""
    by_type: list[dict] = field(default_factory=list)
    total: Decimal = ZERO


def month_summary(*, user, run: ChargebackRun) -> list[TeamMonth]:
    """Per team (as copied into the lines) and charge type: quantity and cost, plus the team's total."""
    rows = (
        access.chargeback_lines_visible_to(user)
        .filter(run=run)
        .values("team_name", "cost_center", "team__slug", "charge_type", "unit")
        .annotate(quantity=DecimalSum("quantity"), cost=DecimalSum("cost_usd"))
        .order_by("team_name", "cost_center", "charge_type")
    )
    teams: dict[tuple[str, str], TeamMonth] = {}
    for row in rows:
        key = (row["team_name"], row["cost_center"])
        team = teams.setdefault(key, TeamMonth(row["team_name"], row["cost_center"], row["team__slug"] or ""))
        team.by_type.append({**row, "label": CHARGE_LABELS.get(row["charge_type"], row["charge_type"])})
        team.total += row["cost"]
    return list(teams.values())


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
    """A team's month by charge type, by cluster and by topic (cluster-hours have no topic)."""
    lines = _team_lines(user, team, run)
    by_type = [
        {**row, "label": CHARGE_LABELS.get(row["charge_type"], row["charge_type"])}
        for row in lines.values("charge_type", "unit")
        .annotate(quantity=DecimalSum("quantity"), cost=DecimalSum("cost_usd"))
        .order_by("charge_type")
    ]
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
    total = sum((row["cost"] for row in by_type), ZERO)
    return {"by_type": by_type, "by_cluster": by_cluster, "by_topic": by_topic, "total": total}


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
