"""A cluster request's estimate and its topics' estimates price each charge once (docs/requests.md, "Cost
estimate"): a write or dedicated cluster's request prices its cluster-hours, the topics' requests filed on it
their partitions, data in and out and storage, as a migration plan files them and as the chargeback bills
them. The expected throughput of a cluster request sizes it against the quotas; it is not priced a second
time. A read cluster's request prices the traffic its replicator copies in, which no topic request carries.
Every page and the API show the request's one stored figure."""

from __future__ import annotations

import re
from decimal import Decimal

from django.urls import reverse

from billing.pricing import LIST_PRICES, combined, mbps_to_gib_per_month, monthly_estimate, usd
from clusters import selectors
from clusters.models import Cluster, Request
from clusters.requests import services
from tests import builders
from tests.clusters.test_every_error_at_once import cluster_data
from tests.clusters.test_views import topic_data
from tests.conftest import client_for

HTMX = {"HX-Request": "true"}
CLUSTER_MONTH = Decimal("547.50")  # 730 h × $0.75


def _filed(client, name: str, data: dict) -> Request:
    response = client.post(reverse(name), data)
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    return Request.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[1]))


def test_a_form_cluster_and_the_topics_filed_on_it_price_its_traffic_once(
    member_a, admin, team_a, platform_account, network_profile
):
    """The cluster request expects 20 MB/s in and 40 out; the one topic filed on it carries exactly that.
    Added up, the two estimates are one cluster-month plus one topic's month, as the bill will be: the data
    used to be priced in both (cluster $10,337.56 + topic $10,920.97 = $21,258.53 for $11,468.47 of use)."""
    member = client_for(member_a)
    cluster_request = _filed(
        member, "clusters:request-new-cluster", cluster_data(team_a, platform_account, network_profile)
    )
    services.approve_request(request_id=cluster_request.pk, actor=admin)
    cluster = Cluster.objects.get(name="team-a-prod")
    topic_request = _filed(
        member,
        "clusters:request-new-topic",
        topic_data(team_a, cluster, expected_in_mbps="20", expected_out_mbps="40"),
    )

    cluster_cost, topic_cost = selectors.request_cost(cluster_request), selectors.request_cost(topic_request)
    assert [line.charge_type for line in cluster_cost.lines] == ["cluster_hours"]
    assert cluster_request.estimated_monthly_cost == cluster_cost.total == CLUSTER_MONTH
    both = {line.charge_type: line for line in combined([cluster_cost, topic_cost]).lines}
    assert both["data_in"].quantity == mbps_to_gib_per_month(Decimal(20))  # once, not twice
    assert both["data_out"].quantity == mbps_to_gib_per_month(Decimal(40))
    assert both["cluster_hours"].quantity == 730
    assert topic_request.estimated_monthly_cost == Decimal("10920.97")
    filed = cluster_request.estimated_monthly_cost + topic_request.estimated_monthly_cost
    assert filed == Decimal("11468.47")


def test_the_cluster_figure_and_what_it_covers_agree_on_every_page(
    member_a, admin, team_a, platform_account, network_profile
):
    """The form's preview, the request page, the approval queue and the API show one figure, and the preview
    and the request page say what it covers."""
    member, data = client_for(member_a), cluster_data(team_a, platform_account, network_profile)
    preview = member.post(reverse("clusters:request-preview", args=["cluster"]), data, headers=HTMX)
    preview = preview.content.decode()
    saved = _filed(member, "clusters:request-new-cluster", data)
    figure = usd(saved.estimated_monthly_cost)
    assert figure == "$547.50"

    covers = "Estimated cost covers: one cluster-month (730 cluster-hours)"
    assert covers in preview and f"<strong>{figure}</strong>" in preview
    assert "Data in" not in preview and "steady use at the expected throughput" not in preview
    detail = member.get(reverse("clusters:request-detail", args=[saved.pk])).content.decode()
    assert f"{figure} per month" in detail and covers in detail
    assert "in the topics&#x27; own requests" in detail and "Data in" not in detail
    assert detail.count("Estimated cost covers") == 1  # under the cost, not again among what was asked
    queue = client_for(admin).get(reverse("clusters:approval-queue")).content.decode()
    row = re.search(rf'<tr id="request-row-{saved.pk}">.*?</tr>', queue, re.S).group(0)
    assert f'data-label="Cost / month">{figure}<' in row
    listed = member.get(reverse("clusters-api:request-list")).json()["results"]
    assert [Decimal(r["estimated_monthly_cost"]) for r in listed if r["id"] == saved.pk] == [CLUSTER_MONTH]


def test_a_read_cluster_from_the_form_prices_the_traffic_it_copies_in(
    member_a, team_a, platform_account, network_profile
):
    """No topic request is filed for what MSK Replicator copies onto a read cluster: its own request prices
    that traffic (its expected write and read), and says so."""
    source = builders.cluster(team_a, network_profile, "team-a-write", kind=Cluster.Kind.WRITE)
    builders.topic(source, "team-a.orders")
    data = cluster_data(
        team_a,
        platform_account,
        network_profile,
        name="team-a-read",
        kind="read",
        source_cluster=source.pk,
        replicate_topics="team-a.orders",
        expected_write_mbps="5",
        expected_read_mbps="10",
    )
    saved = _filed(client_for(member_a), "clusters:request-new-cluster", data)
    assert selectors.request_cost(saved) == monthly_estimate(
        LIST_PRICES, clusters=1, in_mbps=Decimal(5), out_mbps=Decimal(10)
    )
    assert saved.payload["estimate_covers"].startswith(
        "one cluster-month and the expected write and read as data in and out"
    )
