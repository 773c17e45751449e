"""Access grants reach IAM one of two ways, an admin setting: a portal-managed inline policy on the
principal's role, or the approved policy document handed to the team to attach itself."""

from decimal import Decimal

from clusters import services
from clusters.models import AccessGrant, GrantDelivery, LocalMskGrant, PlatformSettings, ProvisioningEvent
from tests.conftest import client_for


def _approve(prepared, member, admin, capture):
    request = services.submit_request(actor=member, prepared=prepared)
    with capture(execute=True):
        services.approve_request(request_id=request.pk, actor=admin)


def _topic_with_access(member_a, admin, team_a, cluster, capture):
    _approve(services.prepare_topic_create(
        actor=member_a, team=team_a, cluster=cluster, name="orders", expected_in_mbps=Decimal(1),
        expected_out_mbps=Decimal(1),
        access_entries=[services.AccessInput("arn:aws:iam::123456789012:role/app", produce=True, consume=False)],
    ), member_a, admin, capture)  # fmt: skip
    return AccessGrant.objects.get()


def test_inline_policy_is_the_default_and_the_portal_writes_it(
    member_a, admin, team_a, cluster_a, django_capture_on_commit_callbacks
):
    grant = _topic_with_access(member_a, admin, team_a, cluster_a, django_capture_on_commit_callbacks)
    assert grant.delivery == GrantDelivery.INLINE_POLICY and grant.status == AccessGrant.Status.APPLIED
    assert LocalMskGrant.objects.get(policy_name=f"msk-portal-grant-{grant.pk}").document == grant.policy


def test_document_delivery_hands_the_policy_to_the_team_and_never_calls_iam(
    member_a, admin, team_a, cluster_a, django_capture_on_commit_callbacks
):
    settings_row = PlatformSettings.current()
    settings_row.grant_delivery = GrantDelivery.DOCUMENT
    settings_row.save()
    grant = _topic_with_access(member_a, admin, team_a, cluster_a, django_capture_on_commit_callbacks)
    assert grant.delivery == GrantDelivery.DOCUMENT and grant.status == AccessGrant.Status.APPLIED
    assert not LocalMskGrant.objects.exists()
    note = ProvisioningEvent.objects.filter(grant=grant).last().note
    assert note == "policy document handed to Team A to attach to arn:aws:iam::123456789012:role/app"
    page = client_for(member_a).get(f"/clusters/{cluster_a.pk}/").content.decode()
    assert "Attach this policy to the role yourself" in page and "kafka-cluster:WriteData" in page

    # The setting changing later does not strand the grant: it is revoked the way it was delivered.
    settings_row.grant_delivery = GrantDelivery.INLINE_POLICY
    settings_row.save()
    _approve(services.prepare_access_revoke(actor=member_a, grant=grant, justification="gone"), member_a, admin,
             django_capture_on_commit_callbacks)  # fmt: skip
    grant.refresh_from_db()
    assert grant.status == AccessGrant.Status.REVOKED and not LocalMskGrant.objects.exists()
    assert "detaches the policy" in ProvisioningEvent.objects.filter(grant=grant).last().note
