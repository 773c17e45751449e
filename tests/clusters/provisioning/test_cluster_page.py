import re

from django.urls import reverse

from clusters.models import Cluster
from tests.conftest import client_for


def test_panel_polls_while_provisioning_and_stops_when_active(member_a, cluster_a):
    client = client_for(member_a)
    Cluster.objects.filter(pk=cluster_a.pk).update(status=Cluster.Status.PROVISIONING)
    polling = client.get(
        reverse("clusters:cluster-status", args=[cluster_a.pk]), headers={"HX-Request": "true"}
    )
    assert polling.status_code == 200 and 'hx-trigger="every 3s"' in polling.content.decode()
    Cluster.objects.filter(pk=cluster_a.pk).update(
        status=Cluster.Status.ACTIVE,
        bootstrap_brokers="boot-x.c1.kafka-serverless.us-east-1.amazonaws.com:9098",
    )
    done = client.get(reverse("clusters:cluster-status", args=[cluster_a.pk]), headers={"HX-Request": "true"})
    body = done.content.decode()
    assert done.status_code == 286 and "hx-trigger" not in body  # htmx stops polling on 286
    assert "bootstrap.servers=boot-x.c1.kafka-serverless.us-east-1.amazonaws.com:9098" in body
    assert "sasl.mechanism=AWS_MSK_IAM" in body and "generate_auth_token(&quot;us-east-1&quot;)" in body


def test_failed_cluster_shows_the_reason_and_only_admins_retry(member_a, admin, cluster_a):
    Cluster.objects.filter(pk=cluster_a.pk).update(
        status=Cluster.Status.FAILED, status_reason="The portal cannot assume the role."
    )
    member_page = (
        client_for(member_a).get(reverse("clusters:cluster-detail", args=[cluster_a.pk])).content.decode()
    )
    assert "The portal cannot assume the role." in member_page and "Retry provisioning" not in member_page
    assert (
        client_for(member_a).post(reverse("clusters:cluster-retry", args=[cluster_a.pk])).status_code == 403
    )
    response = client_for(admin).post(reverse("clusters:cluster-retry", args=[cluster_a.pk]))
    assert response.status_code == 302
    cluster_a.refresh_from_db()
    assert cluster_a.status == Cluster.Status.PENDING and cluster_a.status_reason == ""


def test_fleet_page_shows_topics_partitions_and_headroom(admin, cluster_a, team_a):
    from decimal import Decimal

    from clusters.models import Topic

    Topic.objects.create(
        cluster=cluster_a,
        team=team_a,
        name="team-a.x",
        partitions=240,
        expected_in_mbps=Decimal(50),
        expected_out_mbps=Decimal(100),
    )
    Topic.objects.create(cluster=cluster_a, team=team_a, name="team-a.gone", partitions=999, status="deleted")
    page = client_for(admin).get(reverse("clusters:cluster-list")).content.decode()
    assert "25 % / 25 % / 10 %" in re.sub(
        r"<[^>]+>", "", page
    )  # 50 of 200 MB/s, 100 of 400 MB/s, 240 of 2,400 partitions
    assert ">240<" in page


def test_fleet_page_counts_a_shared_clusters_topics_once_for_its_users(
    member_a, member_b, admin, cluster_a, team_a, team_b
):
    """A member sees a shared cluster through its sharing; the counts must not repeat per team it is
    opened to (a join on the sharing doubled them with two teams)."""
    from decimal import Decimal

    from clusters.models import Topic
    from portal.models import Team

    team_c = Team.objects.create(
        name="Team C", slug="team-c", cost_center="CC-C", contact_email="c@example.com"
    )
    cluster_a.shared_with.add(team_b, team_c)
    Topic.objects.create(
        cluster=cluster_a,
        team=team_a,
        name="team-a.x",
        partitions=240,
        expected_in_mbps=Decimal(50),
        expected_out_mbps=Decimal(100),
    )
    Topic.objects.create(cluster=cluster_a, team=team_b, name="team-b.y", partitions=6)
    for user in (member_a, member_b, admin):
        page = client_for(user).get(reverse("clusters:cluster-list")).content.decode()
        assert page.count(f'href="{reverse("clusters:cluster-detail", args=[cluster_a.pk])}"') == 1
        assert '"Topics">2<' in page and '"Partitions">246<' in page, user
        assert "25 % / 25 % / 10 %" in re.sub(r"<[^>]+>", "", page), user
