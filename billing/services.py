"""Billing writes: the daily collect-and-compute cycle and what people (and the system) do to a month's run
(the runs themselves: chargeback.py; the AWS bill: reconciliation.py; budget alerts: budgets.py)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from billing import reconciliation
from billing.chargeback import ChargebackError, compute_run, finalize_run
from billing.models import ChargebackRun
from billing.months import current_month, first_of_month, previous_month
from billing.usage import collect_usage
from clusters.providers.base import TransientError
from portal import access
from portal.errors import Conflict, NotAllowed


def daily_billing(*, today: dt.date | None = None) -> dict:
    """Collect month-to-date traffic and recompute this month's provisional run; during the first
    BILLING_CLOSE_DAYS days of a month, collect and recompute the previous month too (month close:
    late CloudWatch data lands), unless finance has finalized it."""
    today = today or timezone.now().date()
    month = first_of_month(today)
    months = [(month, today + dt.timedelta(days=1))]
    if today.day <= settings.BILLING_CLOSE_DAYS:
        previous = previous_month(month)
        if not ChargebackRun.objects.filter(month=previous, status=ChargebackRun.Status.FINALIZED).exists():
            months.insert(0, (previous, month))
    report: dict = {"months": [], "failures": []}
    transient = False
    for first_day, end in months:
        collected = collect_usage(first_day, end)
        transient = transient or collected.transient
        report["failures"].extend(collected.failures)
        try:
            run = compute_run(first_day)
        except ChargebackError as exc:  # finalized meanwhile: nothing to do
            report["failures"].append(exc.message)
            continue
        report["months"].append({"month": run.label, "rows": collected.rows, "total_usd": str(run.total_usd)})
    if transient:
        # What was collected is stored; the whole cycle is idempotent, so the task simply runs again later.
        raise TransientError("; ".join(report["failures"]))
    return report


# --- Chargeback runs, as people (and the system) act on them ------------------------------------------


def recompute_month(*, month: dt.date, actor) -> ChargebackRun:
    """Recompute a provisional month. `actor` None is the system (the command); people need the right."""
    if actor is not None and not access.can_recompute_chargeback(actor):
        raise NotAllowed("Only finance and platform admins recompute a month.")
    try:
        return compute_run(month, actor=actor)
    except ChargebackError as exc:
        raise Conflict(exc.message) from exc


def fetch_actual_costs(*, month: dt.date, actor):
    """Read the month's MSK bill from Cost Explorer for every cluster in the run (finance and admins)."""
    if not access.can_recompute_chargeback(actor):
        raise NotAllowed("Only finance and platform admins read the AWS bill.")
    run = ChargebackRun.objects.filter(month=first_of_month(month), computed_at__isnull=False).first()
    if run is None:
        raise Conflict(f"{month:%Y-%m} has not been computed yet: recompute it first.")
    return run, reconciliation.fetch_actual_costs(run_id=run.pk, actor=actor)


def set_scaling(*, month: dt.date, enabled: bool, actor) -> ChargebackRun:
    """Finance scales shared clusters' lines to the AWS bill (or stops doing so) on a provisional month."""
    if not access.can_finalize_chargeback(actor):
        raise NotAllowed("Only finance scales allocations to the AWS bill.")
    run = ChargebackRun.objects.filter(month=first_of_month(month)).first()
    if run is None:
        raise Conflict(f"{month:%Y-%m} has not been computed yet: recompute it first.")
    try:
        return reconciliation.set_scaling(run_id=run.pk, enabled=enabled, actor=actor)
    except ChargebackError as exc:
        raise Conflict(exc.message) from exc


def finalize_month(*, month: dt.date, actor) -> ChargebackRun:
    """Finalize a computed provisional month for good, once it is over (the rest of a month still running
    would never be charged). `actor` None is the system (the command)."""
    if actor is not None and not access.can_finalize_chargeback(actor):
        raise NotAllowed("Only finance finalizes a month.")
    if first_of_month(month) >= current_month():
        raise Conflict(f"{month:%Y-%m} is not over yet: finalize it once it is, with all its usage in.")
    run = ChargebackRun.objects.filter(month=first_of_month(month)).first()
    if run is None:
        raise Conflict(f"{month:%Y-%m} has not been computed yet: recompute it first.")
    try:
        return finalize_run(run_id=run.pk, actor=actor)
    except ChargebackError as exc:
        raise Conflict(exc.message) from exc
