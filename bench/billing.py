"""Billing at 1,000 and 10,000 topics: CloudWatch reads, chargeback compute, CSV streaming, CSV memory.

    .venv/bin/python bench/billing.py [--topics 1000,10000] [--days 30] [--lines 10000,100000]
                                      [--scale 10000,100000]

One stand-in for AWS: moto in server mode over HTTP (ThreadedMotoServer), reached by the portal's own
boto3 clients through an assumed role, with MSK_PROVIDER=aws. Figures, all measured in this one run:
1. GetMetricData calls made by `collect_usage` vs the bound ⌈2T/500⌉, and vs a naive loop written here
   (one GetMetricData call per topic per metric, same client, same moto): calls and wall time;
2. `compute_run` time and CSV generation time (the product's lines CSV, billing.exports.export(run, "lines"):
   ChargebackLine rows streamed with `.iterator()` through portal.csv_export.csv_lines) at 1k vs 10k topics,
   and their ratios;
3. tracemalloc peak while streaming 10k vs 100k ChargebackLine rows as that CSV (rows created directly);
4. `compute_run` at scale: time and tracemalloc peak at 10,000 and 100,000 topics (the scale on paper in
   docs/), with their ratios, which must be ~10x (linear). The topics past the last `--topics` size get
   their daily usage rows written straight into TopicDailyUsage (what collect_usage would store); the
   time is measured on its own, the peak on a second, identical recompute under tracemalloc.

Seeding: one `AWS/Kafka` datapoint per topic, day and metric (BytesInPerSec and BytesOutPerSec at 12:00
UTC), i.e. 2 × T × days datapoints, 1000 per PutMetricData: over HTTP for the first size, then straight
into moto's backend (botocore's client-side validation alone costs ~0.2 s per 1000). Per-minute,
per-partition samples (the exact Sum × 60 arithmetic) are covered by tests/clusters/integrations/aws/test_cloudwatch_usage.py;
GetMetricData returns one Sum per day either way, so the calls and the bytes read back are the same.

Harness, not product: moto's own GetMetricData scans every stored datapoint for every query and every
period (O(queries × periods × datapoints)), hours per call at this size; the bench swaps in an indexed
evaluation of MetricStat queries inside the moto server (same request parsing, same response
serialization over HTTP, moto's own Statistics class) and checks it against moto's original on a sample.
moto runs in this process, so its datapoint objects are frozen out of the garbage collector (gc.freeze)
before anything is timed: otherwise every full collection in the portal's code walks them too.
Runs in a throw-away database (PostgreSQL when reachable, as in `make test`), otherwise SQLite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import math
import os
import sys
import time
import tracemalloc
from bisect import bisect_left
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
from tests import moto_harness
from tests.moto_harness import ACCOUNT_ID, ROLE_ARN

os.environ.update(moto_harness.DUMMY_CREDENTIALS, MSK_PROVIDER="aws")

import django

django.setup()

import logging  # noqa: E402

logging.getLogger("botocore.credentials").setLevel(logging.WARNING)
logging.getLogger("clusters.integrations.aws_control").setLevel(logging.WARNING)

from django.conf import settings  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.db.models import Sum  # noqa: E402
from moto.cloudwatch.models import CloudWatchBackend, Statistics, cloudwatch_backends  # noqa: E402

MONTH = dt.date(2026, 9, 1)  # 30 days
TOPICS_PER_CLUSTER = 100
TEAMS = 20
NAIVE_BUDGET_SECONDS = 60


# --- The stand-in: moto, with an indexed GetMetricData evaluation ------------------------------------

_original_get_metric_data = CloudWatchBackend.get_metric_data
server_calls: list[int] = []  # queries per GetMetricData call, as moto received them


def _index(backend) -> dict:
    stored = len(backend.metric_data) + len(backend.aws_metric_data)  # without copying them per call
    cached = getattr(backend, "_bench_index", None)
    if cached is not None and cached[0] == stored:
        return cached[1]
    data = backend.get_all_metrics()
    index: dict[tuple, list] = defaultdict(list)
    for md in data:
        dims = frozenset((d.name, d.value) for d in md.dimensions)
        index[(md.namespace, md.name, dims)].append(md)
    for series in index.values():
        series.sort(key=lambda md: md.timestamp)
    backend._bench_index = (stored, index)
    return index


def indexed_get_metric_data(self, queries, start_time, end_time, scan_by="TimestampAscending"):
    """moto's MetricStat semantics (buckets from StartTime, [start, end), Statistics for the value),
    looking datapoints up by (namespace, metric, dimension set) instead of scanning all of them."""
    server_calls.append(len(queries))
    if any("MetricStat" not in query for query in queries):
        return _original_get_metric_data(self, queries, start_time, end_time, scan_by)
    start_time, end_time = start_time.replace(microsecond=0), end_time.replace(microsecond=0)
    if start_time >= end_time:
        return _original_get_metric_data(self, queries, start_time, end_time, scan_by)  # its errors
    index = _index(self)
    results = []
    for query in queries:
        stat = query["MetricStat"]
        metric = stat["Metric"]
        dims = frozenset((d["Name"], d["Value"]) for d in metric.get("Dimensions", []))
        series = index.get((metric["Namespace"], metric["MetricName"], dims), [])
        stamps = [md.timestamp for md in series]
        lo, hi = bisect_left(stamps, start_time), bisect_left(stamps, end_time)
        delta = dt.timedelta(seconds=int(stat["Period"]))
        buckets: dict[int, list] = defaultdict(list)
        for md in series[lo:hi]:
            if stat.get("Unit") and md.unit != stat["Unit"]:
                continue
            buckets[(md.timestamp - start_time) // delta].append(md)
        values, timestamps = [], []
        for bucket in sorted(buckets):
            statistics = Statistics([stat["Stat"]], start_time + bucket * delta)
            statistics.metric_data = buckets[bucket]
            values.append(statistics.get_statistics_for_type(stat["Stat"]))
            timestamps.append(statistics.timestamp)
        if scan_by == "TimestampDescending":
            values.reverse()
            timestamps.reverse()
        if query.get("ReturnData", True):
            results.append(
                {
                    "id": query["Id"],
                    "label": query.get("Label") or f"{metric['MetricName']} {stat['Stat']}",
                    "values": values,
                    "timestamps": timestamps,
                    "status_code": "Complete",
                }
            )
    return results


def check_stand_in(queries, start, end) -> tuple[bool, float]:
    """The indexed answer equals moto's own on `queries`; returns (equal, moto's seconds per query)."""
    backend = cloudwatch_backends[ACCOUNT_ID]["us-east-1"]
    started = time.perf_counter()
    original = _original_get_metric_data(backend, queries, start, end, "TimestampAscending")
    per_query = (time.perf_counter() - started) / len(queries)
    indexed = indexed_get_metric_data(backend, queries, start, end, "TimestampAscending")
    server_calls.pop()

    def comparable(results):
        return [(r["id"], [float(v) for v in r["values"]], list(r["timestamps"])) for r in results]

    return comparable(original) == comparable(indexed), per_query


# --- The world ------------------------------------------------------------------------------------


def build_world():
    from portal.models import Team
    from tests import builders

    teams = [
        Team.objects.create(
            name=f"Team {n:02d}",
            slug=f"team-{n:02d}",
            cost_center=f"CC-{n:02d}",
            contact_email=f"t{n}@example.com",
        )
        for n in range(TEAMS)
    ]
    account = builders.aws_account(ACCOUNT_ID, name="bench", external_id="ext-bench")
    network = builders.network_profile(account, name="n")
    return teams, account, network


def retention(n: int) -> dict:
    if n % 20 == 0:
        return {"retention.ms": -1, "retention.bytes": -1}  # unlimited: 5 % of topics
    if n % 3 == 0:
        return {"retention.ms": 86_400_000, "retention.bytes": 10 * 2**30}
    return {"retention.ms": 7 * 86_400_000, "retention.bytes": -1}


def grow_world(total: int, teams, account, network) -> list[tuple[str, str]]:
    """Topics 0..total-1 in clusters of 100 (even clusters dedicated, odd ones shared by several teams),
    all alive since August; returns the (cluster, topic) pairs added."""
    from clusters.models import Cluster, Topic, TopicPartitionChange

    have = Topic.objects.count()
    since = dt.datetime(2026, 8, 1, tzinfo=dt.UTC)
    clusters = {cluster.name: cluster for cluster in Cluster.objects.all()}
    for number in range(have // TOPICS_PER_CLUSTER, math.ceil(total / TOPICS_PER_CLUSTER)):
        name = f"bench-{number:03d}"
        if name not in clusters:
            clusters[name] = Cluster.objects.create(
                name=name,
                team=teams[number % TEAMS],
                kind="dedicated" if number % 2 == 0 else "write",
                environment="prod",
                account=account,
                region="us-east-1",
                network_profile=network,
                status="active",
                active_since=since,
                arn=f"arn:aws:kafka:us-east-1:{ACCOUNT_ID}:cluster/{name}/0d6f5b7e-2b1c-4c55-9f5e-{number:012d}-s1",
            )
    added = []
    rows = []
    for n in range(have, total):
        cluster = clusters[f"bench-{n // TOPICS_PER_CLUSTER:03d}"]
        owner = cluster.team if cluster.kind == "dedicated" else teams[(n * 7) % TEAMS]
        name = f"{owner.slug}.topic-{n:05d}"
        rows.append(
            Topic(
                cluster=cluster,
                team=owner,
                name=name,
                partitions=1 + n % 6,
                status="active",
                configs=retention(n),
            )
        )
        added.append((cluster.name, name))
    topics = Topic.objects.bulk_create(rows, batch_size=2000)
    if connection.vendor != "postgresql":  # bulk_create returns pks on PostgreSQL and SQLite ≥ 3.35
        topics = list(Topic.objects.filter(pk__gte=min(t.pk for t in topics)))
    TopicPartitionChange.objects.bulk_create(
        [TopicPartitionChange(topic=t, partitions=t.partitions, changed_at=since) for t in topics],
        batch_size=2000,
    )
    return added


def rate(topic: str, day: dt.date, metric: str) -> int:
    """Bytes/s of the day's one datapoint: distinct per topic, day and metric."""
    number = int(topic.rsplit("-", 1)[1])
    return (number % 997 + 1) * 1000 + day.day * 10 + (1 if metric == "BytesOutPerSec" else 0)


