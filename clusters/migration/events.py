"""Writing the assistant's log: one append-only `MigrationEvent` per change, mirrored in the portal's audit
trail (`portal.audit`) so the audit page shows migration work beside everything else."""

from __future__ import annotations

from django.db import models

from clusters.migration.models import MigrationEvent, Monolith
from portal import audit


def record(
    monolith: Monolith,
    action: str,
    *,
    actor,
    obj: models.Model | None = None,
    from_status: str = "",
    to_status: str = "",
    reason: str = "",
    team=None,
    details: dict | None = None,
) -> MigrationEvent:
    person = actor if actor is not None and actor.is_authenticated else None
    event = MigrationEvent.objects.create(
        monolith=monolith,
        object_type=obj._meta.model_name if obj is not None else "monolith",
        object_id=str(obj.pk) if obj is not None else str(monolith.pk),
        action=action,
        from_status=from_status,
        to_status=to_status,
        actor=person,
        actor_label=person.get_username() if person else "system",
        reason=reason,
        details=details or {},
    )
    audit.record(
        f"migration.{action}",
        actor=person,
        obj=obj or monolith,
        team=team,
        details={**(details or {}), **({"reason": reason} if reason else {})},
    )
    return event
