"""Cost Explorer reconciliation over HTTP against moto (seeded bill: moto tracks no costs itself)."""

from __future__ import annotations

import json
import urllib.request
from decimal import Decimal

import pytest

from billing import chargeback, reconciliation, selectors
from billing.models import ActualCost, ChargebackLine
from clusters.models import Cluster
from tests.billing.conftest import OCTOBER, at, make_topic
from tests.clusters.integrations.aws.conftest import ACCOUNT_ID

pytestmark = pytest.mark.django_db


def seed_bill(moto_url: str, *pages: dict) -> None:
    """Queue Cost Explorer answers for the account (one per distinct request, pages in order)."""
    body = json.dumps({"account_id": ACCOUNT_ID, "results": list(pages)}).encode()
    request = urllib.request.Request(  # noqa: S310 - fixed http://127.0.0.1 moto URL
        f"{moto_url}/moto-api/static/ce/cost-and-usage-results",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310
        pass


def group(key: str, amount: str) -> dict:
    return {"Keys": [key], "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}


@pytest.fixture
def aws_billing(aws, settings, platform_account, shared_cluster, billed_cluster, team_a, team_b):
    from clusters.providers import get_provider

    settings.MSK_PROVIDER = "aws"
    get_provider.cache_clear()
    platform_account.account_id, platform_account.role_arn = (
        ACCOUNT_ID,
        f"arn:aws:iam::{ACCOUNT_ID}:role/msk-portal",
    )
    platform_account.save()
    make_topic(shared_cluster, team_a, "team-a.clicks", (at(1, month=9), 1))
    make_topic(shared_cluster, team_b, "team-b.orders", (at(1, month=9), 1))
    yield aws
    get_provider.cache_clear()


def test_actual_costs_per_cluster_come_from_the_bill_by_portal_tag(
    aws_billing, shared_cluster, billed_cluster
):
    run = chargeback.compute_run(OCTOBER)
    seed_bill(
        aws_billing,
        {
            "ResultsByTime": [
                {
                    "TimePeriod": {"Start": "2026-10-01", "End": "2026-11-01"},
                    "Estimated": False,
                    "Total": {},
                    "Groups": [
                        group(f"portal-cluster-id${shared_cluster.pk}", "600.004"),
                        group(f"portal-cluster-id${billed_cluster.pk}", "550.10"),
                        group("portal-cluster-id$", "12.00"),  # untagged MSK cost: not ours to place
                    ],
                }
            ],
            "DimensionValueAttributes": [],
        },
    )
    result = reconciliation.fetch_actual_costs(run_id=run.pk)
    assert result.available and result.clusters == 2 and not result.failures
    actual = dict(ActualCost.objects.values_list("cluster__name", "amount_usd"))
    assert actual == {"events-write": Decimal("600.00"), "team-a-dev": Decimal("550.10")}
    rows = {row.cluster_name: row for row in selectors.estimate_vs_actual(run)}
    assert rows["team-a-dev"].estimate_usd == Decimal("558.00")
    assert rows["team-a-dev"].difference_usd == Decimal("-7.90")

    # Finance scales shared clusters to the bill: events-write's lines now add up to $600.00 exactly;
    # the dedicated cluster keeps its estimate.
    run = reconciliation.set_scaling(run_id=run.pk, enabled=True, actor=None)
    shared_lines = ChargebackLine.objects.filter(run=run, cluster=shared_cluster)
    assert sum(line.cost_usd for line in shared_lines) == Decimal("600.00")
    assert sum(
        line.cost_usd for line in ChargebackLine.objects.filter(run=run, cluster=billed_cluster)
    ) == Decimal("558.00")
    teams = {line.team_name for line in shared_lines}
    assert teams == {"Team A", "Team B"}  # the split between teams is kept (even split: no traffic)


def test_a_cluster_missing_from_the_bill_has_no_actual(aws_billing, shared_cluster):
    run = chargeback.compute_run(OCTOBER)
    result = reconciliation.fetch_actual_costs(run_id=run.pk)  # nothing seeded: an empty bill
    assert result.available and result.clusters == 0
    assert all(row.actual_usd is None for row in selectors.estimate_vs_actual(run))


def test_the_local_provider_has_no_bill(db, shared_cluster, team_a):
    make_topic(shared_cluster, team_a, "team-a.clicks", (at(1, month=9), 1))
    run = chargeback.compute_run(OCTOBER)
    assert reconciliation.fetch_actual_costs(run_id=run.pk).available is False
    assert not ActualCost.objects.exists()


def test_scaling_is_refused_for_a_finalized_month(db, shared_cluster, finance):
    run = chargeback.compute_run(OCTOBER)
    chargeback.finalize_run(run_id=run.pk, actor=finance)
    with pytest.raises(chargeback.ChargebackError, match="finalized"):
        reconciliation.set_scaling(run_id=run.pk, enabled=True, actor=finance)
    assert Cluster.objects.filter(pk=shared_cluster.pk).exists()


def test_finance_reads_the_bill_and_scales_from_the_finance_page(aws_billing, shared_cluster, finance, admin):
    from tests.conftest import client_for

    chargeback.compute_run(OCTOBER)
    seed_bill(
        aws_billing,
        {
            "ResultsByTime": [
                {
                    "TimePeriod": {"Start": "2026-10-01", "End": "2026-11-01"},
                    "Estimated": False,
                    "Total": {},
                    "Groups": [group(f"portal-cluster-id${shared_cluster.pk}", "500.00")],
                }
            ],
            "DimensionValueAttributes": [],
        },
    )
    finance_client = client_for(finance)
    response = finance_client.post("/billing/runs/2026-10/actuals/", follow=True)
    assert "Read the AWS bill for 1 cluster of" in response.content.decode()
    assert client_for(admin).post("/billing/runs/2026-10/scaling/", {"enabled": "yes"}).status_code == 403
    finance_client.post("/billing/runs/2026-10/scaling/", {"enabled": "yes"})
    page = finance_client.get("/billing/finance/?month=2026-10").content.decode()
    assert "Stop scaling shared clusters to the bill" in page
    shared_total = sum(line.cost_usd for line in ChargebackLine.objects.filter(cluster=shared_cluster))
    assert shared_total == Decimal("500.00")
