"""Starting replication for an application, exactly once: intent first, adopt by name, reconcile from the
describe call. boto3 goes over HTTP to moto (STS) and botocore's Stubber answers the kafkaconnect and kafka
replicator calls, which moto does not implement; the Stubber checks each request against the service model."""

from __future__ import annotations

import pytest
from botocore.stub import ANY, Stubber
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from clusters.integrations import aws_control
from clusters.migration import adapters, cutover, replication_launch, tasks
from clusters.migration.models import MigrationEvent, Monolith, Replication
from clusters.models import Cluster
from portal.errors import NotAllowed
from tests.clusters.integrations.aws.conftest import aws, moto_url  # noqa: F401  (fixtures)
from tests.clusters.integrations.aws.test_replicator import create_replicator_request
from tests.clusters.migration.test_cutover import started  # noqa: F401  (fixture)
from tests.clusters.migration.test_planning import owned  # noqa: F401  (fixture)
from tests.conftest import client_for

PLUGIN = "arn:aws:kafkaconnect:us-east-1:123456789012:custom-plugin/mm2-3-7/efgh"
ROLE = "arn:aws:iam::123456789012:role/msk-connect-mm2"
REPLICATOR_ROLE = "arn:aws:iam::123456789012:role/msk-replicator"
SOURCE_ARN = "arn:aws:kafkaconnect:us-east-1:123456789012:connector/mig-legacy-orders-source/1"
CHECKPOINT_ARN = "arn:aws:kafkaconnect:us-east-1:123456789012:connector/mig-legacy-orders-checkpoint/2"
REPLICATOR_ARN = "arn:aws:kafka:us-east-1:123456789012:replicator/mig-legacy-orders/3"
MONOLITH_ARN = "arn:aws:kafka:us-east-1:123456789012:cluster/legacy/abc"


@pytest.fixture
def orders(started):  # noqa: F811
    item = started["orders"]
    Monolith.objects.filter(pk=item.application.monolith_id).update(
        mm2_plugin_arn=PLUGIN, connect_role_arn=ROLE
    )
    item.application.monolith.refresh_from_db()
    return item


@pytest.fixture
def account(aws, orders):  # noqa: F811
    return adapters.cluster_account(cutover.target_cluster(orders))


@pytest.fixture
def connect(account):
    stubber = Stubber(aws_control.client(account, "kafkaconnect"))
    with stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def kafka(account):
    stubber = Stubber(aws_control.kafka_client(account))
    with stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def _listed(stub, name: str, arn: str | None = None) -> None:
    found = [{"connectorName": name, "connectorArn": arn, "connectorState": "CREATING"}] if arn else []
    # A prefix match answers with a longer name too; only the exact name may be adopted.
    found.append(
        {"connectorName": name + "-old", "connectorArn": arn or SOURCE_ARN + "x", "connectorState": "RUNNING"}
    )
    stub.add_response("list_connectors", {"connectors": found}, expected_params={"connectorNamePrefix": name})


def _created(stub, name: str, arn: str, topics_or_groups: tuple[str, str]) -> None:
    key, value = topics_or_groups

    class ConfigWith:
        """The generated MM2 configuration under our connector name, with this application's topics/groups."""

        def __eq__(self, config):
            return (
                config["name"] == name and config[key] == value and config["source.cluster.bootstrap.servers"]
            )

    stub.add_response(
        "create_connector",
        {"connectorArn": arn, "connectorName": name, "connectorState": "CREATING"},
        expected_params={
            "connectorName": name,
            "kafkaConnectVersion": "3.7.x",
            "capacity": ANY,
            "connectorConfiguration": ConfigWith(),
            "kafkaCluster": {"apacheKafkaCluster": {"bootstrapServers": "b-1.example:9098", "vpc": ANY}},
            "kafkaClusterClientAuthentication": {"authenticationType": "IAM"},
            "kafkaClusterEncryptionInTransit": {"encryptionType": "TLS"},
            "plugins": [{"customPlugin": {"customPluginArn": PLUGIN, "revision": 1}}],
            "serviceExecutionRoleArn": ROLE,
            "tags": {"migration": "legacy", "application": "orders"},
        },
    )


