"""Redis really stops for OUTAGE_SECONDS while admins approve: nothing is lost, the work is dispatched
once it is back (the issue's contract). Takes about OUTAGE_SECONDS + 15 s and runs in `make test`.

A private redis-server (its own port, no persistence) is the broker of this test only, with a real
Celery worker and beat as processes. The machine's shared Redis is never touched. While the private
Redis is stopped (its process terminated), a platform admin approves cluster and topic requests over
HTTP; every approval answers at once and commits. Redis comes back empty (no persistence, like a lost
Redis): every task published before the outage is gone too. Beat's reconcile re-dispatches the
provisioning work and its notification entry re-sends the lost notifications; each cluster is created
once in the simulated MSK, each topic once, and each mail is sent once.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from clusters.models import Cluster, PlatformSettings, ProvisioningEvent, Request, SentNotification, Topic
from clusters.providers.local.models import LocalMskCluster, LocalMskTopic
from clusters.provisioning import REDISPATCH_NOTE
from clusters.requests import services
from portal.celery import app
from tests.conftest import client_for
from tests.settings import REQUIRE_SERVICES
from tests.system.test_devstack_process import _database_url

ROOT = Path(__file__).resolve().parents[3]
OUTAGE_SECONDS = 60  # the issue: "Redis stopped for 60 s while approving"
REDISPATCH_SECONDS = 5  # PROVISIONING_REDISPATCH_SECONDS of the worker and beat under test
# An approval while Redis is down answers without waiting on the broker (a publish gives up after ~1 s,
# settings.REDIS_BROKER_TRANSPORT_OPTIONS; beat re-dispatches later). Not
# tighter: the same approvals measured 3.19 s once with the machine's two cores at load 11.7.
APPROVAL_MAX_SECONDS = 5.0
BUSY_TASKS = 200  # harmless heartbeat tasks that keep the worker busy when Redis stops
RECOVERY_MAX_SECONDS = 60  # after Redis is back, everything must be done within this

pytestmark = pytest.mark.services


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server of this test only, stopped and started again on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.port = _free_port()
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None
        self.log = workdir / "redis.log"

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.workdir),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 10
        while not self.ping():
            assert self.process.poll() is None, self.log.read_text()[-2000:]
            assert time.monotonic() < deadline, "private redis-server did not answer within 10 s"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        assert not self.ping()


@pytest.fixture
def private_redis(tmp_path):
    if shutil.which("redis-server") is None:
        if REQUIRE_SERVICES:
            pytest.fail("CI needs the redis-server binary for the Redis outage test")
        pytest.skip("redis-server is not installed")
    redis = PrivateRedis(tmp_path)
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture
def publish_to_private_redis(private_redis, monkeypatch):
    """The test process publishes to the private Redis, as the web server would (not eagerly)."""

    def reset_producers():  # the next publish builds its connection from the broker settings now in force
        app._pool = None
        app.amqp._producer_pool = None

    eager, options, transport = (
        app.conf.task_always_eager,
        app.conf.broker_transport_options,
        app.conf.broker_transport,
    )
    app.conf.task_always_eager = False
    app.conf.broker_transport = "portal.broker:Transport"  # as settings choose for a redis:// broker
    # The conf before the environment: Celery's conf answers with CELERY_BROKER_URL once that is set, and
    # monkeypatch puts back what it read, which would leave the process on the private Redis, gone after this test.
    monkeypatch.setattr(app.conf, "broker_url", private_redis.url)
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.setenv("CELERY_BROKER_URL", private_redis.url)  # Celery reads this before its conf
    app.conf.broker_transport_options = dict(settings.REDIS_BROKER_TRANSPORT_OPTIONS)
    reset_producers()
    yield
    app.conf.task_always_eager, app.conf.broker_transport_options = eager, options
    app.conf.broker_transport = transport
    monkeypatch.undo()
    reset_producers()


@pytest.fixture
def worker_and_beat(private_redis, tmp_path):
    """A real worker and beat on the private Redis; their logs are files (a full pipe would block them)."""
    mail_dir = tmp_path / "mail"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "CELERY_BROKER_URL"}
    }
    env.update(
        DEBUG="true",
        DATABASE_URL=_database_url(),
        PORTAL_VAR_DIR=str(tmp_path),
        REDIS_URL=private_redis.url,
        LOCAL_MSK_CREATE_SECONDS="1",
        RECONCILE_INTERVAL_SECONDS="1",
        HEARTBEAT_INTERVAL_SECONDS="60",
        PROVISIONING_REDISPATCH_SECONDS=str(REDISPATCH_SECONDS),
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(mail_dir),
    )
    commands = {
        "worker": [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--concurrency=2",
            "--loglevel=INFO",
            "--hostname=outage-worker@%h",
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
    processes = {}
    for name, command in commands.items():
        with (tmp_path / f"{name}.log").open("wb") as log:
            processes[name] = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
    yield processes, tmp_path, mail_dir
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    for process in processes.values():
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _log(tmp_path: Path, name: str) -> str:
    return (tmp_path / f"{name}.log").read_text(errors="replace")


def _mails(mail_dir: Path) -> list[str]:
    """Subjects of every mail the file backend wrote (one file per connection, mails separated by dashes)."""
    subjects = []
    for path in sorted(mail_dir.glob("*.log")) if mail_dir.exists() else []:
        for chunk in path.read_text().split("\n" + "-" * 79 + "\n"):
            if chunk.strip():
                subjects.append(str(email.message_from_string(chunk, policy=email.policy.default)["Subject"]))
    return subjects


def _wait(predicate, seconds: float, processes: dict, tmp_path: Path, what: str) -> float:
    """Poll (this is a test) until predicate() is true; returns the seconds it took."""
    started = time.monotonic()
    while not predicate():
        for name, process in processes.items():
            assert process.poll() is None, f"{name} died:\n{_log(tmp_path, name)[-3000:]}"
        assert time.monotonic() - started < seconds, f"not within {seconds} s: {what}"
        time.sleep(0.25)
    return time.monotonic() - started


def _cluster_request(member, team, account, profile, name):
    prepared = services.prepare_cluster_create(
        actor=member,
        team=team,
        name=name,
        kind="dedicated",
        environment="dev",
        account=account,
        region="us-east-1",
        network_profile=profile,
        expected_write_mbps=Decimal(1),
        expected_read_mbps=Decimal(1),
        contains_pii=False,
        latency_class="time_insensitive",
        justification="outage drill",
    )
    return services.submit_request(actor=member, prepared=prepared)


def _topic_request(member, team, cluster, name):
    prepared = services.prepare_topic_create(
        actor=member,
        team=team,
        cluster=cluster,
        name=name,
        expected_in_mbps=Decimal(1),
        expected_out_mbps=Decimal(1),
    )
    return services.submit_request(actor=member, prepared=prepared)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_redis_stopped_for_a_minute_while_approving_loses_nothing(
    private_redis,
    worker_and_beat,
    publish_to_private_redis,
    member_a,
    admin,
    team_a,
    platform_account,
    network_profile,
):
    processes, tmp_path, mail_dir = worker_and_beat
    PlatformSettings.objects.update_or_create(pk=1, defaults={"max_clusters_per_account_region": 1000})
    admin_client = client_for(admin)

    # Before the outage, Redis up: one cluster goes live through the real processes (they are ready).
    base_request = _cluster_request(member_a, team_a, platform_account, network_profile, "outage-base")
    assert admin_client.post(reverse("clusters:request-approve", args=[base_request.pk])).status_code == 302
    base = Cluster.objects.get(name="outage-base")
    _wait(
        lambda: Cluster.objects.get(pk=base.pk).status == Cluster.Status.ACTIVE,
        60,
        processes,
        tmp_path,
        "the cluster approved before the outage is active",
    )
    base.refresh_from_db()
    # Requests waiting for approval, filed while Redis was up (their "approval needed" mails go out now).
    waiting = [
        *(
            _cluster_request(member_a, team_a, platform_account, network_profile, f"outage-{n}")
            for n in range(3)
        ),
        *(_topic_request(member_a, team_a, base, f"outage-{n}") for n in range(2)),
    ]
    _wait(
        lambda: SentNotification.objects.filter(event="submitted").count() == 1 + len(waiting),
        30,
        processes,
        tmp_path,
        "the approval-needed mails before the outage",
    )
    mails_before = Counter(_mails(mail_dir))
    assert len(mails_before) == 2 + len(waiting) and set(mails_before.values()) == {1}, mails_before

    # --- Redis stops, while the worker holds unacknowledged tasks (acks_late): running and prefetched ---
    from portal.tasks import record_heartbeat

    for _ in range(BUSY_TASKS):
        record_heartbeat.delay()
    _wait(
        lambda: "Task portal.tasks.record_heartbeat" in _log(tmp_path, "worker"),
        10,
        processes,
        tmp_path,
        "the worker is busy",
    )
    private_redis.stop()
    outage_started = time.monotonic()
    approval_seconds = []
    for request in waiting:
        started = time.monotonic()
        response = admin_client.post(reverse("clusters:request-approve", args=[request.pk]))
        approval_seconds.append(time.monotonic() - started)
        assert response.status_code == 302, response.content[:500]  # not a 500
        assert Request.objects.get(pk=request.pk).status == Request.Status.APPROVED  # committed
    # A topic on a cluster that is itself still pending, filed and approved during the outage, and a
    # request filed during the outage that still waits for an admin when Redis is back.
    new_clusters = list(Cluster.objects.filter(name__in=[f"outage-{n}" for n in range(3)]).order_by("name"))
    late_topic = _topic_request(member_a, team_a, new_clusters[0], "late")
    response = admin_client.post(reverse("clusters:request-approve", args=[late_topic.pk]))
    assert response.status_code == 302
    still_waiting = _cluster_request(member_a, team_a, platform_account, network_profile, "outage-waiting")
    assert max(approval_seconds) < APPROVAL_MAX_SECONDS, approval_seconds

    approved = [*waiting, late_topic]
    topics = list(Topic.objects.filter(cluster__name__startswith="outage-").order_by("name"))
    assert len(topics) == 3
    assert {c.status for c in new_clusters} == {Cluster.Status.PENDING}
    assert {t.status for t in topics} == {Topic.Status.PENDING}

    # Redis stays down for OUTAGE_SECONDS in all: the worker and beat must survive it, and nothing moves.
    while time.monotonic() - outage_started < OUTAGE_SECONDS:
        for name, process in processes.items():
            assert process.poll() is None, (
                f"{name} died while Redis was down:\n{_log(tmp_path, name)[-3000:]}"
            )
        time.sleep(0.5)
    outage = time.monotonic() - outage_started
    assert (
        Cluster.objects.filter(pk__in=[c.pk for c in new_clusters], status=Cluster.Status.PENDING).count()
        == 3
    )
    assert not LocalMskCluster.objects.filter(name__in=[c.name for c in new_clusters]).exists()
    assert (
        not SentNotification.objects.filter(request__in=[*approved, still_waiting])
        .exclude(event="submitted", request__in=waiting)
        .exists()
    )

    # --- Redis is back (empty: every task published before the outage is gone as well) -----------------
    private_redis.start()
    recovery = _wait(
        lambda: (
            Cluster.objects.filter(name__startswith="outage-", status=Cluster.Status.ACTIVE).count() == 4
            and Topic.objects.filter(pk__in=[t.pk for t in topics], status=Topic.Status.ACTIVE).count() == 3
            and SentNotification.objects.filter(request__in=approved, event="approved").count()
            == len(approved)
            and SentNotification.objects.filter(request=still_waiting, event="submitted").exists()
        ),
        RECOVERY_MAX_SECONDS,
        processes,
        tmp_path,
        "everything approved during the outage is done",
    )
    time.sleep(2 * REDISPATCH_SECONDS)  # a few more reconcile and re-send rounds: nothing may repeat

    # Each cluster exactly once in the simulated MSK, each topic once.
    per_cluster = Counter(LocalMskCluster.objects.values_list("name", flat=True))
    assert per_cluster == {c: 1 for c in ["outage-base", "outage-0", "outage-1", "outage-2"]}, per_cluster
    per_topic = Counter(LocalMskTopic.objects.values_list("cluster_arn", "name"))
    assert len(per_topic) == 3 and set(per_topic.values()) == {1}, per_topic
    for cluster in Cluster.objects.filter(name__startswith="outage-"):
        assert LocalMskCluster.objects.get(name=cluster.name).arn == cluster.arn
    # The steps show the re-dispatch: of every cluster approved in the outage, and of the topics on the
    # cluster that was already active (the late topic's cluster dispatches it when it turns active).
    redispatched = ProvisioningEvent.objects.filter(note__startswith=REDISPATCH_NOTE)
    assert set(redispatched.exclude(cluster=None).values_list("cluster__name", flat=True)) == {
        c.name for c in new_clusters
    }
    assert {"team-a.outage-0", "team-a.outage-1"} <= set(
        redispatched.exclude(topic=None).values_list("topic__name", flat=True)
    )
    for cluster in new_clusters:
        steps = list(ProvisioningEvent.objects.filter(cluster=cluster).values_list("to_status", "note"))
        assert steps[0][0] == "pending" and steps[0][1].startswith(REDISPATCH_NOTE), steps
        assert [s for s, _ in steps[1:] if s != "pending"][-1] == "active", steps
    # Every notification exactly once: the decisions made during the outage and the request that still
    # waits are sent after it; "approval needed" for the late topic is not, it was decided meanwhile.
    sent = Counter(SentNotification.objects.values_list("request_id", "event"))
    assert set(sent.values()) == {1}
    assert {(r.pk, "approved") for r in approved} | {(still_waiting.pk, "submitted")} <= set(sent)
    assert (late_topic.pk, "submitted") not in sent
    mails = Counter(_mails(mail_dir))
    assert set(mails.values()) == {1}, mails  # no mail twice
    after = mails - mails_before
    assert sorted(after) == sorted(
        [f"[MSK portal] Request #{r.pk} approved: {Request.objects.get(pk=r.pk).summary}" for r in approved]
        + [f"[MSK portal] Approval needed: #{still_waiting.pk} {still_waiting.summary}"]
    ), after

    # The worker and beat lived through it: they reported the lost connection and reconnected.
    for name, process in processes.items():
        assert process.poll() is None, f"{name} died:\n{_log(tmp_path, name)[-3000:]}"
    worker_log, beat_log = _log(tmp_path, "worker"), _log(tmp_path, "beat")
    assert "Connection to broker lost" in worker_log, worker_log[-3000:]
    assert re.search(r"Cannot connect to \S+: .*Connection refused", worker_log), worker_log[-3000:]
    assert len(re.findall(r"Connected to \S+:\d+/0", worker_log)) >= 2, worker_log[-3000:]  # reconnected
    assert "Couldn't apply scheduled task clusters-reconcile" in beat_log, beat_log[-3000:]
    last_failure = beat_log.rindex("Couldn't apply scheduled task")
    assert "Sending due task clusters-reconcile" in beat_log[last_failure:], beat_log[-3000:]
    print(
        f"\nRedis outage: down {outage:.1f} s; {len(approved)} approvals in the outage, slowest "
        f"{max(approval_seconds):.2f} s; all done {recovery:.1f} s after Redis was back; "
        f"{redispatched.count()} re-dispatches, {len(after)} mails sent after the outage, 0 lost, 0 duplicates"
    )
