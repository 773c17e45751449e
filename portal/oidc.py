"""Optional single sign-on: maps identity-provider groups to portal roles and team memberships.

Switched on by OIDC_RP_CLIENT_ID (see .env.example). Group names are configured by OIDC_ADMIN_GROUPS,
OIDC_FINANCE_GROUPS and OIDC_TEAM_GROUP_PREFIX; memberships follow the groups at every login.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from portal import audit, services
from portal.models import Membership, Team, User


@dataclass(frozen=True)
class GroupMapping:
    role: str
    team_slugs: frozenset[str]


def map_groups(groups: list[str]) -> GroupMapping:
    group_set = set(groups)
    if group_set & set(settings.OIDC_ADMIN_GROUPS):
        role = User.Role.PLATFORM_ADMIN
    elif group_set & set(settings.OIDC_FINANCE_GROUPS):
        role = User.Role.FINANCE
    else:
        role = User.Role.MEMBER
    prefix = settings.OIDC_TEAM_GROUP_PREFIX
    slugs = frozenset(group[len(prefix) :] for group in group_set if prefix and group.startswith(prefix))
    return GroupMapping(role=role, team_slugs=slugs)


@transaction.atomic
def sync_user_from_claims(user: User, claims: dict) -> User:
    groups = claims.get(settings.OIDC_GROUPS_CLAIM) or []
    if isinstance(groups, str):
        groups = [groups]
    mapping = map_groups(list(groups))
    changed = []
    for field, value in (
        ("email", claims.get("email", user.email)),
        ("first_name", claims.get("given_name", user.first_name)),
        ("last_name", claims.get("family_name", user.last_name)),
        ("role", mapping.role),
        # Platform admins maintain accounts, networks, quotas and rules in Django's admin site.
        ("is_staff", mapping.role == User.Role.PLATFORM_ADMIN or user.is_superuser),
    ):
        if getattr(user, field) != value:
            setattr(user, field, value)
            changed.append(field)
    if changed:
        user.save(update_fields=changed)
        if "role" in changed:
            audit.record("portal.user.role_synced", actor=None, obj=user, details={"role": mapping.role})

    # Unknown team groups are ignored: teams are created by platform admins, not by the IdP.
    wanted = set(Team.objects.filter(slug__in=mapping.team_slugs).values_list("pk", flat=True))
    current = {m.team_id: m for m in Membership.objects.filter(user=user).select_related("team", "user")}
    for team in Team.objects.filter(pk__in=wanted - current.keys()):
        services.membership_add(actor=None, team=team, user=user)
    for team_id in current.keys() - wanted:
        services.membership_remove(actor=None, membership=current[team_id])
    return user


class PortalOIDCBackend(OIDCAuthenticationBackend):
    def create_user(self, claims):
        username = claims.get("preferred_username") or claims.get("email") or claims["sub"]
        user = User.objects.create_user(username=username[:150], email=claims.get("email", ""))
        audit.record("portal.user.created_by_sso", actor=None, obj=user, details={"username": user.username})
        return sync_user_from_claims(user, claims)

    def update_user(self, user, claims):
        return sync_user_from_claims(user, claims)

    def filter_users_by_claims(self, claims):
        username = claims.get("preferred_username") or claims.get("email")
        if not username:
            return self.UserModel.objects.none()
        return self.UserModel.objects.filter(username=username[:150])
