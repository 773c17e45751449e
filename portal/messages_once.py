"""Sending a message (email + optional Slack) exactly once, for tasks that may run twice.

The caller's `claim` marks the message as sent inside the transaction that sends it (an insert on a unique
key, or a compare-and-set update; a digest's claim returns the items it claimed, `send_claimed`, and its
mail names only those): a twin task — redelivered after a worker died, or enqueued again by beat
— blocks on that row until the first one ends, then finds it claimed and sends nothing. The claim commits
only after sending, so a failed send or a worker dying in between leaves it unclaimed: the message goes out
again later (at most one repeat), never lost. This is the one place where a network call (SMTP, Slack) runs
inside a transaction, on purpose: the transaction holds only the claim row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple, TypeVar

from django.core.mail import send_mail
from django.db import transaction

from portal import slack

# The Celery options of every task that sends a message through `send_once`: acknowledged once it ran (a worker
# dying re-delivers it; the claim makes that harmless), retried with backoff while the mail server is away.
MAIL_TASK_OPTIONS = {"acks_late": True, "autoretry_for": (OSError,), "retry_backoff": True, "max_retries": 5}

Claimed = TypeVar("Claimed")


class Message(NamedTuple):
    subject: str
    body: str
    recipients: Sequence[str]
    link: str  # what Slack's post links to


def send_claimed(claim: Callable[[], list[Claimed]], compose: Callable[[list[Claimed]], Message]) -> int:
    """One message about what `claim()` claims (run in the sending transaction; returns the claimed items,
    none if everything was sent already), written by `compose(claimed)` -- a digest names only what it
    claimed. Returns how many items it claimed (0: nothing was sent)."""
    with transaction.atomic():
        claimed = claim()
        if not claimed:
            return 0
        message = compose(claimed)
        if message.recipients:
            send_mail(message.subject, message.body, None, list(message.recipients))
        slack.post(f"{message.subject}\n{message.link}")
    return len(claimed)


def send_once(
    claim: Callable[[], bool], *, subject: str, body: str, recipients: Sequence[str], link: str
) -> bool:
    """Send unless `claim()` (run in the sending transaction) says it is already sent. True if sent now."""
    message = Message(subject, body, recipients, link)
    return bool(send_claimed(lambda: [True] if claim() else [], lambda _: message))
