"""Runs product code unchanged against another database alias: inside `on(alias)`, every ORM read and
write without an explicit `using` goes to `alias` (tests only; see DATABASES["twin"] in tests/settings.py).

Transactions the product code opens without `using` stay on "default"; on the twin the test's own
transaction holds the writes, which is enough for code that only reads, then writes once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import connections

_alias: ContextVar[str | None] = ContextVar("twin_database_alias", default=None)


class Router:
    def db_for_read(self, model, **hints):
        return _alias.get()

    def db_for_write(self, model, **hints):
        return _alias.get()


def available() -> bool:
    return "twin" in connections.settings


@contextmanager
def on(alias: str) -> Iterator[None]:
    token = _alias.set(alias)
    try:
        yield
    finally:
        _alias.reset(token)
