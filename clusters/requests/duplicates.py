"""One rule against duplicate requests, for the forms, the API and the migration assistant alike: a request
that would only do again what a waiting request, or the inventory, already does is refused.

At filing (`filing_error`, from each `prepare_*` and again in `submit_request` under the scope's lock):
- a new cluster: no waiting request for the same name in the same region (any team: the name is the
  region's);
- access: no waiting request for the same access (cluster, role, topic or prefix, produce, consume and,
  for consumers, the group prefix), and the role does not hold that grant already;
- a topic change: no other change of the topic waiting. Not only an identical one: a change carries the
  topic's whole target state as it was when filed, so approving a second one would undo the first;
- deleting a topic, revoking access, decommissioning: no such request for the same object waiting.
New topics have the same rule in `limits.topic_name_clash` (a name waiting on the cluster, '.'/'_' alike).

At approval (`approval_error`, from the approval's re-assessment under the same lock), for twins filed
before this rule or in a race: the grant exists already; the topic has those settings already, or was
changed since the request was filed (approving would undo that); the removal is approved already. A new
cluster's name is checked against live clusters by `services.cluster_name_error`.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Q

from clusters.models import AccessGrant, Request, Topic

Kind = Request.Kind
# The service's error key each kind's refusal goes under (the forms put it under that field, or above
# the form when it has none; the API lists it in field_errors).
FIELD = {
    Kind.CLUSTER_CREATE: "name",
    Kind.ACCESS_GRANT: "principal_arn",
    Kind.TOPIC_UPDATE: "topic",
    Kind.TOPIC_DELETE: "topic",
    Kind.ACCESS_REVOKE: "grant",
    Kind.CLUSTER_DECOMMISSION: "cluster",
}


def _access(payload: dict) -> tuple:
    consume = bool(payload["consume"])
    return (
        payload["cluster_id"],
        payload["principal_arn"],
        payload["topic_id"],
        payload["topic_prefix"] or "",
        bool(payload["produce"]),
        consume,
        payload["consumer_group_prefix"] if consume else "",
    )


# What makes two requests of a kind the same request, from their payloads; and the rows that can be, in SQL
# (indexed foreign keys, or a payload key), so that a migration filing hundreds reads few of them.
_SAME = {
    Kind.CLUSTER_CREATE: lambda payload: (payload["name"], payload["region"]),
    Kind.ACCESS_GRANT: _access,
    Kind.TOPIC_UPDATE: lambda payload: payload["topic_id"],
    Kind.TOPIC_DELETE: lambda payload: payload["topic_id"],
    Kind.ACCESS_REVOKE: lambda payload: payload["grant_id"],
    Kind.CLUSTER_DECOMMISSION: lambda payload: payload["cluster_id"],
}
_CANDIDATES = {
    Kind.CLUSTER_CREATE: lambda payload: Q(payload__name=payload["name"]),
    Kind.ACCESS_GRANT: lambda payload: Q(
        cluster_id=payload["cluster_id"], payload__principal_arn=payload["principal_arn"]
    ),
    Kind.TOPIC_UPDATE: lambda payload: Q(topic_id=payload["topic_id"]),
    Kind.TOPIC_DELETE: lambda payload: Q(topic_id=payload["topic_id"]),
    Kind.ACCESS_REVOKE: lambda payload: Q(grant_id=payload["grant_id"]),
    Kind.CLUSTER_DECOMMISSION: lambda payload: Q(cluster_id=payload["cluster_id"]),
}


def twins(*, kind: str, payload: dict, status: str = Request.Status.SUBMITTED) -> list[Request]:
    """Requests of `kind` in `status` that are the same request as `payload`, oldest first."""
    if kind not in _SAME:
        return []
    same = _SAME[kind]
    candidates = Request.objects.filter(_CANDIDATES[kind](payload), kind=kind, status=status).order_by("pk")
    return [request for request in candidates.only("pk", "payload") if same(request.payload) == same(payload)]


def _waiting_sentence(kind: str, payload: dict, twin: Request) -> str:
    waiting = f"is already waiting for approval: #{twin.pk}"
    if kind == Kind.CLUSTER_CREATE:
        return f"A request for cluster “{payload['name']}” in {payload['region']} {waiting}."
    if kind == Kind.ACCESS_GRANT:
        return f"The same access is already requested and {waiting.removeprefix('is already ')}."
    if kind == Kind.TOPIC_UPDATE:
        return (
            f"A change to {payload['name']} {waiting}. Wait for its decision (or cancel it) and file this "
            "change against the topic as it is then."
        )
    return f"{_removal(kind, payload)} {waiting}."


def _removal(kind: str, payload: dict) -> str:
    if kind == Kind.TOPIC_DELETE:
        return f"The deletion of {payload['name']}"
    if kind == Kind.ACCESS_REVOKE:
        return f"The removal of {payload['principal_arn']}'s access"
    return f"The decommissioning of {payload['name']}"


def live_grant(payload: dict) -> AccessGrant | None:
    """The grant (not revoked or being revoked) that already gives exactly the access `payload` asks for."""
    wanted = _access(payload)
    grants = AccessGrant.objects.filter(
        cluster_id=payload["cluster_id"], principal_arn=payload["principal_arn"]
    ).exclude(status__in=AccessGrant.REMOVED)
    for grant in grants.order_by("pk"):
        held = {
            "cluster_id": grant.cluster_id,
            "principal_arn": grant.principal_arn,
            "topic_id": grant.topic_id,
            "topic_prefix": grant.topic_prefix,
            "produce": grant.can_produce,
            "consume": grant.can_consume,
            "consumer_group_prefix": grant.consumer_group_prefix,
        }
        if _access(held) == wanted:
            return grant
    return None


def _granted_by(grant: AccessGrant) -> str:
    """' (request #N)': the request that made the grant, when there is one."""
    made = Request.objects.filter(grant=grant, kind=Kind.ACCESS_GRANT).order_by("pk").first()
    if made is None and grant.topic_id:
        made = Request.objects.filter(topic_id=grant.topic_id, kind=Kind.TOPIC_CREATE).order_by("pk").first()
    return f" (request #{made.pk})" if made else ""


def _held_sentence(payload: dict, grant: AccessGrant) -> str:
    return (
        f"{payload['principal_arn']} already has this access: {grant}, {grant.get_status_display().lower()}"
        f"{_granted_by(grant)}."
    )


def filing_error(*, kind: str, payload: dict) -> dict[str, str]:
    """{error key: why} when a request of `kind` with `payload` would duplicate a waiting request (or, for
    access, a grant the role holds); empty otherwise."""
    waiting = twins(kind=kind, payload=payload)
    if waiting:
        return {FIELD[kind]: _waiting_sentence(kind, payload, waiting[0])}
    if kind == Kind.ACCESS_GRANT and (grant := live_grant(payload)):
        return {FIELD[kind]: _held_sentence(payload, grant)}
    return {}


def approval_error(request: Request) -> tuple[str, str] | None:
    """(error key, why) when approving `request` would do nothing new, or undo another approved change."""
    payload = request.payload
    if request.kind == Kind.ACCESS_GRANT and (grant := live_grant(payload)):
        return FIELD[request.kind], _held_sentence(payload, grant)
    if request.kind == Kind.TOPIC_UPDATE:
        return _topic_change_error(request)
    if request.kind in (Kind.TOPIC_DELETE, Kind.ACCESS_REVOKE, Kind.CLUSTER_DECOMMISSION):
        approved = twins(kind=request.kind, payload=payload, status=Request.Status.APPROVED)
        if approved:
            return FIELD[request.kind], (
                f"{_removal(request.kind, payload)} was already approved: request #{approved[0].pk} (a step "
                "that failed is retried from its page, not by a second request)."
            )
    return None


def _topic_now(topic: Topic, key: str):
    if key == "partitions":
        return topic.partitions
    if key in ("expected_in_mbps", "expected_out_mbps"):
        return getattr(topic, key)
    return (topic.configs or {}).get(key)


def _same_value(key: str, now, value) -> bool:
    if key in ("expected_in_mbps", "expected_out_mbps"):
        return Decimal(str(now)) == Decimal(str(value))  # stored as text: "12" and "12.00" are one value
    return now == value


def _topic_change_error(request: Request) -> tuple[str, str] | None:
    """A change carries the topic's whole target state (partitions, throughput, every config), computed
    from the topic as it was when filed: approving it must not put back a value another change set since."""
    payload = request.payload
    topic = Topic.objects.get(pk=payload["topic_id"])
    target = {
        "partitions": payload["partitions"],
        "expected_in_mbps": payload["expected_in_mbps"],
        "expected_out_mbps": payload["expected_out_mbps"],
        **payload["configs"],
    }
    changes = payload.get("changes", {})
    filed_against = {key: changes[key][0] if key in changes else value for key, value in target.items()}
    now = {key: _topic_now(topic, key) for key in target}
    if all(_same_value(key, now[key], value) for key, value in target.items()):
        why = (
            f"{topic.name} already has these settings{_changed_by(request)}: approving would change nothing."
        )
        return FIELD[request.kind], why
    moved = [
        key
        for key in target
        if not _same_value(key, now[key], filed_against[key]) and not _same_value(key, now[key], target[key])
    ]
    if moved:
        return FIELD[request.kind], (
            f"{topic.name} was changed since this request was filed{_changed_by(request)}: {', '.join(moved)} "
            "would be put back. Reject this one and let the team file it again against the topic as it is now."
        )
    return None


def _changed_by(request: Request) -> str:
    """' (request #N)': the latest approved change of the same topic filed by another request."""
    other = (
        Request.objects.filter(
            kind=Kind.TOPIC_UPDATE, status=Request.Status.APPROVED, topic_id=request.topic_id
        )
        .exclude(pk=request.pk)
        .order_by("-decided_at", "-pk")
        .first()
    )
    return f" (request #{other.pk})" if other else ""
