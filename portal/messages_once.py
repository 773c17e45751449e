"""Sending a message (email + optional Slack) exactly once, for tasks that may run twice.

The caller's `claim` marks the message as sent inside the transaction that sends it (an insert on a unique
key, or a compare-and-set update): a twin task — redelivered after a worker died, or enqueued again by beat
— blocks on that row until the first one ends, then finds it claimed and sends nothing. The claim commits
only after sending, so a failed send or a worker dying in between leaves it unclaimed: the message goes out
again later (at most one repeat), never lost. This is the one place where a network call (SMTP, Slack) runs
inside a transaction, on purpose: the transaction holds only the claim row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.core.mail import send_mail
from django.db import transaction

from portal import slack

# The Celery options of every task that sends a message through `send_once`: acknowledged once it ran (a worker
# dying re-delivers it; the claim makes that harmless), retried with backoff while the mail server is away.
MAIL_TASK_OPTIONS = {"acks_late": True, "autoretry_for": (OSError,), "retry_backoff": True, "max_retries": 5}


def send_once(
    claim: Callable[[], bool], *, subject: str, body: str, recipients: Sequence[str], link: str
) -> bool:
    """Send unless `claim()` (run in the sending transaction) says it is already sent. True if sent now."""
    with transaction.atomic():
        if not claim():
            return False
        if recipients:
            send_mail(subject, body, None, list(recipients))
        slack.post(f"{subject}\n{link}")
    return True
