"""Admins act on drift findings from the Drift page: adopt an unknown cluster, re-apply the portal's tags,
mark a cluster deleted outside the portal as deleted. Each resolves its finding once."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from clusters import provisioning
from clusters.models import (
    AccessGrant,
    Cluster,
    DriftFinding,
    ProvisioningEvent,
    Topic,
)
from clusters.providers.base import AccessDenied, ClusterSpec
from clusters.providers.local.models import LocalMskCluster, LocalMskGrant
from clusters.providers.local.provider import LocalProvider
from clusters.provisioning import drift
from portal.errors import Conflict
from portal.models import AuditEvent
from tests import builders
from tests.conftest import client_for


def _outsider(account_ref, name="shadow", *, active=True, **tags):
    """A cluster someone created in the account with the console, not through the portal."""
    state = LocalProvider().create_cluster(
        account_ref, ClusterSpec(name=name, subnet_ids=(), security_group_ids=(), tags=tags)
    )
    if active:
        LocalMskCluster.objects.filter(arn=state.arn).update(created_at=timezone.now() - timedelta(hours=1))
    return state


@pytest.fixture
def unknown(cluster_a):
    """cluster_a is live in MSK (so only the outsider is drift), plus an outsider: one 'unknown' finding."""
    LocalMskCluster.objects.create(
        account_id="123456789012",
        region="us-east-1",
        name=cluster_a.name,
        arn=cluster_a.arn,
        tags=provisioning.provisioning_tags(cluster_a),
        created_at=timezone.now() - timedelta(hours=1),
    )
    outsider = _outsider(provisioning.account_ref(cluster_a), owner="ops")
    provisioning.detect_drift()
    return DriftFinding.objects.get(kind="unknown", arn=outsider.arn, resolved_at=None)


def _adopt(user, finding, **data):
    return client_for(user).post(reverse("clusters:drift-adopt", args=[finding.pk]), data, follow=True)


def _text(response) -> str:
    return response.content.decode()


# --- Adopt ----------------------------------------------------------------------------------------


def test_an_unknown_cluster_is_adopted_into_the_inventory(
    admin, unknown, team_b, network_profile, django_capture_on_commit_callbacks
):
    drift = _text(client_for(admin).get(reverse("clusters:drift-list")))
    assert reverse("clusters:drift-adopt", args=[unknown.pk]) in drift
    form = _text(client_for(admin).get(reverse("clusters:drift-adopt", args=[unknown.pk])))
    assert unknown.arn in form and f'value="{network_profile.pk}" selected' in form  # the only profile

    response = _adopt(admin, unknown, team=team_b.pk, environment="prod", network_profile=network_profile.pk)

    cluster = Cluster.objects.get(arn=unknown.arn)
    assert response.redirect_chain[-1][0] == reverse("clusters:cluster-detail", args=[cluster.pk])
    assert "shadow is adopted: Team B owns it from now on." in _text(response)
    assert (cluster.name, cluster.team, cluster.environment, cluster.status) == (
        "shadow",
        team_b,
        "prod",
        "active",
    )
    assert cluster.bootstrap_brokers == "boot-shadow.c1.kafka-serverless.us-east-1.amazonaws.com:9098"
    tags = LocalMskCluster.objects.get(arn=unknown.arn).tags
    assert tags == {
        "owner": "ops",
        "team": "team-b",
        "cost-center": "CC-B",
        "environment": "prod",
        "portal-cluster-id": str(cluster.pk),
    }
    unknown.refresh_from_db()
    assert unknown.resolved_at is not None
    notes = list(ProvisioningEvent.objects.filter(cluster=cluster).values_list("note", flat=True))
    assert notes == [f"adopted by admin: created outside the portal as {unknown.arn}", "portal tags applied"]
    assert AuditEvent.objects.get(action="clusters.drift.adopted").actor == admin
    # The next drift check finds nothing left to say about it.
    assert provisioning.detect_drift()["opened"] == 0


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"team": "", "environment": "dev"}, "team", "Choose the team that owns the cluster."),
        ({"team": "999999", "environment": "dev"}, "team", "Choose a team."),
        ({"environment": "qa"}, "environment", "Choose Development, Staging or Production."),
        ({"environment": "dev", "network_profile": "abc"}, "network_profile", "Choose a network profile of"),
    ],
)
def test_adoption_choices_are_validated_with_readable_messages(
    admin, unknown, team_a, network_profile, data, field, message
):
    data = {"team": team_a.pk, "network_profile": network_profile.pk, **data}
    response = _adopt(admin, unknown, **data)
    assert response.status_code == 200 and message in _text(response)
    assert f'id="id_{field}_error"' in _text(response)  # shown at the field it is about
    assert not Cluster.objects.filter(arn=unknown.arn).exists()
    assert DriftFinding.objects.get(pk=unknown.pk).resolved_at is None


def test_a_network_profile_of_another_account_or_a_team_owned_account_is_refused(
    admin, unknown, team_a, team_b, network_profile
):
    elsewhere = builders.aws_account("210987654321", name="team-b-own", ownership="team", team=team_b)
    foreign = builders.network_profile(elsewhere, name="b-vpc", security_group_ids=[])
    response = _adopt(admin, unknown, team=team_a.pk, environment="dev", network_profile=foreign.pk)
    assert "Choose a network profile of the cluster&#x27;s account and region." in _text(response)
    # The service checks again (a form is not the only caller): the profile and the account's owner.
    with pytest.raises(Exception) as caught:
        provisioning.adopt_unknown_cluster(
            finding_id=unknown.pk, actor=admin, team=team_a, environment="dev", network_profile=foreign
        )
    assert "Choose a network profile of account 123456789012 in us-east-1" in str(caught.value)
    DriftFinding.objects.filter(pk=unknown.pk).update(account=elsewhere)
    with pytest.raises(Exception) as caught:
        provisioning.adopt_unknown_cluster(
            finding_id=unknown.pk, actor=admin, team=team_a, environment="dev", network_profile=foreign
        )
    assert "belongs to another team; Team A cannot own clusters in it." in str(caught.value)
    assert not Cluster.objects.filter(name="shadow").exists()


def test_a_cluster_still_creating_or_with_a_taken_name_is_not_adopted(
    admin, unknown, team_a, platform_account, network_profile
):
    LocalMskCluster.objects.filter(arn=unknown.arn).update(created_at=timezone.now())
    response = _adopt(admin, unknown, team=team_a.pk, environment="dev", network_profile=network_profile.pk)
    assert "shadow is CREATING in MSK; it can be adopted once it is ACTIVE." in _text(response)

    LocalMskCluster.objects.filter(arn=unknown.arn).update(created_at=timezone.now() - timedelta(hours=1))
    Cluster.objects.create(
        name="shadow",
        team=team_a,
        kind="dedicated",
        environment="dev",
        account=platform_account,
        region="us-east-1",
        network_profile=network_profile,
        status=Cluster.Status.PENDING,
    )
    response = _adopt(admin, unknown, team=team_a.pk, environment="dev", network_profile=network_profile.pk)
    assert "already has a cluster named shadow in this account and region" in _text(response)
    assert not Cluster.objects.filter(arn=unknown.arn).exists()


def test_adopting_twice_adopts_once_and_says_so(admin, unknown, team_a, network_profile):
    data = {"team": team_a.pk, "environment": "dev", "network_profile": network_profile.pk}
    _adopt(admin, unknown, **data)
    again = _adopt(admin, unknown, **data)
    assert again.status_code == 200 and again.redirect_chain[-1][0] == reverse("clusters:drift-list")
    assert provisioning.ALREADY_RESOLVED.replace("(", "") in _text(again).replace("(", "")
    assert Cluster.objects.filter(arn=unknown.arn).count() == 1
    assert AuditEvent.objects.filter(action="clusters.drift.adopted").count() == 1


def test_a_tagging_failure_does_not_undo_the_adoption(admin, unknown, team_a, network_profile, monkeypatch):
    def refuse(*args):
        raise AccessDenied("The role may not kafka:TagResource.")

    monkeypatch.setattr(LocalProvider, "tag_cluster", refuse)
    _adopt(admin, unknown, team=team_a.pk, environment="dev", network_profile=network_profile.pk)
    cluster = Cluster.objects.get(arn=unknown.arn)
    assert ProvisioningEvent.objects.filter(
        cluster=cluster, note="portal tags not applied: The role may not kafka:TagResource."
    ).exists()
    monkeypatch.undo()
    provisioning.detect_drift()  # the tags differ: flagged for an admin to re-apply
    assert DriftFinding.objects.filter(cluster=cluster, kind="retagged", resolved_at=None).exists()


# --- Re-apply portal tags -------------------------------------------------------------------------


@pytest.fixture
def retagged(cluster_a):
    LocalMskCluster.objects.create(
        account_id="123456789012",
        region="us-east-1",
        name=cluster_a.name,
        arn=cluster_a.arn,
        tags={**provisioning.provisioning_tags(cluster_a), "team": "someone-else", "owner": "ops"},
        created_at=timezone.now() - timedelta(hours=1),
    )
    provisioning.detect_drift()
    return DriftFinding.objects.get(kind="retagged", resolved_at=None)


def test_portal_tags_are_reapplied(admin, retagged, cluster_a):
    response = client_for(admin).post(reverse("clusters:drift-retag", args=[retagged.pk]), follow=True)
    assert "Portal tags re-applied to team-a-dev." in _text(response)
    tags = LocalMskCluster.objects.get(arn=cluster_a.arn).tags
    assert (
        tags["team"] == "team-a" and tags["portal-cluster-id"] == str(cluster_a.pk) and tags["owner"] == "ops"
    )
    retagged.refresh_from_db()
    assert retagged.resolved_at is not None
    assert ProvisioningEvent.objects.filter(
        cluster=cluster_a, note="portal tags re-applied by admin"
    ).exists()
    assert AuditEvent.objects.get(action="clusters.drift.retagged").actor == admin
    assert provisioning.detect_drift()["opened"] == 0

    again = client_for(admin).post(reverse("clusters:drift-retag", args=[retagged.pk]), follow=True)
    assert again.status_code == 200 and "already resolved" in _text(again)
    assert AuditEvent.objects.filter(action="clusters.drift.retagged").count() == 1


def test_a_refused_tag_call_leaves_the_finding_open_with_the_reason(admin, retagged, monkeypatch):
    def refuse(*args):
        raise AccessDenied("The role may not kafka:TagResource.")

    monkeypatch.setattr(LocalProvider, "tag_cluster", refuse)
    response = client_for(admin).post(reverse("clusters:drift-retag", args=[retagged.pk]), follow=True)
    assert "Cannot tag team-a-dev in MSK: The role may not kafka:TagResource." in _text(response)
    assert DriftFinding.objects.get(pk=retagged.pk).resolved_at is None


def test_the_finding_is_resolved_by_compare_and_set(admin, retagged, monkeypatch):
    """Two admins both read the finding open; only the first resolves it, the second is told so."""
    stale = DriftFinding.objects.select_related("account", "cluster__team").get(pk=retagged.pk)
    provisioning.reapply_portal_tags(finding_id=retagged.pk, actor=admin)
    monkeypatch.setattr(drift, "_open_finding_for", lambda *args: stale)
    with pytest.raises(Conflict, match="already resolved"):
        provisioning.reapply_portal_tags(finding_id=retagged.pk, actor=admin)
    assert AuditEvent.objects.filter(action="clusters.drift.retagged").count() == 1


# --- Mark deleted ---------------------------------------------------------------------------------


@pytest.fixture
def missing(cluster_a, team_a):
    Topic.objects.create(cluster=cluster_a, team=team_a, name="team-a.orders", partitions=3, status="active")
    AccessGrant.objects.create(
        cluster=cluster_a,
        team=team_a,
        principal_arn="arn:aws:iam::123456789012:role/app",
        can_consume=True,
        status=AccessGrant.Status.APPLIED,
    )
    LocalMskGrant.objects.create(
        account_id="123456789012",
        principal_arn="arn:aws:iam::123456789012:role/app",
        policy_name=f"msk-portal-grant-{AccessGrant.objects.get().pk}",
    )
    provisioning.detect_drift()  # cluster_a is not in MSK at all
    return DriftFinding.objects.get(kind="missing", resolved_at=None)


def test_a_cluster_deleted_outside_is_marked_deleted_with_its_topics(
    admin, missing, cluster_a, django_capture_on_commit_callbacks
):
    drift = _text(client_for(admin).get(reverse("clusters:drift-list")))
    assert "Mark deleted" in drift and "Recreating it takes a new cluster request." in drift
    client = client_for(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("clusters:drift-mark-deleted", args=[missing.pk]))
    assert response.status_code == 302
    page = _text(client.get(response["Location"]))
    assert (
        "team-a-dev is marked deleted with its topics. To have it again, file a new cluster request." in page
    )
    cluster_a.refresh_from_db()
    assert cluster_a.status == Cluster.Status.DELETED
    assert set(Topic.objects.values_list("status", flat=True)) == {"deleted"}
    assert (
        AccessGrant.objects.get().status == AccessGrant.Status.REVOKED and not LocalMskGrant.objects.exists()
    )
    assert DriftFinding.objects.get(pk=missing.pk).resolved_at is not None
    event = ProvisioningEvent.objects.get(cluster=cluster_a, to_status="deleted")
    assert (event.from_status, event.note) == (
        "active",
        "marked deleted by admin: deleted outside the portal",
    )
    assert AuditEvent.objects.get(action="clusters.drift.marked_deleted").actor == admin
    assert provisioning.detect_drift()["opened"] == 0


def test_a_cluster_msk_lists_again_is_not_marked_deleted(admin, missing, cluster_a):
    LocalMskCluster.objects.create(
        account_id="123456789012",
        region="us-east-1",
        name=cluster_a.name,
        arn=cluster_a.arn,
        created_at=timezone.now() - timedelta(hours=1),
    )
    response = client_for(admin).post(reverse("clusters:drift-mark-deleted", args=[missing.pk]), follow=True)
    assert "MSK lists team-a-dev again (ACTIVE): it is not deleted." in _text(response)
    cluster_a.refresh_from_db()
    assert cluster_a.status == Cluster.Status.ACTIVE


def test_an_action_for_another_kind_of_finding_is_a_message(admin, missing):
    response = client_for(admin).post(reverse("clusters:drift-retag", args=[missing.pk]), follow=True)
    assert response.status_code == 200
    assert "This action does not apply to a “Deleted outside the portal” finding." in _text(response)
    adopt = client_for(admin).get(reverse("clusters:drift-adopt", args=[missing.pk]), follow=True)
    assert "Only clusters created outside the portal can be adopted." in _text(adopt)


def test_only_platform_admins_act_on_drift(member_a, member_b, finance, missing, cluster_a):
    for user in (member_a, member_b, finance):
        client = client_for(user)
        assert client.post(reverse("clusters:drift-mark-deleted", args=[missing.pk])).status_code == 403
        assert client.post(reverse("clusters:drift-retag", args=[missing.pk])).status_code == 403
        assert client.get(reverse("clusters:drift-adopt", args=[missing.pk])).status_code == 403
        assert (
            client.get(reverse("clusters:drift-adopt", args=[999999])).status_code == 403
        )  # no existence leak
    cluster_a.refresh_from_db()
    assert cluster_a.status == Cluster.Status.ACTIVE
    assert DriftFinding.objects.get(pk=missing.pk).resolved_at is None


# --- Finding drift --------------------------------------------------------------------------------


def test_admins_find_drift_from_the_navigation_with_a_count(admin, member_a, finance, unknown, cluster_a):
    second = _outsider(provisioning.account_ref(cluster_a), name="shadow-2")
    provisioning.detect_drift()
    page = _text(client_for(admin).get(reverse("portal:dashboard")))
    link = re.search(r'<a href="/drift/"[^>]*>Drift <span class="badge count">(\d+)<', page)
    assert link and link.group(1) == "2"
    for user in (member_a, finance):
        assert reverse("clusters:drift-list") not in _text(client_for(user).get(reverse("portal:dashboard")))
    LocalMskCluster.objects.filter(arn=second.arn).delete()  # gone again: the next check resolves it
    provisioning.detect_drift()
    page = _text(client_for(admin).get(reverse("clusters:drift-list")))
    assert re.search(r'aria-current="page">Drift <span class="badge count">1<', page)


def test_the_drift_page_says_when_there_is_none(admin):
    page = _text(client_for(admin).get(reverse("clusters:drift-list")))
    assert "No drift:" in page and "checked when beat starts and then every 10 minutes" in page
    assert 'class="badge count"' not in page.split("Drift</a>")[0].rsplit("<li>", 1)[-1]


def test_drift_findings_are_listed_in_the_django_admin_too(admin, missing):
    admin.is_staff = admin.is_superuser = True
    admin.save()
    page = client_for(admin).get("/admin/clusters/driftfinding/")
    assert page.status_code == 200 and missing.arn in _text(page)
