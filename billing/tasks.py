"""Billing's Celery tasks: thin wrappers (ids and ISO dates in, services do the work, safe to run twice)."""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from billing import services
from billing.budgets import send_budget_alert  # defined beside what enqueues it (a chargeback run)
from clusters.providers.base import TransientError

__all__ = ["collect_and_compute", "send_budget_alert"]


@shared_task(
    name="billing.tasks.collect_and_compute",
    acks_late=True,
    autoretry_for=(TransientError,),
    retry_backoff=60,
    retry_backoff_max=3600,
    max_retries=6,
)
def collect_and_compute(today_iso: str | None = None) -> dict:
    """Daily: month-to-date showback, and in the first days of a month the previous month's close."""
    today = dt.date.fromisoformat(today_iso) if today_iso else None
    return services.daily_billing(today=today)