def seed(pairs, days, *, over_http: bool) -> tuple[int, int, float]:
    """1000 datapoints a PutMetricData: over HTTP from a boto3 client acting as the role, or (for speed:
    botocore's client-side validation costs ~0.2 s per 1000) straight into the moto backend's
    put_metric_data, the function moto's HTTP handler calls. Returns (datapoints, calls, seconds)."""
    from tests.clusters.integrations.aws.cloudwatch_harness import (
        NAMESPACE,
        PUT_LIMIT,
        datum,
        put_datapoints,
        seeding_client,
    )

    noon = dt.time(12, tzinfo=None if not over_http else dt.UTC)  # moto keeps naive UTC timestamps
    data = (
        datum(cluster, topic, metric, dt.datetime.combine(day, noon), rate(topic, day, metric))
        for cluster, topic in pairs
        for day in days
        for metric in ("BytesInPerSec", "BytesOutPerSec")
    )
    started = time.perf_counter()
    if over_http:
        calls = put_datapoints(seeding_client(settings.AWS_ENDPOINT_URL, ROLE_ARN), data)
    else:
        backend = cloudwatch_backends[ACCOUNT_ID]["us-east-1"]
        calls, batch = 0, []
        for item in data:
            batch.append(item)
            if len(batch) == PUT_LIMIT:
                backend.put_metric_data(NAMESPACE, batch)
                calls, batch = calls + 1, []
        if batch:
            backend.put_metric_data(NAMESPACE, batch)
            calls += 1
    return 2 * len(pairs) * len(days), calls, time.perf_counter() - started