def _described(stub, arn: str, state: str, message: str = "") -> None:
    response = {"connectorArn": arn, "connectorName": "x", "connectorState": state}
    if message:
        response["stateDescription"] = {"code": "Failed", "message": message}
    stub.add_response("describe_connector", response, expected_params={"connectorArn": arn})


SOURCE = ("topics", r"orders\.audit,orders\.created")
CHECKPOINT = ("groups", "audit,billing,shipping")


def _actions(row) -> list[str]:
    return list(
        MigrationEvent.objects.filter(object_type="replication", object_id=str(row.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_a_click_records_intent_and_enqueues_the_task_on_commit(
    orders, admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        row = replication_launch.request_replication(actor=admin, cutover_id=orders.pk)
    assert (row.status, row.tool, row.name) == ("requested", "mm2", "mig-legacy-orders")
    assert len(callbacks) == 1 and _actions(row) == ["replication.requested"]
    with pytest.raises(ValidationError, match="already requested"):
        replication_launch.request_replication(actor=admin, cutover_id=orders.pk)
    assert Replication.objects.count() == 1


def test_a_click_while_the_broker_is_down_keeps_the_intent_for_beat(
    orders, admin, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    """The task cannot be sent: the click still answers (no error after the commit), the replication stays
    requested, and beat's resume_replications finds it once it is old enough."""

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unavailable")

    monkeypatch.setattr(tasks.start_replication, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        row = replication_launch.request_replication(actor=admin, cutover_id=orders.pk)
    row.refresh_from_db()
    assert row.status == "requested" and "not sent now" in caplog.text
    Replication.objects.filter(pk=row.pk).update(
        status_changed_at=row.status_changed_at - timezone.timedelta(hours=1)
    )
    assert replication_launch.replications_to_resume(lost_after_seconds=60) == [row.pk]


def test_mm2_connectors_are_created_then_reconciled_to_running(orders, admin, connect):
    row = replication_launch.request_replication(actor=admin, cutover_id=orders.pk)
    _listed(connect, "mig-legacy-orders-source")
    _created(connect, "mig-legacy-orders-source", SOURCE_ARN, SOURCE)
    _listed(connect, "mig-legacy-orders-checkpoint")
    _created(connect, "mig-legacy-orders-checkpoint", CHECKPOINT_ARN, CHECKPOINT)
    _described(connect, SOURCE_ARN, "RUNNING")
    _described(connect, CHECKPOINT_ARN, "CREATING")
    row = replication_launch.start(row.pk)
    assert row.status == "creating"
    assert row.resources == {"source": SOURCE_ARN, "checkpoint": CHECKPOINT_ARN}
    # Beat looks again; the parts are recorded, so only the describe calls go out.
    assert replication_launch.replications_to_resume(lost_after_seconds=120) == [row.pk]
    _described(connect, SOURCE_ARN, "RUNNING")
    _described(connect, CHECKPOINT_ARN, "RUNNING")
    row = replication_launch.start(row.pk)
    assert row.status == "running"
    assert _actions(row) == [
        "replication.requested",
        "replication.creating",
        "replication.created",
        "replication.created",
        "replication.running",
    ]
    assert replication_launch.replications_to_resume(lost_after_seconds=120) == []
    replication_launch.start(row.pk)  # a late duplicate delivery calls nothing (the Stubber has no answers)


def test_a_crash_between_create_and_record_adopts_the_connector_by_name(orders, admin, connect, monkeypatch):
    row = replication_launch.request_replication(actor=admin, cutover_id=orders.pk)
    _listed(connect, "mig-legacy-orders-source")
    _created(connect, "mig-legacy-orders-source", SOURCE_ARN, SOURCE)

    def crash(*args, **kwargs):
        raise SystemExit("worker killed after the create call")

    with monkeypatch.context() as patch:
        patch.setattr(replication_launch, "_record_part", crash)
        with pytest.raises(SystemExit):
            replication_launch.start(row.pk)
    row.refresh_from_db()
    assert row.status == "creating" and row.resources == {}
    # Redelivered (acks_late): the source connector is found by its exact name, not created twice.
    _listed(connect, "mig-legacy-orders-source", SOURCE_ARN)
    _listed(connect, "mig-legacy-orders-checkpoint")
    _created(connect, "mig-legacy-orders-checkpoint", CHECKPOINT_ARN, CHECKPOINT)
    _described(connect, SOURCE_ARN, "RUNNING")
    _described(connect, CHECKPOINT_ARN, "RUNNING")
    row = replication_launch.start(row.pk)
    assert row.status == "running" and row.resources == {"source": SOURCE_ARN, "checkpoint": CHECKPOINT_ARN}
    assert _actions(row)[2:4] == ["replication.adopted", "replication.created"]


def test_throttling_is_retried_by_the_task_and_nothing_is_duplicated(orders, admin, connect):
    row = replication_launch.request_replication(actor=admin, cutover_id=orders.pk)
    _listed(connect, "mig-legacy-orders-source")
    connect.add_client_error(
        "create_connector", service_error_code="ThrottlingException", http_status_code=429
    )
    _listed(connect, "mig-legacy-orders-source")
    _created(connect, "mig-legacy-orders-source", SOURCE_ARN, SOURCE)
    _listed(connect, "mig-legacy-orders-checkpoint")
    _created(connect, "mig-legacy-orders-checkpoint", CHECKPOINT_ARN, CHECKPOINT)
    _described(connect, SOURCE_ARN, "RUNNING")
    _described(connect, CHECKPOINT_ARN, "RUNNING")
    result = tasks.start_replication.apply(args=[row.pk], throw=False)  # eager: the retry runs inline
    assert result.get() == "running"
    row.refresh_from_db()
    assert row.status == "running"
    assert _actions(row).count("replication.created") == 2


def test_a_refusal_fails_with_aws_words_and_can_be_requested_again(orders, admin, connect):
    row = replication_launch.request_replication(actor=admin, cutover_id=orders.pk)
    _listed(connect, "mig-legacy-orders-source")
    connect.add_client_error(
        "create_connector",
        service_error_code="BadRequestException",
        service_message="The plugin revision does not exist.",
        http_status_code=400,
    )
    row = replication_launch.start(row.pk)
    assert row.status == "failed" and "plugin revision does not exist" in row.reason
    again = replication_launch.request_replication(actor=admin, cutover_id=orders.pk)
    assert (again.pk, again.status, again.reason) == (row.pk, "requested", "")
    # A second admin's click on the same failed row finds it requested: refused, nothing logged twice.
    with pytest.raises(ValidationError, match="already requested"):
        replication_launch.request_replication(actor=admin, cutover_id=orders.pk)
    assert _actions(row)[-2:] == ["replication.failed", "replication.requested"]
    requested = MigrationEvent.objects.filter(object_type="replication", action="replication.requested")
    assert list(requested.order_by("id").values_list("from_status", "to_status")) == [
        ("", "requested"),
        ("failed", "requested"),
    ]


MONOLITH_SUBNETS = ["subnet-0aaaaaaaaaaaaaaa0", "subnet-0aaaaaaaaaaaaaaa1"]
MONOLITH_GROUPS = ["sg-0aaaaaaaaaaaaaaa0"]


@pytest.fixture
def msk_monolith(orders, platform_account):
    platform_account.replicator_role_arn = REPLICATOR_ROLE
    platform_account.save()
    Monolith.objects.filter(pk=orders.application.monolith_id).update(
        aws_account=platform_account,
        msk_cluster_arn=MONOLITH_ARN,
        subnet_ids=MONOLITH_SUBNETS,
        security_group_ids=MONOLITH_GROUPS,
    )
    orders.application.monolith.refresh_from_db()
    return orders


def test_msk_monolith_in_the_targets_account_uses_msk_replicator(msk_monolith, admin, kafka, network_profile):
    """Only orders' topics and consumer groups, each matched exactly, from the earliest offset; the monolith
    through its own VPC and the target through its network profile's."""
    row = replication_launch.request_replication(actor=admin, cutover_id=msk_monolith.pk)
    assert row.tool == "replicator"
    kafka.add_response(
        "list_replicators", {"Replicators": []}, expected_params={"ReplicatorNameFilter": "mig-legacy-orders"}
    )
    kafka.add_response(
        "create_replicator",
        {
            "ReplicatorArn": REPLICATOR_ARN,
            "ReplicatorName": "mig-legacy-orders",
            "ReplicatorState": "CREATING",
        },
        expected_params=create_replicator_request(
            name="mig-legacy-orders",
            role=REPLICATOR_ROLE,
            source=MONOLITH_ARN,
            target="arn:aws:kafka:us-east-1:123456789012:cluster/x/y",
            source_vpc={"SubnetIds": MONOLITH_SUBNETS, "SecurityGroupIds": MONOLITH_GROUPS},
            target_vpc={
                "SubnetIds": network_profile.subnet_ids,
                "SecurityGroupIds": network_profile.security_group_ids,
            },
            topics=[r"orders\.audit", r"orders\.created"],
            groups=["audit", "billing", "shipping"],
            tags={"migration": "legacy", "application": "orders"},
            starting="EARLIEST",
        ),
    )
    kafka.add_response(
        "describe_replicator",
        {
            "ReplicatorArn": REPLICATOR_ARN,
            "ReplicatorName": "mig-legacy-orders",
            "ReplicatorState": "FAILED",
            "StateInfo": {"Code": "Failed", "Message": "Cannot reach the source cluster."},
        },
        expected_params={"ReplicatorArn": REPLICATOR_ARN},
    )
    row = replication_launch.start(row.pk)
    assert row.status == "failed" and row.reason == "replicator: Cannot reach the source cluster."


def test_msk_replicator_needs_the_monoliths_subnets(msk_monolith, admin):
    Monolith.objects.filter(pk=msk_monolith.application.monolith_id).update(subnet_ids=[])
    with pytest.raises(ValidationError, match="legacy has no subnets registered"):
        replication_launch.request_replication(actor=admin, cutover_id=msk_monolith.pk)
    assert not Replication.objects.exists()


def test_requests_are_refused_without_settings_a_live_target_or_an_admin(orders, admin, member_a):
    with pytest.raises(NotAllowed):
        replication_launch.request_replication(actor=member_a, cutover_id=orders.pk)
    Monolith.objects.filter(pk=orders.application.monolith_id).update(mm2_plugin_arn="")
    with pytest.raises(ValidationError, match="no MirrorMaker 2 plugin"):
        replication_launch.request_replication(actor=admin, cutover_id=orders.pk)
    Monolith.objects.filter(pk=orders.application.monolith_id).update(mm2_plugin_arn=PLUGIN)
    Cluster.objects.filter(name=orders.target_cluster).update(status=Cluster.Status.PROVISIONING)
    with pytest.raises(ValidationError, match="not live yet"):
        replication_launch.request_replication(actor=admin, cutover_id=orders.pk)
    assert not Replication.objects.exists() and not MigrationEvent.objects.filter(object_type="replication")


def test_an_application_that_cannot_take_duplicates_is_not_replicated_plainly(orders, admin, member_a):
    """The plan names an exactly-once stream job for it (issue 13, §2): the portal does not start an
    at-least-once tool instead, until its team says it tolerates duplicates after all."""
    from clusters.migration import inventory

    inventory.update_requirements(
        actor=member_a, application_id=orders.application_id, tolerates_duplicates=False
    )
    with pytest.raises(
        ValidationError, match=r"orders cannot tolerate duplicates .* exactly-once stream job"
    ):
        replication_launch.request_replication(actor=admin, cutover_id=orders.pk)
    assert not Replication.objects.exists()
    inventory.update_requirements(
        actor=member_a, application_id=orders.application_id, tolerates_duplicates=True
    )
    assert replication_launch.request_replication(actor=admin, cutover_id=orders.pk).status == "requested"


@pytest.mark.parametrize("persona", ["anonymous", "member_a", "member_b", "finance", "admin"])
def test_start_replication_button_per_role(orders, personas, persona, django_capture_on_commit_callbacks):
    url = reverse("migration:cutover-replicate", args=[orders.pk])
    board = reverse("migration:cutovers", args=[orders.plan_id])
    client = client_for(personas[persona])
    if persona != "anonymous":
        page = client.get(board).content.decode()
        assert (url in page) == (persona == "admin")
    assert client.get(url).status_code == (302 if persona == "anonymous" else 405)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(url)
    if persona == "admin":
        assert response.status_code == 302 and Replication.objects.get().status == "requested"
        assert len(callbacks) == 1
        page = client.get(board).content.decode()
        assert "Requested" in page and "orders: MirrorMaker 2 on MSK Connect is being started." in page
        again = client.post(url, follow=True).content.decode()
        assert "orders: Replication for orders is already requested." in again
    else:
        assert response.status_code == (302 if persona == "anonymous" else 403)
        assert not Replication.objects.exists() and not callbacks


def test_registering_checks_the_mm2_settings(admin, client):
    from clusters.migration import inventory

    with pytest.raises(ValidationError) as refused:
        inventory.register_monolith(
            actor=admin,
            name="other",
            bootstrap="10.0.0.1:9092",
            security_protocol="PLAINTEXT",
            mm2_plugin_arn="arn:aws:kafka:us-east-1:1:cluster/x",
            connect_role_arn="msk-connect",
        )
    assert set(refused.value.message_dict) == {"mm2_plugin_arn", "connect_role_arn"}
    page = client_for(admin).post(
        reverse("migration:monolith-register"),
        {
            "name": "other",
            "bootstrap": "10.0.0.1:9092",
            "security_protocol": "PLAINTEXT",
            "region": "us-east-1",
            "mm2_plugin_arn": PLUGIN,
            "connect_role_arn": ROLE,
        },
    )
    assert page.status_code == 302
    saved = Monolith.objects.get(name="other")
    assert (saved.mm2_plugin_arn, saved.mm2_plugin_revision, saved.connect_role_arn) == (PLUGIN, 1, ROLE)


def test_names_are_valid_for_aws_and_unique_per_application(orders):
    assert replication_launch.replication_name(orders) == "mig-legacy-orders"
    orders.application.name = "Orders_v2.events " + "x" * 80
    name = replication_launch.replication_name(orders)
    assert (
        len(name) <= 64
        and name.endswith(f"-c{orders.pk}")
        and name.startswith("mig-legacy-Orders-v2-events-x")
    )


def test_registering_checks_the_monoliths_vpc_for_msk_replicator(admin):
    from clusters.migration import inventory

    msk = {"name": "msk", "security_protocol": "PLAINTEXT", "msk_cluster_arn": MONOLITH_ARN}
    with pytest.raises(ValidationError) as refused:
        inventory.register_monolith(
            actor=admin, **msk, subnet_ids=["subnet-0aaaaaaaaaaaaaaa0", "vpc-1"], security_group_ids=["sg-x"]
        )
    assert refused.value.message_dict == {
        "subnet_ids": ["Not subnet ids: vpc-1 (like subnet-0123456789abcdef0)."],
        "security_group_ids": ["Not security group ids: sg-x (like sg-0123456789abcdef0)."],
    }
    with pytest.raises(ValidationError, match="for an MSK monolith: give its MSK cluster ARN too"):
        inventory.register_monolith(
            actor=admin, name="self-run", security_protocol="PLAINTEXT", subnet_ids=MONOLITH_SUBNETS
        )
    page = client_for(admin).post(
        reverse("migration:monolith-register"),
        {
            **msk,
            "region": "us-east-1",
            "subnet_ids": " subnet-0aaaaaaaaaaaaaaa0,subnet-0aaaaaaaaaaaaaaa1 ",
            "security_group_ids": "sg-0aaaaaaaaaaaaaaa0",
        },
    )
    assert page.status_code == 302
    saved = Monolith.objects.get(name="msk")
    assert (saved.subnet_ids, saved.security_group_ids) == (MONOLITH_SUBNETS, MONOLITH_GROUPS)
