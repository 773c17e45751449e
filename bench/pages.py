"""Page cost at 10 and at 10,000 requests: SQL queries (must be equal) and p95 latency vs a minimal view.

    .venv/bin/python bench/pages.py [--samples 60]

The list pages (requests, approval queue, dashboard); one request's page and what it polls every 3 s while
its request waits for a decision (htmx); and the migration applications page of a monolith of
MIGRATION_APPLICATIONS applications, every other one with a takeover waiting (the admin's checks), which
does not grow with the requests: it is measured beside them.

BENCH_BREAKDOWN=1 also prints each page's median, p95 and slowest time at both sizes; BENCH_SHOW_SQL=1 the
time of each query of a page (the measured request's).

Runs in a throw-away test database (PostgreSQL when reachable, as in `make test`), through Django's
test client in one process, so the pages and the baseline are measured under the same conditions.
The baseline is the smallest authenticated endpoint, GET /api/v1/me/.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.throwaway_database import throwaway_database  # noqa: E402


def build_world():
    from portal.models import User
    from tests import builders

    team = builders.team("bench", name="Bench")
    member = builders.user("bench-member", team=team)
    admin = builders.user("bench-admin", role=User.Role.PLATFORM_ADMIN)
    account = builders.aws_account(name="bench")
    network = builders.network_profile(account, name="n")
    cluster = builders.cluster(team, network, "bench-dev", arn="")
    return team, member, admin, cluster


def add_requests(n: int, *, team, member, cluster, admin) -> None:
    """n topic requests: two in three waiting for a decision, one in three approved with its topic (and
    a grant on every other topic), so the list also shows where the work of approved requests is."""
    from clusters.models import AccessGrant, Request, Topic

    now, start = timezone.now(), Request.objects.count()
    approved = [i for i in range(start, start + n) if i % 3 == 0]
    topics = Topic.objects.bulk_create(
        [
            Topic(cluster=cluster, team=team, name=f"bench.t{i}", partitions=3, status="active")
            for i in approved
        ],
        batch_size=2000,
    )
    AccessGrant.objects.bulk_create(
        [
            AccessGrant(
                cluster=cluster,
                team=team,
                topic=topic,
                principal_arn="arn:aws:iam::123456789012:role/b",
                can_consume=True,
                status="applied",
            )
            for topic in topics[::2]
        ],
        batch_size=2000,
    )
    topic_of = dict(zip(approved, topics, strict=True))
    Request.objects.bulk_create(
        [
            Request(
                kind=Request.Kind.TOPIC_CREATE,
                team=team,
                requested_by=member,
                environment="dev",
                summary=f"Topic bench.t{i} on bench-dev (3 partitions)",
                payload={"name": f"bench.t{i}"},
                assessment={"headroom": [], "findings": []},
                cluster=cluster,
                created_at=now,
                estimated_monthly_cost=Decimal("3.29"),
                has_warnings=i % 7 == 0,
                **(
                    {"status": "approved", "decided_by": admin, "decided_at": now, "topic": topic_of[i]}
                    if i in topic_of
                    else {}
                ),
            )
            for i in range(start, start + n)
        ],
        batch_size=2000,
    )


MIGRATION_APPLICATIONS = 100


def build_migration(*, team, member, admin) -> str:
    """A monolith whose applications `team` owns, an accepted plan placing them, and another team's takeover
    waiting on every other one: the applications page's URL."""
    from tests import builders

    taker = builders.user("bench-taker", team=builders.team("bench-other", name="Bench other"))
    monolith = builders.owned_monolith(admin, member, taker, size=MIGRATION_APPLICATIONS, name="bench-legacy")
    return reverse("migration:applications", args=[monolith.pk])


