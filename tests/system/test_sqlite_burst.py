"""`make run`'s embedded default under a burst: web, worker and beat share one SQLite file.

devstack starts the real processes exactly as `make run` does (after the same migrate and seed_demo), on
SQLite and the file-system broker, with the console mail backend (mails are printed in the worker's
output). Three members file REQUESTS requests over HTTP (topics and access grants, JSON API) while two
admin sessions approve each one as soon as it is filed (half through the HTML form, half through the
API). Then:

- no process logs "database is locked", and every HTTP answer is a success;
- every request is approved once and provisioned once (topic active with one create in the simulated
  MSK, grant applied with one policy);
- every notification (approval needed, approved) is recorded once and mailed once, with links to the
  port the portal runs on.

The figures (duration, rate, retried tasks) are printed. Takes about a minute and a half.
"""

from __future__ import annotations

import email.header
import queue
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.processes import ROOT, PortalSession, free_port, healthz, kill_tree, newcomer_env

REQUESTS = 210  # the issue: ≥ 200 requests and approvals within a minute
GRANT_EVERY = 5  # every fifth request is an access grant, the rest are topics
MEMBERS = ("alice", "bob", "carol")  # Payments, Search, Analytics: events-write is shared with all three
TEAMS = {"alice": "payments", "bob": "search", "carol": "analytics"}
PASSWORD = "kafka-demo-2026"
DONE_WITHIN_SECONDS = 120  # after the last approval, everything is provisioned and mailed within this

pytestmark = [pytest.mark.services, pytest.mark.slow]


