"""Password sign-in throttling, by account and by address.

LOGIN_FAILURES_PER_ACCOUNT wrong passwords for one username (from anywhere), or
LOGIN_FAILURES_PER_ADDRESS from one address (for any usernames), within LOGIN_LOCKOUT_SECONDS pause
password sign-in for that account or address for LOGIN_LOCKOUT_SECONDS (default 5 minutes): long enough
to make guessing slow (about one guess a minute per account), short enough that a person locked out by
somebody else's guessing waits minutes, not hours. A successful sign-in clears its account's count.

Counters live in Django's cache (Redis when REDIS_URL is set, files under var/ otherwise), so every web
process shares them. When the cache is unreachable the throttle lets sign-in through and logs it: Redis
being down must not lock everybody out. Single sign-on (OIDC) is not throttled here; the identity
provider does that.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from portal import audit

logger = logging.getLogger(__name__)


def client_address(request: HttpRequest | None) -> str:
    """The client's IP address: REMOTE_ADDR, or with TRUSTED_PROXY_COUNT proxies in front, the address
    the outermost of them saw (X-Forwarded-For, counted from the right so clients cannot forge it)."""
    if request is None:
        return ""
    hops = settings.TRUSTED_PROXY_COUNT
    forwarded = [
        part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()
    ]
    if hops and len(forwarded) >= hops:
        return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "")


def _counters(username: str, address: str) -> list[tuple[str, int]]:
    # Hashed: any username is a safe cache key, and the cache holds no names.
    account = hashlib.sha256(username.strip().casefold().encode()).hexdigest()
    return [
        (f"login-failures:account:{account}", settings.LOGIN_FAILURES_PER_ACCOUNT),
        (f"login-failures:address:{address}", settings.LOGIN_FAILURES_PER_ADDRESS),
    ]


def seconds_locked(username: str, address: str) -> int:
    """Seconds until this account and address may try a password again (0: now)."""
    try:
        locks = cache.get_many([f"{key}:locked-until" for key, _ in _counters(username, address)])
    except Exception:  # the cache is down: do not lock anybody out because of it
        logger.warning("Sign-in throttle: the cache is unreachable; not throttling", exc_info=True)
        return 0
    until = max(locks.values(), default=0)
    return max(0, math.ceil(until - time.time()))


def record_failure(username: str, address: str) -> int:
    """Count a wrong password; the seconds this account or address is now locked (0: not locked)."""
    lockout = settings.LOGIN_LOCKOUT_SECONDS
    locked = []
    try:
        for key, limit in _counters(username, address):
            cache.add(key, 0, timeout=lockout)
            if cache.incr(key) >= limit:
                cache.set(f"{key}:locked-until", time.time() + lockout, timeout=lockout)
                cache.delete(key)
                locked.append(key.split(":")[1])
    except Exception:
        logger.warning("Sign-in throttle: the cache is unreachable; not counting", exc_info=True)
    for by in locked:
        audit.record(
            "portal.login.locked",
            actor=None,
            details={"by": by, "username": username[:150], "address": address, "seconds": lockout},
        )
    return lockout if locked else 0


def record_success(username: str, address: str) -> None:
    """The account's count starts again; the address's does not (one good account must not reset it)."""
    try:
        cache.delete(_counters(username, address)[0][0])
    except Exception:
        logger.warning("Sign-in throttle: the cache is unreachable", exc_info=True)


def wait_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"Too many attempts, try again in {minutes} minute{'s' if minutes != 1 else ''}."