def _profiler():
    """BENCH_PROFILE=1: a cProfile of collect_usage and compute_run (figures then include its overhead)."""
    if not os.environ.get("BENCH_PROFILE"):
        return None
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    return profiler


def _report(profiler) -> None:
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


# --- 1. CloudWatch reads ---------------------------------------------------------------------------


def naive_read(client, pairs, start, end) -> tuple[int, dict]:
    """One GetMetricData call per topic per metric: what the design avoids."""
    window = {
        "StartTime": dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC),
        "EndTime": dt.datetime.combine(end, dt.time(), tzinfo=dt.UTC),
        "ScanBy": "TimestampAscending",
    }
    calls, values = 0, {}
    for cluster, topic in pairs:
        for metric, metric_name in (("bytes_in", "BytesInPerSec"), ("bytes_out", "BytesOutPerSec")):
            token = None
            while True:
                response = client.get_metric_data(
                    MetricDataQueries=[
                        {
                            "Id": "m",
                            "ReturnData": True,
                            "MetricStat": {
                                "Metric": {
                                    "Namespace": "AWS/Kafka",
                                    "MetricName": metric_name,
                                    "Dimensions": [
                                        {"Name": "Cluster Name", "Value": cluster},
                                        {"Name": "Topic", "Value": topic},
                                    ],
                                },
                                "Period": 86_400,
                                "Stat": "Sum",
                            },
                        }
                    ],
                    **window,
                    **({"NextToken": token} if token else {}),
                )
                calls += 1
                for result in response["MetricDataResults"]:
                    for stamp, value in zip(result["Timestamps"], result["Values"], strict=True):
                        values[(cluster, topic, stamp.astimezone(dt.UTC).date(), metric)] = round(value * 60)
                token = response.get("NextToken")
                if not token:
                    break
    return calls, values


