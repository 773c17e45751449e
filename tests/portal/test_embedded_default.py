"""`make run`'s embedded default, piece by piece: SQLite shared by web, worker and beat, tasks that meet a
locked database, the file-system broker. tests/system/test_sqlite_burst.py proves them together under load."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.db import OperationalError
from kombu import Connection
from kombu.exceptions import ChannelError

from portal import broker
from portal.celery import PortalTask, app
from tests.processes import ROOT, newcomer_env

SQLITE_SCRIPT = """
import sqlite3
from django.db import connection, transaction
from django.conf import settings

print(connection.cursor().execute("PRAGMA journal_mode").fetchone()[0])
other = sqlite3.connect(settings.DATABASES["default"]["NAME"], timeout=0)
with transaction.atomic():
    try:  # a transaction holds the write lock from its BEGIN, before it has written anything
        other.execute("BEGIN IMMEDIATE")
        print("other writer got in")
    except sqlite3.OperationalError as exc:
        print(exc)
other.execute("BEGIN IMMEDIATE")
print("free after commit")
"""


def test_sqlite_runs_in_wal_mode_and_transactions_take_the_write_lock_when_they_begin(tmp_path):
    env = newcomer_env(tmp_path, DEBUG="true")
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", SQLITE_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:3] == ["wal", "database is locked", "free after commit"]


@pytest.fixture
def flaky_task(monkeypatch):
    """A task that meets a locked database on its first `failures` runs (what SQLite raises through Django).

    Run eagerly with `apply()`, which carries out a retry at once; errors end up in the result."""
    monkeypatch.setitem(app.conf, "task_eager_propagates", False)
    calls = []

    @app.task(name="tests.flaky_database_task", bind=True, max_retries=3)
    def flaky(self, failures: int, message: str = "database is locked") -> int:
        calls.append(self.request.retries)
        if len(calls) <= failures:
            raise OperationalError(message)
        return len(calls)

    yield flaky, calls
    app.tasks.pop("tests.flaky_database_task", None)


def test_a_task_that_meets_a_locked_database_is_retried(flaky_task):
    task, calls = flaky_task
    result = task.apply(args=[2])
    assert result.successful() and result.result == 3
    assert calls == [0, 1, 2]  # ran again, counted as retries


def test_a_locked_database_is_retried_at_least_five_times_even_when_the_task_allows_fewer(flaky_task):
    task, calls = flaky_task  # max_retries=3
    assert task.apply(args=[5]).successful()
    assert calls == [0, 1, 2, 3, 4, 5]
    calls.clear()
    result = task.apply(args=[9])
    assert result.failed() and "database is locked" in str(result.result)
    assert calls == [0, 1, 2, 3, 4, 5]  # gave up after five retries


def test_other_database_errors_are_not_retried(flaky_task):
    task, calls = flaky_task
    result = task.apply(args=[1, "no such table: clusters_request"])
    assert result.failed() and calls == [0]


def test_every_task_of_the_portal_retries_a_locked_database():
    app.loader.import_default_modules()
    ours = [
        task for name, task in app.tasks.items() if name.split(".")[0] in {"portal", "clusters", "billing"}
    ]
    assert len(ours) > 10
    assert all(isinstance(task, PortalTask) for task in ours)


def test_a_message_file_is_never_seen_before_it_is_complete(tmp_path, monkeypatch):
    folder = tmp_path / "queue"
    folder.mkdir()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "store_processed": False}
    with Connection("filesystem://", transport=broker.FileSystemTransport, transport_options=options) as conn:
        channel = conn.default_channel
        seen_while_writing = []
        real_str_to_bytes = broker.str_to_bytes

        def writing(text):  # called while the message is being written: what would the worker see?
            try:
                seen_while_writing.append(channel._get("jobs"))
            except Exception as exc:
                seen_while_writing.append(type(exc).__name__)
            return real_str_to_bytes(text)

        monkeypatch.setattr(broker, "str_to_bytes", writing)
        channel._put("jobs", {"body": "hello"})
        assert seen_while_writing == ["Empty"]
        assert channel._get("jobs") == {"body": "hello"}
        assert list(folder.iterdir()) == []


def test_a_message_that_cannot_be_written_is_a_channel_error(tmp_path):
    options = {"data_folder_in": str(tmp_path / "missing"), "data_folder_out": str(tmp_path / "missing")}
    connection = Connection("filesystem://", transport=broker.FileSystemTransport, transport_options=options)
    with connection, pytest.raises(ChannelError):
        connection.default_channel._put("jobs", {"body": "hello"})
