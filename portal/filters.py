"""The filters of the portal's lists, defined once (django-filter FilterSets, pieces from `portal.filterbar`):
the memberships of the REST API (DjangoFilterBackend reads the FilterSet, drf-spectacular documents its
parameters from it) and the audit log's page, filter bar and CSV export."""

from __future__ import annotations

import django_filters

from portal import audit_wording
from portal.filterbar import FilterBarForm, GivenNotEmptyForm, SlugFilter
from portal.models import AuditEvent, Membership


class MembershipFilterSet(django_filters.FilterSet):
    """GET /api/v1/memberships/: `?team=<slug>` (a team the user does not see matches nothing, as one that
    does not exist); 400 with the errors for a value that is not a slug, or is given empty."""

    team = SlugFilter(field_name="team__slug", max_length=40, help_text="Only this team (its slug)")

    class Meta:
        model = Membership
        fields = ["team"]
        form = GivenNotEmptyForm


class AuditFilterSet(django_filters.FilterSet):
    """The audit log and its CSV: `?action=<group or code>&team=<slug>&actor=<who>`. The bar offers groups
    of actions in words; a link to one exact dotted code (`portal.membership.added`) is offered too, and
    an action matches a group or code it starts with."""

    action = django_filters.ChoiceFilter(
        lookup_expr="startswith", label="What", choices=audit_wording.ACTION_GROUPS, empty_label=None
    )
    team = SlugFilter(field_name="team__slug", max_length=40, label="Team")
    actor = django_filters.CharFilter(field_name="actor_label", max_length=150, label="Who")

    class Meta:
        model = AuditEvent
        fields = ["action", "team", "actor"]
        form = FilterBarForm

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        code = str(self.data.get("action", "")) if self.is_bound else ""
        known = {value for value, _ in audit_wording.ACTION_GROUPS}
        if code not in known and len(code) <= 100 and audit_wording.ACTION_CODE.match(code):
            self.form.fields["action"].choices = [
                *audit_wording.ACTION_GROUPS,
                (code, audit_wording.action_label(code)),
            ]
