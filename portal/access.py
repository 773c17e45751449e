"""The one access rule of the portal, shared by HTML views, the REST API and selectors.

Roles:
- member: acts for the teams they belong to and sees only those teams' objects;
- platform admin: sees everything and approves (never their own requests);
- finance: reads billing for every team, downloads reports; cannot request or approve.
Superusers count as platform admins.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from portal.errors import NotAllowed
from portal.models import AuditEvent, Membership, Team, User


def is_platform_admin(user) -> bool:
    return bool(
        user.is_authenticated
        and user.is_active
        and (user.is_superuser or user.role == User.Role.PLATFORM_ADMIN)
    )


def is_finance(user) -> bool:
    return bool(user.is_authenticated and user.is_active and user.role == User.Role.FINANCE)


def member_teams(user) -> list[Team]:
    """Teams the user belongs to, by name. One query, cached on the user object for the length of a
    request: the access checks, the navigation's cost links and the filter bars' team choices share it."""
    if not user.is_authenticated or not user.is_active:
        return []
    cached = getattr(user, "_member_teams", None)
    if cached is None:
        cached = list(Team.objects.filter(memberships__user=user).order_by("name"))
        user._member_teams = cached
        user._member_team_ids = {team.pk for team in cached}
    return cached


def member_team_ids(user) -> set[int]:
    """Teams the user belongs to, by id (see `member_teams`)."""
    if not member_teams(user):
        return set()
    return user._member_team_ids


def team_choices(user) -> list[tuple[str, str]]:
    """(slug, name) of the teams the user sees, by name: what a filter's team list offers."""
    if sees_all_teams(user):
        return list(Team.objects.order_by("name").values_list("slug", "name"))
    return [(team.slug, team.name) for team in member_teams(user)]


def sees_all_teams(user) -> bool:
    return is_platform_admin(user) or is_finance(user)


def teams_visible_to(user) -> QuerySet[Team]:
    if sees_all_teams(user):
        return Team.objects.all()
    return Team.objects.filter(pk__in=member_team_ids(user))


def can_view_team(user, team: Team) -> bool:
    return sees_all_teams(user) or team.pk in member_team_ids(user)


def can_act_for_team(user, team: Team) -> bool:
    """May the user file requests for this team? Members of the team only; never finance."""
    return not is_finance(user) and team.pk in member_team_ids(user)


def can_manage_teams(user) -> bool:
    return is_platform_admin(user)


def memberships_visible_to(user) -> QuerySet[Membership]:
    if sees_all_teams(user):
        return Membership.objects.all()
    return Membership.objects.filter(team_id__in=member_team_ids(user))


def audit_events_visible_to(user) -> QuerySet[AuditEvent]:
    """Admins see the whole trail; everyone else their teams' events and their own actions, and finance
    every billing event too (runs computed and finalized, budget alerts, AWS bills read)."""
    if is_platform_admin(user):
        return AuditEvent.objects.all()
    if not user.is_authenticated:
        return AuditEvent.objects.none()
    visible = Q(team_id__in=member_team_ids(user)) | Q(actor=user)
    if is_finance(user):
        visible |= Q(action__startswith="billing.")
    return AuditEvent.objects.filter(visible)


# --- Clusters and requests (the models live in `clusters`; imported lazily to keep `portal` first) ---


def team_may_use_cluster(team: Team, cluster) -> bool:
    """A team files topic and access requests on clusters it owns or that admins opened to it."""
    return cluster.team_id == team.pk or cluster.shared_with.filter(pk=team.pk).exists()


def team_may_use_account(team: Team, account) -> bool:
    return account.ownership == "platform" or account.team_id == team.pk


def clusters_of_teams(team_ids):
    """Clusters these teams own or that admins opened to them.

    The shared clusters come from a subquery, not a join: a join on `shared_with` gives a cluster one row
    per team it is opened to, and every count or sum annotated on top (topics, partitions, quota) would be
    multiplied by that number; `.distinct()` does not undo that.
    """
    from clusters.models import Cluster

    opened_to = Cluster.shared_with.through.objects.filter(team_id__in=team_ids).values("cluster_id")
    return Cluster.objects.filter(Q(team_id__in=team_ids) | Q(pk__in=opened_to))


def clusters_visible_to(user):
    from clusters.models import Cluster

    if sees_all_teams(user):
        return Cluster.objects.all()
    return clusters_of_teams(member_team_ids(user))


def accounts_visible_to(user):
    """Admins and finance: every AWS account. Members: the platform's shared accounts and their teams' own."""
    from clusters.models import AwsAccount

    if sees_all_teams(user):
        return AwsAccount.objects.all()
    return AwsAccount.objects.filter(
        Q(ownership=AwsAccount.Ownership.PLATFORM) | Q(team_id__in=member_team_ids(user))
    )


