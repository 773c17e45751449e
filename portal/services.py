"""Writes for teams, memberships and API tokens. Every change is recorded in the audit log."""

from __future__ import annotations

import hashlib
import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone

from portal import access, audit
from portal.errors import Conflict, NotAllowed
from portal.models import ApiToken, Heartbeat, Membership, Team, User

API_TOKEN_PREFIX = "mskp_"  # noqa: S105 - a public marker, not a secret


def _require_team_manager(actor: User) -> None:
    if not access.can_manage_teams(actor):
        raise NotAllowed("Only platform admins can manage teams.")


@transaction.atomic
def team_create(*, actor: User, name: str, slug: str, cost_center: str, contact_email: str) -> Team:
    _require_team_manager(actor)
    team = Team(name=name, slug=slug, cost_center=cost_center, contact_email=contact_email)
    team.full_clean()
    team.save()
    audit.record(
        "portal.team.created",
        actor=actor,
        obj=team,
        details={"slug": slug, "cost_center": cost_center, "contact_email": contact_email},
    )
    return team


@transaction.atomic
def team_update(*, actor: User, team: Team, name: str, cost_center: str, contact_email: str) -> Team:
    _require_team_manager(actor)
    # Compare with the stored row: a bound ModelForm has already changed the instance in memory.
    stored = Team.objects.select_for_update().get(pk=team.pk)
    before = {"name": stored.name, "cost_center": stored.cost_center, "contact_email": stored.contact_email}
    team.name, team.cost_center, team.contact_email = name, cost_center, contact_email
    team.full_clean()
    team.save(update_fields=["name", "cost_center", "contact_email"])
    after = {"name": name, "cost_center": cost_center, "contact_email": contact_email}
    changes = {key: [before[key], after[key]] for key in before if before[key] != after[key]}
    if changes:
        audit.record("portal.team.updated", actor=actor, obj=team, details={"changes": changes})
    return team


def membership_add(*, actor: User | None, team: Team, user: User) -> Membership:
    """Add a member. `actor=None` is the system (single sign-on group sync)."""
    if actor is not None:
        _require_team_manager(actor)
    try:
        with transaction.atomic():
            membership = Membership.objects.create(team=team, user=user)
            audit.record(
                "portal.membership.added",
                actor=actor,
                obj=membership,
                team=team,
                details={"user": user.get_username()},
            )
    except IntegrityError as exc:
        raise Conflict(f"{user.get_username()} is already a member of {team.name}.") from exc
    return membership


@transaction.atomic
def membership_remove(*, actor: User | None, membership: Membership) -> None:
    if actor is not None:
        _require_team_manager(actor)
    audit.record(
        "portal.membership.removed",
        actor=actor,
        obj=membership,
        team=membership.team,
        details={"user": membership.user.get_username()},
    )
    membership.delete()


def _hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a token; returns it with the raw key, which is never stored and shown only once."""
    raw_key = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user, name=name, prefix=raw_key[: len(API_TOKEN_PREFIX) + 6], key_hash=_hash_key(raw_key)
    )
    token.full_clean()
    token.save()
    audit.record(
        "portal.api_token.created", actor=user, obj=token, details={"name": name, "prefix": token.prefix}
    )
    return token, raw_key


@transaction.atomic
def api_token_revoke(*, user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's own tokens. Revoking twice is harmless."""
    token = ApiToken.objects.select_for_update().filter(pk=token_id, user=user).first()
    if token is None:
        raise NotAllowed("No such token.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record("portal.api_token.revoked", actor=user, obj=token, details={"prefix": token.prefix})
    return token


def api_token_authenticate(raw_key: str) -> ApiToken | None:
    """The active token for a raw key, or None. Marks it used at most once a minute."""
    if not raw_key.startswith(API_TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_hash_key(raw_key), revoked_at__isnull=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def heartbeat_record(name: str) -> None:
    Heartbeat.objects.update_or_create(name=name, defaults={"last_seen": timezone.now()})