class CallClock:
    """GetMetricData calls on one client and the wall time spent inside them (request, HTTP, parsing)."""

    def __init__(self, client):
        self.client, self.queries, self.seconds, self._started = client, [], 0.0, 0.0

    def _before(self, params, **kwargs):
        self.queries.append(len(params["MetricDataQueries"]))
        self._started = time.perf_counter()

    def _after(self, **kwargs):
        self.seconds += time.perf_counter() - self._started

    def __enter__(self):
        self.client.meta.events.register("provide-client-params.cloudwatch.GetMetricData", self._before)
        self.client.meta.events.register("after-call.cloudwatch.GetMetricData", self._after)
        return self

    def __exit__(self, *exc):
        self.client.meta.events.unregister("provide-client-params.cloudwatch.GetMetricData", self._before)
        self.client.meta.events.unregister("after-call.cloudwatch.GetMetricData", self._after)


def measure_reads(total: int, pairs_all, days) -> dict:
    from billing.models import TopicDailyUsage
    from billing.usage import collect_usage
    from clusters.integrations import aws_control
    from clusters.models import Cluster
    from clusters.providers import account_ref

    start, end = days[0], days[-1] + dt.timedelta(days=1)
    account = account_ref(Cluster.objects.select_related("account").first())
    client = aws_control.client(account, "cloudwatch")

    server_calls.clear()
    profiler = _profiler()
    with CallClock(client) as batched:
        started = time.perf_counter()
        result = collect_usage(start, end)
        collect_seconds = time.perf_counter() - started
    _report(profiler)
    assert result.failures == [], result.failures
    assert server_calls == batched.queries, "moto did not see the calls the client made"
    expected = sum(
        rate(topic, day, name) * 60
        for _, topic in pairs_all
        for day in days
        for name in ("BytesInPerSec", "BytesOutPerSec")
    )
    rows = TopicDailyUsage.objects.filter(day__gte=start, day__lt=end)
    stored = rows.aggregate(total=Sum("bytes"))["total"]
    assert rows.count() == 2 * total * len(days) and stored == expected, (rows.count(), stored, expected)
    stored_rows = {
        (cluster, topic, day, metric): value
        for cluster, topic, day, metric, value in rows.filter(
            topic_name__in=[t for _, t in pairs_all[:500]]
        ).values_list("cluster__name", "topic_name", "day", "metric", "bytes")
    }

    # Naive: all of it when it fits the budget, else a sample extrapolated linearly (stated).
    probe = pairs_all[:50]
    started = time.perf_counter()
    naive_read(client, probe, start, end)
    per_topic = (time.perf_counter() - started) / len(probe)
    sample = pairs_all
    if per_topic * total > NAIVE_BUDGET_SECONDS:
        sample = pairs_all[: max(100, int(NAIVE_BUDGET_SECONDS / 2 / per_topic))]
    with CallClock(client) as naive:
        started = time.perf_counter()
        naive_calls, naive_values = naive_read(client, sample, start, end)
        naive_wall = time.perf_counter() - started
    assert naive_calls == len(naive.queries) == 2 * len(sample) and set(naive.queries) == {1}
    assert len(naive_values) == 2 * len(sample) * len(days)
    assert all(stored_rows[key] == value for key, value in naive_values.items() if key in stored_rows)
    scale = total / len(sample)
    return {
        "collect_calls": len(batched.queries),
        "collect_max": max(batched.queries),
        "collect_seconds": collect_seconds,
        "read_seconds": batched.seconds,
        "rows": result.rows,
        "naive_sample": len(sample),
        "naive_calls": naive_calls * scale,
        "naive_seconds": naive.seconds * scale,
        "naive_wall": naive_wall * scale,
        "naive_extrapolated": len(sample) < total,
    }


