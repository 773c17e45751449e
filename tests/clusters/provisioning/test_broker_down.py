"""The broker is down while an admin approves: the approval stands, nothing is lost, and the work is
dispatched by reconcile once the broker is back. (The broker is "down" by pointing Celery at a closed
port: stopping the machine's shared Redis would disturb other runs.)"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from clusters import provisioning
from clusters.models import Cluster, Request
from clusters.providers.local.models import LocalMskCluster
from clusters.requests import services
from portal.celery import app
from tests.conftest import client_for

CLOSED_PORT_BROKER = "redis://127.0.0.1:1/0"


def _reset_producer_pool():
    # The next publish takes the (kombu-cached) connection pool of the broker URL now in force, and a
    # producer pool over it (the producer pool keeps the connection pool it was made with).
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker_down(monkeypatch):
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    # The conf first: monkeypatch keeps the value it reads now to put back, and Celery's conf answers with
    # CELERY_BROKER_URL once that is set (undo then left every later test of the process on the closed port).
    monkeypatch.setattr(app.conf, "broker_url", CLOSED_PORT_BROKER)
    monkeypatch.setenv("CELERY_BROKER_URL", CLOSED_PORT_BROKER)  # Celery reads this before its conf
    _reset_producer_pool()
    yield
    app.conf.task_always_eager = eager
    monkeypatch.undo()
    _reset_producer_pool()


@pytest.mark.django_db(transaction=True)
def test_approving_while_the_broker_is_down_loses_nothing(
    member_a, admin, team_a, platform_account, network_profile, broker_down
):
    prepared = services.prepare_cluster_create(
        actor=member_a,
        team=team_a,
        name="while-down",
        kind="dedicated",
        environment="dev",
        account=platform_account,
        region="us-east-1",
        network_profile=network_profile,
        expected_write_mbps=Decimal(1),
        expected_read_mbps=Decimal(1),
        contains_pii=False,
        latency_class="time_insensitive",
        justification="outage",
    )
    request = services.submit_request(actor=member_a, prepared=prepared)
    response = client_for(admin).post(reverse("clusters:request-approve", args=[request.pk]))
    assert response.status_code == 302  # not a 500: the approval committed, the dispatch waits
    assert Request.objects.get(pk=request.pk).status == Request.Status.APPROVED
    cluster = Cluster.objects.get(name="while-down")
    assert cluster.status == Cluster.Status.PENDING and not LocalMskCluster.objects.exists()

    # The broker is back (eager again in this process), and the work has not moved for a while.
    app.conf.task_always_eager = True
    Cluster.objects.filter(pk=cluster.pk).update(status_changed_at=timezone.now() - timedelta(minutes=10))
    assert provisioning.reconcile()["redispatched"] == 1
    cluster.refresh_from_db()
    assert cluster.status == Cluster.Status.PROVISIONING and cluster.arn
    assert LocalMskCluster.objects.filter(name="while-down").count() == 1


@pytest.mark.django_db
def test_lost_work_is_redispatched_once_per_window_and_logged(cluster_a, monkeypatch):
    from clusters.provisioning import tasks

    sent = []
    monkeypatch.setattr(tasks.provision_cluster, "delay", sent.append)  # the broker takes it, no worker yet
    cluster = Cluster.objects.create(
        name="lost",
        team=cluster_a.team,
        kind=Cluster.Kind.DEDICATED,
        environment="dev",
        account=cluster_a.account,
        region="us-east-1",
        network_profile=cluster_a.network_profile,
        status=Cluster.Status.PENDING,
        status_changed_at=timezone.now() - timedelta(minutes=10),
    )
    assert provisioning.reconcile()["redispatched"] == 1
    notes = list(cluster.events.values_list("from_status", "to_status", "note"))
    assert len(notes) == 1 and notes[0][:2] == ("pending", "pending")
    assert notes[0][2].startswith(f"{provisioning.REDISPATCH_NOTE}: no progress for")
    # Reconcile runs every few seconds: the same lost work is not sent again until the window passed.
    assert provisioning.reconcile()["redispatched"] == 0
    later = timezone.now() + provisioning.redispatch_after() + timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert provisioning.reconcile()["redispatched"] == 1
    assert sent == [cluster.pk, cluster.pk] and cluster.events.count() == 2
