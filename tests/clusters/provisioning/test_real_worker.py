"""A real Celery worker and beat, over the real broker (Redis in CI), take an approved request to ACTIVE."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clusters.models import Cluster, ProvisioningEvent
from clusters.requests import services
from portal.celery import app
from tests import builders
from tests.system.test_devstack_process import _database_url

ROOT = Path(__file__).resolve().parents[3]


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
    )
    commands = [
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--concurrency=1",
            "--loglevel=WARNING",
            "--hostname=test-worker@%h",
        ],
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "beat",
            "--loglevel=WARNING",
            f"--schedule={tmp_path / 'beat-schedule'}",
        ],
    ]
    processes = [
        subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        for command in commands
    ]
    yield processes
    for process in processes:
        process.terminate()
    for process in processes:
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
        for process in worker_and_beat:
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
        time.sleep(0.3)
        cluster.refresh_from_db()
    assert cluster.status == Cluster.Status.ACTIVE, list(
        ProvisioningEvent.objects.values_list("note", flat=True)
    )
    assert cluster.arn.startswith("arn:aws:kafka:us-east-1:123456789012:cluster/team-a-real/")
    assert cluster.bootstrap_brokers
    steps = list(ProvisioningEvent.objects.filter(cluster=cluster).values_list("to_status", flat=True))
    assert steps[0] == "provisioning" and steps[-1] == "active"