# --- 2. Chargeback and CSV -------------------------------------------------------------------------


def lines_csv(run):
    """The run's lines CSV as the product writes it: billing.exports (rows from `.iterator()`) through
    portal.csv_export.csv_lines, one text per CSV line, header first."""
    from billing.exports import export
    from portal.csv_export import csv_lines

    csv = export(run, "lines")
    return csv_lines(csv.header, csv.rows)


def stream_csv(run) -> tuple[int, int]:
    """Every line of the run's CSV, as a streaming response would; returns (lines, bytes)."""
    lines = size = 0
    for text in lines_csv(run):
        lines += 1
        size += len(text)
    return lines - 1, size


def measure_chargeback() -> dict:
    from billing import chargeback

    profiler = _profiler()
    started = time.perf_counter()
    run = chargeback.compute_run(MONTH)
    compute_seconds = time.perf_counter() - started
    _report(profiler)
    started = time.perf_counter()
    lines, size = stream_csv(run)
    csv_seconds = time.perf_counter() - started
    assert lines == run.line_count
    return {
        "compute_seconds": compute_seconds,
        "csv_seconds": csv_seconds,
        "lines": lines,
        "csv_bytes": size,
        "total_usd": run.total_usd,
    }


# --- 3. CSV memory ---------------------------------------------------------------------------------


def make_lines(month: dt.date, count: int):
    from billing.models import ChargebackLine, ChargebackRun
    from clusters.models import Cluster
    from portal.models import Team

    run = ChargebackRun.objects.create(month=month, computed_at=dt.datetime.now(dt.UTC), line_count=count)
    teams = list(Team.objects.all())
    clusters = list(Cluster.objects.all())
    kinds = ("partition_hours", "data_in", "data_out", "storage")
    batch = []
    for n in range(count):
        team, cluster = teams[n % len(teams)], clusters[n % len(clusters)]
        batch.append(
            ChargebackLine(
                run=run,
                position=n + 1,
                team=team,
                team_name=team.name,
                cost_center=team.cost_center,
                cluster=cluster,
                cluster_name=cluster.name,
                cluster_arn=cluster.arn,
                region="us-east-1",
                account_id=ACCOUNT_ID,
                environment="prod",
                topic_name=f"{team.slug}.topic-{n:06d}",
                charge_type=kinds[n % 4],
                quantity=Decimal("123.456789"),
                unit="GiB",
                unit_price_usd=Decimal("0.100000"),
                cost_usd=Decimal("12.35"),
                allocation_basis="topic_owner",
                allocation_ratio=Decimal("1.000000"),
            )
        )
        if len(batch) == 5000:
            ChargebackLine.objects.bulk_create(batch)
            batch = []
    ChargebackLine.objects.bulk_create(batch)
    return run


