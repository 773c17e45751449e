"""Every filter bar names its fields in words: a filter that reads no model field (a `method=` filter)
gets django-filter's "[invalid name]" as its label unless it is given one (the approval queue's order
was shown as "[invalid name]")."""

from __future__ import annotations

import django_filters
import pytest
from django.urls import reverse

import billing.filters
import clusters.filters
import portal.filters
from tests.conftest import client_for

OURS = (billing.filters, clusters.filters, portal.filters)


def _filter_sets():
    found, todo = [], list(django_filters.FilterSet.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if any(cls.__module__ == module.__name__ for module in OURS):
            found.append(cls)
    return sorted(found, key=lambda cls: cls.__name__)


def test_every_filter_set_is_found():
    assert {"ApprovalFilterSet", "AuditFilterSet", "LineFilterSet", "RequestFilterSet"} <= {
        cls.__name__ for cls in _filter_sets()
    }


@pytest.mark.parametrize("filter_set", _filter_sets(), ids=lambda cls: cls.__name__)
def test_every_field_has_a_label_in_words(filter_set, db):
    form = filter_set(None, queryset=filter_set._meta.model.objects.none()).form
    labels = {name: str(form._label(name)) for name in form.fields}  # as the bar and its errors name them
    assert all(label and "invalid name" not in label for label in labels.values()), labels


def test_the_bar_shows_help_only_beside_text_boxes(admin):
    """The queue's team select offers team names; its help text ("Team slug") is for the API parameter."""
    body = client_for(admin).get(reverse("clusters:approval-queue")).content.decode()
    assert 'id="id_team_helptext"' not in body and "Team slug" not in body
    assert 'aria-describedby="id_q_helptext"' in body and 'id="id_q_helptext"' in body
