"""The filters of billing's lists, defined once (django-filter FilterSets, pieces from `portal.filterbar`):
a month's chargeback lines in the REST API (DjangoFilterBackend reads the FilterSet, drf-spectacular
documents its parameters from it). The month itself is part of the path, and the cost pages' month bar
(`billing.forms.MonthForm`) chooses which month a report is about rather than narrowing a list."""

from __future__ import annotations

import django_filters

from billing.models import ChargebackLine
from portal.filterbar import GivenNotEmptyForm, SlugFilter


class LineFilterSet(django_filters.FilterSet):
    """GET /api/v1/billing/runs/<month>/lines/: `?team=<slug>` (a team whose costs the user may not see
    matches nothing); 400 with the errors for a value that is not a slug, or is given empty."""

    team = SlugFilter(field_name="team__slug", help_text="Only this team's lines (its slug)")

    class Meta:
        model = ChargebackLine
        fields = ["team"]
        form = GivenNotEmptyForm
