"""Idempotency-Key for API creates and bulk decisions: a retried POST gets the first answer, never a
second request, and decides nothing twice.

The key is claimed before anything else happens: `submit_once` (a create) and `answer_once` (a bulk
decision) insert the `IdempotencyKey` row first, in the transaction that then validates, submits (and
maybe auto-approves) the request, or decides the requests, and stores the answer. A bulk decision's
requests are then decided in that one transaction (each in a savepoint of its own), so its decisions and
its answer commit together or not at all. A repeat with the same key

- after the first attempt committed: finds the row and replays the stored answer, as it was;
- while the first attempt is still running: its insert waits on the unique key (PostgreSQL row lock,
  SQLite database lock) for the first attempt to end, then replays its answer, or, if the first attempt
  failed and rolled back, runs itself and fails or succeeds the same way;
- if the first attempt takes longer than IDEMPOTENCY_WAIT_SECONDS: 409 `idempotency_key_in_use` with
  `Retry-After`, and nothing is changed.

A key used again with another body (or for another kind of request, or a bulk decision) is a 409.
Failed attempts (400, 403) store nothing: a corrected request needs a new key, as its body differs.

The web request forms file through `submit_once` too, with a one-time key each rendered form carries
(clusters/views/filing.py): a form posted again files nothing more.

Keys do not live for ever: beat deletes each one IDEMPOTENCY_RETENTION_HOURS (default 24) after its
first attempt (`forget_old_keys`; the claim and the answer commit together, so that is after the answer).
The same key used after that files a new request.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from clusters.models import IdempotencyKey, Request
from portal.errors import Conflict, PortalError
from portal.models import User


class IdempotencyKeyInvalid(PortalError):
    code = "invalid_idempotency_key"


class IdempotencyKeyReused(Conflict):
    code = "conflict"

    def __init__(self, message: str, *, request_id: int | None = None):
        super().__init__(message)
        self.request_id = request_id  # what the key filed (a web form shows it: clusters/views/filing.py)


class IdempotencyKeyInUse(Conflict):
    """The first attempt with this key is still running: try again shortly."""

    code = "idempotency_key_in_use"
    retry_after = 1


@dataclass(frozen=True)
class Answer:
    body: dict
    replayed: bool


def fingerprint(kind: str, body: object) -> str:
    canonical = json.dumps([kind, body], sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str) -> str:
    key = key.strip()
    if not 1 <= len(key) <= 200 or not key.isprintable():
        raise IdempotencyKeyInvalid("Idempotency-Key must be 1 to 200 printable characters.")
    return key


def submit_once(
    *,
    user: User,
    key: str | None,
    kind: str,
    body: object,
    submit: Callable[[], Request],
    render: Callable[[Request], dict],
) -> Answer:
    """`submit()` at most once per (user, key); `render(request)` is the answer stored and replayed.
    Without a key (the header is optional) every call submits."""

    def run() -> tuple[Request, dict]:
        request = submit()
        return request, render(request)

    return _once(user=user, key=key, print_=fingerprint(kind, body), run=run, render=render)


def answer_once(
    *, user: User, key: str | None, kind: str, body: object, answer: Callable[[], dict]
) -> Answer:
    """`answer()` at most once per (user, key), for an action that files no request (a bulk decision):
    the dict it returns is the answer stored and replayed. Without a key every call runs it."""
    return _once(user=user, key=key, print_=fingerprint(kind, body), run=lambda: (None, answer()))


def _once(
    *,
    user: User,
    key: str | None,
    print_: str,
    run: Callable[[], tuple[Request | None, dict]],
    render: Callable[[Request], dict] | None = None,
) -> Answer:
    if key is None:
        return Answer(run()[1], replayed=False)
    key = check_key(key)
    with transaction.atomic():
        claim, ours = _claim(user=user, key=key, print_=print_)
        if not ours:
            return _replay(claim, print_, render)
        request, body = run()
        text = json.dumps(body, cls=DjangoJSONEncoder)
        IdempotencyKey.objects.filter(pk=claim.pk).update(request=request, answer=text)
    return Answer(json.loads(text), replayed=False)


def _claim(*, user: User, key: str, print_: str) -> tuple[IdempotencyKey, bool]:
    """A new row for this key (ours to fill in: True), or the committed row of an earlier attempt."""
    try:
        with transaction.atomic():
            _limit_lock_wait(settings.IDEMPOTENCY_WAIT_SECONDS)
            claim = IdempotencyKey.objects.create(user=user, key=key, fingerprint=print_)
            _limit_lock_wait(None)
            return claim, True
    except IntegrityError:
        pass  # an earlier attempt committed this key
    except OperationalError as exc:  # lock wait timed out: the first attempt is still running
        raise IdempotencyKeyInUse(
            "A request with this Idempotency-Key is still being processed; retry in a moment "
            "to get its answer."
        ) from exc
    return IdempotencyKey.objects.select_related("request").get(user=user, key=key), False


def _limit_lock_wait(seconds: float | None) -> None:
    """PostgreSQL: how long the claim's insert waits for a concurrent attempt (None: back to the
    default). SQLite waits for its database lock as configured (the `timeout` option)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            if seconds is None:
                cursor.execute("SET LOCAL lock_timeout TO DEFAULT")
            else:
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{int(seconds * 1000)}ms"])


def _replay(claim: IdempotencyKey, print_: str, render: Callable[[Request], dict] | None) -> Answer:
    if claim.fingerprint != print_:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used for a different request.", request_id=claim.request_id
        )
    # Keys of creates stored before answers were kept replay the request as it is now.
    if claim.answer or render is None:
        return Answer(json.loads(claim.answer), replayed=True)
    return Answer(render(claim.request), replayed=True)


def forget_old_keys(now: datetime | None = None) -> int:
    """Delete the keys first used more than IDEMPOTENCY_RETENTION_HOURS ago; how many. Running it twice,
    or two at once, deletes nothing more; a claim still in flight is not committed, so not seen."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.IDEMPOTENCY_RETENTION_HOURS)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
