from clusters import provisioning
from clusters.models import DriftFinding
from clusters.providers.base import ClusterSpec
from clusters.providers.local.models import LocalMskCluster
from clusters.providers.local.provider import LocalProvider


def test_drift_is_flagged_once_and_resolved_when_gone(cluster_a, team_a, platform_account, network_profile):
    account = provisioning.account_ref(cluster_a)
    # Created outside the portal, in the same account and region.
    outsider = LocalProvider().create_cluster(
        account, ClusterSpec(name="shadow", subnet_ids=(), security_group_ids=(), tags={})
    )
    first = provisioning.detect_drift()
    assert first == {"list_calls": 1, "opened": 2, "resolved": 0}
    kinds = dict(DriftFinding.objects.values_list("kind", "arn"))
    assert kinds == {"missing": cluster_a.arn, "unknown": outsider.arn}  # cluster_a is not in MSK at all

    assert provisioning.detect_drift()["opened"] == 0  # still open, not duplicated

    # cluster_a reappears (adopted under its ARN) but with a team tag someone changed.
    LocalMskCluster.objects.create(
        account_id=account.account_id,
        region="us-east-1",
        name=cluster_a.name,
        arn=cluster_a.arn,
        tags={**provisioning.provisioning_tags(cluster_a), "team": "someone-else"},
    )
    LocalProvider().delete_cluster(account, outsider.arn)
    LocalMskCluster.objects.filter(arn=outsider.arn).delete()
    third = provisioning.detect_drift()
    assert third == {"list_calls": 1, "opened": 1, "resolved": 2}
    open_findings = DriftFinding.objects.filter(resolved_at__isnull=True)
    assert [(f.kind, f.cluster) for f in open_findings] == [("retagged", cluster_a)]
    assert open_findings[0].detail == "Tag team is someone-else in MSK, team-a in the portal."


def test_only_admins_see_drift_on_the_drift_page(admin, member_a, finance, cluster_a):
    from django.urls import reverse

    from tests.conftest import client_for

    provisioning.detect_drift()  # cluster_a is missing from MSK
    url = reverse("clusters:drift-list")
    page = client_for(admin).get(url).content.decode()
    assert page.count("Deleted outside the portal") == 1
    title = page[page.index("<title>") : page.index("</title>")]
    assert title == "<title>Drift · MSK Serverless portal"
    for user in (member_a, finance):
        assert client_for(user).get(url).status_code == 403
        fleet = client_for(user).get(reverse("clusters:cluster-list")).content.decode()
        assert "Deleted outside the portal" not in fleet