def peak_streaming(run) -> tuple[int, int]:
    """tracemalloc peak while every line is generated and handed on (counted, then dropped, as a
    streaming response hands each chunk to the socket)."""
    lines = size = 0
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        for text in lines_csv(run):
            lines += 1
            size += len(text)
        return lines - 1, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- 4. compute_run at scale ----------------------------------------------------------------------


def seed_usage_rows(pairs, days) -> int:
    """What collect_usage would store for these (cluster, topic) pairs: one row per day and metric (on
    PostgreSQL generated by the server in one INSERT … SELECT, bytes distinct per topic, day and metric)."""
    from billing.models import TopicDailyUsage
    from clusters.models import Cluster, Topic

    if connection.vendor == "postgresql":
        first = Topic.objects.filter(name=pairs[0][1]).values_list("pk", flat=True).get()
        with connection.cursor() as cursor:
            cursor.execute(
                """INSERT INTO billing_topicdailyusage (cluster_id, topic_name, day, metric, bytes, collected_at)
                SELECT t.cluster_id, t.name, d::date, m.metric,
                       ((t.id %% 997 + 1) * 1000 + extract(day FROM d)::int * 10 + m.extra) * 86400, now()
                FROM clusters_topic t
                CROSS JOIN generate_series(%s::date, %s::date, interval '1 day') d
                CROSS JOIN (VALUES ('bytes_in', 0), ('bytes_out', 1)) m(metric, extra)
                WHERE t.id >= %s""",
                [days[0], days[-1], first],
            )
            return cursor.rowcount
    clusters = dict(Cluster.objects.values_list("name", "pk"))
    rows, written = [], 0
    for cluster_name, topic in pairs:
        for day in days:
            for metric, cloudwatch in (("bytes_in", "BytesInPerSec"), ("bytes_out", "BytesOutPerSec")):
                rows.append(
                    TopicDailyUsage(
                        cluster_id=clusters[cluster_name],
                        topic_name=topic,
                        day=day,
                        metric=metric,
                        bytes=rate(topic, day, cloudwatch) * 86_400,
                    )
                )
            if len(rows) >= 20_000:
                TopicDailyUsage.objects.bulk_create(rows)
                written, rows = written + len(rows), []
    TopicDailyUsage.objects.bulk_create(rows)
    return written + len(rows)


def measure_compute_at_scale(one_pass: bool) -> dict:
    """compute_run's wall time, then its tracemalloc peak on an identical recompute (same inputs); with
    `one_pass`, both from one run under tracemalloc (half the time on a busy machine; slower figures)."""
    from billing import chargeback

    gc.collect()
    run = None
    if not one_pass:
        started = time.perf_counter()
        run = chargeback.compute_run(MONTH)
        seconds = time.perf_counter() - started
        gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        started = time.perf_counter()
        again = chargeback.compute_run(MONTH)
        traced_seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    if run is None:
        run, seconds = again, traced_seconds
    assert again.total_usd == run.total_usd and again.line_count == run.line_count
    return {"seconds": seconds, "peak": peak, "lines": run.line_count, "total_usd": run.total_usd}


def scale(sizes, days, teams, account, network, one_pass: bool) -> dict:
    from clusters.models import Topic

    results = {}
    for total in sizes:
        added = grow_world(total, teams, account, network) if total > Topic.objects.count() else []
        if added:
            started = time.perf_counter()
            rows = seed_usage_rows(added, days)
            print(
                f"T={total:,}: {len(added):,} more topics, {rows:,} usage rows written directly in "
                f"{time.perf_counter() - started:.0f} s"
            )
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        results[total] = measure_compute_at_scale(one_pass)
    return results


