"""The {from: {to}} tables on the models are what transitions.move enforces."""

import pytest

from clusters.models import AccessGrant, Cluster, ProvisioningEvent, Replicator, Request, Topic
from clusters.provisioning import transitions


@pytest.mark.parametrize("model", [Cluster, Topic, AccessGrant, Replicator, Request])
def test_every_status_has_a_row_naming_only_statuses_of_its_model(model):
    assert set(model.TRANSITIONS) == set(model.Status.values)
    for targets in model.TRANSITIONS.values():
        assert set(targets) <= set(model.Status.values)


def test_a_move_the_table_does_not_allow_is_refused_and_records_nothing(cluster_a):
    Cluster.objects.filter(pk=cluster_a.pk).update(status=Cluster.Status.ACTIVE)
    cluster_a.refresh_from_db()

    with pytest.raises(ValueError, match="Cluster may not move from 'active' to 'pending'"):
        transitions.move(Cluster, cluster_a, from_status="active", to_status="pending", note="wrong")

    cluster_a.refresh_from_db()
    assert cluster_a.status == Cluster.Status.ACTIVE
    assert not ProvisioningEvent.objects.filter(cluster=cluster_a).exists()


def test_an_allowed_move_is_compare_and_set(cluster_a):
    Cluster.objects.filter(pk=cluster_a.pk).update(status=Cluster.Status.PENDING)
    cluster_a.refresh_from_db()
    assert transitions.move(Cluster, cluster_a, from_status="pending", to_status="provisioning")
    # A second worker holding the same stale status loses: nothing moves, nothing is logged twice.
    assert not transitions.move(Cluster, cluster_a, from_status="pending", to_status="provisioning")
    assert list(
        ProvisioningEvent.objects.filter(cluster=cluster_a).values_list("from_status", "to_status")
    ) == [("pending", "provisioning")]
