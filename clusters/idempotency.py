"""Idempotency-Key for API creates: a retried POST gets the first answer, never a second request."""

from __future__ import annotations

import hashlib
import json

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from clusters import services
from clusters.models import IdempotencyKey, Request
from portal.errors import Conflict, PortalError
from portal.models import User


class IdempotencyKeyInvalid(PortalError):
    code = "invalid_idempotency_key"


def fingerprint(kind: str, body: object) -> str:
    canonical = json.dumps([kind, body], sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str) -> str:
    key = key.strip()
    if not 1 <= len(key) <= 200 or not key.isprintable():
        raise IdempotencyKeyInvalid("Idempotency-Key must be 1 to 200 printable characters.")
    return key


def replay(*, user: User, key: str, print_: str) -> Request | None:
    """The request made earlier with this key, or None. A key reused for another body is an error."""
    existing = IdempotencyKey.objects.select_related("request").filter(user=user, key=key).first()
    if existing is None:
        return None
    if existing.fingerprint != print_:
        raise Conflict("This Idempotency-Key was already used for a different request.")
    return existing.request


def submit_once(*, user: User, key: str, print_: str, prepared: services.Prepared) -> tuple[Request, bool]:
    """Submit and remember the key in one transaction; a concurrent twin loses and gets the winner's."""
    try:
        with transaction.atomic():
            request = services.submit_request(actor=user, prepared=prepared)
            IdempotencyKey.objects.create(user=user, key=key, fingerprint=print_, request=request)
        return request, True
    except (IntegrityError, ValidationError):
        # A twin with this key got in first: its request is the answer. (Without a winner, the
        # ValidationError is real, e.g. the topic name is taken under the cluster lock: it stands.)
        winner = replay(user=user, key=key, print_=print_)
        if winner is None:
            raise
        return winner, False
