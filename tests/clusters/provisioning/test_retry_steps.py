"""Admins retry a failed topic, grant or replicator step from the cluster page: exactly the step that
failed (read from the event log), once, through the same task, with every attempt in the log."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone

from clusters import provisioning
from clusters.models import AccessGrant, Cluster, ProvisioningEvent, Replicator, Topic
from clusters.providers.base import AccessDenied, ProviderError
from clusters.providers.local.models import LocalMskCluster, LocalMskGrant, LocalMskReplicator, LocalMskTopic
from clusters.providers.local.provider import LocalProvider
from clusters.provisioning import transitions
from clusters.requests import services
from portal.errors import Conflict
from portal.models import AuditEvent
from tests.conftest import client_for, make_user

HTMX = {"HX-Request": "true"}


def _active_cluster(name, team, account, network_profile, **extra) -> Cluster:
    cluster = Cluster.objects.create(
        name=name,
        team=team,
        kind=extra.pop("kind", "dedicated"),
        environment="dev",
        account=account,
        region="us-east-1",
        network_profile=network_profile,
        status=Cluster.Status.PROVISIONING,
        **extra,
    )
    provisioning.provision_cluster(cluster.pk)
    LocalMskCluster.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    provisioning.reconcile()
    cluster.refresh_from_db()
    assert cluster.status == Cluster.Status.ACTIVE
    return cluster


@pytest.fixture
def live(team_a, platform_account, network_profile) -> Cluster:
    return _active_cluster("live", team_a, platform_account, network_profile)


@pytest.fixture
def topic(live, team_a) -> Topic:
    return Topic.objects.create(
        cluster=live, team=team_a, name="team-a.orders", partitions=3, configs={"retention.ms": "1000"}
    )


@pytest.fixture
def grant(live, team_a, topic) -> AccessGrant:
    return AccessGrant.objects.create(
        cluster=live,
        team=team_a,
        topic=topic,
        principal_arn="arn:aws:iam::123456789012:role/app",
        can_produce=True,
        policy={"Version": "2012-10-17", "Statement": []},
    )


def _refuse(message="The role arn:aws:iam::123456789012:role/msk-portal may not do this."):
    def refuse(*args, **kwargs):
        raise AccessDenied(message)

    return refuse


def _trail(obj) -> list[tuple[str, str]]:
    key = {Topic: "topic", AccessGrant: "grant", Replicator: "replicator"}[type(obj)]
    events = ProvisioningEvent.objects.filter(**{key: obj}).exclude(from_status="", to_status="")
    return [(e.from_status, e.to_status) for e in events if e.from_status != e.to_status]


def _retry(admin, name, pk, callbacks):
    """POST the retry the way the page's htmx button does, running on-commit dispatches (eager tasks)."""
    with callbacks(execute=True) as dispatched:
        response = client_for(admin).post(reverse(name, args=[pk]), headers=HTMX)
    return response, dispatched


# --- Each kind of failure, retried end to end with the local provider -----------------------------


