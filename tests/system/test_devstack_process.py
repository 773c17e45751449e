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

from portal import demo
from tests.processes import ROOT, alive, descendants, free_port, healthz, kill_tree, newcomer_env


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    host = db.get("HOST") or "127.0.0.1"
    return f"postgres://{db.get('USER') or 'postgres'}@{host}:{db.get('PORT') or 5432}/{db['NAME']}"


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_devstack_runs_web_worker_and_beat_and_one_ctrl_c_stops_them(tmp_path, settings):
    port = free_port()
    settings.VAR_DIR, settings.DEBUG = tmp_path, True
    demo.remember(
        demo.DemoLogins("s3cret-demo", (demo.DemoLogin("alice", "Alice Member", "member of payments"),))
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "PORTAL_BASE_URL"}
    }
    env.update(
        DEBUG="true",
        DATABASE_URL=_database_url(),
        PORTAL_VAR_DIR=str(tmp_path),
        HEARTBEAT_INTERVAL_SECONDS="1",
        # Its own queue: tasks other real-worker tests left in theirs (retries, redeliveries) never
        # reach this worker and delay its first heartbeat.
        CELERY_QUEUE=f"{os.environ.get('CELERY_QUEUE', 'celery')}-devstack-{port}",
    )
    log = tmp_path / "devstack.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "devstack", "--port", str(port), "--noreload"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    try:
        # devstack says it is ready once /healthz reports the database, the broker and a worker.
        deadline = time.monotonic() + 90
        while "The portal is ready" not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        health = healthz(port)
        assert health and health["status"] == "ok", health
        assert health["checks"]["worker"]["ok"], health
        children = descendants(process.pid)
        assert len(children) >= 3  # web, worker (+ its pool), beat

        process.send_signal(signal.SIGINT)  # what Ctrl-C delivers
        process.wait(timeout=60)
    finally:
        # The children run in their own sessions: kill them too, or a failed run leaves a web server
        # and workers holding database connections.
        kill_tree(process)
    output = log.read_text()
    assert process.returncode == 0, output
    assert "Stopped web, worker and beat." in output
    time.sleep(0.5)
    assert [pid for pid in children if alive(pid)] == []
    assert healthz(port) is None
    # The address and the demo logins come after the worker's and beat's banners, not hidden above them.
    ready = output.index("The portal is ready")
    assert output.index("[tasks]") < ready and output.index("celery beat v") < ready
    banner = output[ready:].split("Ctrl-C stops everything.")[0]
    assert f"ready at http://127.0.0.1:{port}/ " in banner
    assert "Demo logins (password for all: s3cret-demo)" in banner and "alice  Alice Member" in banner


def test_beat_sends_the_heartbeat_and_the_drift_check_when_it_starts(tmp_path):
    """Not one interval later (30 s for the heartbeat, 10 minutes for drift, 5 for metrics): at once."""
    env = newcomer_env(tmp_path, DEBUG="true")
    queue = tmp_path / "broker" / "queue"
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "beat", f"--schedule={tmp_path / 'schedule'}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while len(sent := list(queue.glob("*.msg"))) < 3 and time.monotonic() < deadline:
            assert beat.poll() is None
            time.sleep(0.2)
    finally:
        kill_tree(beat)
    tasks = sorted(json.loads(path.read_text())["headers"]["task"] for path in sent)
    assert tasks == [
        "clusters.observability.tasks.collect_all",
        "clusters.tasks.detect_drift",
        "portal.tasks.record_heartbeat",
    ]
