"""HTML views for chargeback: the finance page (every team, one month), a team's costs, the CSV downloads
and the recompute / finalize actions. Thin: parse the month, call a selector or a service, render.

Access (`portal.access`): finance and platform admins see every team; members only their own teams'
cost pages (another team's is a 404); only finance finalizes; finance and admins recompute.
"""

from __future__ import annotations

import datetime as dt
import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from billing import charts, exports, months, selectors, services, trends
from billing.forms import MonthForm, month_from_text
from billing.pricing import usd
from portal import access
from portal.csv_export import streaming_csv_response
from portal.errors import PortalError


def _require_all_costs(request: HttpRequest) -> None:
    if not access.sees_all_costs(request.user):
        raise PermissionDenied("Only finance and platform admins see every team's costs.")


def _finance_context(request: HttpRequest, form: MonthForm) -> dict:
    month = form.chosen_month()
    costs = selectors.month_costs(user=request.user, month=month)
    run = costs.run
    return {
        "form": form,
        "month": month,
        "run": run,
        "costs": costs,
        "teams": costs.teams,
        "total": costs.total,
        "runs": selectors.run_list(user=request.user)[:24],
        "can_finalize": access.can_finalize_chargeback(request.user),
        "month_over": month < months.current_month(),
        "can_recompute": access.can_recompute_chargeback(request.user),
        "csv_kinds": list(exports.KINDS),
        "comparison": selectors.estimate_vs_actual(run) if run and run.computed_at else [],
        "cost_centers": selectors.cost_centers(
            costs=costs, figures=selectors.cost_figures(user=request.user, costs=costs)
        ),
        "notable": {"percent": trends.NOTABLE_PERCENT, "usd": trends.NOTABLE_USD},
        "can_reconcile": access.can_recompute_chargeback(request.user),
    }


@login_required
@require_GET
def finance(request: HttpRequest) -> HttpResponse:
    _require_all_costs(request)
    form = MonthForm(request.GET, default=selectors.default_finance_month())
    status = 400 if form.is_bound and not form.is_valid() else 200
    return render(request, "billing/finance.html", _finance_context(request, form), status=status)


def _finance_month_view(view):
    """Finance and admins only, with the URL's month parsed (a readable 400 when it is not YYYY-MM)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, month: str, **kwargs) -> HttpResponse:
        _require_all_costs(request)
        try:
            chosen = month_from_text(month)
        except ValueError as exc:
            return render(request, "error.html", {"status": 400, "message": str(exc)}, status=400)
        return view(request, chosen, **kwargs)

    return wrapper


@login_required
@require_POST
@_finance_month_view
def run_action(request: HttpRequest, chosen: dt.date, action: str) -> HttpResponse:
    """Recompute (provisional months) or finalize a month; a refused action shows why (409), nothing changes."""
    try:
        if action == "actuals":
            run, fetched = services.fetch_actual_costs(month=chosen, actor=request.user)
            problems = f" Not read: {'; '.join(fetched.failures)}" if fetched.failures else ""
            if not fetched.available:
                messages.warning(
                    request, "There is no AWS bill to read: the portal runs on the local (simulated) MSK."
                )
            else:
                messages.success(
                    request,
                    f"Read the AWS bill for {fetched.clusters} cluster{pluralize(fetched.clusters)} of {run.label}.{problems}",
                )
        elif action == "scaling":
            enabled = request.POST.get("enabled") == "yes"
            run = services.set_scaling(month=chosen, enabled=enabled, actor=request.user)
            messages.success(
                request,
                f"{run.label}: shared clusters {'now add up to' if enabled else 'no longer scaled to'} "
                f"their AWS bill; recomputed ({usd(run.total_usd)}).",
            )
        elif action == "finalize":
            if request.POST.get("confirm") != "yes":
                raise PortalError("Tick the confirmation box to finalize: a finalized month never changes.")
            run = services.finalize_month(month=chosen, actor=request.user)
            messages.success(request, f"{run.label} is finalized: its lines and CSVs will not change again.")
        else:
            run = services.recompute_month(month=chosen, actor=request.user)
            messages.success(
                request,
                f"{run.label} recomputed: {run.line_count} line{pluralize(run.line_count)}, {usd(run.total_usd)}.",
            )
    except PortalError as exc:
        if exc.http_status == 403:
            raise PermissionDenied(exc.message) from exc
        form = MonthForm({"month": f"{chosen:%Y-%m}"}, default=chosen)
        context = {**_finance_context(request, form), "action_error": exc.message}
        return render(request, "billing/finance.html", context, status=exc.http_status)
    return redirect(f"{reverse('billing:finance')}?month={chosen:%Y-%m}")


@login_required
@require_GET
@_finance_month_view
def run_csv(request: HttpRequest, chosen: dt.date, kind: str) -> HttpResponse:
    if kind not in exports.KINDS:
        return render(request, "error.html", {"status": 404, "message": "No such export."}, status=404)
    csv = exports.export(selectors.run_get(user=request.user, month=chosen), kind)
    return streaming_csv_response(csv.filename, csv.header, csv.rows)


@login_required
@require_GET
def team_costs(request: HttpRequest, slug: str) -> HttpResponse:
    team = selectors.team_for_costs(user=request.user, slug=slug)
    form = MonthForm(request.GET, default=months.current_month())
    month = form.chosen_month()
    costs = selectors.month_costs(user=request.user, month=month, team=team)
    team_month = costs.for_team(team)
    figures = selectors.cost_figures(user=request.user, costs=costs, team=team)
    trend = selectors.team_trend(user=request.user, team=team, until=month)
    context = {
        "team": team,
        "form": form,
        "month": month,
        "is_current": costs.is_current,
        "run": costs.run,
        "costs": costs,
        "team_month": team_month,
        "breakdown": selectors.team_breakdown(user=request.user, team=team, run=costs.run),
        "top_topics": trends.top_topics(figures),
        "changes": (
            trends.notable_changes(figures, forecast=costs.is_current)
            if costs.compares_with_last_month
            else []
        ),
        "notable": {"percent": trends.NOTABLE_PERCENT, "usd": trends.NOTABLE_USD},
        "trend": trend,
        "chart": charts.trend_svg(trend, title=f"{team.name}: cost per month, last {len(trend)} months"),
        "budget": selectors.budget_vs_actual(team=team, month=month, spent=team_month.total),
        "sees_all": access.sees_all_costs(request.user),
    }
    status = 400 if form.is_bound and not form.is_valid() else 200
    return render(request, "billing/team_costs.html", context, status=status)
