"""Idempotency-Key under real concurrency: HTTP requests against the live server on PostgreSQL.

Clients that retry before their first attempt has answered (the issue's probe: retries within 0–80 ms,
5 of 22 bursts went wrong) must all get the first answer, also when the first attempt was approved at
once by an auto-approval rule, and never a 400 about the topic the first attempt just created.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest
from django.db import connection, connections, transaction

from clusters.models import AutoApprovalRule, IdempotencyKey, Request, RequestEvent, Topic
from clusters.requests import services
from tests import builders

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions need PostgreSQL")


def _post(url: str, token: str, body: dict, key: str) -> tuple[int, dict, dict]:
    request = urllib.request.Request(  # noqa: S310 (the live test server's http:// URL)
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Idempotency-Key": key,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def _burst(
    url: str, token: str, bodies: list[dict], key: str, spacing: float
) -> list[tuple[int, dict, dict]]:
    """Send `bodies` at once-ish: released together by a barrier, each `spacing` seconds after the last."""
    barrier = threading.Barrier(len(bodies))
    answers: list = [None] * len(bodies)

    def send(index: int) -> None:
        barrier.wait(timeout=30)
        time.sleep(index * spacing)
        answers[index] = _post(url, token, bodies[index], key)

    threads = [threading.Thread(target=send, args=(index,)) for index in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


@pytest.fixture
def slow_validation(monkeypatch):
    """Topic validation takes 50 ms, as under load: long enough for retries to arrive while the first
    attempt is between "no answer stored yet" and "topic created" (how the issue's probe broke it)."""
    real = services.prepare_topic_create

    def slow(**kwargs):
        time.sleep(0.05)
        return real(**kwargs)

    monkeypatch.setattr(services, "prepare_topic_create", slow)


def _topic_body(cluster, name: str) -> dict:
    return {
        "team": "team-a",
        "cluster": cluster.pk,
        "name": name,
        "expected_in_mbps": "5",
        "expected_out_mbps": "5",
    }


@pytest.mark.parametrize("auto_approved", [True, False], ids=["auto-approved", "submitted"])
@pytest.mark.parametrize("trial", range(4))
def test_concurrent_repeats_get_the_first_answer(
    live_server, member_a, cluster_a, token_for, auto_approved, trial
):
    if auto_approved:
        AutoApprovalRule.objects.create(name="small topics", kind="topic.create", max_partitions=10)
    token = token_for(member_a)
    url = f"{live_server.url}/api/v1/requests/topic/"
    body = _topic_body(cluster_a, f"burst{trial}")
    # Six copies: retries 0–75 ms apart, like a client that retries before its first attempt answered.
    answers = _burst(url, token, [body] * 6, key=f"burst-{trial}", spacing=0.015)

    statuses = [status for status, _, _ in answers]
    assert statuses == [201] * 6, [(status, answer) for status, _, answer in answers]
    first = answers[0][2]
    assert all(answer == first for _, _, answer in answers), "every repeat gets the first answer, unchanged"
    assert sum(headers.get("Idempotent-Replayed") == "true" for _, headers, _ in answers) == 5
    assert Request.objects.count() == 1
    assert Topic.objects.filter(name=f"team-a.burst{trial}").count() == (1 if auto_approved else 0)
    assert first["status"] == ("approved" if auto_approved else "submitted")


def test_a_concurrent_repeat_with_another_body_is_refused(live_server, member_a, cluster_a, token_for):
    token = token_for(member_a)
    url = f"{live_server.url}/api/v1/requests/topic/"
    bodies = [_topic_body(cluster_a, "one"), _topic_body(cluster_a, "two")] * 2
    answers = _burst(url, token, bodies, key="mixed", spacing=0.01)
    created = [answer for status, _, answer in answers if status == 201]
    refused = [answer for status, _, answer in answers if status == 409]
    assert len(created) + len(refused) == 4
    assert len({answer["id"] for answer in created}) == 1
    assert all("different request" in answer["message"] for answer in refused)
    assert Request.objects.count() == 1


def test_a_repeat_that_cannot_wait_gets_409_with_retry_after(
    live_server, member_a, cluster_a, token_for, settings
):
    """The first attempt holds its claim (uncommitted) for longer than a repeat waits: 409 + Retry-After."""
    settings.IDEMPOTENCY_WAIT_SECONDS = 1
    token = token_for(member_a)
    claimed, release = threading.Event(), threading.Event()

    class Rollback(Exception):
        pass

    def hold_the_claim() -> None:
        try:
            with transaction.atomic():
                IdempotencyKey.objects.create(user=member_a, key="slow", fingerprint="0" * 64)
                claimed.set()
                release.wait(timeout=30)
                raise Rollback
        except Rollback:
            pass
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_claim)
    holder.start()
    try:
        assert claimed.wait(timeout=10)
        started = time.monotonic()
        status, headers, answer = _post(
            f"{live_server.url}/api/v1/requests/topic/", token, _topic_body(cluster_a, "slow"), key="slow"
        )
        waited = time.monotonic() - started
    finally:
        release.set()
        holder.join(timeout=30)
    assert status == 409, answer
    assert answer["code"] == "idempotency_key_in_use"
    assert int(headers["Retry-After"]) >= 1
    assert waited >= 1  # it waited for the first attempt before giving up
    assert Request.objects.count() == 0
    # Once the first attempt is gone (rolled back here), the retry goes through.
    status, _, answer = _post(
        f"{live_server.url}/api/v1/requests/topic/", token, _topic_body(cluster_a, "slow"), key="slow"
    )
    assert status == 201, answer


def test_concurrent_repeats_of_a_bulk_decision_get_the_first_answer(
    live_server, admin, member_a, cluster_a, token_for
):
    """A bulk decision retried while it runs: every repeat waits for it and replays its answer, and each
    request is approved once (the decisions commit with the answer, in the claim's transaction)."""
    requests = [builders.topic_request(member_a, cluster_a, f"bulk{n}") for n in range(5)]
    ids = [request.pk for request in requests]
    url = f"{live_server.url}/api/v1/requests/decisions/"
    answers = _burst(
        url, token_for(admin), [{"ids": ids, "decision": "approve"}] * 4, key="bulk-burst", spacing=0.015
    )
    assert [status for status, _, _ in answers] == [200] * 4, answers
    assert all(answer == {"approved": ids, "rejected": [], "skipped": []} for _, _, answer in answers)
    assert sum(headers.get("Idempotent-Replayed") == "true" for _, headers, _ in answers) == 3
    assert Topic.objects.filter(name__startswith="team-a.bulk").count() == 5
    assert RequestEvent.objects.filter(request_id__in=ids, to_status=Request.Status.APPROVED).count() == 5
