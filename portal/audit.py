"""The audit trail: services call `record()` for every change they make.

Events are append-only (see `AuditEvent`). Never put secrets in `details`: token keys, passwords
and credentials are redacted here as a last line of defence.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from portal.models import AuditEvent, Team, User

_SECRET_MARKERS = ("password", "secret", "token_key", "api_key", "credential", "key_hash", "external_id")
REDACTED = "[redacted]"


def is_secret(key: str) -> bool:
    return any(marker in key.lower() for marker in _SECRET_MARKERS)


def _redact(details: dict[str, Any]) -> dict[str, Any]:
    return {key: REDACTED if is_secret(key) else value for key, value in details.items()}


def admin_action(model: type[models.Model], verb: str) -> str:
    """The action code of a Django-admin change: admin.<app>.<model>.<created|changed|deleted>."""
    return f"admin.{model._meta.app_label}.{model._meta.model_name}.{verb}"


def record(
    action: str,
    *,
    actor: User | None,
    obj: models.Model | None = None,
    team: Team | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. `actor=None` means the system (a worker, beat or a management command)."""
    if team is None and isinstance(obj, Team):
        team = obj
    event = AuditEvent(
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_label=actor.get_username() if actor is not None and actor.is_authenticated else "system",
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        team=team,
        details=_redact(details or {}),
    )
    event.full_clean()
    event.save()
    return event
