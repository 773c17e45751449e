"""The one status move of every workflow object (requests, clusters, topics, grants, replicators, alert
episodes; the migration assistant's replications, cutovers, plans and claims): a compare-and-set on the
object's status field, checked against the model's `TRANSITIONS` table `{from: {to}}`, with the model's
event writer called in the same transaction. A move that lost the race (someone else moved the object first)
returns False and writes nothing.

Each workflow keeps its own event log and passes its writer: `clusters.provisioning.transitions.move`
(a `ProvisioningEvent` and an audit entry), `clusters.migration.events.move` (a `MigrationEvent`, mirrored
in the audit trail), `clusters.requests.services` (a `RequestEvent` and an audit entry),
`clusters.observability.alerts` (an `AlertEvent`).
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import models, transaction


def move(
    model: type[models.Model],
    obj: models.Model,
    *,
    from_status: str,
    to_status: str,
    record: Callable[[], object],
    status_field: str = "status",
    **fields,
) -> bool:
    """Compare-and-set `obj`'s status field (`status_field`) from `from_status` to `to_status`, writing `fields`
    with it, then call `record()`, the event writer, in the same transaction. False, with nothing written
    and `record` not called, when the row no longer has `from_status`. On success `obj` carries the new
    values. A move `model.TRANSITIONS` does not list is a bug in the caller: ValueError."""
    if to_status not in model.TRANSITIONS.get(from_status, ()):
        raise ValueError(f"{model.__name__} may not move from '{from_status}' to '{to_status}'.")
    with transaction.atomic():
        updated = model.objects.filter(pk=obj.pk, **{status_field: from_status}).update(
            **{status_field: to_status}, **fields
        )
        if updated != 1:
            return False
        record()
    setattr(obj, status_field, to_status)
    for key, value in fields.items():
        setattr(obj, key, value)
    return True
