"""Our errors for what the outside systems answer: every integration module raises only these.

`transient` says whether retrying later can help (throttling, 5xx, timeouts) or not (access denied, bad
input); provisioning's retry policy reads it and nothing else.
"""

from __future__ import annotations


class ProviderError(Exception):
    transient = False

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class TransientError(ProviderError):
    """Throttling, 5xx, timeouts, a broker not reachable yet: retry with backoff."""

    transient = True


class AccessDenied(ProviderError):
    """The assumed role (or the portal's own) may not do this: fails the step with a readable reason."""


class NameConflict(ProviderError):
    """A cluster with this name already exists: look it up by name and adopt it."""


class NotFound(ProviderError):
    pass
