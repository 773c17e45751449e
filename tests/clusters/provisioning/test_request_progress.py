"""The request page follows what its approval set in motion, polled by htmx until every step is done."""

from datetime import timedelta

from django.test import override_settings
from django.utils import timezone

from clusters import provisioning
from clusters.models import Request
from clusters.providers.local.models import LocalMskCluster
from tests import builders
from tests.conftest import client_for


@override_settings(LOCAL_MSK_CREATE_SECONDS=60)
def test_request_page_shows_provisioning_and_polling_stops_when_done(
    member_a, member_b, admin, team_a, network_profile, django_capture_on_commit_callbacks
):
    request = builders.cluster_request(member_a, team_a, network_profile, "team-a-progress")
    client = client_for(member_a)
    assert (
        'id="request-progress"' not in client.get(f"/requests/{request.pk}/").content.decode()
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
