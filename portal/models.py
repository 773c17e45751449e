from __future__ import annotations

import re

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from portal.text import validate_one_line


class User(AbstractUser):
    """A person using the portal. Team membership comes from `Membership`; the role is global."""

    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        PLATFORM_ADMIN = "platform_admin", "Platform admin"
        FINANCE = "finance", "Finance"

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)

    def __str__(self) -> str:
        return self.get_full_name() or self.username


cost_center_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$",
    "Use letters, digits, dots, slashes, underscores or hyphens (up to 64 characters).",
)


TEAM_SLUG_MAX = 40
_TEAM_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")


def validate_team_slug(value: str) -> None:
    """Lowercase letters, digits and hyphens: the slug starts every topic name of the team (Kafka takes
    letters, digits, '.', '_', '-'), is the `team` tag on its clusters and sits in IAM policy resources,
    where case and '_' make look-alikes ("Ops_Team" beside "ops-team"). One message, with a suggestion."""
    if _TEAM_SLUG.fullmatch(value) and len(value) <= TEAM_SLUG_MAX:
        return
    suggestion = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")[:TEAM_SLUG_MAX].strip("-")
    hint = f" Try “{suggestion}”." if suggestion and suggestion != value else ""
    raise ValidationError(
        f"Use lowercase letters, digits and hyphens, starting and ending with a letter or digit, at most "
        f"{TEAM_SLUG_MAX} characters: the slug goes into topic names, AWS tags and IAM policies.{hint}",
        code="invalid",
    )


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True, validators=[validate_one_line])
    # A CharField, not a SlugField: Django's slug check (which takes "Ops_Team") would add a second message.
    slug = models.CharField(
        max_length=TEAM_SLUG_MAX,
        unique=True,
        validators=[validate_team_slug],
        help_text="Short lowercase identifier (letters, digits, hyphens); used in topic names and AWS tags. "
        "Cannot be changed later.",
    )
    cost_center = models.CharField(max_length=64, validators=[cost_center_validator])
    contact_email = models.EmailField()
    monthly_budget_usd = models.DecimalField(
        "Monthly budget (USD)",
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Members are alerted at 80 % and 100 % of it. Empty: no budget.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["team__name", "user__username"]
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="membership_unique_team_user")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"


class ApiToken(models.Model):
    """A personal API token. Only a SHA-256 hash is stored; the key is shown once, at creation."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Heartbeat(models.Model):
    """Last time a background component proved it was alive (written by a beat-scheduled task)."""

    name = models.CharField(max_length=50, primary_key=True)
    last_seen = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_seen.isoformat()}"


class AppendOnlyError(Exception):
    pass


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only")

    def delete(self):
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only")


class AppendOnlyModel(models.Model):
    """A log row: written once, never changed or deleted (ORM-level guard)."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError(f"{type(self).__name__} rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{type(self).__name__} rows are append-only")


class AuditEvent(AppendOnlyModel):
    """One thing somebody (or the system) did. Written explicitly by services via `portal.audit`."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # PROTECT: people are deactivated, never deleted, so the trail never loses its actor.
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField(max_length=150, help_text="Username at the time, or 'system'.")
    action = models.CharField(
        max_length=100,
        validators=[RegexValidator(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$", "Use a dotted lowercase code.")],
    )
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    details = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["team", "-created_at"], name="audit_team_created"),
            models.Index(fields=["action"], name="audit_action"),
        ]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label}"
