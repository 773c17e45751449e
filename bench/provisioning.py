"""Provisioning at scale through the real AWS provider (boto3 over HTTP against moto in server mode).

    .venv/bin/python bench/provisioning.py [--clusters 200] [--threads 8]

1. N cluster requests are approved at once and provisioned by `threads` concurrent workers, each cluster's
   task delivered twice (as after a redelivery): the figure is clusters in MSK vs requests (0 duplicates).
2. One reconcile cycle after MSK turns them ACTIVE: AWS calls made vs the bound ⌈N/100⌉ list calls + one
   bootstrap call per newly active cluster, and vs the naive one DescribeClusterV2 per cluster per cycle.
moto's gaps are filled here, in the harness: it never turns clusters ACTIVE (we set its state) and has no
GetBootstrapBrokers (a botocore before-call hook answers with the real response shape).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests import moto_harness

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.update(moto_harness.DUMMY_CREDENTIALS, MSK_PROVIDER="aws")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, connections  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    with moto_harness.moto_server() as url:
        settings.AWS_ENDPOINT_URL = url
        settings.MSK_PROVIDER = "aws"
        test_settings = connection.settings_dict.setdefault("TEST", {})
        test_settings["NAME"] = (test_settings.get("NAME") or "test_portal") + "_bench_prov"
        old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
        try:
            run(args)
        finally:
            connections.close_all()
            connection.creation.destroy_test_db(old_name, verbosity=0)


def run(args) -> None:
    from clusters import provisioning
    from clusters.integrations import aws_control
    from clusters.models import Cluster, PlatformSettings
    from clusters.providers import get_provider
    from clusters.requests import services
    from portal.models import User
    from tests import builders

    get_provider.cache_clear()
    # The bench runs provisioning itself (below), so approvals must not dispatch tasks.
    provisioning.dispatch_after_approval = lambda request: None
    PlatformSettings.objects.update_or_create(pk=1, defaults={"max_clusters_per_account_region": 10_000})
    team = builders.team("bench", name="Bench")
    member = builders.user("member", team=team)
    admin = builders.user("admin", role=User.Role.PLATFORM_ADMIN)
    account = builders.aws_account(moto_harness.ACCOUNT_ID, name="bench")
    network = builders.network_profile(account, name="n")
    for n in range(args.clusters):
        prepared = services.prepare_cluster_create(
            actor=member,
            team=team,
            name=f"bench-{n:04d}",
            kind="dedicated",
            environment="dev",
            account=account,
            region="us-east-1",
            network_profile=network,
            expected_write_mbps=Decimal(1),
            expected_read_mbps=Decimal(1),
            contains_pii=False,
            latency_class="time_insensitive",
            justification="bench",
        )
        request = services.submit_request(actor=member, prepared=prepared)
        services.approve_request(request_id=request.pk, actor=admin)

    ids = list(Cluster.objects.values_list("pk", flat=True)) * 2  # every task delivered twice

    def work(pk):
        try:
            provisioning.provision_cluster(pk)
        finally:
            connections.close_all()

    started = time.perf_counter()
    with ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(work, ids))
    elapsed = time.perf_counter() - started
    ref = provisioning.account_ref(Cluster.objects.select_related("account").first())
    in_msk = aws_control.list_serverless_clusters(ref)
    names = [state.name for state in in_msk]
    print(
        f"approvals: {args.clusters}; provisioning tasks run: {len(ids)} on {args.threads} threads in {elapsed:.1f} s"
    )
    print(
        f"clusters in MSK: {len(in_msk)}; distinct names: {len(set(names))}; duplicates: {len(names) - len(set(names))}"
    )

    # Harness: moto never turns clusters ACTIVE, and has no GetBootstrapBrokers.
    moto_harness.make_clusters_active(ref.account_id)
    calls: list[str] = []
    client = aws_control.kafka_client(ref)

    def count(event_name, **kwargs):
        calls.append(event_name.split(".")[-1])

    client.meta.events.register("before-call.kafka.*", count)
    moto_harness.answer_bootstrap_brokers(
        client,
        lambda arn: f"boot-{arn.split('/')[-2]}.c1.kafka-serverless.us-east-1.amazonaws.com:9098",
    )
    started = time.perf_counter()
    stats = provisioning.reconcile()
    elapsed = time.perf_counter() - started
    active = Cluster.objects.filter(status="active").count()
    list_calls = calls.count("ListClustersV2")
    bootstrap_calls = calls.count("GetBootstrapBrokers")
    bound = math.ceil(args.clusters / 100) + active
    print(
        f"reconcile cycle: {len(calls)} AWS calls ({list_calls} ListClustersV2 + {bootstrap_calls} GetBootstrapBrokers) "
        f"in {elapsed:.1f} s; {active} clusters became ACTIVE"
    )
    print(
        f"bound ⌈N/100⌉ + newly active = {math.ceil(args.clusters / 100)} + {active} = {bound}: "
        f"{'within' if len(calls) <= bound else 'OVER'}"
    )
    print(
        f"naive one DescribeClusterV2 per cluster per cycle: {args.clusters} calls, plus {active} bootstrap calls; "
        f"steady state (nothing new) costs this design {list_calls} call(s) per cycle vs {args.clusters}"
    )
    calls.clear()
    provisioning.reconcile()
    print(f"next cycle with nothing in flight: {len(calls)} AWS calls; stats {stats}")


if __name__ == "__main__":
    main()
