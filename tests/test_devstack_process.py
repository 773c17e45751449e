"""`make run`'s process supervisor, for real: web + Celery worker + Celery beat as separate processes.

Beat schedules the heartbeat task every second, the broker (Redis when reachable, else the file-system
transport) carries it, a worker process runs it and writes the heartbeat row that /healthz reports.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    host = db.get("HOST") or "127.0.0.1"
    return f"postgres://{db.get('USER') or 'postgres'}@{host}:{db.get('PORT') or 5432}/{db['NAME']}"


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, stack = set(), [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _healthz(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return json.loads(response.read())
    except OSError:
        return None


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_devstack_runs_web_worker_and_beat_and_one_ctrl_c_stops_them(tmp_path):
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DEBUG="true",
        DATABASE_URL=_database_url(),
        PORTAL_VAR_DIR=str(tmp_path),
        HEARTBEAT_INTERVAL_SECONDS="1",
        # Its own queue: tasks other real-worker tests left in theirs (retries, redeliveries) never
        # reach this worker and delay its first heartbeat.
        CELERY_QUEUE=f"{os.environ.get('CELERY_QUEUE', 'celery')}-devstack-{port}",
    )
    process = subprocess.Popen(
        [sys.executable, "manage.py", "devstack", "--port", str(port), "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        health = None
        while time.monotonic() < deadline:
            health = _healthz(port)
            if health and health["checks"]["worker"]["ok"]:
                break
            assert process.poll() is None, process.stdout.read()
            time.sleep(0.5)
        assert health and health["status"] == "ok", health
        assert health["checks"]["worker"]["ok"], health
        children = _descendants(process.pid)
        assert len(children) >= 3  # web, worker (+ its pool), beat

        process.send_signal(signal.SIGINT)  # what Ctrl-C delivers
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            # The children run in their own sessions: kill them too, or a failed run leaves a web server
            # and workers holding database connections.
            for pid in _descendants(process.pid):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, output
    assert "Stopped web, worker and beat." in output
    time.sleep(0.5)
    assert [pid for pid in children if _alive(pid)] == []
    assert _healthz(port) is None
