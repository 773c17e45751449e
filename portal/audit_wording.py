"""How the audit trail reads to people: an action code in words, its details as short phrases.

The codes and the raw details stay in the database, the API and the CSV export (`clusters.request.rejected`,
`{'kind': 'topic.create', 'note': …}`); pages show "Request rejected" and "Reason: “…”". Status changes
(`<app>.<model>.<status>`, written by every workflow object) are worded from the model's own status labels,
looked up through the app registry, so `portal` needs no import of the apps that write them.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.template.defaultfilters import pluralize

ACTION_WORDS = {
    "portal.team.created": "Team created",
    "portal.team.updated": "Team changed",
    "portal.membership.added": "Member added",
    "portal.membership.removed": "Member removed",
    "portal.api_token.created": "API token created",
    "portal.api_token.revoked": "API token revoked",
    "portal.user.created_by_sso": "Account created at first single sign-on",
    "portal.user.role_synced": "Role taken from single sign-on",
    "clusters.request.submitted": "Request submitted",
    "clusters.request.approved": "Request approved",
    "clusters.request.rejected": "Request rejected",
    "clusters.request.cancelled": "Request cancelled",
    "clusters.drift.detected": "Drift found",
    "clusters.drift.adopted": "Cluster adopted into the portal",
    "clusters.drift.retagged": "Portal tags put back",
    "clusters.drift.marked_deleted": "Cluster recorded as deleted outside the portal",
    "billing.chargeback.computed": "Chargeback computed",
    "billing.chargeback.finalized": "Chargeback finalized",
    "billing.chargeback.scaling": "Scaling of shared clusters to the AWS bill changed",
    "billing.actual_costs.fetched": "AWS bill read",
    "billing.budget.alert": "Budget alert",
    "migration.monolith.registered": "Monolith registered for migration",
    "migration.monolith.cost_set": "Monolith's monthly cost set",
    "migration.monolith.updated": "Monolith settings changed",
    "migration.inventory.read": "Monolith inventory read",
    "migration.inventory.imported": "Monolith inventory imported from a file",
    "migration.applications.found": "Applications found in the inventory",
    "migration.topic.assigned": "Topic moved to another application",
    "migration.claim.submitted": "Application claimed",
    "migration.claim.approved": "Application claim approved",
    "migration.claim.rejected": "Application claim rejected",
    "migration.requirements.updated": "Application requirements changed",
    "migration.plan.created": "Migration plan version made",
    "migration.plan.accepted": "Migration plan accepted",
    "migration.plan.superseded": "Migration plan superseded",
    "migration.plan.requests_filed": "Cluster requests filed from the migration plan",
    "migration.filing.queued": "Filing from the migration plan queued",
    "migration.filing.running": "Filing from the migration plan started",
    "migration.filing.done": "Filing from the migration plan finished",
    "migration.filing.failed": "Filing from the migration plan failed",
    "migration.filing.filed_automatically": "Next stage filed automatically from the migration plan",
    "migration.autofiling.on": "Automatic filing of the next stages turned on",
    "migration.autofiling.off": "Automatic filing of the next stages turned off",
    "migration.autofiling.stopped": "Automatic filing of the next stages stopped by itself",
    "migration.cutover.started": "Cutover started",
    "migration.cutover.verified": "Cutover: replication verified",
    "migration.cutover.consumers_moved": "Cutover: consumers moved",
    "migration.cutover.producers_moved": "Cutover: producers moved",
    "migration.cutover.done": "Cutover: topics migrated",
    "migration.cutover.rolled_back": "Cutover step rolled back",
    "migration.replication.stopping": "Replication being stopped",
    "migration.replication.stopped": "Replication stopped",
    "migration.replication.stop_refused": "AWS refused to stop replication",
    "migration.topics.migrated": "Monolith topics marked migrated",
}

# The audit page's "What" filter: the code prefixes worth choosing, in words.
ACTION_GROUPS = [
    ("", "anything"),
    ("clusters.request.", "Requests"),
    ("clusters.cluster.", "Clusters"),
    ("clusters.topic.", "Topics"),
    ("clusters.accessgrant.", "Access grants"),
    ("clusters.replicator.", "Replicators"),
    ("clusters.drift.", "Drift"),
    ("portal.team.", "Teams"),
    ("portal.membership.", "Members"),
    ("portal.api_token.", "API tokens"),
    ("portal.user.", "Accounts"),
    ("billing.", "Billing"),
    ("migration.", "Migration"),
]
ACTION_CODE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*\.?$")


# How a details key reads in a phrase, where its own name is not enough.
_KEY_WORDS = {
    "arn": "ARN",
    "prefix": "starts with",
    "contact_email": "contact",
    "scale_shared_to_actual": "scaled to the bill",
}


def action_label(code: str) -> str:
    """'clusters.request.rejected' → 'Request rejected'; 'clusters.topic.active' → 'Topic: Active'."""
    if code in ACTION_WORDS:
        return ACTION_WORDS[code]
    if code.endswith("."):
        return dict(ACTION_GROUPS).get(code, code)
    parts = code.split(".")
    if len(parts) == 3:
        model = _model(f"{parts[0]}.{parts[1]}")
        statuses = _choices(model, "status")
        if parts[2] in statuses:
            return f"{str(model._meta.verbose_name).capitalize()}: {statuses[parts[2]]}"
    # An action nobody worded yet: its last parts, readable.
    return " ".join(parts[1:]).replace("_", " ").capitalize() or code


def _model(object_type: str):
    app_label, _, model_name = object_type.partition(".")
    try:
        return apps.get_model(app_label, model_name)
    except (LookupError, ValueError):
        return None


def _choices(model, field: str) -> dict[str, str]:
    """{value: label} of a model field with choices ({} when there is no such field)."""
    try:
        return {str(key): str(label) for key, label in model._meta.get_field(field).choices or ()}
    except (AttributeError, FieldDoesNotExist):
        return {}


def _money(value) -> str:
    try:
        return f"${Decimal(str(value)):,.2f}"
    except (InvalidOperation, ValueError):
        return str(value)


def _words(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        if len(value) == 2 and not any(isinstance(item, list | tuple | dict) for item in value):
            return f"{_words(value[0])} → {_words(value[1])}"  # a change: before → after
        return ", ".join(_words(item) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{key} {_words(item)}" for key, item in value.items())
    if isinstance(value, str) and (moment := _moment(value)):
        return moment
    return str(value)


def _moment(value: str) -> str | None:
    """'2026-12-02T01:00:00+00:00' → '2026-12-02 01:00 UTC' (details keep a moment as JSON does, with its
    offset); None for anything else: a month, a date, a word."""
    if "T" not in value or len(value) < 16:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _phrase(event, key: str, value, model) -> str | None:
    """One detail in words, or None when it says nothing to a person (an id, an empty value, a repeat)."""
    if value in (None, "", [], {}) or key.endswith(("_id", "_ids")) or key == "finding":
        return None
    if key == "summary" and str(value) in event.object_repr:
        return None  # the object column says it already
    if key == "note":
        return f"Reason: “{value}”" if event.action.endswith(".rejected") else str(value)
    if key in ("detail", "changes"):
        return _words(value)
    if key == "changed" and isinstance(value, dict):
        return "Changed " + "; ".join(_change(field, change, model) for field, change in value.items())
    if key == "source":
        return "From the demo data" if value == "seed_demo" else f"From {value}"
    if key == "from":
        return f"Was {_choices(model, 'status').get(value, value)}"
    if key == "kind" and event.action.startswith("clusters.drift."):
        return _choices(_model("clusters.driftfinding"), "kind").get(value, str(value))
    if key in ("lines", "clusters") and isinstance(value, int):
        return f"{value} {key.removesuffix('s')}{pluralize(value)}"
    if key == "failures":
        return f"Failed: {_words(value)}"
    if key.endswith("_usd"):
        return f"{key.removesuffix('_usd').replace('_', ' ')} {_money(value)}"
    if key.endswith("_percent"):
        return f"{key.removesuffix('_percent').replace('_', ' ')} {value} %"
    labels = _choices(model, key)
    if str(value) in labels:
        return labels[str(value)]
    return f"{_KEY_WORDS.get(key, key.replace('_', ' '))} {_words(value)}"


# A change's side as the service wrote it (`str()` of the field's value, before this reading).
_WRITTEN = {"None": "—", "": "—", "True": "yes", "False": "no"}


def _change(field: str, change, model) -> str:
    """'latency_class', {"before": "time_insensitive", "after": "time_sensitive"} → 'latency class
    Time-insensitive → Time-sensitive': the field's labels, no Python values (None, True)."""
    name = _KEY_WORDS.get(field, field.replace("_", " "))
    if not (isinstance(change, dict) and set(change) == {"before", "after"}):
        return f"{name} {_words(change)}"
    labels = _choices(model, field)

    def side(value) -> str:
        value = _words(value) if isinstance(value, bool) else str(value)
        return _WRITTEN.get(value) or labels.get(value, value)

    return f"{name} {side(change['before'])} → {side(change['after'])}"


def detail_phrases(event) -> list[str]:
    """The event's details as phrases: names and labels, no ids (those are in the export)."""
    details = event.details if isinstance(event.details, dict) else {}
    model = _model(event.object_type)
    phrases = (_phrase(event, key, value, model) for key, value in details.items())
    # A phrase the object column already says ("New topic" in "#4 New topic: …") is left out.
    return [
        phrase[:1].upper() + phrase[1:] for phrase in phrases if phrase and phrase not in event.object_repr
    ]