def test_failed_topic_creation_is_retried_through_the_page(
    admin, topic, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(LocalProvider, "ensure_topic", _refuse())
    provisioning.provision_topic(topic.pk)
    topic.refresh_from_db()
    assert topic.status == Topic.Status.FAILED and "may not do this" in topic.status_reason

    page = client_for(admin).get(reverse("clusters:cluster-detail", args=[topic.cluster_id])).content.decode()
    assert "may not do this" in page and reverse("clusters:topic-retry", args=[topic.pk]) in page

    monkeypatch.undo()  # the admin fixed the role
    response, dispatched = _retry(admin, "clusters:topic-retry", topic.pk, django_capture_on_commit_callbacks)
    assert response.status_code == 200 and len(dispatched) == 1
    body = response.content.decode()
    assert body.lstrip().startswith("<tr") and "Retrying creating the topic" in body
    topic.refresh_from_db()
    assert topic.status == Topic.Status.ACTIVE and topic.status_reason == ""
    assert LocalMskTopic.objects.filter(name="team-a.orders", partitions=3).count() == 1
    assert _trail(topic) == [
        ("pending", "creating"),
        ("creating", "failed"),
        ("failed", "creating"),
        ("creating", "active"),
    ]
    assert ProvisioningEvent.objects.filter(topic=topic, note="retry by admin: creating the topic").exists()
    retry_audit = AuditEvent.objects.get(action="clusters.topic.creating", actor=admin)
    assert retry_audit.details["from"] == "failed"


def test_failed_topic_update_is_retried_as_an_update(
    admin, topic, monkeypatch, django_capture_on_commit_callbacks
):
    provisioning.provision_topic(topic.pk)
    Topic.objects.filter(pk=topic.pk).update(partitions=6)  # the approved change
    monkeypatch.setattr(LocalProvider, "update_topic", _refuse())
    provisioning.update_topic(topic.pk)
    topic.refresh_from_db()
    assert topic.status == Topic.Status.FAILED
    monkeypatch.undo()

    _retry(admin, "clusters:topic-retry", topic.pk, django_capture_on_commit_callbacks)
    topic.refresh_from_db()
    assert topic.status == Topic.Status.ACTIVE
    assert LocalMskTopic.objects.get(name="team-a.orders").partitions == 6  # updated, not created again
    assert _trail(topic)[-2:] == [("active", "failed"), ("failed", "active")]
    assert ProvisioningEvent.objects.filter(topic=topic, note__startswith="updated: 6 partitions").exists()


def test_failed_topic_deletion_is_retried_as_a_deletion(
    admin, topic, monkeypatch, django_capture_on_commit_callbacks
):
    provisioning.provision_topic(topic.pk)
    monkeypatch.setattr(LocalProvider, "delete_topic", _refuse())
    provisioning.delete_topic(topic.pk)
    topic.refresh_from_db()
    assert topic.status == Topic.Status.FAILED and LocalMskTopic.objects.exists()
    monkeypatch.undo()

    _retry(admin, "clusters:topic-retry", topic.pk, django_capture_on_commit_callbacks)
    topic.refresh_from_db()
    assert topic.status == Topic.Status.DELETED and not LocalMskTopic.objects.exists()
    assert _trail(topic)[-3:] == [("deleting", "failed"), ("failed", "deleting"), ("deleting", "deleted")]


def test_failed_grant_is_applied_on_retry(admin, grant, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(LocalProvider, "apply_grant", _refuse())
    provisioning.apply_grant(grant.pk)
    grant.refresh_from_db()
    assert grant.status == AccessGrant.Status.FAILED
    page = client_for(admin).get(reverse("clusters:cluster-detail", args=[grant.cluster_id])).content.decode()
    assert 'data-testid="grant-reason"' in page and reverse("clusters:grant-retry", args=[grant.pk]) in page
    monkeypatch.undo()

    response, _ = _retry(admin, "clusters:grant-retry", grant.pk, django_capture_on_commit_callbacks)
    assert "Retrying applying the access" in response.content.decode()
    grant.refresh_from_db()
    assert grant.status == AccessGrant.Status.APPLIED
    assert LocalMskGrant.objects.filter(policy_name=f"msk-portal-grant-{grant.pk}").count() == 1
    assert _trail(grant) == [("pending", "failed"), ("failed", "pending"), ("pending", "applied")]


def test_failed_revocation_is_retried_as_a_revocation(
    admin, grant, monkeypatch, django_capture_on_commit_callbacks
):
    provisioning.apply_grant(grant.pk)
    monkeypatch.setattr(LocalProvider, "remove_grant", _refuse())
    provisioning.revoke_grant(grant.pk)
    grant.refresh_from_db()
    assert grant.status == AccessGrant.Status.FAILED and LocalMskGrant.objects.exists()
    monkeypatch.undo()

    _retry(admin, "clusters:grant-retry", grant.pk, django_capture_on_commit_callbacks)
    grant.refresh_from_db()
    assert grant.status == AccessGrant.Status.REVOKED and not LocalMskGrant.objects.exists()
    assert _trail(grant)[-3:] == [("revoking", "failed"), ("failed", "revoking"), ("revoking", "revoked")]


@pytest.fixture
def replicator(live, team_a, platform_account, network_profile) -> Replicator:
    platform_account.replicator_role_arn = "arn:aws:iam::123456789012:role/replicator"
    platform_account.save()
    read = _active_cluster(
        "live-read", team_a, platform_account, network_profile, kind="read", source_cluster=live
    )
    return Replicator.objects.create(read_cluster=read, source_cluster=live, topics=["team-a.orders"])


def test_failed_replicator_is_created_on_retry(
    admin, replicator, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(LocalProvider, "create_replicator", _refuse())
    provisioning.provision_replicator(replicator.pk)
    replicator.refresh_from_db()
    assert replicator.status == Replicator.Status.FAILED and replicator.arn == ""
    page = client_for(admin).get(reverse("clusters:cluster-detail", args=[replicator.read_cluster_id]))
    assert 'data-testid="replicator-reason"' in page.content.decode()
    monkeypatch.undo()

    response, _ = _retry(
        admin, "clusters:replicator-retry", replicator.pk, django_capture_on_commit_callbacks
    )
    assert 'id="replicator-panel"' in response.content.decode()
    replicator.refresh_from_db()
    assert replicator.status in (Replicator.Status.CREATING, Replicator.Status.ACTIVE) and replicator.arn
    assert LocalMskReplicator.objects.count() == 1
    assert _trail(replicator)[:3] == [("pending", "creating"), ("creating", "failed"), ("failed", "creating")]


def test_a_replicator_msk_reports_failed_is_retried_only_once_it_is_gone(
    admin, replicator, django_capture_on_commit_callbacks
):
    provisioning.provision_replicator(replicator.pk)  # created; MSK then reports it FAILED
    replicator.refresh_from_db()
    failed_arn = replicator.arn
    reason = "MSK reports the replicator as FAILED."
    transitions.move(
        Replicator, replicator, from_status="creating", to_status="failed", note=reason, status_reason=reason
    )

    response, dispatched = _retry(
        admin, "clusters:replicator-retry", replicator.pk, django_capture_on_commit_callbacks
    )
    assert response.status_code == 409 and not dispatched
    assert "Delete it in the MSK console" in response.content.decode()
    replicator.refresh_from_db()
    assert replicator.status == Replicator.Status.FAILED and replicator.arn == failed_arn

    LocalMskReplicator.objects.all().delete()  # the admin deleted it in AWS
    _retry(admin, "clusters:replicator-retry", replicator.pk, django_capture_on_commit_callbacks)
    replicator.refresh_from_db()
    assert replicator.arn and replicator.arn != failed_arn
    assert LocalMskReplicator.objects.count() == 1


# --- Once, and only for admins ----------------------------------------------------------------------


def _failed_topic(topic, monkeypatch) -> Topic:
    with monkeypatch.context() as patch:
        patch.setattr(LocalProvider, "ensure_topic", _refuse())
        provisioning.provision_topic(topic.pk)
    topic.refresh_from_db()
    assert topic.status == Topic.Status.FAILED
    return topic


def test_a_double_click_retries_once(admin, topic, monkeypatch, django_capture_on_commit_callbacks):
    _failed_topic(topic, monkeypatch)
    calls = []
    real = LocalProvider.ensure_topic
    monkeypatch.setattr(LocalProvider, "ensure_topic", lambda self, *a: calls.append(a) or real(self, *a))

    first, dispatched_first = _retry(
        admin, "clusters:topic-retry", topic.pk, django_capture_on_commit_callbacks
    )
    second, dispatched_second = _retry(
        admin, "clusters:topic-retry", topic.pk, django_capture_on_commit_callbacks
    )
    assert first.status_code == 200 and len(dispatched_first) == 1
    assert second.status_code == 409 and dispatched_second == []
    assert "not failed: there is nothing to retry" in second.content.decode()
    assert len(calls) == 1
    assert ProvisioningEvent.objects.filter(topic=topic, note__startswith="retry by").count() == 1


def test_a_retry_that_lost_the_race_changes_nothing(admin, topic, monkeypatch):
    """Both admins read FAILED; the second compare-and-set finds the status already moved."""
    _failed_topic(topic, monkeypatch)
    stale = Topic.objects.get(pk=topic.pk)
    assert provisioning.retry_step(Topic, pk=topic.pk, actor=admin) == "creating the topic"
    monkeypatch.setattr(Topic.objects, "get", lambda **kwargs: stale)  # still looks FAILED to this one
    with pytest.raises(Conflict, match="retried by someone else"):
        provisioning.retry_step(Topic, pk=topic.pk, actor=admin)
    assert ProvisioningEvent.objects.filter(topic=topic, note__startswith="retry by").count() == 1


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_admins_retrying_at_once_retry_once(team_a, platform_account, network_profile, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions need PostgreSQL")
    live = _active_cluster("race", team_a, platform_account, network_profile)
    topic = Topic.objects.create(cluster=live, team=team_a, name="team-a.race", partitions=1)
    _failed_topic(topic, monkeypatch)
    admins = [make_user(f"racer{n}", role="platform_admin") for n in range(2)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def retry(admin):
        try:
            barrier.wait(timeout=10)
            provisioning.retry_step(Topic, pk=topic.pk, actor=admin)
            outcomes.append("retried")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=retry, args=(admin,)) for admin in admins]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["conflict", "retried"]
    assert ProvisioningEvent.objects.filter(topic=topic, note__startswith="retry by").count() == 1
    topic.refresh_from_db()
    assert (
        topic.status == Topic.Status.ACTIVE and LocalMskTopic.objects.filter(name="team-a.race").count() == 1
    )


def test_only_platform_admins_retry(member_a, member_b, finance, topic, grant, monkeypatch):
    _failed_topic(topic, monkeypatch)
    AccessGrant.objects.filter(pk=grant.pk).update(status=AccessGrant.Status.FAILED)
    for name, pk in (("clusters:topic-retry", topic.pk), ("clusters:grant-retry", grant.pk)):
        assert client_for(member_a).post(reverse(name, args=[pk])).status_code == 403
        assert client_for(finance).post(reverse(name, args=[pk])).status_code == 403
        assert (
            client_for(member_b).post(reverse(name, args=[pk])).status_code == 404
        )  # not even its existence
        assert client_for(None).post(reverse(name, args=[pk])).status_code == 302  # to the login page
    assert Topic.objects.get(pk=topic.pk).status == Topic.Status.FAILED
    assert not ProvisioningEvent.objects.filter(note__startswith="retry by").exists()
    page = (
        client_for(member_a).get(reverse("clusters:cluster-detail", args=[topic.cluster_id])).content.decode()
    )
    assert "may not do this" in page  # the reason, for the team to read
    assert reverse("clusters:topic-retry", args=[topic.pk]) not in page  # but no button


def test_nothing_to_retry_is_a_message_not_an_error_page(admin, topic):
    provisioning.provision_topic(topic.pk)  # active
    response = client_for(admin).post(reverse("clusters:topic-retry", args=[topic.pk]), follow=True)
    assert response.status_code == 200
    assert "is active, not failed: there is nothing to retry." in response.content.decode()

    Topic.objects.filter(pk=topic.pk).update(status=Topic.Status.FAILED)  # failed with no step logged
    response = client_for(admin).post(reverse("clusters:topic-retry", args=[topic.pk]), headers=HTMX)
    assert response.status_code == 409
    assert "No failed step is logged" in response.content.decode()


def test_every_attempt_is_in_the_log(admin, topic, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(LocalProvider, "ensure_topic", _refuse("first"))
    provisioning.provision_topic(topic.pk)
    monkeypatch.setattr(LocalProvider, "ensure_topic", _refuse("second"))
    _retry(admin, "clusters:topic-retry", topic.pk, django_capture_on_commit_callbacks)
    monkeypatch.setattr(LocalProvider, "ensure_topic", lambda *a: None)
    _retry(admin, "clusters:topic-retry", topic.pk, django_capture_on_commit_callbacks)
    notes = list(ProvisioningEvent.objects.filter(topic=topic).values_list("to_status", "note"))
    assert notes == [
        ("creating", "creating"),
        ("failed", "first"),
        ("creating", "retry by admin: creating the topic"),
        ("failed", "second"),
        ("creating", "retry by admin: creating the topic"),
        ("active", "topic exists"),
    ]
    panel = (
        client_for(admin).get(reverse("clusters:cluster-status", args=[topic.cluster_id])).content.decode()
    )
    assert panel.count("retry by admin: creating the topic") == 2


def test_retry_goes_through_services_for_a_topic_created_by_approval(
    member_a, admin, team_a, live, monkeypatch, django_capture_on_commit_callbacks
):
    """The whole path: request → approval → provider refuses → admin retries → active."""
    monkeypatch.setattr(LocalProvider, "ensure_topic", _refuse())
    prepared = services.prepare_topic_create(
        actor=member_a,
        team=team_a,
        cluster=live,
        name="payments",
        expected_in_mbps=Decimal(1),
        expected_out_mbps=Decimal(1),
    )
    request = services.submit_request(actor=member_a, prepared=prepared)
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_request(request_id=request.pk, actor=admin)
    topic = Topic.objects.get(name="team-a.payments")
    assert topic.status == Topic.Status.FAILED
    monkeypatch.undo()
    _retry(admin, "clusters:topic-retry", topic.pk, django_capture_on_commit_callbacks)
    topic.refresh_from_db()
    assert topic.status == Topic.Status.ACTIVE


def test_a_transient_error_is_not_a_failure_to_retry(topic, monkeypatch):
    from clusters.providers.base import TransientError

    def throttle(*args):
        raise TransientError("Rate exceeded")

    monkeypatch.setattr(LocalProvider, "ensure_topic", throttle)
    with pytest.raises(ProviderError):
        provisioning.provision_topic(topic.pk)
    topic.refresh_from_db()
    assert topic.status == Topic.Status.CREATING and provisioning.failed_step(topic) is None
