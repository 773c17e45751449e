"""Cost pages at 1,000 and 10,000 topics: the forecast to month end and the pages that show it.

    .venv/bin/python bench/cost_pages.py [--topics 1000,10000] [--samples 5]

Measured in one run, in a throw-away test database (PostgreSQL when reachable, as in `make test`), through
Django's test client in one process: `billing.forecast.remaining` over every cluster (what finance's pages
compute), and the median time of finance's dashboard and finance page, a member's dashboard and a team
cost page. Finance's figures cover every team, so they should grow about linearly with the topics (ratio
≈ topic ratio or below); a member's cover the clusters where their team pays, so they should stay flat.
Seeding: 100 teams in 20 cost centers, 50 topics (3 partitions) per cluster, half the clusters opened to a
second team, 1 GB in and out per topic and day this month so far and on 10 days of last month, both
months computed by `compute_run`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.throwaway_database import throwaway_database  # noqa: E402

TEAMS = 100
TOPICS_PER_CLUSTER = 50


def build_world():
    """100 teams in 20 cost centers, an AWS account and a network for the clusters."""
    from portal.models import Team
    from tests import builders

    account = builders.aws_account(name="bench")
    network = builders.network_profile(account, name="n")
    teams = Team.objects.bulk_create(
        Team(
            name=f"Team {i:03}",
            slug=f"team-{i:03}",
            cost_center=f"CC-{i % 20:02}",
            contact_email="b@example.com",
        )
        for i in range(TEAMS)
    )
    return network, teams


def add_topics(topic_count: int, network, teams):
    """Clusters and topics up to `topic_count` topics, their traffic, both months recomputed."""
    from billing import chargeback, months
    from billing.models import TopicDailyUsage
    from clusters.models import Cluster, Topic, TopicPartitionChange

    this_month = months.current_month()
    last_month = months.previous_month(this_month)
    since = dt.datetime.combine(last_month - dt.timedelta(days=20), dt.time(), tzinfo=dt.UTC)
    first = Cluster.objects.count()
    clusters = [
        Cluster.objects.create(
            name=f"bench-{i:04}",
            team=teams[i % TEAMS],
            kind="write",
            environment="prod",
            account=network.account,
            region="us-east-1",
            network_profile=network,
            status="active",
            active_since=since,
            arn=f"arn:aws:kafka:us-east-1:123456789012:cluster/bench-{i:04}/0000-s1",
        )
        for i in range(first, topic_count // TOPICS_PER_CLUSTER)
    ]
    for cluster in clusters[::2]:
        cluster.shared_with.add(teams[(cluster.pk + 1) % TEAMS])
    topics = Topic.objects.bulk_create(
        [
            Topic(
                cluster=cluster,
                team=teams[(cluster.pk + n % 2) % TEAMS],
                name=f"{cluster.name}.t{n}",
                partitions=3,
                status="active",
            )
            for cluster in clusters
            for n in range(TOPICS_PER_CLUSTER)
        ],
        batch_size=5000,
    )
    TopicPartitionChange.objects.bulk_create(
        [TopicPartitionChange(topic=topic, partitions=3, changed_at=since) for topic in topics],
        batch_size=5000,
    )
    today = timezone.now().date()
    days = [this_month + dt.timedelta(days=n) for n in range((today - this_month).days + 1)]
    days += [last_month + dt.timedelta(days=n) for n in range(0, 30, 3)]
    TopicDailyUsage.objects.bulk_create(
        [
            TopicDailyUsage(
                cluster_id=topic.cluster_id, topic_name=topic.name, day=day, metric=metric, bytes=10**9
            )
            for topic in topics
            for day in days
            for metric in ("bytes_in", "bytes_out")
        ],
        batch_size=5000,
    )
    chargeback.compute_run(last_month)
    run = chargeback.compute_run(this_month)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return run


def median_seconds(action, samples: int) -> float:
    action()  # warm up
    timings = []
    for _ in range(samples):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", default="1000,10000")
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(size) for size in args.topics.split(",")]

    with throwaway_database("cost"):
        from billing import forecast
        from portal.models import Membership, User

        network, teams = build_world()
        finance, member = Client(), Client()
        finance.force_login(User.objects.create_user("bench-finance", role=User.Role.FINANCE))
        member_user = User.objects.create_user("bench-member")
        Membership.objects.create(team=teams[0], user=member_user)
        member.force_login(member_user)
        finance_url, dashboard_url = reverse("billing:finance"), reverse("portal:dashboard")
        team_url = reverse("billing:team-costs", kwargs={"slug": teams[0].slug})
        results = {}
        for size in sizes:
            run = add_topics(size, network, teams)
            month = {"month": run.label}
            results[size] = {
                "forecast.remaining (all clusters)": median_seconds(
                    lambda run=run: forecast.remaining(run.month, now=run.computed_at), args.samples
                ),
                "finance dashboard": median_seconds(lambda: finance.get(dashboard_url), args.samples),
                "finance page": median_seconds(lambda m=month: finance.get(finance_url, m), args.samples),
                "member dashboard": median_seconds(lambda: member.get(dashboard_url), args.samples),
                "team cost page (member)": median_seconds(lambda: member.get(team_url), args.samples),
                "lines": run.line_count,
            }
        small, large = sizes[0], sizes[-1]
        print(
            f"database: {connection.vendor}; median of {args.samples} per figure; topics {small:,} → {large:,}"
        )
        print(f"{'':<36} {f'{small:,} topics':>14} {f'{large:,} topics':>14} {'ratio':>7}")
        print(f"{'chargeback lines':<36} {results[small]['lines']:>14,} {results[large]['lines']:>14,}")
        for label in list(results[small])[:-1]:
            a, b = results[small][label], results[large][label]
            print(f"{label:<36} {a * 1000:>12.0f}ms {b * 1000:>12.0f}ms {b / a:>6.1f}x")


if __name__ == "__main__":
    main()