# --- Main ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", default="1000,10000", help="comma-separated topic counts, ascending")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--lines", default="10000,100000", help="two line counts for the CSV memory figure")
    parser.add_argument(
        "--scale", default="10000,100000", help="topic counts for compute_run at scale ('' skips)"
    )
    parser.add_argument(
        "--one-pass", action="store_true", help="section 4: time and peak from one run under tracemalloc"
    )
    args = parser.parse_args()
    sizes = [int(value) for value in args.topics.split(",") if value]  # '' skips sections 1 and 2
    line_counts = [int(value) for value in args.lines.split(",") if value]  # '' skips section 3

    with moto_harness.moto_server() as url:
        settings.AWS_ENDPOINT_URL = url
        settings.MSK_PROVIDER = "aws"
        CloudWatchBackend.get_metric_data = indexed_get_metric_data
        test_settings = connection.settings_dict.setdefault("TEST", {})
        test_settings["NAME"] = (test_settings.get("NAME") or "test_portal") + "_bench_billing"
        if connection.vendor == "sqlite":
            test_settings["NAME"] = test_settings["NAME"].replace(
                ".sqlite3_bench_billing", "-bench-billing.sqlite3"
            )
        old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
        began = time.perf_counter()
        try:
            run(args, sizes, line_counts)
        finally:
            connections.close_all()
            connection.creation.destroy_test_db(old_name, verbosity=0)
            CloudWatchBackend.get_metric_data = _original_get_metric_data
        print(f"total bench time: {time.perf_counter() - began:.0f} s")


def run(args, sizes, line_counts) -> None:
    from clusters.providers import get_provider

    get_provider.cache_clear()
    days = [MONTH + dt.timedelta(days=n) for n in range(args.days)]
    teams, account, network = build_world()
    pairs_all: list[tuple[str, str]] = []
    reads, charges = {}, {}
    print(
        f"database: {connection.vendor}; stand-in: moto {__import__('moto').__version__} server over HTTP; "
        f"window {days[0]} .. {days[-1]} ({len(days)} days)"
    )
    for total in sizes:
        added = grow_world(total, teams, account, network)
        pairs_all += added
        over_http = total == sizes[0]
        datapoints, put_calls, seconds = seed(added, days, over_http=over_http)
        how = "PutMetricData calls over HTTP" if over_http else "put_metric_data calls into moto's backend"
        print(
            f"T={total:,}: seeded {datapoints:,} datapoints for {len(added):,} new topics (1 per topic, day and "
            f"metric) in {put_calls} {how}, {seconds:.1f} s"
        )
        if total == sizes[0]:
            start, end = (dt.datetime.combine(d, dt.time()) for d in (days[0], days[-1] + dt.timedelta(1)))
            from clusters.integrations.cloudwatch import _query

            sample = [
                _query(i, *pair, metric)
                for i, pair in enumerate(pairs_all[:3])
                for metric in ("bytes_in", "bytes_out")
            ]
            sample.append(_query(99, "bench-000", "no-such-topic", "bytes_in"))
            equal, per_query = check_stand_in(sample, start, end)
            assert equal, "the indexed stand-in differs from moto's own GetMetricData"
            print(
                f"  stand-in check: indexed GetMetricData == moto's own on {len(sample)} queries; moto's own "
                f"takes {per_query:.2f} s per query here → ~{per_query * 500:.0f} s per 500-query call"
            )
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        # moto shares this process: its 2 × T × days datapoint objects would otherwise be walked by every
        # full garbage collection of the portal's code too (without: CSV 19x, compute 18x for 10x topics).
        _index(cloudwatch_backends[ACCOUNT_ID]["us-east-1"])
        gc.collect()
        gc.freeze()
        reads[total] = measure_reads(total, pairs_all, days)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        charges[total] = measure_chargeback()

    if sizes:
        report_reads_and_charges(sizes, reads, charges)
    if line_counts:
        report_streaming(line_counts)
    scale_sizes = [int(value) for value in args.scale.split(",") if value]
    if scale_sizes:
        report_scale(args, scale_sizes, days, teams, account, network)


