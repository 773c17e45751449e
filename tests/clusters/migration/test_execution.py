"""Step 4: the accepted plan becomes ordinary cluster requests, filed by the team, approved by an admin."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from clusters.migration import execution, planning
from clusters.models import Cluster, Request
from clusters.requests import services
from portal.errors import NotAllowed
from tests.clusters.migration.test_planning import owned  # noqa: F401  (fixture)


@pytest.fixture
def accepted(owned, admin, network_profile):  # noqa: F811
    plan = planning.create_plan(actor=admin, monolith_id=owned.pk)
    return planning.accept_plan(actor=admin, plan_id=plan.pk)


def test_a_member_files_the_team_clusters_once_and_an_admin_approves_them(accepted, member_a, team_a, admin):
    filed = execution.file_cluster_requests(actor=member_a, plan_id=accepted.pk, team=team_a)
    mine = [c["name"] for c in accepted.result["clusters"] if c["group"]["team"] == "team-a"]
    assert sorted(item.cluster for item in filed) == sorted(mine)
    requests = [item.request for item in filed]
    assert all(
        r.status == Request.Status.SUBMITTED and r.kind == Request.Kind.CLUSTER_CREATE for r in requests
    )
    assert all(r.requested_by == member_a and r.team == team_a for r in requests)
    assert all(f"plan v{accepted.version}" in r.justification for r in requests)
    pii = next(r for r in requests if "customers" in r.justification)
    assert pii.payload["contains_pii"] is True

    again = execution.file_cluster_requests(actor=member_a, plan_id=accepted.pk, team=team_a)
    assert {item.note for item in again} == {"already requested"}
    assert Request.objects.count() == len(mine)

    with pytest.raises(NotAllowed):  # nobody approves their own request: members do not approve at all
        services.approve_request(request_id=requests[0].pk, actor=member_a)
    services.approve_request(request_id=requests[0].pk, actor=admin)
    assert Cluster.objects.filter(name=requests[0].payload["name"]).exists()


def test_other_teams_and_draft_plans_file_nothing(owned, accepted, member_b, team_a, admin):  # noqa: F811
    with pytest.raises(NotAllowed):
        execution.file_cluster_requests(actor=member_b, plan_id=accepted.pk, team=team_a)
    draft = planning.create_plan(actor=admin, monolith_id=owned.pk)
    with pytest.raises(ValidationError, match="accepted plan"):
        execution.file_cluster_requests(actor=member_b, plan_id=draft.pk, team=team_a)
    assert not Request.objects.exists()
