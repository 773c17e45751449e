from django.test import override_settings

from portal.models import AuditEvent, Membership, User
from portal.oidc import PortalOIDCBackend, map_groups, sync_user_from_claims

GROUPS = {
    "OIDC_ADMIN_GROUPS": ["msk-platform-admins"],
    "OIDC_FINANCE_GROUPS": ["msk-finance"],
    "OIDC_TEAM_GROUP_PREFIX": "msk-team-",
    "OIDC_GROUPS_CLAIM": "groups",
}


@override_settings(**GROUPS)
def test_groups_map_to_roles_and_teams():
    assert map_groups(["msk-platform-admins", "msk-team-a"]).role == User.Role.PLATFORM_ADMIN
    assert map_groups(["msk-finance"]).role == User.Role.FINANCE
    mapping = map_groups(["msk-team-team-a", "unrelated"])
    assert mapping.role == User.Role.MEMBER
    assert mapping.team_slugs == frozenset({"team-a"})


@override_settings(**GROUPS)
def test_login_syncs_memberships_both_ways(team_a, team_b):
    user = User.objects.create_user(username="sso-user")
    sync_user_from_claims(user, {"email": "s@example.com", "groups": ["msk-team-team-a", "msk-team-unknown"]})
    assert set(Membership.objects.filter(user=user).values_list("team__slug", flat=True)) == {"team-a"}
    sync_user_from_claims(user, {"groups": ["msk-team-team-b", "msk-finance"]})
    user.refresh_from_db()
    assert user.role == User.Role.FINANCE and not user.is_staff
    sync_user_from_claims(user, {"groups": ["msk-platform-admins"]})
    user.refresh_from_db()
    assert user.role == User.Role.PLATFORM_ADMIN and user.is_staff
    sync_user_from_claims(user, {"groups": ["msk-team-team-b", "msk-finance"]})
    assert set(Membership.objects.filter(user=user).values_list("team__slug", flat=True)) == {"team-b"}
    actions = list(AuditEvent.objects.filter(actor=None).values_list("action", flat=True))
    assert actions.count("portal.membership.added") == 3  # team-a, team-b, team-b again
    assert actions.count("portal.membership.removed") == 2  # team-a, then team-b while admin


@override_settings(
    **GROUPS,
    OIDC_RP_CLIENT_ID="x",
    OIDC_RP_CLIENT_SECRET="y",
    OIDC_OP_TOKEN_ENDPOINT="t",
    OIDC_OP_USER_ENDPOINT="u",
    OIDC_OP_JWKS_ENDPOINT="j",
    OIDC_RP_SIGN_ALGO="RS256",
)
def test_backend_creates_users_from_claims(team_a):
    backend = PortalOIDCBackend()
    claims = {
        "sub": "1",
        "preferred_username": "sso",
        "email": "sso@example.com",
        "groups": ["msk-team-team-a"],
    }
    assert not backend.filter_users_by_claims(claims).exists()
    user = backend.create_user(claims)
    assert user.username == "sso" and user.email == "sso@example.com"
    assert Membership.objects.filter(user=user, team=team_a).exists()
    assert list(backend.filter_users_by_claims(claims)) == [user]
