"""Two admins approving the same request at the same moment, on the real PostgreSQL: exactly one wins."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from clusters import services
from clusters.models import Request, RequestEvent, Topic
from portal.errors import Conflict
from tests.conftest import make_user


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(5))
def test_two_concurrent_approvals_one_wins(attempt, member_a, team_a, cluster_a):
    if connection.vendor != "postgresql":
        pytest.skip("row locks and concurrent transactions need PostgreSQL")
    admins = [make_user(f"admin{attempt}-{n}", role="platform_admin") for n in range(2)]
    prepared = services.prepare_topic_create(
        actor=member_a, team=team_a, cluster=cluster_a, name=f"race{attempt}", partitions=None,
        expected_in_mbps=Decimal(5), expected_out_mbps=Decimal(5),
    )  # fmt: skip
    request = services.submit_request(actor=member_a, prepared=prepared)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(admin):
        try:
            barrier.wait(timeout=10)
            services.approve_request(request_id=request.pk, actor=admin)
            outcomes.append("approved")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=approve, args=(admin,)) for admin in admins]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["approved", "conflict"]
    assert Request.objects.get(pk=request.pk).status == Request.Status.APPROVED
    assert Topic.objects.filter(name=f"team-a.race{attempt}").count() == 1
    assert RequestEvent.objects.filter(request=request, to_status="approved").count() == 1
