"""Provisioning through the aws provider (boto3 over HTTP to moto) while 30% of AWS calls fail with
throttling, 500s or read timeouts: every cluster still ends ACTIVE, once."""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

from clusters import provisioning
from clusters.integrations import aws_control
from clusters.models import Cluster, PlatformSettings
from clusters.providers import get_provider
from clusters.provisioning import tasks
from clusters.requests import services
from tests import builders, moto_harness
from tests.moto_harness import ACCOUNT_ID, EXTERNAL_ID

CLUSTERS = 20


class Faults:
    """Fails 30% of kafka calls before they are sent (moto never throttles or times out)."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.injected = Counter()

    def before_send(self, request, **kwargs):
        if self.rng.random() >= 0.3:
            return None
        kind = self.rng.choice(["throttle", "500", "timeout"])
        self.injected[kind] += 1
        if kind == "timeout":
            raise ReadTimeoutError(endpoint_url=request.url)
        status, code = (
            (429, "TooManyRequestsException") if kind == "throttle" else (500, "InternalServerErrorException")
        )
        body = f'{{"message": "injected", "__type": "{code}"}}'.encode()
        return AWSResponse(request.url, status, {"x-amzn-ErrorType": code}, _Raw(body))


class _Raw:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **kwargs):
        yield self.body


@pytest.fixture
def aws_world(aws, settings, member_a, admin, team_a):
    settings.MSK_PROVIDER = "aws"
    get_provider.cache_clear()
    PlatformSettings.objects.update_or_create(pk=1, defaults={"max_clusters_per_account_region": 100})
    account = builders.aws_account(ACCOUNT_ID, name="moto", external_id=EXTERNAL_ID)
    network = builders.network_profile(account, name="n")
    yield account, network
    get_provider.cache_clear()


@pytest.mark.services
@pytest.mark.parametrize("seed", [1])
def test_thirty_percent_of_aws_calls_fail_and_everything_completes(seed, aws_world, member_a, admin, team_a):
    account, network = aws_world
    for n in range(CLUSTERS):
        prepared = services.prepare_cluster_create(
            actor=member_a,
            team=team_a,
            name=f"faulty-{n}",
            kind="dedicated",
            environment="dev",
            account=account,
            region="us-east-1",
            network_profile=network,
            expected_write_mbps=Decimal(1),
            expected_read_mbps=Decimal(1),
            contains_pii=False,
            latency_class="time_insensitive",
            justification="x",
        )
        services.approve_request(
            request_id=services.submit_request(actor=member_a, prepared=prepared).pk, actor=admin
        )

    ref = provisioning.account_ref(Cluster.objects.select_related("account").first())
    client = aws_control.kafka_client(ref)
    faults = Faults(seed)
    client.meta.events.register_first("before-send.kafka", faults.before_send)
    moto_harness.answer_bootstrap_brokers(client, lambda arn: f"b-{arn[-8:]}:9098")
    try:
        for pk in Cluster.objects.values_list("pk", flat=True):
            tasks.provision_cluster.apply(args=[pk])  # eager, with the task's own retries
        moto_harness.make_clusters_active(ACCOUNT_ID)
        for _ in range(5):
            if not Cluster.objects.exclude(status="active").exists():
                break
            tasks.reconcile.apply()
    finally:
        client.meta.events.unregister("before-send.kafka", faults.before_send)
    assert Counter(Cluster.objects.values_list("status", flat=True)) == {"active": CLUSTERS}
    names = [state.name for state in aws_control.list_serverless_clusters(ref)]
    assert sorted(names) == sorted(f"faulty-{n}" for n in range(CLUSTERS))  # one each: nothing duplicated
    assert sum(faults.injected.values()) >= 5, faults.injected  # ~30% of ~40 sent calls
