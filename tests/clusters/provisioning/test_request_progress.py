"""The request page follows what its approval set in motion, polled by htmx until every step is done."""

from datetime import timedelta

from django.test import override_settings
from django.utils import timezone

from clusters import provisioning
from clusters.models import Request, Topic
from clusters.providers.local.models import LocalMskCluster
from clusters.requests import services
from tests import builders
from tests.conftest import client_for


@override_settings(LOCAL_MSK_CREATE_SECONDS=60)
def test_request_page_shows_provisioning_and_polling_stops_when_done(
    member_a, member_b, admin, team_a, network_profile, django_capture_on_commit_callbacks
):
    request = builders.cluster_request(member_a, team_a, network_profile, "team-a-progress")
    client = client_for(member_a)
    waiting = client.get(f"/requests/{request.pk}/").content.decode()
    assert (
        "Waiting for a platform admin" in waiting and "Cluster team-a-progress" not in waiting
    )  # not approved
    builders.approve(request, admin, django_capture_on_commit_callbacks)

    page = client.get(f"/requests/{request.pk}/").content.decode()
    assert 'id="request-progress"' in page and f"/requests/{request.pk}/progress/" in page  # polling
    assert "Cluster team-a-progress" in page and "creating the cluster" in page
    partial = client.get(f"/requests/{request.pk}/progress/", HTTP_HX_REQUEST="true")
    assert partial.status_code == 200 and "Provisioning" in partial.content.decode()

    LocalMskCluster.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        provisioning.reconcile()
    done = client.get(f"/requests/{request.pk}/progress/", HTTP_HX_REQUEST="true")
    assert done.status_code == 286  # htmx stops polling: nothing moves any more
    assert "cluster is active" in done.content.decode() and "hx-trigger" not in done.content.decode()
    # Another team's member cannot watch it.
    assert client_for(member_b).get(f"/requests/{request.pk}/progress/").status_code == 404
    assert Request.objects.get(pk=request.pk).status == Request.Status.APPROVED


def _polled(client, request):
    """The request page's polled answer, as htmx asks for it: (status code, HTML)."""
    response = client.get(f"/requests/{request.pk}/progress/", HTTP_HX_REQUEST="true")
    return response.status_code, response.content.decode()


@override_settings(LOCAL_MSK_CREATE_SECONDS=60)
def test_request_page_follows_the_decision_live_then_stops_polling(
    member_a, admin, team_a, network_profile, django_capture_on_commit_callbacks
):
    """Opened while it waits, the page polls; the polled answer carries the new status and the decision
    (out of band, for the facts and the decision panel) as soon as an admin approves, and stops the polling
    (286) once nothing moves."""
    request = builders.cluster_request(member_a, team_a, network_profile, "team-a-live")
    client = client_for(member_a)
    page = client.get(f"/requests/{request.pk}/").content.decode()
    assert f'hx-get="/requests/{request.pk}/progress/"' in page  # polls while waiting for a decision
    status, waiting = _polled(client, request)
    assert status == 200 and "Waiting for a platform admin" in waiting
    assert 'id="request-facts" hx-swap-oob="true"' in waiting and "status-submitted" in waiting
    assert 'id="decision-panel"' not in waiting  # an admin may be typing a reason in it

    builders.approve(request, admin, django_capture_on_commit_callbacks)
    status, approved = _polled(client, request)
    assert status == 200 and 'hx-trigger="every 3s"' in approved  # provisioning still moves
    facts = approved.split('id="request-facts"')[1].split("</dl>")[0]
    assert '<span class="status status-approved">Approved</span>' in facts
    assert (
        'id="decision-panel" class="card decision" aria-labelledby="decision-heading" hx-swap-oob="true"'
        in approved
    )
    assert f"Approved by <strong>{admin.username}</strong>" in approved
    assert "Cancel this request" not in approved  # the requester's cancel button goes with the wait
    assert "Cluster team-a-live" in approved and "creating the cluster" in approved

    LocalMskCluster.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        provisioning.reconcile()
    status, done = _polled(client, request)
    assert status == 286 and "hx-trigger" not in done and "cluster is active" in done


def test_request_page_shows_a_rejection_and_its_reason_live(member_a, admin, team_a, network_profile):
    request = builders.cluster_request(member_a, team_a, network_profile, "team-a-refused")
    client = client_for(member_a)
    assert _polled(client, request)[0] == 200
    services.reject_request(request_id=request.pk, actor=admin, reason="Use the shared dev cluster.")
    status, rejected = _polled(client, request)
    assert status == 286 and "hx-get" not in rejected  # final: the page stops asking
    assert (
        '<span class="status status-rejected">Rejected</span>' in rejected
        and f"Rejected by <strong>{admin.username}</strong>" in rejected
    )
    assert "Use the shared dev cluster." in rejected  # the reason the requester is given
    assert "Nothing is provisioned: the request was rejected." in rejected
    page = client.get(f"/requests/{request.pk}/").content.decode()
    assert "/progress/" not in page  # opened once final, the page does not poll at all


def test_a_failed_step_keeps_the_page_following_slowly_until_final_so_a_retry_shows_without_a_reload(
    member_a, admin, cluster_a, django_capture_on_commit_callbacks
):
    """A failed step an admin can retry from the cluster's page: the page keeps asking, every 15 s instead
    of 3 (no 286), so the retry shows on it as it starts; it stops once nothing moves or can be retried."""
    request = builders.topic_request(member_a, cluster_a, "retried")
    builders.approve(request, admin, django_capture_on_commit_callbacks)  # the topic fails: no cluster in MSK
    topic = Topic.objects.get(pk=Request.objects.get(pk=request.pk).topic_id)
    assert topic.status == Topic.Status.FAILED
    client = client_for(member_a)
    page = client.get(f"/requests/{request.pk}/").content.decode()
    assert f'hx-get="/requests/{request.pk}/progress/" hx-trigger="every 15s"' in page
    status, failed = _polled(client, request)
    assert status == 200 and 'hx-trigger="every 15s"' in failed and "can retry what failed" in failed
    assert "status-failed" in _panel(failed)

    with django_capture_on_commit_callbacks(execute=False):  # the retried step is under way
        provisioning.retry_step(Topic, pk=topic.pk, actor=admin)
    status, retried = _polled(client, request)
    assert status == 200 and 'hx-trigger="every 3s"' in retried
    assert f"retry by {admin.username}: creating the topic" in retried
    assert "status-failed" not in _panel(retried) and "status-creating" in _panel(retried)

    Topic.objects.filter(pk=topic.pk).update(status=Topic.Status.ACTIVE)  # done
    status, done = _polled(client, request)
    assert status == 286 and "hx-trigger" not in done

    # Failed with no failed step logged (nothing tells a retry what to run again): final, no polling.
    other = builders.topic_request(member_a, cluster_a, "unretryable")
    builders.approve(other, admin, django_capture_on_commit_callbacks, run_tasks=False)
    Topic.objects.filter(pk=Request.objects.get(pk=other.pk).topic_id).update(status=Topic.Status.FAILED)
    status, final = _polled(client, other)
    assert status == 286 and "hx-trigger" not in final and "can retry" not in final
    assert "status-failed" in _panel(final)
    assert "/progress/" not in client.get(f"/requests/{other.pk}/").content.decode()


def _panel(html: str) -> str:
    """The provisioning panel of a polled answer (the request's facts and history follow it)."""
    return html.split('id="request-progress"')[1].split("</section>")[0]
