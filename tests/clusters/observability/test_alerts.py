"""Alert rules at fixed clocks: an episode opens once, notifies its team once, resolves once, and two
workers evaluating at once never open (or notify) twice."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection

from clusters.models import PlatformSettings
from clusters.observability import alerts
from clusters.observability.models import AlertEpisode, AlertEvent, AlertRule
from portal import transitions

from .conftest import NOW, STEP, lags, make_topic, rates

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """evaluate() at a clock, running what it enqueues after commit (the notification tasks, eagerly)."""

    def evaluate(now: dt.datetime):
        with django_capture_on_commit_callbacks(execute=True):
            return alerts.evaluate(now)

    return evaluate


def subjects(mails) -> list[str]:
    return [message.subject for message in mails]


def test_a_topic_above_80_percent_for_15_minutes_fires_once_and_resolves_once(run, orders, member_a):
    rates(orders, NOW - 3 * STEP, [11, 13, 13])  # 11:45 is below 12 MB/s: not 15 minutes yet
    assert run(NOW).opened == [] and len(mail.outbox) == 0

    rates(orders, NOW - 2 * STEP, [13, 13, 13.5])  # 11:50, 11:55, 12:00 above
    first = run(NOW + STEP)
    assert len(first.opened) == 1
    episode = AlertEpisode.objects.get()
    assert (
        episode.status == "open"
        and episode.team == orders.team
        and episode.subject_key == f"topic:{orders.pk}"
    )
    assert episode.summary == (
        "Topic team-a.orders on team-a-dev used 90% of its 3 partitions' throughput (13.5 MB/s in, "
        "13.5 MB/s out) for 15 minutes"
    )
    [opened] = mail.outbox
    assert sorted(opened.to) == ["a@example.com", "member_a@example.com"]
    # The remedy: ⌈13.5 / (0.8 × 5)⌉ = 4 partitions, explained, and the pre-filled change request.
    assert "Remedy: add partitions (3 → 4)." in opened.body
    assert "Peak in 13.5 MB/s ÷ (80 % of 5 MB/s per partition) = 4 partitions." in opened.body
    assert f"/requests/new/topic-update/{orders.pk}/?remedy=partitions" in opened.body

    # Still hot at the next clocks, and evaluated twice at one clock: nothing new.
    rates(orders, NOW + STEP, [14])
    assert run(NOW + 2 * STEP).opened == [] and run(NOW + 2 * STEP).opened == []
    assert AlertEpisode.objects.count() == 1 and len(mail.outbox) == 1
    assert AlertEpisode.objects.get().peak == pytest.approx(14 / 15 * 100)  # the worst share so far

    # One point back under 80 %: resolved, one message; again at the same clock: nothing.
    rates(orders, NOW + 2 * STEP, [6])
    assert run(NOW + 3 * STEP).resolved == [episode.pk]
    assert run(NOW + 3 * STEP).resolved == []
    assert subjects(mail.outbox)[1].startswith("[MSK portal] Resolved: Topic team-a.orders")
    assert list(AlertEvent.objects.filter(episode=episode).values_list("from_status", "to_status")) == [
        ("", "open"),
        ("open", "resolved"),
    ]

    # Hot again for 15 minutes: a new episode, its own message.
    rates(orders, NOW + 3 * STEP, [13, 13, 13])
    assert len(run(NOW + 6 * STEP).opened) == 1
    assert list(AlertEpisode.objects.order_by("pk").values_list("status", flat=True)) == ["resolved", "open"]
    assert len(mail.outbox) == 3


def test_out_of_limit_counts_too_and_a_missing_latest_point_keeps_the_episode(run, orders):
    rates(orders, NOW - 3 * STEP, [1, 1, 1], [25, 26, 27])  # out: 80 % of 30 MB/s is 24
    assert len(run(NOW).opened) == 1
    # Collection fell behind: no point at 12:00 yet. The episode stays open (no flapping).
    assert run(NOW + STEP).resolved == []
    assert AlertEpisode.objects.get().status == "open"
    # Nothing at all for the whole window: the topic went quiet; resolved.
    assert len(run(NOW + 4 * STEP).resolved) == 1


def test_admins_change_the_threshold_and_a_switched_off_rule_closes_its_episodes(run, orders):
    rates(orders, NOW - 3 * STEP, [13, 13, 13])  # 87 %
    AlertRule.objects.filter(kind="topic_throughput").update(percent_of_limit=90)
    assert run(NOW).opened == []
    AlertRule.objects.filter(kind="topic_throughput").update(percent_of_limit=85, for_minutes=10)
    assert len(run(NOW).opened) == 1
    AlertRule.objects.filter(kind="topic_throughput").update(enabled=False)
    assert len(run(NOW).resolved) == 1
    assert AlertEvent.objects.filter(to_status="resolved").get().note == "The rule was switched off."


def test_a_group_whose_time_lag_grows_for_10_minutes_fires_and_resolves(run, orders):
    lags(orders, "billing-app", NOW - 3 * STEP, [100, 200, 300])  # growing at every point, under 600 s
    lags(orders, "search-app", NOW - 3 * STEP, [100, 300, 200])  # up and down: not growing
    lags(orders, "tiny-app", NOW - 3 * STEP, [1, 2, 3])  # growing, but a healthy consumer's jitter
    assert len(run(NOW).opened) == 1
    episode = AlertEpisode.objects.get()
    assert episode.consumer_group == "billing-app" and episode.rule.kind == "group_lag"
    assert episode.summary == (
        "Consumer group billing-app is 5 min behind on team-a.orders (its lag grew for 10 minutes)"
    )
    assert "Remedy: add partitions (3 → 6)." in mail.outbox[0].body  # throughput fits: twice the consumers

    lags(orders, "billing-app", NOW, [250])  # shrinking and under the threshold
    assert run(NOW + STEP).resolved == [episode.pk]


def test_a_group_above_the_lag_threshold_fires_at_once(run, orders):
    lags(orders, "slow-app", NOW - STEP, [700])
    assert len(run(NOW).opened) == 1
    assert "(above 600 s)" in AlertEpisode.objects.get().summary


def test_a_cluster_above_80_percent_of_its_ingress_fires_to_the_owning_team(run, cluster_a, team_a, team_b):
    cluster_a.shared_with.add(team_b)
    topics = [
        make_topic(cluster_a, team, f"t{n}", partitions=20) for n, team in enumerate([team_a, team_b] * 2)
    ]
    for topic in topics:
        rates(topic, NOW - 3 * STEP, [42, 42, 42], [10, 10, 10])  # 4 × 42 = 168 MB/s of 200: 84 %
    result = run(NOW)
    cluster_episode = AlertEpisode.objects.get(rule__kind="cluster_throughput")
    assert cluster_episode.pk in result.opened and cluster_episode.team == team_a
    assert cluster_episode.summary == (
        "Cluster team-a-dev used 84% of its limits (168 of 200 MB/s in, 40 of 400 MB/s out) for 15 minutes"
    )
    [message] = [m for m in mail.outbox if "Cluster team-a-dev" in m.subject]
    assert "/requests/new/cluster/" in message.body and "a@example.com" in message.to
    # The quota is configuration: raising it clears the episode at the next point.
    PlatformSettings.objects.update(max_write_mbps=400)
    for topic in topics:
        rates(topic, NOW, [42])
    assert cluster_episode.pk in run(NOW + STEP).resolved


def test_the_second_opening_of_one_episode_is_refused_by_the_database(
    run, orders, django_capture_on_commit_callbacks
):
    """What a second worker meets when it read "no open episode" before the first one committed."""
    rule = AlertRule.objects.get(kind="topic_throughput")
    condition = alerts.Condition(
        cluster_id=orders.cluster_id, team_id=orders.team_id, topic_id=orders.pk, value=90, summary="hot"
    )
    with django_capture_on_commit_callbacks(execute=True):
        first = alerts._open(rule, f"topic:{orders.pk}", condition, NOW)
        second = alerts._open(rule, f"topic:{orders.pk}", condition, NOW)
    assert first is not None and second is None
    assert AlertEpisode.objects.count() == 1 and AlertEvent.objects.count() == 1 and len(mail.outbox) == 1


def test_a_resolution_that_loses_its_move_writes_and_sends_nothing(
    orders, monkeypatch, django_capture_on_commit_callbacks
):
    """What a second worker meets when it read the episode as open and the first resolved it meanwhile; and a
    resolved episode never reopens (the condition holding again opens a new one)."""
    rule = AlertRule.objects.get(kind="topic_throughput")
    key = f"topic:{orders.pk}"
    condition = alerts.Condition(
        cluster_id=orders.cluster_id, team_id=orders.team_id, topic_id=orders.pk, value=90, summary="hot"
    )
    move = transitions.move

    def resolved_meanwhile(*args, **kwargs):
        monkeypatch.setattr(transitions, "move", move)
        assert alerts._resolve(rule, key, NOW + STEP, "") == episode_id  # the first worker
        return move(*args, **kwargs)

    with django_capture_on_commit_callbacks(execute=True):
        episode_id = alerts._open(rule, key, condition, NOW)
        monkeypatch.setattr(transitions, "move", resolved_meanwhile)
        assert alerts._resolve(rule, key, NOW + STEP, "switched off") is None
    assert AlertEvent.objects.filter(to_status="resolved").get().note == "Back under the threshold."
    assert len(mail.outbox) == 2  # opened, resolved: each once
    episode = AlertEpisode.objects.get(pk=episode_id)
    with pytest.raises(ValueError, match="AlertEpisode may not move from 'resolved' to 'open'"):
        transitions.move(AlertEpisode, episode, from_status="resolved", to_status="open", record=lambda: None)
    assert AlertEpisode.objects.get(pk=episode_id).status == AlertEpisode.Status.RESOLVED


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="concurrent writers need PostgreSQL")
def test_two_workers_evaluating_at_once_open_and_notify_once(orders, member_a):
    rates(orders, NOW - 3 * STEP, [13, 13, 13])
    lags(orders, "slow-app", NOW - STEP, [700])
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            results.append(alerts.evaluate(NOW))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(len(result.opened) for result in results) in ([0, 2], [1, 1])  # 2 episodes, each once
    assert AlertEpisode.objects.count() == 2 and AlertEvent.objects.count() == 2
    assert len(mail.outbox) == 2  # one per episode


def test_a_lost_notification_is_sent_again_once(run, orders, settings):
    rates(orders, NOW - 3 * STEP, [13, 13, 13])
    alerts.evaluate(NOW)  # its on-commit task never ran: the broker was down
    assert len(mail.outbox) == 0
    later = NOW + dt.timedelta(seconds=settings.PROVISIONING_REDISPATCH_SECONDS) + STEP
    rates(orders, NOW, [13] * 4)
    assert run(later).renotified == 1 and len(mail.outbox) == 1
    assert run(later).renotified == 0 and len(mail.outbox) == 1


def test_admins_tune_a_rule_in_the_django_admin_and_the_change_is_audited(run, orders, team_a, member_a):
    from django.urls import reverse

    from tests.conftest import client_for, make_user
    from tests.portal.test_admin_audit import events, submit

    root = make_user("root", role="platform_admin", is_staff=True, is_superuser=True)
    rule = AlertRule.objects.get(kind="topic_throughput")
    url = reverse("admin:clusters_alertrule_change", args=[rule.pk])
    assert client_for(member_a).get(url).status_code == 302  # not staff: sent to the admin's sign-in
    submit(client_for(root), url, percent_of_limit="95")
    [changed] = events("admin.clusters.alertrule.changed")
    assert changed.actor == root and changed.details["changes"] == {
        "percent_of_limit": {"before": 80, "after": 95}
    }
    rates(orders, NOW - 3 * STEP, [13, 13, 13])  # 87 %: under the new 95 %
    assert run(NOW).opened == []


def test_a_flushed_database_has_the_three_rules_again(db):
    """`flush` empties every table, the migration's rules too (so does every transactional test's teardown:
    later tests in the process found no rule); post_migrate makes them again, as tuned defaults."""
    AlertRule.objects.filter(kind="group_lag").update(for_minutes=99)
    call_command("flush", interactive=False, verbosity=0)
    rules = dict(AlertRule.objects.values_list("kind", "for_minutes"))
    assert rules == {"topic_throughput": 15, "group_lag": 10, "cluster_throughput": 15}
