"""`make run`'s process supervisor, for real: web + Celery worker + Celery beat as separate processes.

Beat schedules the heartbeat task every second, the broker (Redis when reachable, else the file-system
transport) carries it, a worker process runs it and writes the heartbeat row that /healthz reports.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection

from tests.processes import ROOT, alive, descendants, free_port, healthz, kill_tree, newcomer_env


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    host = db.get("HOST") or "127.0.0.1"
    return f"postgres://{db.get('USER') or 'postgres'}@{host}:{db.get('PORT') or 5432}/{db['NAME']}"


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_devstack_runs_web_worker_and_beat_and_one_ctrl_c_stops_them(tmp_path):
    port = free_port()
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
            health = healthz(port)
            if health and health["checks"]["worker"]["ok"]:
                break
            assert process.poll() is None, process.stdout.read()
            time.sleep(0.5)
        assert health and health["status"] == "ok", health
        assert health["checks"]["worker"]["ok"], health
        children = descendants(process.pid)
        assert len(children) >= 3  # web, worker (+ its pool), beat

        process.send_signal(signal.SIGINT)  # what Ctrl-C delivers
        output, _ = process.communicate(timeout=60)
    finally:
        # The children run in their own sessions: kill them too, or a failed run leaves a web server
        # and workers holding database connections.
        kill_tree(process)
    assert process.returncode == 0, output
    assert "Stopped web, worker and beat." in output
    time.sleep(0.5)
    assert [pid for pid in children if alive(pid)] == []
    assert healthz(port) is None


def test_beat_sends_the_heartbeat_and_the_drift_check_when_it_starts(tmp_path):
    """Not one interval later (30 s for the heartbeat, 10 minutes for drift): at once."""
    env = newcomer_env(tmp_path, DEBUG="true")
    queue = tmp_path / "broker" / "queue"
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "beat", f"--schedule={tmp_path / 'schedule'}"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while len(sent := list(queue.glob("*.msg"))) < 2 and time.monotonic() < deadline:
            assert beat.poll() is None
            time.sleep(0.2)
    finally:
        kill_tree(beat)
    tasks = sorted(json.loads(path.read_text())["headers"]["task"] for path in sent)
    assert tasks == ["clusters.tasks.detect_drift", "portal.tasks.record_heartbeat"]
