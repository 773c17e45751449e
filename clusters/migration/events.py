"""Writing the assistant's log: one append-only `MigrationEvent` per change, mirrored in the portal's audit
trail (`portal.audit`) so the audit page shows migration work beside everything else. `move` is every status
change of a workflow object: compare-and-set (`portal.transitions.move`) and its event, in one transaction."""

from __future__ import annotations

from django.db import models

from clusters.migration.models import MigrationEvent, Monolith
from portal import audit, transitions


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


def move(
    monolith: Monolith,
    obj: models.Model,
    action: str,
    *,
    from_status: str,
    to_status: str,
    actor,
    status_field: str = "status",
    reason: str = "",
    team=None,
    details: dict | None = None,
    fields: dict | None = None,
) -> bool:
    """Compare-and-set `obj`'s status field (`status_field`: a cutover's is "step") from the status the caller saw,
    writing the columns in `fields` with it (a mapping, since `reason` is both the event's and a column of
    some rows), and record `action` in the same transaction. False, writing nothing, when someone else
    moved it first; ValueError for a move the model's TRANSITIONS table does not list."""
    return transitions.move(
        type(obj),
        obj,
        status_field=status_field,
        from_status=from_status,
        to_status=to_status,
        record=lambda: record(
            monolith,
            action,
            actor=actor,
            obj=obj,
            from_status=from_status,
            to_status=to_status,
            reason=reason,
            team=team,
            details=details,
        ),
        **(fields or {}),
    )
