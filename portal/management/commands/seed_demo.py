"""Idempotent demo data for `make run`: three teams, a member of each, a platform admin and finance."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from portal import audit
from portal.models import Membership, Team, User

TEAMS = [
    ("Payments", "payments", "CC-1001", "payments-team@example.com"),
    ("Search", "search", "CC-2002", "search-team@example.com"),
    ("Analytics", "analytics", "CC-3003", "analytics-team@example.com"),
]
# username, full name, role, team slug (or None)
USERS = [
    ("alice", "Alice Member", User.Role.MEMBER, "payments"),
    ("bob", "Bob Member", User.Role.MEMBER, "search"),
    ("carol", "Carol Member", User.Role.MEMBER, "analytics"),
    ("ada", "Ada Admin", User.Role.PLATFORM_ADMIN, None),
    ("fred", "Fred Finance", User.Role.FINANCE, None),
]
DEFAULT_PASSWORD = "kafka-demo-2026"  # noqa: S105 - demo logins only; refused when DEBUG is off


class Command(BaseCommand):
    help = "Create (or reset) the demo teams and logins. Safe to run any number of times."

    def add_arguments(self, parser):
        parser.add_argument("--password", default=DEFAULT_PASSWORD, help="Password for every demo login")
        parser.add_argument("--force", action="store_true", help="Allow with DEBUG off (never in production)")

    @transaction.atomic
    def handle(self, *args, password: str, force: bool, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Refusing to create demo logins with DEBUG off; pass --force if you mean it.")
        teams = {}
        for name, slug, cost_center, email in TEAMS:
            team, created = Team.objects.get_or_create(
                slug=slug, defaults={"name": name, "cost_center": cost_center, "contact_email": email}
            )
            if created:
                audit.record("portal.team.created", actor=None, obj=team, details={"source": "seed_demo"})
            teams[slug] = team
        for username, full_name, role, team_slug in USERS:
            first, last = full_name.split(" ", 1)
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@example.com",
                    "role": role,
                },
            )
            user.role = role
            user.is_staff = user.is_superuser = role == User.Role.PLATFORM_ADMIN
            user.set_password(password)
            user.save()
            if team_slug and not Membership.objects.filter(team=teams[team_slug], user=user).exists():
                membership = Membership.objects.create(team=teams[team_slug], user=user)
                audit.record(
                    "portal.membership.added",
                    actor=None,
                    obj=membership,
                    team=teams[team_slug],
                    details={"user": username, "source": "seed_demo"},
                )
        self.stdout.write(f"Demo logins (password for all: {password})")
        for username, full_name, role, team_slug in USERS:
            where = f"member of {team_slug}" if team_slug else User.Role(role).label.lower()
            self.stdout.write(f"  {username:<6} {full_name:<14} {where}")