def measure(client: Client, url: str, samples: int, *, headers: dict | None = None) -> tuple[int, float]:
    response = client.get(url, headers=headers)
    # 286: htmx's stop-polling answer, a polled panel's when nothing moves any more.
    assert response.status_code in (200, 286), (url, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        client.get(url, headers=headers)
    query_count = len(queries)  # now: the next request resets the connection's query log
    if os.environ.get("BENCH_SHOW_SQL"):
        for query in queries.captured_queries:
            print(f"  {float(query['time']) * 1000:7.2f} ms  {query['sql'][:150]}")
    timings = []
    for _ in range(samples):
        start = time.perf_counter()
        client.get(url, headers=headers)
        timings.append(time.perf_counter() - start)
    p95 = statistics.quantiles(timings, n=20)[18]
    if os.environ.get("BENCH_BREAKDOWN"):
        print(
            f"  {url:<22} queries {query_count:>2}  median {statistics.median(timings) * 1000:6.2f} ms"
            f"  p95 {p95 * 1000:6.2f} ms  max {max(timings) * 1000:6.2f} ms"
        )
    return query_count, p95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60)
    args = parser.parse_args()

    # No setup_test_environment(): it instruments every template render for the test client (copying
    # contexts), which would charge HTML pages a cost production does not have.
    # Its own database, so a test run in the same checkout is never disturbed.
    with throwaway_database("bench"):
        team, member, admin, cluster = build_world()
        member_client, admin_client = Client(), Client()
        member_client.force_login(member)
        admin_client.force_login(admin)
        applications_url = build_migration(team=team, member=member, admin=admin)
        # A topic request with access, waiting: its page, and what the page polls (as htmx asks for it).
        from tests import builders

        waiting = builders.topic_request(
            member,
            cluster,
            "watched",
            access_entries=builders.produce_access("arn:aws:iam::123456789012:role/b"),
        )
        htmx = {"HX-Request": "true"}
        # (label, client, URL, headers, at most this many times the baseline's p95 at 10k requests, or None:
        # pages that render much more than a list, whose queries alone must not grow)
        pages = [
            ("request list (member)", member_client, reverse("clusters:request-list"), None, 3),
            # Every request is the member's: "Filed by me" narrows nothing, its costliest case.
            ("request list ?mine=on", member_client, reverse("clusters:request-list") + "?mine=on", None, 3),
            ("approval queue (admin)", admin_client, reverse("clusters:approval-queue"), None, 3),
            ("team dashboard (member)", member_client, reverse("portal:dashboard"), None, 3),
            (
                "request page (member)",
                member_client,
                reverse("clusters:request-detail", args=[waiting.pk]),
                None,
                None,
            ),
            (
                "request page polled",
                member_client,
                reverse("clusters:request-progress", args=[waiting.pk]),
                htmx,
                None,
            ),
            ("applications (admin)", admin_client, applications_url, None, None),
        ]
        baseline_url = reverse("api:me")
        results = {}
        for size in (10, 10_000):
            from clusters.models import Request

            add_requests(
                size - Request.objects.count(), team=team, member=member, cluster=cluster, admin=admin
            )
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    # What autovacuum does after a bulk load (PostgreSQL 13+ vacuums after inserts too):
                    # statistics, and the visibility map that lets a COUNT read only the index.
                    cursor.execute("VACUUM ANALYZE")
            if os.environ.get("BENCH_BREAKDOWN"):
                print(f"{Request.objects.count()} requests:")
            _, baseline_p95 = measure(member_client, baseline_url, args.samples)
            for label, client, url, headers, _ in pages:
                queries, p95 = measure(client, url, args.samples, headers=headers)
                results[(label, size)] = (queries, p95, p95 / baseline_p95)
            results[("baseline /api/v1/me/", size)] = (None, baseline_p95, 1.0)

        print(f"database: {connection.vendor}; samples per page: {args.samples}")
        print(
            f"{'page':<26} {'queries@10':>10} {'queries@10k':>11} {'p95@10k ms':>11} {'ratio@10k':>10}  verdict"
        )
        for label, _, _, _, max_ratio in pages:
            q10, _, _ = results[(label, 10)]
            q10k, p95, ratio = results[(label, 10_000)]
            verdict = "ok" if q10 == q10k and (max_ratio is None or ratio <= max_ratio) else "FAIL"
            print(f"{label:<26} {q10:>10} {q10k:>11} {p95 * 1000:>11.2f} {ratio:>9.2f}x  {verdict}")
        _, base_p95, _ = results[("baseline /api/v1/me/", 10_000)]
        print(f"{'baseline /api/v1/me/':<26} {'':>10} {'':>11} {base_p95 * 1000:>11.2f} {1:>9.2f}x")


if __name__ == "__main__":
    main()
