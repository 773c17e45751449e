"""What the request services offer the migration assistant, and nobody else: a topic name kept as it is, a
cluster opened to other teams on approval, access on a read cluster to a topic its replicator copies in."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from clusters.models import Cluster, Replicator
from clusters.requests import services
from tests import builders

ROLE = "arn:aws:iam::123456789012:role/billing"


def _kept(actor, team, cluster, name, *, name_as_is=True):
    one = Decimal(1)
    return services.prepare_topic_create(
        actor=actor,
        team=team,
        cluster=cluster,
        name=name,
        name_as_is=name_as_is,
        expected_in_mbps=one,
        expected_out_mbps=one,
    )


def test_a_kept_name_is_the_full_name_and_still_meets_the_platform_rules(member_a, team_a, team_b, cluster_a):
    prepared = _kept(member_a, team_a, cluster_a, "orders.created")
    assert prepared.payload["name"] == "orders.created" and prepared.payload["name_as_is"] is True
    assert "name kept as is" in prepared.summary
    # Without it, the convention builds the name, as for every form and API request.
    plain = _kept(member_a, team_a, cluster_a, "orders.created", name_as_is=False)
    assert plain.payload["name"] == "team-a.orders.created" and "name_as_is" not in plain.payload
    refused = {
        "team-b.orders": "team team-b's namespace “team-b.”",
        "__orders": "starts with “__”",
        "orders/created": "Not allowed here: '/'",
        "team-a.existing": "already exists on team-a-dev",
        "team-a_existing": "Kafka reads '.' and '_' in topic names as one",
    }
    builders.topic(cluster_a)  # team-a.existing
    for name, words in refused.items():
        with pytest.raises(ValidationError) as excinfo:
            _kept(member_a, team_a, cluster_a, name)
        assert words in excinfo.value.message_dict["name"][0], name
    assert (
        _kept(member_a, team_a, cluster_a, "team-a.orders").payload["name"] == "team-a.orders"
    )  # own namespace


def test_a_cluster_filed_with_share_with_is_opened_to_those_teams_on_approval(
    member_a, admin, team_a, team_b, network_profile
):
    request = builders.cluster_request(
        member_a, team_a, network_profile, "split-1", share_with=[team_b, team_a]
    )
    assert request.payload["share_with"] == ["team-b"]  # never the owner itself
    assert not builders.cluster_request(member_a, team_a, network_profile, "plain-1").payload.get(
        "share_with"
    )
    services.approve_request(request_id=request.pk, actor=admin)
    assert list(Cluster.objects.get(name="split-1").shared_with.all()) == [team_b]


def test_access_on_a_read_cluster_names_a_topic_its_replicator_copies_in(member_a, team_a, network_profile):
    write = builders.cluster(team_a, network_profile, "split-write", kind=Cluster.Kind.WRITE)
    copied = builders.topic(write, "orders.created")
    other = builders.topic(write, "orders.audit")
    read = builders.cluster(
        team_a, network_profile, "split-read", kind=Cluster.Kind.READ, source_cluster=write
    )
    Replicator.objects.create(read_cluster=read, source_cluster=write, topics=["orders.created"])
    entry = services.AccessInput(ROLE, produce=False, consume=True, consumer_group_prefix="billing")
    prepared = services.prepare_access_grant(
        actor=member_a, team=team_a, cluster=read, topic=copied, entry=entry
    )
    resource = prepared.payload["policy"]["Statement"][1]["Resource"]
    assert resource == f"{read.arn.replace(':cluster/', ':topic/')}/orders.created"
    with pytest.raises(ValidationError) as excinfo:  # not copied onto the read cluster
        services.prepare_access_grant(actor=member_a, team=team_a, cluster=read, topic=other, entry=entry)
    assert "orders.audit is on split-write, not on split-read" in excinfo.value.message_dict["topic"][0]
