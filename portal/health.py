"""Reachability checks behind /healthz: the database, the Celery broker and the worker heartbeat."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.utils import timezone

from portal.models import Heartbeat

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "unreachable"
        logger.warning("healthz: database unreachable", exc_info=True)
        # Only the error class: the message can name hosts and users, and /healthz is public.
        return Check("database", False, type(exc).__name__)
    return Check("database", True, connection.vendor)


def check_broker() -> Check:
    from portal.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
            transport = conn.transport.driver_type
    except Exception as exc:  # kombu raises many transport-specific errors
        logger.warning("healthz: broker unreachable", exc_info=True)
        return Check("broker", False, type(exc).__name__)
    return Check("broker", True, transport)


def check_worker() -> Check:
    """Fresh when the beat-scheduled heartbeat task ran on a worker within three intervals."""
    beat = Heartbeat.objects.filter(name="worker").first()
    if beat is None:
        return Check("worker", False, "no heartbeat yet")
    age = (timezone.now() - beat.last_seen).total_seconds()
    fresh = age <= 3 * settings.HEARTBEAT_INTERVAL_SECONDS
    return Check("worker", fresh, f"last heartbeat {age:.0f}s ago")
