"""Status moves of the workflow objects (clusters, topics, grants, replicators): compare-and-set, each
move checked against the model's TRANSITIONS table and recorded as a ProvisioningEvent plus an audit
entry in the same transaction. A move that lost the race (someone else moved the object first) returns
False and changes nothing.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from clusters.models import AccessGrant, Cluster, ProvisioningEvent, Replicator, Topic
from portal import audit

EVENT_KEYS = {Cluster: "cluster", Topic: "topic", AccessGrant: "grant", Replicator: "replicator"}


def move(model, obj, *, from_status: str, to_status: str, note: str = "", actor=None, **fields) -> bool:
    """Compare-and-set the status of a cluster, topic, grant or replicator and log it. False if someone else
    moved it. A move the model's TRANSITIONS table does not allow is a bug in the caller: ValueError.

    `actor` is the person behind the move (an admin's retry); None means the system (a worker, beat)."""
    if to_status not in model.TRANSITIONS.get(from_status, ()):
        raise ValueError(f"{model.__name__} may not move from {from_status!r} to {to_status!r}.")
    with transaction.atomic():
        updated = model.objects.filter(pk=obj.pk, status=from_status).update(
            status=to_status, status_changed_at=timezone.now(), **fields
        )
        if updated != 1:
            return False
        ProvisioningEvent.objects.create(
            **{EVENT_KEYS[model]: obj},
            from_status=from_status,
            to_status=to_status,
            note=note,
        )
        team = obj.read_cluster.team if isinstance(obj, Replicator) else obj.team
        audit.record(
            f"clusters.{model.__name__.lower()}.{to_status}",
            actor=actor,
            obj=obj,
            team=team,
            details={"from": from_status, "note": note},
        )
    obj.status = to_status
    for key, value in fields.items():
        setattr(obj, key, value)
    return True


def note_attempt(obj, note: str) -> None:
    """Log an attempt that did not change the status (a retry, an adoption, a transient error)."""
    key = EVENT_KEYS[type(obj)]
    ProvisioningEvent.objects.create(**{key: obj}, from_status=obj.status, to_status=obj.status, note=note)
