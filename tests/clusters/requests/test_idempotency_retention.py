"""Idempotency-Keys are forgotten IDEMPOTENCY_RETENTION_HOURS after their first attempt, by a daily beat
task: a retry within the retention still replays the first answer; after it, the key files a new request."""

from datetime import timedelta

from celery.schedules import crontab
from django.conf import settings
from django.utils import timezone

from clusters.models import IdempotencyKey, Request
from clusters.requests.tasks import forget_old_idempotency_keys
from portal.celery import app
from tests.clusters.requests.test_api import api, post, topic_body

URL = "clusters-api:request-topic"


def _age(key: str, hours: float) -> None:
    IdempotencyKey.objects.filter(key=key).update(created_at=timezone.now() - timedelta(hours=hours))


def test_keys_past_the_retention_are_forgotten_and_younger_ones_still_replay(member_a, cluster_a, token_for):
    assert settings.IDEMPOTENCY_RETENTION_HOURS == 24  # the documented default
    client, headers = api(member_a, token_for)
    for key, name in (("old", "orders"), ("recent", "billing")):
        assert (
            post(
                client, headers, URL, topic_body(cluster_a, name=name), **{"Idempotency-Key": key}
            ).status_code
            == 201
        )
    _age("old", 24.5)
    _age("recent", 23.5)

    assert forget_old_idempotency_keys.delay().get() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["recent"]
    assert forget_old_idempotency_keys.delay().get() == 0  # again: nothing more

    # Within the retention the retry gets the first answer; after it, the key is new again.
    recent = post(
        client, headers, URL, topic_body(cluster_a, name="billing"), **{"Idempotency-Key": "recent"}
    )
    assert recent.status_code == 201 and recent.headers["Idempotent-Replayed"] == "true"
    assert Request.objects.count() == 2
    old = post(client, headers, URL, topic_body(cluster_a, name="orders-2"), **{"Idempotency-Key": "old"})
    assert old.status_code == 201 and "Idempotent-Replayed" not in old.headers
    assert Request.objects.count() == 3


def test_the_retention_is_a_setting(member_a, cluster_a, token_for, settings):
    settings.IDEMPOTENCY_RETENTION_HOURS = 2
    client, headers = api(member_a, token_for)
    assert post(client, headers, URL, topic_body(cluster_a), **{"Idempotency-Key": "k"}).status_code == 201
    _age("k", 1.5)
    assert forget_old_idempotency_keys() == 0
    _age("k", 2.5)
    assert forget_old_idempotency_keys() == 1 and not IdempotencyKey.objects.exists()


def test_beat_runs_the_clean_up_daily():
    entry = settings.CELERY_BEAT_SCHEDULE["requests-forget-idempotency-keys"]
    assert entry["task"] in app.tasks
    schedule = entry["schedule"]
    assert isinstance(schedule, crontab) and len(schedule.hour) == 1 and len(schedule.minute) == 1
    assert schedule.day_of_week == set(range(7)) and len(schedule.day_of_month) == 31
