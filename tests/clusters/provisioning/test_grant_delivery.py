"""Access grants reach IAM one of two ways, an admin setting: a portal-managed inline policy on the
principal's role, or the approved policy document handed to the team to attach itself."""

import pytest

from clusters.models import AccessGrant, GrantDelivery, PlatformSettings, ProvisioningEvent
from clusters.providers.local.models import LocalMskGrant
from clusters.requests import services
from tests import builders
from tests.conftest import client_for


def _approve(prepared, member, admin, capture):
    builders.approve(builders.submit(member, prepared), admin, capture)


def _topic_with_access(member_a, admin, team_a, cluster, capture):
    request = builders.topic_request(
        member_a, cluster, "orders", team=team_a, access_entries=builders.produce_access()
    )
    builders.approve(request, admin, capture)
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
    _approve(
        services.prepare_access_revoke(actor=member_a, grant=grant, justification="gone"),
        member_a,
        admin,
        django_capture_on_commit_callbacks,
    )
    grant.refresh_from_db()
    assert grant.status == AccessGrant.Status.REVOKED and not LocalMskGrant.objects.exists()
    assert "detaches the policy" in ProvisioningEvent.objects.filter(grant=grant).last().note


# --- Roles in other AWS accounts (issue 11) --------------------------------------------------------

OUTSIDER = "arn:aws:iam::999999999999:role/outsider"


def test_the_local_provider_refuses_a_role_of_another_account_as_aws_does(team_a, cluster_a):
    """A grant that slipped through (filed before the request-time check): the local provider used to say
    'policy attached'; AWS cannot put a policy on another account's role, and neither does it now."""
    from clusters import provisioning
    from clusters.providers.base import ProviderError, role_name_from_principal_arn

    grant = AccessGrant.objects.create(
        cluster=cluster_a,
        team=team_a,
        principal_arn=OUTSIDER,
        can_produce=True,
        policy={"Version": "2012-10-17"},
    )
    provisioning.apply_grant(grant.pk)
    grant.refresh_from_db()
    assert grant.status == AccessGrant.Status.FAILED and not LocalMskGrant.objects.exists()
    assert "belongs to account 999999999999, not 123456789012" in grant.status_reason
    assert not ProvisioningEvent.objects.filter(grant=grant, note="policy attached").exists()
    # The very words the AWS provider raises (tests/clusters/integrations/aws: test_grants_only_go_to_roles_of_the_account).
    with pytest.raises(ProviderError) as raised:
        role_name_from_principal_arn(provisioning.account_ref(cluster_a), OUTSIDER)
    assert raised.value.message in grant.status_reason


def test_cross_account_principals_when_allowed_are_flagged_and_get_their_policy_as_a_document(
    member_a, admin, team_a, cluster_a, django_capture_on_commit_callbacks
):
    settings_row = PlatformSettings.current()
    settings_row.allow_cross_account_principals = True
    settings_row.save()
    prepared = services.prepare_access_grant(
        actor=member_a,
        team=team_a,
        cluster=cluster_a,
        topic_prefix="team-a.",
        entry=services.AccessInput(OUTSIDER, produce=True, consume=False),
    )
    request = services.submit_request(actor=member_a, prepared=prepared)
    assert request.has_warnings
    [warning] = [f["message"] for f in request.assessment["findings"] if f["level"] == "warning"]
    assert "999999999999 (an account the portal does not know)" in warning
    detail = client_for(admin).get(f"/requests/{request.pk}/").content.decode()
    assert "Cross-account principal" in detail
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_request(request_id=request.pk, actor=admin)
    grant = AccessGrant.objects.get()
    assert grant.delivery == GrantDelivery.DOCUMENT and grant.status == AccessGrant.Status.APPLIED
    assert not LocalMskGrant.objects.exists()
    assert "policy document handed to Team A" in ProvisioningEvent.objects.filter(grant=grant).last().note


def test_turning_cross_account_principals_off_stops_approval_of_those_filed_before(
    member_a, admin, team_a, cluster_a
):
    from portal.errors import Conflict

    settings_row = PlatformSettings.current()
    settings_row.allow_cross_account_principals = True
    settings_row.save()
    request = services.submit_request(
        actor=member_a,
        prepared=services.prepare_access_grant(
            actor=member_a,
            team=team_a,
            cluster=cluster_a,
            topic_prefix="team-a.",
            entry=services.AccessInput(OUTSIDER, produce=True, consume=False),
        ),
    )
    settings_row.allow_cross_account_principals = False
    settings_row.save()
    try:
        services.approve_request(request_id=request.pk, actor=admin)
    except Conflict as exc:
        assert "only grants access to roles in the cluster's own account" in exc.message
    else:
        raise AssertionError("approved a principal the platform no longer allows")
    assert not AccessGrant.objects.exists()
