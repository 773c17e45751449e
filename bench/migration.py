"""The migration assistant on a large monolith: CSV import, application discovery, a plan version in both
strategies, the live move, split and merge checks and the plan page, at two inventory sizes (ratios in one run).

    .venv/bin/python bench/migration.py [--topics 1000,5000]

In a throw-away test database (PostgreSQL when reachable, as in `make test`). Inventory: 4 topics per
application, 40 teams, varied partitions (3-48), peaks 0.1-20 MB/s in and 1-3 consumer groups per topic.
Import, discovery and planning should grow about linearly with the topics (ratio ≈ topic ratio).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.core.exceptions import ValidationError  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from bench.throwaway_database import throwaway_database  # noqa: E402

TEAMS = 40
TOPICS_PER_APP = 4


def csv_text(topics: int, rng: random.Random) -> str:
    lines = ["topic,partitions,retention_ms,peak_in_mbps,peak_out_mbps,application,team,consumer_groups"]
    for i in range(topics):
        app = i // TOPICS_PER_APP
        peak_in = round(rng.uniform(0.1, 20), 3)
        groups = rng.randint(1, 3)
        lines.append(
            f"app{app}.t{i},{rng.choice([3, 6, 12, 24, 48])},604800000,{peak_in},{round(peak_in * groups, 3)},"
            f"app{app},team-{app % TEAMS},{';'.join(f'g{app}-{g}' for g in range(groups))}"
        )
    return "\n".join(lines) + "\n"


def run(topics: int) -> dict[str, float]:
    from clusters.migration import inventory, planning
    from clusters.migration.models import Application
    from portal.models import Team, User

    rng = random.Random(topics)
    admin = User.objects.create_user(username=f"admin{topics}", password=None, role=User.Role.PLATFORM_ADMIN)
    for t in range(TEAMS):
        Team.objects.get_or_create(
            slug=f"team-{t}",
            defaults={"name": f"Team {t}", "cost_center": "CC-1", "contact_email": "t@example.com"},
        )
    monolith = inventory.register_monolith(
        actor=admin, name=f"bench{topics}", bootstrap="", security_protocol="PLAINTEXT"
    )
    figures = {}
    start = time.perf_counter()
    inventory.import_csv(actor=admin, monolith_id=monolith.pk, content=csv_text(topics, rng).encode())
    figures["import"] = time.perf_counter() - start
    start = time.perf_counter()
    inventory.discover_applications(actor=admin, monolith_id=monolith.pk)
    figures["discover"] = time.perf_counter() - start
    for application in Application.objects.filter(monolith=monolith):  # owners as the file says, not timed
        application.team = application.suggested_team
        application.save(update_fields=["team"])
    start = time.perf_counter()
    plan = planning.create_plan(actor=admin, monolith_id=monolith.pk)
    figures["plan segregated"] = time.perf_counter() - start
    start = time.perf_counter()
    planning.create_plan(actor=admin, monolith_id=monolith.pk, strategy="write_read")
    figures["plan write/read"] = time.perf_counter() - start
    team_clusters: dict[str, list[dict]] = {}
    for cluster in plan.result["clusters"]:
        team_clusters.setdefault(cluster["group"]["team"], []).append(cluster)
    source, target = (
        next((c[0], c[1]) for c in team_clusters.values() if len(c) > 1)
        if any(len(c) > 1 for c in team_clusters.values())
        else (plan.result["clusters"][0], plan.result["clusters"][1])
    )
    start = time.perf_counter()
    with contextlib.suppress(ValidationError):  # a refused move is as good a measure as an accepted one
        planning.check_move(plan, application=source["applications"][0], to_cluster=target["key"])
    figures["move check"] = time.perf_counter() - start
    biggest = max(plan.result["clusters"], key=lambda cluster: len(cluster["applications"]))
    start = time.perf_counter()
    planning.check_split(plan, cluster=biggest["key"], applications=biggest["applications"][::2])
    figures["split check"] = time.perf_counter() - start
    start = time.perf_counter()
    with contextlib.suppress(ValidationError):  # quotas may refuse it: still the whole check
        planning.check_merge(plan, cluster=source["key"], into=target["key"])
    figures["merge check"] = time.perf_counter() - start
    client = Client()
    client.force_login(admin)
    start = time.perf_counter()
    assert client.get(reverse("migration:plan-detail", args=[plan.pk])).status_code == 200
    figures["plan page"] = time.perf_counter() - start
    figures["clusters"] = len(plan.result["clusters"])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--topics", default="1000,5000")
    args = parser.parse_args()
    sizes = [int(size) for size in args.topics.split(",")]
    with throwaway_database("migration"):
        results = {size: run(size) for size in sizes}
    print(f"{'':18}" + "".join(f"{size:>10,} topics" for size in sizes) + "     ratio")
    for key in results[sizes[0]]:
        values = [results[size][key] for size in sizes]
        unit = "" if key == "clusters" else " s"
        cells = "".join(f"{value:>14.3f}{unit}" if unit else f"{value:>16.0f}" for value in values)
        print(f"{key:18}{cells}   {values[-1] / values[0]:>6.1f}")


if __name__ == "__main__":
    main()
