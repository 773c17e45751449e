"""Enqueue Celery tasks after the current transaction commits, without ever failing the caller.

If the broker is down the work is not lost: the database already says what must happen (a pending
cluster, a request event without its `SentNotification`), and beat re-dispatches provisioning work that
has not moved (`clusters.provisioning.reconcile`) and notifications never sent
(`clusters.requests.notifications.resend_lost_notifications`). So a broker error here is logged, not
raised into a web request that has already committed.
"""

from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue_on_commit(task, *args) -> None:
    def send() -> None:
        try:
            task.apply_async(args=args, retry=False)
        except Exception:  # kombu/redis raise many connection error types; all mean "not sent now"
            # Beat re-dispatches it after PROVISIONING_REDISPATCH_SECONDS (provisioning and notifications).
            logger.warning("broker unavailable: %s%r not sent now", task.name, args, exc_info=True)

    transaction.on_commit(send)
