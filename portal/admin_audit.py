"""Every change made in Django admin goes into the portal's audit log: who, what, before → after.

`AuditedAdmin` is the base of every ModelAdmin of the portal (a test fails when one is not). It takes a
snapshot of the object when the admin loads it (`get_object`: the change form, the password form, the
delete confirmation; the change list's inline editing snapshots just before saving) and, where Django
writes its own LogEntry (`log_addition`, `log_change`, `log_deletions`), appends one `AuditEvent`
`admin.<app>.<model>.created|changed|deleted` whose details hold each changed field as
{"before": …, "after": …}: plain fields, many-to-many fields (e.g. a cluster's `shared_with`) and the
rows of the admin's inlines (e.g. a team's memberships). Secret-looking fields (a password hash, an
external id) are listed when they change, with both values redacted.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import admin
from django.db import models

from portal import audit
from portal.models import Team

Snapshot = dict[str, Any]


def _field_value(obj: models.Model, field: models.Field) -> Any:
    if field.many_to_one or field.one_to_one:
        related = getattr(obj, field.name)
        return None if related is None else f"{related} (#{related.pk})"
    value = field.value_from_object(obj)
    if isinstance(value, datetime.datetime):
        # The admin's date/time widgets have whole seconds: saving a form drops the microseconds of a
        # timestamp made elsewhere. That is not a change anybody made.
        return value.replace(microsecond=0)
    return value


def _parent_key(parent: type[models.Model], inline) -> str:
    """The inline model's foreign key to the edited model (the one the inline names, if it does)."""
    return next(
        field.name
        for field in inline.model._meta.fields
        if field.many_to_one and field.remote_field.model is parent and inline.fk_name in (None, field.name)
    )


def snapshot(model_admin: admin.ModelAdmin, obj: models.Model) -> Snapshot:
    """The object's field values as the admin edits them, many-to-many and inline rows included."""
    values: Snapshot = {
        field.name: _field_value(obj, field)
        for field in obj._meta.concrete_fields
        if not getattr(field, "auto_now", False) and not field.primary_key
    }
    if obj.pk is None:
        return values
    for field in obj._meta.many_to_many:
        values[field.name] = sorted(str(related) for related in getattr(obj, field.name).all())
    for inline in model_admin.inlines:
        rows = inline.model._default_manager.filter(**{_parent_key(type(obj), inline): obj})
        values[str(inline.model._meta.verbose_name_plural)] = sorted(str(row) for row in rows)
    return values


def changes(before: Snapshot, after: Snapshot) -> dict[str, dict[str, Any]]:
    """{field: {"before", "after"}} for every field whose value differs; secrets redacted."""
    changed = {}
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name), after.get(name)
        if old != new:
            if audit.is_secret(name):
                old = audit.REDACTED if old else old
                new = audit.REDACTED if new else new
            changed[name] = {"before": old, "after": new}
    return changed


class AuditedAdmin(admin.ModelAdmin):
    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            obj._audit_before = snapshot(self, obj)
        return obj

    def save_model(self, request, obj, form, change):
        if change and not hasattr(obj, "_audit_before"):  # the change list's inline editing
            stored = type(obj)._default_manager.filter(pk=obj.pk).first()
            obj._audit_before = snapshot(self, stored) if stored is not None else {}
        super().save_model(request, obj, form, change)

    def log_addition(self, request, obj, message):
        entry = super().log_addition(request, obj, message)
        self._record(request, obj, "created", changes({}, snapshot(self, obj)))
        return entry

    def log_change(self, request, obj, message):
        entry = super().log_change(request, obj, message)
        changed = changes(getattr(obj, "_audit_before", {}), snapshot(self, obj))
        if changed:
            self._record(request, obj, "changed", changed)
        obj._audit_before = snapshot(self, obj)  # a second save in the same request diffs from here
        return entry

    def log_deletions(self, request, queryset):
        # Called before the deletion, so the rows (and their relations) can still be read.
        for obj in queryset:
            self._record(request, obj, "deleted", changes(snapshot(self, obj), {}))
        return super().log_deletions(request, queryset)

    def _record(self, request, obj: models.Model, verb: str, changed: dict) -> None:
        team = obj if isinstance(obj, Team) else getattr(obj, "team", None)
        if verb == "deleted" and team is obj:
            team = None  # the event would keep the team from being deleted (AuditEvent.team is PROTECT)
        audit.record(
            audit.admin_action(type(obj), verb),
            actor=request.user,
            obj=obj,
            team=team if isinstance(team, Team) else None,
            details={"changes": changed},
        )
