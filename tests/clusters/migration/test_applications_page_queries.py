"""The applications page asks the same number of queries for 1 application as for 20: the claims waiting
(with an admin's takeover checks: why each cannot be approved, which accepted plan it would leave needing a
new version) and the takeovers offered to a team member are read in a few queries for them all."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.models import Membership
from tests import builders
from tests.conftest import client_for


@pytest.mark.parametrize(
    "in_team_b",
    [
        False,  # the admin decides the takeovers waiting: each one's checks
        True,  # and, a member of Team B too, is offered takeovers of the others (one check for both)
    ],
)
def test_applications_page_queries_do_not_grow_with_its_rows(
    in_team_b, admin, member_a, member_b, team_a, team_b
):
    if in_team_b:
        Membership.objects.create(user=admin, team=team_b)
    client = client_for(admin)
    counts = {}
    for size in (1, 20):
        monolith = builders.owned_monolith(admin, member_a, member_b, size=size)  # Team B takes every other
        url = reverse("migration:applications", args=[monolith.pk])
        client.get(url)  # the session's first read of its user is not the page's
        with CaptureQueriesContext(connection) as queries:
            page = client.get(url).content.decode()
        counts[size] = len(queries)
        assert page.count(".events</code>") == size  # every application is on the page
        assert "Accepted plan v1 places app0 with Team A" in page  # its takeover's check was made
        if in_team_b and size > 1:
            assert "Ask to take over" in page
    assert counts[1] == counts[20], counts