def report_reads_and_charges(sizes, reads, charges) -> None:
    print()
    print("1. GetMetricData: collect_usage vs the bound ⌈2T/500⌉ and a naive call per topic per metric")
    print(
        f"{'topics':>8} {'calls':>6} {'bound':>6} {'max q/call':>10} {'in calls s':>10} {'collect s':>10} "
        f"{'rows':>9} {'naive calls':>12} {'in calls s':>10} {'calls ratio':>12} {'time ratio':>11}"
    )
    for total, r in reads.items():
        bound = math.ceil(2 * total / 500)
        note = (
            f"  (naive measured on {r['naive_sample']:,} topics, extrapolated ×{total / r['naive_sample']:.0f})"
            if r["naive_extrapolated"]
            else ""
        )
        print(
            f"{total:>8,} {r['collect_calls']:>6} {bound:>6} {r['collect_max']:>10} {r['read_seconds']:>10.1f} "
            f"{r['collect_seconds']:>10.1f} {r['rows']:>9,} {r['naive_calls']:>12,.0f} {r['naive_seconds']:>10.1f} "
            f"{r['naive_calls'] / r['collect_calls']:>11.0f}x {r['naive_seconds'] / r['read_seconds']:>10.1f}x"
            f"{note}"
        )
        assert r["collect_calls"] == bound and r["collect_max"] <= 500
    print(
        "   'in calls s': wall time inside GetMetricData calls (request, HTTP to moto, response parsing), the same"
    )
    print(
        "   measure for both; 'collect s' adds collect_usage's database upserts. Naive loop wall time incl. its"
    )
    print("   own Python: " + ", ".join(f"{t:,} topics {r['naive_wall']:.1f} s" for t, r in reads.items()))

    print()
    print("2. Chargeback compute_run and lines CSV (billing.exports: ChargebackLine .iterator() → csv_lines)")
    print(f"{'topics':>8} {'lines':>7} {'compute s':>10} {'csv s':>7} {'csv MB':>7} {'total USD':>12}")
    for total, c in charges.items():
        print(
            f"{total:>8,} {c['lines']:>7,} {c['compute_seconds']:>10.2f} {c['csv_seconds']:>7.2f} "
            f"{c['csv_bytes'] / 1e6:>7.1f} {c['total_usd']:>12,}"
        )
    if len(sizes) > 1:
        small, large = charges[sizes[0]], charges[sizes[-1]]
        print(
            f"   ratio {sizes[-1]:,}/{sizes[0]:,} topics ({sizes[-1] / sizes[0]:.0f}x): lines "
            f"{large['lines'] / small['lines']:.1f}x, compute {large['compute_seconds'] / small['compute_seconds']:.1f}x, "
            f"csv {large['csv_seconds'] / small['csv_seconds']:.1f}x"
        )


def report_streaming(line_counts) -> None:
    print()
    print("3. Peak memory (tracemalloc) streaming ChargebackLine rows as CSV")
    peaks = {}
    for number, count in enumerate(line_counts):
        run_row = make_lines(dt.date(2025, 1 + number, 1), count)
        lines, peak = peak_streaming(run_row)
        assert lines == count
        peaks[count] = peak
        print(f"   {count:>8,} lines: peak {peak / 2**20:6.2f} MiB")
    if len(line_counts) > 1:
        first, last = line_counts[0], line_counts[-1]
        print(
            f"   ratio {last:,}/{first:,} lines ({last / first:.0f}x): peak {peaks[last] / peaks[first]:.2f}x"
        )


def report_scale(args, scale_sizes, days, teams, account, network) -> None:
    print()
    how = (
        "one run under tracemalloc (--one-pass)"
        if args.one_pass
        else "then tracemalloc peak on an identical recompute"
    )
    print(f"4. compute_run at scale: wall time, {how}")
    results = scale(scale_sizes, days, teams, account, network, args.one_pass)
    print(f"{'topics':>8} {'lines':>8} {'compute s':>10} {'peak MiB':>9} {'total USD':>14}")
    for total, r in results.items():
        print(
            f"{total:>8,} {r['lines']:>8,} {r['seconds']:>10.2f} {r['peak'] / 2**20:>9.1f} "
            f"{r['total_usd']:>14,}"
        )
    if len(scale_sizes) > 1:
        small, large = results[scale_sizes[0]], results[scale_sizes[-1]]
        print(
            f"   ratio {scale_sizes[-1]:,}/{scale_sizes[0]:,} topics ({scale_sizes[-1] / scale_sizes[0]:.0f}x): "
            f"lines {large['lines'] / small['lines']:.1f}x, time {large['seconds'] / small['seconds']:.1f}x, "
            f"peak memory {large['peak'] / small['peak']:.1f}x"
        )


if __name__ == "__main__":
    main()