def network_profiles_visible_to(user):
    from clusters.models import NetworkProfile

    return NetworkProfile.objects.filter(account__in=accounts_visible_to(user))


def requests_visible_to(user):
    """Admins see every request; members their teams'; finance none (it neither requests nor approves)."""
    from clusters.models import Request

    if is_platform_admin(user):
        return Request.objects.all()
    if is_finance(user) or not user.is_authenticated:
        return Request.objects.none()
    return Request.objects.filter(team_id__in=member_team_ids(user))


def can_view_request(user, request) -> bool:
    if is_platform_admin(user):
        return True
    return not is_finance(user) and request.team_id in member_team_ids(user)


def decision_rights(user, requests) -> list[tuple[bool, bool]]:
    """For each request: may the user decide on it, and is it an open request they filed as an admin
    (someone else must decide, the page says so)? Four-eyes: platform admins decide open requests, never
    one they submitted. The role is read once for all of them (a page of the queue asks about 50)."""
    admin, me = is_platform_admin(user), user.pk
    return [
        (
            admin and request.is_open and request.requested_by_id != me,
            admin and request.is_open and request.requested_by_id == me,
        )
        for request in requests
    ]


def can_decide_request(user, request) -> bool:
    return decision_rights(user, [request])[0][0]


def can_cancel_request(user, request) -> bool:
    return request.requested_by_id == user.pk and request.status == "submitted"


def is_own_open_request(user, request) -> bool:
    return decision_rights(user, [request])[0][1]


def can_request_changes(user, obj) -> bool:
    """May the user file change or removal requests for a cluster, topic or grant? Its team's members."""
    return not is_finance(user) and obj.team_id in member_team_ids(user)


def can_retry_provisioning(user, obj) -> bool:
    """Platform admins restart a cluster's, topic's, grant's or replicator's failed step."""
    return is_platform_admin(user) and obj.status == "failed"


# --- Billing (the models live in `billing`; imported lazily) ---------------------------------------


def sees_all_costs(user) -> bool:
    """Finance and platform admins see every team's costs (the finance page, runs, exports)."""
    return sees_all_teams(user)


def can_view_team_costs(user, team: Team) -> bool:
    """Members see their own teams' costs only."""
    return can_view_costs_of(user, team.pk)


def can_view_costs_of(user, team_id: int | None) -> bool:
    """`chargeback_lines_visible_to` for one payer (team id; None: nobody to pay, all-costs users only)."""
    return sees_all_costs(user) or (team_id is not None and team_id in member_team_ids(user))


def cost_teams_visible_to(user) -> QuerySet[Team]:
    return teams_visible_to(user)


def chargeback_lines_visible_to(user):
    """Lines of the teams whose costs the user may see (unattributed lines without a team: all-costs only)."""
    from billing.models import ChargebackLine

    if sees_all_costs(user):
        return ChargebackLine.objects.all()
    if not user.is_authenticated:
        return ChargebackLine.objects.none()
    return ChargebackLine.objects.filter(team_id__in=member_team_ids(user))


def can_finalize_chargeback(user) -> bool:
    """Only finance closes a month for good."""
    return is_finance(user)


def can_recompute_chargeback(user) -> bool:
    """Finance recomputes a provisional month; platform admins may too (e.g. after fixing inventory)."""
    return is_finance(user) or is_platform_admin(user)


# --- Migration assistant (clusters.migration; objects passed in, nothing imported) ------------------


def can_view_migration(user) -> bool:
    """Everyone signed in sees the monolith's inventory and plans: members to find and claim their
    applications, finance the costs before and after."""
    return bool(user.is_authenticated and user.is_active)


def can_manage_migration(user) -> bool:
    """Registering the monolith, reading its inventory, importing files, planning, cutover: platform admins."""
    return is_platform_admin(user)


def can_watch_filing(user, team: Team) -> bool:
    """A filing of a plan's requests (its progress and result): those who may file for the team, and admins."""
    return can_act_for_team(user, team) or can_manage_migration(user)


def require_migration_manager(user, refusal: str) -> None:
    """The migration services' guard: `refusal` says what only platform admins may do."""
    if not can_manage_migration(user):
        raise NotAllowed(refusal)


def can_claim_for(user, team: Team) -> bool:
    return can_act_for_team(user, team)


def can_decide_claim(user, claim) -> bool:
    """Four eyes on ownership: an admin decides, never the person who claimed."""
    return is_platform_admin(user) and claim.claimed_by_id != user.pk


def can_edit_application(user, application) -> bool:
    """The owning team's members state an application's requirements; admins may too."""
    if is_platform_admin(user):
        return True
    return (
        not is_finance(user)
        and application.team_id is not None
        and application.team_id in member_team_ids(user)
    )
