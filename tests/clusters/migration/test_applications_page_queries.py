"""The applications page asks the same number of queries for 1 application as for 20: the claims waiting
(with an admin's takeover checks: why each cannot be approved, which accepted plan it would leave needing a
new version) and the takeovers offered to a team member are read in a few queries for them all."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clusters.migration import inventory, planning
from clusters.migration.models import Monolith
from portal.models import Membership
from tests.clusters.migration.test_inventory_csv import HEADER
from tests.conftest import client_for


def _world(admin, member_a, member_b, team_a, team_b, *, size: int, claimed: slice) -> Monolith:
    """`size` applications owned by Team A, placed by an accepted plan, each with a topic and a group; Team B
    asks to take over the `claimed` ones."""
    monolith = inventory.register_monolith(
        actor=admin,
        name=f"legacy-{size}",
        bootstrap="127.0.0.1:1",
        security_protocol=Monolith.Security.PLAINTEXT,
    )
    lines = "".join(f"app{i}.events,3,604800000,1,2,app{i},team-a,app{i}-readers\n" for i in range(size))
    inventory.import_csv(actor=admin, monolith_id=monolith.pk, content=(HEADER + lines).encode())
    inventory.discover_applications(actor=admin, monolith_id=monolith.pk)
    applications = list(monolith.applications.order_by("name"))
    for application in applications:
        claim = inventory.claim_application(actor=member_a, application_id=application.pk, team=team_a)
        inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=True)
    planning.accept_plan(actor=admin, plan_id=planning.create_plan(actor=admin, monolith_id=monolith.pk).pk)
    for application in applications[claimed]:
        inventory.claim_application(actor=member_b, application_id=application.pk, team=team_b)
    return monolith


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
        monolith = _world(admin, member_a, member_b, team_a, team_b, size=size, claimed=slice(0, None, 2))
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
