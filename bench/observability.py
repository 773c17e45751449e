"""Observability at scale: a collection cycle over 10,000 topics and 20,000 consumer group × topic pairs,
and the topic page at 10 and at 10,000 series.

    .venv/bin/python bench/observability.py [--topics 10000] [--groups-per-topic 2] [--samples 60]

Runs in a throw-away test database (PostgreSQL when reachable, as in `make test`). The cycle runs the real
code path — `collect()` through the aws provider and `clusters.integrations.cloudwatch` (botocore paginators, request
building and parameter validation) — against a CloudWatch answered in-process: a `before-call` hook on the
client returns a value per query and point (moto's GetMetricData scans every stored datapoint per query,
which at 90,000 queries measures moto, not the portal). It prints GetMetricData calls against the bound
⌈series / 500⌉, ListMetrics pages, cycle time, rows written, the alert evaluation's time, and the topic
page's queries and p95 latency at 10 and 10,000 series against the smallest authenticated view
(GET /api/v1/me/, as bench/pages.py measures it).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

import boto3  # noqa: E402
from botocore.awsrequest import AWSResponse  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.pages import build_world, measure  # noqa: E402
from bench.throwaway_database import throwaway_database  # noqa: E402

LIST_PAGE = 500  # ListMetrics answers at most 500 metrics a page


class InProcessCloudWatch:
    """Answers GetMetricData (a value per query and 5-minute point) and ListMetrics (pages of 500 group ×
    topic metrics) for one client, counting the calls."""

    def __init__(self, client, pairs: list[tuple[str, str, str]], start, end):
        self.pairs, self.points = pairs, [start + (end - start) * i / 4 for i in range(4)]
        self.params: dict = {}
        self.calls = {"GetMetricData": 0, "ListMetrics": 0}
        events = client.meta.events
        for operation in self.calls:
            events.register(f"provide-client-params.cloudwatch.{operation}", self._remember)
            events.register(f"before-call.cloudwatch.{operation}", self._answer)

    def _values(self, query: dict) -> list[float]:
        """Steady traffic and consumers keeping up, except one group in a hundred falling behind."""
        metric = query["MetricStat"]["Metric"]
        dims = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
        if metric["MetricName"] == "EstimatedMaxTimeLag":
            behind = dims["Consumer Group"] == "app-0" and hash(dims["Topic"]) % 100 == 0
            return [120.0 * (n + 1) if behind else 2.0 for n in range(len(self.points))]
        return [50_000.0 * (n % 2 + 1) for n in range(len(self.points))]

    def _remember(self, params, model, **kwargs):
        self.params[model.name] = dict(params)

    def _answer(self, model, **kwargs):
        self.calls[model.name] += 1
        params = self.params[model.name]
        if model.name == "ListMetrics":
            start = int(params.get("NextToken", "0"))
            page = self.pairs[start : start + LIST_PAGE]
            body = {
                "Metrics": [
                    {
                        "Namespace": "AWS/Kafka",
                        "MetricName": "SumOffsetLag",
                        "Dimensions": [
                            {"Name": "Cluster Name", "Value": c},
                            {"Name": "Consumer Group", "Value": g},
                            {"Name": "Topic", "Value": t},
                        ],
                    }
                    for c, g, t in page
                ]
            }
            if start + LIST_PAGE < len(self.pairs):
                body["NextToken"] = str(start + LIST_PAGE)
        else:
            body = {
                "MetricDataResults": [
                    {
                        "Id": q["Id"],
                        "Timestamps": self.points,
                        "StatusCode": "Complete",
                        "Values": self._values(q),
                    }
                    for q in params["MetricDataQueries"]
                ]
            }
        return AWSResponse("https://monitoring.invalid/", 200, {}, None), body


def measure_against_baseline(client: Client, url: str, baseline_url: str, samples: int):
    """(queries, p95, baseline p95): the page and the baseline timed in turns, so a busy machine slows
    both alike (the machine is shared)."""
    queries, _ = measure(client, url, 1)
    timings: dict[str, list[float]] = {url: [], baseline_url: []}
    for _ in range(samples):
        for each in (url, baseline_url):
            began = time.perf_counter()
            assert client.get(each).status_code == 200
            timings[each].append(time.perf_counter() - began)
    return queries, *(statistics.quantiles(timings[each], n=20)[18] for each in (url, baseline_url))


def build_fleet(team, cluster, topics: int, groups_per_topic: int) -> list[tuple[str, str, str]]:
    from clusters.models import Topic

    existing = Topic.objects.filter(cluster=cluster).count()
    Topic.objects.bulk_create(
        [
            Topic(cluster=cluster, team=team, name=f"bench.t{i:05d}", partitions=3, status="active")
            for i in range(existing, topics)
        ],
        batch_size=2000,
    )
    names = Topic.objects.filter(cluster=cluster).values_list("name", flat=True)
    return [(cluster.name, f"app-{g}", name) for name in names for g in range(groups_per_topic)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=int, default=10_000)
    parser.add_argument("--groups-per-topic", type=int, default=2)
    parser.add_argument("--samples", type=int, default=60)
    args = parser.parse_args()

    from django.conf import settings

    from clusters.integrations import aws_control
    from clusters.observability import alerts, collect
    from clusters.observability.models import GroupLagSample, TopicSample
    from clusters.providers import get_provider

    settings.MSK_PROVIDER = "aws"
    get_provider.cache_clear()
    with throwaway_database("observability"):
        team, member, _, cluster = build_world()
        clients = []
        # The in-process CloudWatch, no STS: a fresh client (and counter) per size.
        aws_control.client = lambda account, service: clients[-1]
        # Notifications are counted, not sent: the bench measures the evaluation, not SMTP.
        alerts._enqueue = lambda episode_id, event: None
        now = collect.floor_point(timezone.now())
        start = now - collect.timedelta(minutes=settings.OBSERVABILITY_WINDOW_MINUTES)
        member_client = Client()
        member_client.force_login(member)

        results = {}
        for topics, groups in ((2, 2), (args.topics, args.groups_per_topic)):  # 2×3 + 2×2×3 → 18 ≈ 10 series
            pairs = build_fleet(team, cluster, topics, groups)
            clients.append(
                boto3.client(
                    "cloudwatch",
                    region_name="us-east-1",
                    aws_access_key_id="bench",
                    aws_secret_access_key="bench",  # noqa: S106 - never sent anywhere
                )
            )
            cloudwatch = InProcessCloudWatch(clients[-1], pairs, start, now)
            began = time.perf_counter()
            cycle = collect.collect(cluster.account_id, cluster.region, now=now)
            cycle_seconds = time.perf_counter() - began
            began = time.perf_counter()
            evaluation = alerts.evaluate(now)
            evaluate_seconds = time.perf_counter() - began
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE")
            topic = cluster.topics.order_by("name").first()
            _, baseline_p95 = measure(member_client, reverse("api:me"), args.samples)
            queries, page_p95 = measure(
                member_client, reverse("observability:topic", args=[topic.pk]), args.samples
            )
            results[cycle.series] = {
                "cycle": cycle,
                "calls": dict(cloudwatch.calls),
                "cycle_s": cycle_seconds,
                "evaluate_s": evaluate_seconds,
                "opened": len(evaluation.opened),
                "queries": queries,
                "page_p95": page_p95,
                "baseline_p95": baseline_p95,
                "stored": TopicSample.objects.count() + GroupLagSample.objects.count(),
            }

        print(f"database: {connection.vendor}; samples per page: {args.samples}")
        print(
            f"{'series':>7} {'topics':>6} {'groups':>6} {'GetMetricData':>13} {'bound':>5} {'ListMetrics':>11} "
            f"{'cycle s':>8} {'rows':>7} {'evaluate s':>10}"
        )
        for series, r in results.items():
            bound = math.ceil(series / 500)
            print(
                f"{series:>7} {r['cycle'].topics:>6} {r['cycle'].groups:>6} {r['calls']['GetMetricData']:>13} "
                f"{bound:>5} {r['calls']['ListMetrics']:>11} {r['cycle_s']:>8.2f} {r['cycle'].rows:>7} "
                f"{r['evaluate_s']:>10.2f}"
            )
        small, large = (results[key] for key in sorted(results))
        ratio = large["page_p95"] / large["baseline_p95"]
        verdict = "ok" if small["queries"] == large["queries"] and ratio <= 3 else "FAIL"
        print(
            f"topic page queries at {min(results)} series: {small['queries']}, at {max(results)} series: "
            f"{large['queries']}; p95 {large['page_p95'] * 1000:.2f} ms vs /api/v1/me/ "
            f"{large['baseline_p95'] * 1000:.2f} ms = {ratio:.2f}x  {verdict}"
        )
        calls_ok = all(r["calls"]["GetMetricData"] == math.ceil(s / 500) for s, r in results.items())
        print(f"GetMetricData calls = ⌈series / 500⌉ at both sizes: {'ok' if calls_ok else 'FAIL'}")


if __name__ == "__main__":
    main()
