"""The filters of the request lists, defined once for the HTML filter bar, the REST API and its OpenAPI
parameters (django-filter FilterSets; the API reads them through DjangoFilterBackend, drf-spectacular
documents their parameters from them). The pieces every list shares are in `portal.filterbar`."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q

from clusters.models import Environment, Request
from clusters.selectors import SORTS
from portal import access
from portal.filterbar import CheckboxFilter, FilterBarForm, GivenNotEmptyForm, SlugFilter


class RequestFilterSet(django_filters.FilterSet):
    """The request list: `?status=&kind=&team=<slug>&mine=on`. The bar offers the teams the user may see;
    the parameter takes any slug (a team the user does not see matches nothing, as one that does not
    exist). `mine` keeps the requests the viewer filed (of those they may see: a request filed for a team
    they have left stays out)."""

    status = django_filters.ChoiceFilter(choices=Request.Status.choices, empty_label="any status")
    kind = django_filters.ChoiceFilter(choices=Request.Kind.choices, empty_label="any kind")
    team = SlugFilter(
        field_name="team__slug",
        max_length=40,
        label="Team",
        help_text="Team slug",
        widget=forms.Select,
    )
    mine = CheckboxFilter(
        method="filed_by_viewer",
        label="Filed by me",
        help_text="Only the requests you filed (true); left out or false: all you can see.",
    )

    class Meta:
        model = Request
        fields = ["status", "kind", "team", "mine"]
        form = FilterBarForm

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, request=request, **kwargs)
        self.form.order_fields(self._meta.fields)
        if request is not None:
            user = request.user
            # A callable: the teams are read only when the bar is rendered (never for the API).
            self.form.fields["team"].widget.choices = lambda: [("", "any team"), *access.team_choices(user)]

    def filed_by_viewer(self, requests, name, value):
        return requests.filter(requested_by_id=self.request.user.pk) if value else requests


class ApprovalFilterSet(RequestFilterSet):
    """The approval queue (submitted requests only, so no status): search, kind, team, environment,
    flagged only, and the order (oldest first unless asked)."""

    q = django_filters.CharFilter(
        method="search", max_length=100, label="Search", help_text="Summary, team slug or requester."
    )
    environment = django_filters.ChoiceFilter(choices=Environment.choices, empty_label="any environment")
    flagged = CheckboxFilter(method="only_flagged", label="Flagged only")
    sort = django_filters.ChoiceFilter(
        method="sort_by",
        label="Order",
        empty_label=None,
        choices=[("oldest", "oldest first"), ("newest", "newest first"), ("cost", "highest cost first")],
    )

    status = None  # the queue is submitted requests only
    mine = None  # an admin never decides their own requests

    class Meta(RequestFilterSet.Meta):
        fields = ["q", "kind", "team", "environment", "flagged", "sort"]

    def narrows(self) -> bool:
        """Does any filter leave requests out? (The order does not.)"""
        if not self.is_bound:
            return False
        self.form.is_valid()
        chosen = {name: value for name, value in self.form.cleaned_data.items() if name != "sort"}
        return any(value not in (None, "", False) for value in chosen.values())

    def search(self, requests, name, value):
        value = value.strip()
        if not value:
            return requests
        return requests.filter(
            Q(summary__icontains=value)
            | Q(team__slug__icontains=value)
            | Q(requested_by__username__icontains=value)
        )

    def only_flagged(self, requests, name, value):
        return requests.filter(has_warnings=True) if value else requests

    def sort_by(self, requests, name, value):
        return requests.order_by(*SORTS.get(value, SORTS["oldest"]))


class RequestApiFilterSet(RequestFilterSet):
    """`RequestFilterSet` for GET /api/v1/requests/ (400 with the errors for a parameter that does not
    parse, or is given empty)."""

    class Meta(RequestFilterSet.Meta):
        form = GivenNotEmptyForm
