"""A real Celery worker and beat, over the real broker (Redis in CI), take an approved request to ACTIVE."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from clusters.models import Cluster, ProvisioningEvent
from clusters.requests import services
from portal.celery import app
from tests import builders
from tests.system.test_devstack_process import _database_url

ROOT = Path(__file__).resolve().parents[3]
LOG_TAIL_LINES = 40


@dataclass
class WorkerAndBeat:
    """The two processes and their logs: files, never a pipe (a pipe nobody reads fills up at 64 KiB, and
    the worker then blocks for ever writing its next log line while it still looks alive)."""

    processes: dict[str, subprocess.Popen]
    logs: dict[str, Path]

    def assert_alive(self) -> None:
        for name, process in self.processes.items():
            assert process.poll() is None, f"{name} exited with {process.returncode}\n{self.log_tails()}"

    def log_tails(self) -> str:
        tails = []
        for name, log in self.logs.items():
            lines = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
            tails.append(f"--- last {len(lines)} lines of {name}.log ({log}) ---\n" + "\n".join(lines))
        return "\n".join(tails)


@pytest.fixture
def worker_and_beat(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DEBUG="true",
        DATABASE_URL=_database_url(),
        PORTAL_VAR_DIR=str(tmp_path),
        LOCAL_MSK_CREATE_SECONDS="1",
        RECONCILE_INTERVAL_SECONDS="1",
        HEARTBEAT_INTERVAL_SECONDS="60",
        PYTHONUNBUFFERED="1",  # the logs are files: every line is there when a failure reads their tails
    )
    commands = {
        # INFO: every task received and finished, with its time, so a failure's log tail says what ran.
        "worker": [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--concurrency=1",
            "--loglevel=INFO",
            "--hostname=test-worker@%h",
        ],
        "beat": [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "beat",
            "--loglevel=INFO",
            f"--schedule={tmp_path / 'beat-schedule'}",
        ],
    }
    # The queue is this pytest process's (tests/settings.py) and outlives the real-worker tests it ran
    # before: what they left (test_worker_killed's beat leaves a hundred messages or so) would come first.
    app.control.purge()
    logs = {name: tmp_path / f"{name}.log" for name in commands}
    processes = {}
    for name, command in commands.items():
        with logs[name].open("wb") as log:
            processes[name] = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    yield WorkerAndBeat(processes, logs)
    for process in processes.values():
        process.terminate()
    for process in processes.values():
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def publish_to_broker():
    """The test process publishes to the real broker, as the web server does (not eagerly in-process)."""
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = eager


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_approved_cluster_request_becomes_active_through_real_processes(
    worker_and_beat, member_a, admin, team_a, platform_account, network_profile, publish_to_broker
):
    request = builders.cluster_request(
        member_a, team_a, network_profile, "team-a-real", justification="integration"
    )
    services.approve_request(request_id=request.pk, actor=admin)  # commits: the task goes to the broker

    deadline = time.monotonic() + 120  # generous: CI machines run other test workers beside it
    cluster = Cluster.objects.get(name="team-a-real")
    while time.monotonic() < deadline and cluster.status != Cluster.Status.ACTIVE:
        worker_and_beat.assert_alive()
        time.sleep(0.3)
        cluster.refresh_from_db()
    events = list(ProvisioningEvent.objects.values_list("note", flat=True))
    assert cluster.status == Cluster.Status.ACTIVE, f"{events}\n{worker_and_beat.log_tails()}"
    assert cluster.arn.startswith("arn:aws:kafka:us-east-1:123456789012:cluster/team-a-real/")
    assert cluster.bootstrap_brokers
    steps = list(ProvisioningEvent.objects.filter(cluster=cluster).values_list("to_status", flat=True))
    assert steps[0] == "provisioning" and steps[-1] == "active"
