"""Status moves of the workflow objects (clusters, topics, grants, replicators): compare-and-set, each
move checked against the model's TRANSITIONS table and recorded as a ProvisioningEvent plus an audit
entry in the same transaction. A move that lost the race (someone else moved the object first) returns
False and changes nothing. The compare-and-set itself is `portal.transitions.move`; this module gives it the
engine's event writer.
"""

from __future__ import annotations

from django.utils import timezone

from clusters.models import AccessGrant, Cluster, ProvisioningEvent, Replicator, Topic
from portal import audit, transitions

EVENT_KEYS = {Cluster: "cluster", Topic: "topic", AccessGrant: "grant", Replicator: "replicator"}


def move(model, obj, *, from_status: str, to_status: str, note: str = "", actor=None, **fields) -> bool:
    """Compare-and-set the status of a cluster, topic, grant or replicator and log it. False if someone else
    moved it. A move the model's TRANSITIONS table does not allow is a bug in the caller: ValueError.

    `actor` is the person behind the move (an admin's retry); None means the system (a worker, beat)."""

    def record() -> None:
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

    return transitions.move(
        model,
        obj,
        from_status=from_status,
        to_status=to_status,
        record=record,
        status_changed_at=timezone.now(),
        **fields,
    )


def note_attempt(obj, note: str) -> None:
    """Log an attempt that did not change the status (a retry, an adoption, a transient error)."""
    key = EVENT_KEYS[type(obj)]
    ProvisioningEvent.objects.create(**{key: obj}, from_status=obj.status, to_status=obj.status, note=note)