def _run(command: list[str], env: dict) -> None:
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def _query(db: Path, sql: str, *params) -> list[tuple]:
    """Read the portal's database from outside, as another process would (never holding a lock for long)."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def _mail_subjects(log: str) -> list[str]:
    """Subjects of the mails the console backend printed (headers may be folded or RFC 2047-encoded)."""
    subjects = []
    for folded in re.findall(r"^Subject: (.*(?:\n[ \t].*)*)", log, flags=re.MULTILINE):
        unfolded = re.sub(r"\n(?=[ \t])", "", folded)
        subjects.append(str(email.header.make_header(email.header.decode_header(unfolded))))
    return subjects


class Burst:
    """Members file requests, admins approve them as they come; every answer is recorded."""

    def __init__(self, base_url: str, cluster_id: int) -> None:
        self.base_url = base_url
        self.cluster_id = cluster_id
        self.filed: queue.Queue[int | None] = queue.Queue()
        self.request_ids: list[int] = []
        self.failures: list[str] = []
        self.answers: Counter[int] = Counter()
        self.lock = threading.Lock()

    def _record(self, what: str, status: int, body: bytes, ok: set[int]) -> bool:
        with self.lock:
            self.answers[status] += 1
            if status not in ok:
                title = re.search(rb"<title>\s*(.*?)\s*</title>", body, flags=re.DOTALL)
                self.failures.append(f"{what}: {status} {(title.group(1) if title else body)[:300]!r}")
                return False
        return True

    def member(self, username: str, numbers: range) -> None:
        session = PortalSession(self.base_url)
        session.login(username, PASSWORD)
        team = TEAMS[username]
        for n in numbers:
            if n % GRANT_EVERY == 0:
                path, body = (
                    "/api/v1/requests/access/",
                    {
                        "team": team,
                        "cluster": self.cluster_id,
                        "topic_prefix": f"{team}.burst-{n}",
                        "principal_arn": f"arn:aws:iam::111122223333:role/burst-{n}",
                        "produce": True,
                    },
                )
            else:
                path, body = (
                    "/api/v1/requests/topic/",
                    {
                        "team": team,
                        "cluster": self.cluster_id,
                        "name": f"burst-{n}",
                        "partitions": 1,
                        "expected_in_mbps": "0.1",
                        "expected_out_mbps": "0.1",
                    },
                )
            status, answer = session.request("POST", path, json_body=body)
            if self._record(f"{username} files #{n}", status, answer, {201}):
                request_id = int(re.search(rb'"id":\s*(\d+)', answer).group(1))
                with self.lock:
                    self.request_ids.append(request_id)
                self.filed.put(request_id)

    def admin(self, through_api: bool) -> None:
        session = PortalSession(self.base_url)
        session.login("ada", PASSWORD)
        while (request_id := self.filed.get()) is not None:
            if through_api:
                status, answer = session.request(
                    "POST", f"/api/v1/requests/{request_id}/approve/", json_body={}
                )
                self._record(f"API approval of #{request_id}", status, answer, {200})
            else:
                status, answer = session.request("POST", f"/requests/{request_id}/approve/", form={})
                self._record(f"approval of #{request_id}", status, answer, {302})


@pytest.fixture
def devstack(tmp_path):
    """`make run` on a fresh var/ folder: migrate, seed_demo, then devstack (web + worker + beat)."""
    port = free_port()
    env = newcomer_env(tmp_path, DEBUG="true", HEARTBEAT_INTERVAL_SECONDS="5")
    _run([sys.executable, "manage.py", "migrate", "--noinput"], env)
    _run([sys.executable, "manage.py", "seed_demo"], env)
    log_path = tmp_path / "devstack.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "devstack", "--port", str(port), "--noreload"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while not ((health := healthz(port)) and health["checks"]["worker"]["ok"]):
            assert process.poll() is None, log_path.read_text()[-5000:]
            assert time.monotonic() < deadline, f"not healthy within 120 s: {health}"
            time.sleep(0.5)
        yield port, tmp_path / "portal.sqlite3", log_path
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    finally:
        kill_tree(process)


def test_a_burst_of_requests_and_approvals_on_sqlite_never_locks_and_loses_nothing(devstack):
    port, db, log_path = devstack
    [(cluster_id,)] = _query(db, "SELECT id FROM clusters_cluster WHERE name = 'events-write'")
    [(requests_before,)] = _query(db, "SELECT count(*) FROM clusters_request")
    burst = Burst(f"http://127.0.0.1:{port}", cluster_id)
    per_member = [range(k, REQUESTS, len(MEMBERS)) for k in range(len(MEMBERS))]
    members = [
        threading.Thread(target=burst.member, args=(u, r)) for u, r in zip(MEMBERS, per_member, strict=True)
    ]
    admins = [threading.Thread(target=burst.admin, args=(api,)) for api in (False, True)]
    started = time.monotonic()
    for thread in members + admins:
        thread.start()
    for thread in members:
        thread.join()
    for _ in admins:
        burst.filed.put(None)
    for thread in admins:
        thread.join()
    burst_seconds = time.monotonic() - started
    grants = len(range(0, REQUESTS, GRANT_EVERY))
    expected = {
        "filed": REQUESTS,
        "approved": REQUESTS,
        "topics active": REQUESTS - grants,
        "grants applied": grants,
        "notifications": 2 * REQUESTS,
    }
    deadline = time.monotonic() + DONE_WITHIN_SECONDS
    while (state := _progress(db)) != expected and time.monotonic() < deadline:
        time.sleep(1)
    done_seconds = time.monotonic() - started
    time.sleep(5)  # a few more reconcile and heartbeat rounds: nothing may repeat
    log = log_path.read_text(errors="replace")
    locked = log.count("database is locked")
    retried = len(re.findall(r"Task \S+\[[0-9a-f-]+\] retry: ", log))
    failed = re.findall(r"Task \S+\[[0-9a-f-]+\] raised unexpected: .*", log)
    print(
        f"\nSQLite burst: {REQUESTS} requests filed and approved over HTTP in {burst_seconds:.1f} s "
        f"({2 * REQUESTS / burst_seconds:.1f} posts/s, answers {dict(burst.answers)}); all done after "
        f"{done_seconds:.1f} s; {locked} 'database is locked' in the logs; {retried} task retries; "
        f"{len(failed)} failed tasks; state {state}"
    )
    assert burst.failures == [], burst.failures[:10]
    assert "exited with code" not in log, log[-5000:]  # devstack stops everything when one process dies
    assert locked == 0, [line for line in log.splitlines() if "database is locked" in line][:10]
    assert failed == [], failed[:10]
    assert state == expected, state

    # Once each: the request and its decision, its provisioning, its notifications and mails.
    assert len(set(burst.request_ids)) == REQUESTS
    assert _query(db, "SELECT count(*) FROM clusters_request") == [(requests_before + REQUESTS,)]
    decisions = _query(
        db,
        "SELECT e.request_id, count(*) FROM clusters_requestevent e JOIN clusters_request r "
        "ON e.request_id = r.id WHERE r.summary LIKE '%burst-%' AND e.to_status = 'approved' GROUP BY e.request_id",
    )
    assert len(decisions) == REQUESTS and {count for _, count in decisions} == {1}
    created = _query(
        db,
        "SELECT t.name, count(*) FROM clusters_provisioningevent e JOIN clusters_topic t ON e.topic_id = t.id "
        "WHERE t.name LIKE '%.burst-%' AND e.to_status = 'creating' GROUP BY t.name",
    )
    assert len(created) == REQUESTS - grants and {count for _, count in created} == {1}, created[:5]
    in_msk = _query(db, "SELECT count(*) FROM local_msk_localmsktopic WHERE name LIKE '%.burst-%'")
    assert in_msk == [(REQUESTS - grants,)]
    policies = _query(
        db, "SELECT count(*) FROM local_msk_localmskgrant WHERE principal_arn LIKE '%:role/burst-%'"
    )
    assert policies == [(grants,)]
    expected_subjects = {
        subject
        for request_id, summary in _query(
            db, "SELECT id, summary FROM clusters_request WHERE summary LIKE '%burst-%'"
        )
        for subject in (
            f"[MSK portal] Approval needed: #{request_id} {summary}",
            f"[MSK portal] Request #{request_id} approved: {summary}",
        )
    }
    mails = Counter(subject for subject in _mail_subjects(log) if subject in expected_subjects)
    assert set(mails) == expected_subjects, sorted(expected_subjects - set(mails))[:5]
    assert set(mails.values()) == {1}, mails.most_common(5)
    # Their links point at the port the portal runs on (devstack's PORTAL_BASE_URL), not a default.
    links = re.findall(r"^(?:Review it|Details): (\S+)$", log, flags=re.MULTILINE)
    assert len(links) >= 2 * REQUESTS
    assert {link[: link.index("/", len("http://"))] for link in links} == {f"http://127.0.0.1:{port}"}


def _progress(db: Path) -> dict[str, int]:
    """The burst's requests are those whose summary names a "burst-<n>" topic or role."""

    def count(sql: str) -> int:
        return _query(db, sql)[0][0]

    return {
        "filed": count("SELECT count(*) FROM clusters_request WHERE summary LIKE '%burst-%'"),
        "approved": count(
            "SELECT count(*) FROM clusters_request WHERE summary LIKE '%burst-%' AND status = 'approved'"
        ),
        "topics active": count(
            "SELECT count(*) FROM clusters_topic WHERE name LIKE '%.burst-%' AND status = 'active'"
        ),
        "grants applied": count(
            "SELECT count(*) FROM clusters_accessgrant WHERE topic_prefix LIKE '%.burst-%' AND status = 'applied'"
        ),
        "notifications": count(
            "SELECT count(*) FROM clusters_sentnotification e JOIN clusters_request r ON e.request_id = r.id "
            "WHERE r.summary LIKE '%burst-%'"
        ),
    }
