"""What a topic call costs on the production Kafka path: MSK IAM (SASL_SSL + OAUTHBEARER, token signed with
credentials assumed from moto's STS) through the test MSK IAM front to the real Kafka 2.3 test broker.

    .venv/bin/python bench/kafka_admin.py [--calls 20]

Prints, for `calls` calls each: describe_topic and ensure_topic (topic already there) through
clusters.integrations.kafka_admin (p50, p95, total), and how much of a call is setting up the AdminClient (construction
with the first token, then the first answer) as opposed to the request itself.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests import moto_harness

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.update(moto_harness.DUMMY_CREDENTIALS)

import django

django.setup()

from django.conf import settings  # noqa: E402

from clusters.integrations import kafka_admin  # noqa: E402
from clusters.providers.base import AccountRef, ClusterEndpoint, TopicSpec  # noqa: E402
from tests.clusters.integrations.kafka.broker import session_broker  # noqa: E402


def _figures(label: str, seconds: list[float]) -> None:
    ordered = sorted(seconds)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    print(
        f"{label:<34} n={len(seconds):<3} p50={statistics.median(ordered) * 1000:7.1f} ms  "
        f"p95={p95 * 1000:7.1f} ms  total={sum(seconds):6.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()

    with moto_harness.moto_server() as url:
        settings.AWS_ENDPOINT_URL = url
        with session_broker() as broker:
            settings.KAFKA_SSL_CA_LOCATION = str(broker.msk_front.ca_file)
            account = AccountRef(
                moto_harness.ACCOUNT_ID, "us-east-1", moto_harness.ROLE_ARN, moto_harness.EXTERNAL_ID
            )
            endpoint = ClusterEndpoint(
                account, "arn:aws:kafka:us-east-1:111122223333:cluster/b/x", broker.msk_iam_bootstrap
            )
            spec = TopicSpec("bench.orders", 3, {"retention.ms": "3600000"})
            kafka_admin.ensure_topic(endpoint, spec)  # warms the assumed-role credentials too
            connections = broker.msk_front.connections

            setups, firsts = [], []
            for _ in range(args.calls):
                started = time.perf_counter()
                admin = kafka_admin._Admin(endpoint, kafka_admin.MSK_IAM)
                built = time.perf_counter()
                kafka_admin._topic_state(admin, spec.name)
                done = time.perf_counter()
                setups.append(built - started)
                firsts.append(done - built)
                del admin
            describes, ensures = [], []
            for _ in range(args.calls):
                started = time.perf_counter()
                kafka_admin.describe_topic(endpoint, spec.name)
                describes.append(time.perf_counter() - started)
            for _ in range(args.calls):
                started = time.perf_counter()
                kafka_admin.ensure_topic(endpoint, spec)
                ensures.append(time.perf_counter() - started)
            _figures("new AdminClient (token, construct)", setups)
            _figures("  first describe on it", firsts)
            _figures("describe_topic (public call)", describes)
            _figures("ensure_topic, exists (public call)", ensures)
            print(f"TLS connections through the front: {broker.msk_front.connections - connections}")
            kafka_admin.delete_topic(endpoint, spec.name)


if __name__ == "__main__":
    main()
