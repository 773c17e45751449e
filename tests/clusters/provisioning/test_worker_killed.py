"""Faults: the worker is SIGKILLed at random moments while it provisions; nothing is lost or duplicated.

50 approved cluster requests are provisioned by a real worker process that is killed with SIGKILL at
random intervals (so at random steps: before the create call, between the call and saving the ARN,
while activating, …) and restarted, with beat reconciling. At the end every cluster is ACTIVE and the
simulated MSK holds exactly one cluster per request.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from clusters.models import Cluster, ProvisioningEvent
from clusters.providers.local.models import LocalMskCluster
from clusters.requests import services
from tests import builders
from tests.clusters.provisioning.test_real_worker import publish_to_broker  # noqa: F401 - fixture
from tests.system.test_devstack_process import _database_url

ROOT = Path(__file__).resolve().parents[3]
TRIALS = 50


def _start(command, env):
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_sigkilled_workers_lose_and_duplicate_nothing(
    tmp_path,
    member_a,
    admin,
    team_a,
    platform_account,
    network_profile,
    publish_to_broker,  # noqa: F811
):
    from clusters.models import PlatformSettings

    PlatformSettings.objects.update_or_create(pk=1, defaults={"max_clusters_per_account_region": 1000})
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DEBUG="true",
        DATABASE_URL=_database_url(),
        PORTAL_VAR_DIR=str(tmp_path),
        LOCAL_MSK_CREATE_SECONDS="1",
        RECONCILE_INTERVAL_SECONDS="1",
        HEARTBEAT_INTERVAL_SECONDS="60",
        PROVISIONING_REDISPATCH_SECONDS="3",
        CELERY_VISIBILITY_TIMEOUT="5",
    )
    worker_command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "portal",
        "worker",
        "--concurrency=2",
        "--loglevel=WARNING",
        "--hostname=killed-worker@%h",
    ]
    beat_command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "portal",
        "beat",
        "--loglevel=WARNING",
        f"--schedule={tmp_path / 'beat-schedule'}",
    ]

    for n in range(TRIALS):
        request = builders.cluster_request(
            member_a, team_a, network_profile, f"kill-{n}", justification="fault test"
        )
        services.approve_request(request_id=request.pk, actor=admin)

    rng = random.Random(20261125)
    beat = _start(beat_command, env)
    worker = _start(worker_command, env)
    kills = 0
    try:
        # Kill the whole worker (main process and its pool) at random moments while work is in flight.
        kill_until = time.monotonic() + 25
        while (
            time.monotonic() < kill_until and Cluster.objects.exclude(status=Cluster.Status.ACTIVE).exists()
        ):
            time.sleep(rng.uniform(0.2, 1.5))
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
            kills += 1
            worker = _start(worker_command, env)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and Cluster.objects.exclude(status=Cluster.Status.ACTIVE).exists():
            time.sleep(0.5)
    finally:
        for process in (worker, beat):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    statuses = Counter(Cluster.objects.values_list("status", flat=True))
    assert statuses == {"active": TRIALS}, (statuses, kills)
    per_name = Counter(LocalMskCluster.objects.values_list("name", flat=True))
    assert len(per_name) == TRIALS and set(per_name.values()) == {1}, per_name
    assert kills >= 5
    adopted = ProvisioningEvent.objects.filter(note__startswith="adopted existing").count()
    print(
        f"\nSIGKILL faults: {TRIALS} clusters, {kills} kills, {adopted} adoptions after a kill, 0 lost, 0 duplicates"
    )
