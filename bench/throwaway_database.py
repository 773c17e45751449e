"""The benches' own database: a throw-away test database beside `make test`'s, so a bench and a test run in
the same checkout never disturb each other (PostgreSQL when reachable, as in `make test`, else SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


@contextmanager
def throwaway_database(suffix: str) -> Iterator[None]:
    """Create the test database `<test name>_<suffix>` (SQLite: `<test name>-<suffix>.sqlite3`), drop it after."""
    test_settings = connection.settings_dict.setdefault("TEST", {})
    test_settings["NAME"] = (
        test_settings.get("NAME") or f"test_{connection.settings_dict['NAME']}"
    ) + f"_{suffix}"
    if connection.vendor == "sqlite":
        test_settings["NAME"] = test_settings["NAME"].replace(f".sqlite3_{suffix}", f"-{suffix}.sqlite3")
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
