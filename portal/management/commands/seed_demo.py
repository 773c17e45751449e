"""Idempotent demo data for `make run`: three teams, a member of each, a platform admin and finance, their
clusters and topics, a request waiting for approval, one drift finding of each kind, and two months of billing."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from portal import audit, demo
from portal.models import Membership, Team, User

TEAMS = [
    ("Payments", "payments", "CC-1001", "payments-team@example.com"),
    ("Search", "search", "CC-2002", "search-team@example.com"),
    ("Analytics", "analytics", "CC-3003", "analytics-team@example.com"),
    ("Platform", "platform", "CC-0001", "platform-team@example.com"),  # pays unattributed usage
]
# Demo monthly budgets (USD): members see budget vs actual and get alerts at 80 % and 100 %.
BUDGETS = {"payments": 4000, "search": 600, "analytics": 1500}
# username, full name, role, team slug (or None)
USERS = [
    ("alice", "Alice Member", User.Role.MEMBER, "payments"),
    ("bob", "Bob Member", User.Role.MEMBER, "search"),
    ("carol", "Carol Member", User.Role.MEMBER, "analytics"),
    ("ada", "Ada Admin", User.Role.PLATFORM_ADMIN, None),
    ("fred", "Fred Finance", User.Role.FINANCE, None),
]
DEFAULT_PASSWORD = "kafka-demo-2026"  # noqa: S105 - demo logins only; refused when DEBUG is off


class Command(BaseCommand):
    help = "Create (or reset) the demo teams and logins. Safe to run any number of times."

    def add_arguments(self, parser):
        parser.add_argument("--password", default=DEFAULT_PASSWORD, help="Password for every demo login")
        parser.add_argument("--force", action="store_true", help="Allow with DEBUG off (never in production)")

    @transaction.atomic
    def handle(self, *args, password: str, force: bool, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Refusing to create demo logins with DEBUG off; pass --force if you mean it.")
        teams = {}
        for name, slug, cost_center, email in TEAMS:
            team, created = Team.objects.get_or_create(
                slug=slug,
                defaults={
                    "name": name,
                    "cost_center": cost_center,
                    "contact_email": email,
                    "monthly_budget_usd": BUDGETS.get(slug),
                },
            )
            if created:
                audit.record("portal.team.created", actor=None, obj=team, details={"source": "seed_demo"})
            teams[slug] = team
        for username, full_name, role, team_slug in USERS:
            first, last = full_name.split(" ", 1)
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@example.com",
                    "role": role,
                },
            )
            user.role = role
            user.is_staff = user.is_superuser = role == User.Role.PLATFORM_ADMIN
            user.set_password(password)
            user.save()
            if team_slug and not Membership.objects.filter(team=teams[team_slug], user=user).exists():
                membership = Membership.objects.create(team=teams[team_slug], user=user)
                audit.record(
                    "portal.membership.added",
                    actor=None,
                    obj=membership,
                    team=teams[team_slug],
                    details={"user": username, "source": "seed_demo"},
                )
        self._seed_clusters(teams)
        self._seed_billing()
        self._seed_traffic()
        self._seed_migration(teams)
        logins = demo.DemoLogins(
            password,
            tuple(
                demo.DemoLogin(
                    username, full_name, f"member of {team}" if team else User.Role(role).label.lower()
                )
                for username, full_name, role, team in USERS
            ),
        )
        # `make run` prints them again once web, worker and beat are up; the login page shows them.
        transaction.on_commit(lambda: demo.remember(logins))
        self.stdout.write("\n".join(logins.lines()))

    def _seed_migration(self, teams: dict) -> None:
        """A monolith to split, with its inventory, claims and a first plan (clusters.migration.demo)."""
        from clusters.migration import demo as migration_demo

        members = {
            slug: (User.objects.get(username=username), teams[slug])
            for username, _name, _role, slug in USERS
            if slug
        }
        migration_demo.seed(admin=User.objects.get(username="ada"), members=members)

    def _seed_clusters(self, teams: dict) -> None:
        """An account, a network, a dedicated and a shared write cluster, a topic, a pending request."""
        from datetime import timedelta
        from decimal import Decimal

        from django.utils import timezone

        from clusters.models import (
            AutoApprovalRule,
            AwsAccount,
            Cluster,
            NetworkProfile,
            PlatformSettings,
            Request,
            Topic,
            TopicPartitionChange,
        )
        from clusters.requests import services

        account, _ = AwsAccount.objects.get_or_create(
            account_id="111122223333",
            defaults={
                "name": "Platform shared (demo)",
                "ownership": AwsAccount.Ownership.PLATFORM,
                "role_arn": "arn:aws:iam::111122223333:role/msk-portal",
            },
        )
        network, _ = NetworkProfile.objects.get_or_create(
            account=account,
            region="us-east-1",
            name="shared-vpc",
            defaults={
                "vpc_id": "vpc-0a1b2c3d4e5f60718",
                "subnets": [
                    {"id": "subnet-0a1b2c3d4e5f60711", "az": "us-east-1a"},
                    {"id": "subnet-0a1b2c3d4e5f60712", "az": "us-east-1b"},
                    {"id": "subnet-0a1b2c3d4e5f60713", "az": "us-east-1c"},
                ],
                "security_group_ids": ["sg-0a1b2c3d4e5f60719"],
            },
        )
        clusters = {}
        for name, kind, environment in (
            ("payments-dev", "dedicated", "dev"),
            ("events-write", "write", "staging"),
        ):
            clusters[name], _ = Cluster.objects.get_or_create(
                name=name,
                region="us-east-1",
                account=account,
                defaults={
                    "team": teams["payments"],
                    "kind": kind,
                    "environment": environment,
                    "network_profile": network,
                    "status": Cluster.Status.ACTIVE,
                    "arn": f"arn:aws:kafka:us-east-1:111122223333:cluster/{name}/5a1e0c3e-demo-4f00-9a7b-000000000001-s1",
                    "bootstrap_brokers": f"boot-{name}.c1.kafka-serverless.us-east-1.amazonaws.com:9098",
                },
            )
        clusters["events-write"].shared_with.add(teams["search"], teams["analytics"])
        settings_row = PlatformSettings.current()
        if settings_row.platform_team_id is None:
            settings_row.platform_team = teams["platform"]
            settings_row.save()
        now = timezone.now()
        # About two months of history, so billing has a closed month and a month to date to show.
        Cluster.objects.filter(pk__in=[c.pk for c in clusters.values()], active_since__isnull=True).update(
            active_since=now - timedelta(days=75)
        )
        for cluster, team, name, partitions, in_mbps, out_mbps, since_days in (
            ("events-write", "payments", "payments.orders", (6,), 12, 30, 70),
            ("events-write", "search", "search.clicks", (3, 6), 4, 8, 50),
            ("events-write", "analytics", "analytics.pageviews", (2,), 2, 6, 40),
            ("payments-dev", "payments", "payments.ledger", (3,), 1, 1, 65),
            # Near its partition's 5 MB/s, and read more slowly than written: the demo's alerts.
            ("events-write", "payments", "payments.refunds", (1,), Decimal("4.5"), 3, 30),
        ):
            topic, _ = Topic.objects.get_or_create(
                cluster=clusters[cluster],
                name=name,
                defaults={
                    "team": teams[team],
                    "partitions": partitions[-1],
                    "status": Topic.Status.ACTIVE,
                    "expected_in_mbps": Decimal(in_mbps),
                    "expected_out_mbps": Decimal(out_mbps),
                    "configs": {
                        "retention.ms": 604800000,
                        "retention.bytes": -1,
                        "cleanup.policy": "delete",
                        "max.message.bytes": 1048588,
                        "compression.type": "producer",
                        "message.timestamp.type": "CreateTime",
                    },
                },
            )
            if not topic.partition_changes.exists():
                for step, count in enumerate(partitions):  # a partition increase half-way, if any
                    TopicPartitionChange.objects.create(
                        topic=topic,
                        partitions=count,
                        changed_at=now - timedelta(days=since_days // (step + 1)),
                    )
        self._seed_local_msk(clusters)
        self._seed_drift(teams, account, network)
        AutoApprovalRule.objects.get_or_create(
            name="Small dev topics",
            defaults={"kind": "topic.create", "environment": "dev", "max_partitions": 6},
        )
        bob = User.objects.get(username="bob")
        if not Request.objects.filter(requested_by=bob).exists():
            prepared = services.prepare_topic_create(
                actor=bob,
                team=teams["search"],
                cluster=clusters["events-write"],
                name="queries",
                expected_in_mbps=Decimal(8),
                expected_out_mbps=Decimal(25),
                justification="Search query log",
            )
            services.submit_request(actor=bob, prepared=prepared)

    def _seed_local_msk(self, clusters: dict) -> None:
        """The demo's active clusters also exist in the local provider's simulated MSK (else drift)."""
        from datetime import timedelta

        from django.utils import timezone

        from clusters import provisioning
        from clusters.providers.local.models import LocalMskCluster, LocalMskTopic

        for cluster in clusters.values():
            LocalMskCluster.objects.get_or_create(
                arn=cluster.arn,
                defaults={
                    "account_id": cluster.account.account_id,
                    "region": cluster.region,
                    "name": cluster.name,
                    "tags": provisioning.cluster_spec(cluster).tags,
                    "created_at": timezone.now() - timedelta(hours=1),
                },
            )
        for cluster in clusters.values():
            for topic in cluster.topics.filter(status="active"):
                LocalMskTopic.objects.get_or_create(
                    cluster_arn=cluster.arn,
                    name=topic.name,
                    defaults={
                        "partitions": topic.partitions,
                        "configs": {key: str(value) for key, value in topic.configs.items()},
                    },
                )

    def _seed_drift(self, teams: dict, account, network) -> None:
        """One drift finding of each kind for the admins' Drift page: a cluster whose tags were changed in
        MSK, one deleted in MSK, and one created in MSK outside the portal (to adopt)."""
        from django.utils import timezone

        from clusters import provisioning
        from clusters.models import Cluster
        from clusters.providers.local.models import LocalMskCluster

        drifted = {}
        for name, team in (("search-dev", "search"), ("analytics-dev", "analytics")):
            drifted[name], _ = Cluster.objects.get_or_create(
                name=name,
                region="us-east-1",
                account=account,
                defaults={
                    "team": teams[team],
                    "kind": "dedicated",
                    "environment": "dev",
                    "network_profile": network,
                    "status": Cluster.Status.ACTIVE,
                    "active_since": timezone.now() - timedelta(days=2),
                    "arn": f"arn:aws:kafka:us-east-1:111122223333:cluster/{name}/5a1e0c3e-demo-4f00-9a7b-000000000002-s1",
                    "bootstrap_brokers": f"boot-{name}.c1.kafka-serverless.us-east-1.amazonaws.com:9098",
                },
            )
        retagged = drifted["search-dev"]  # someone changed its cost center in the AWS console
        LocalMskCluster.objects.get_or_create(
            arn=retagged.arn,
            defaults={
                "account_id": account.account_id,
                "region": retagged.region,
                "name": retagged.name,
                "tags": {**provisioning.cluster_spec(retagged).tags, "cost-center": "CC-9999"},
                "created_at": timezone.now() - timedelta(days=2),
            },
        )
        # analytics-dev is in the portal only: deleted outside the portal. legacy-orders is in MSK only.
        LocalMskCluster.objects.get_or_create(
            arn="arn:aws:kafka:us-east-1:111122223333:cluster/legacy-orders/5a1e0c3e-demo-4f00-9a7b-000000000003-s1",
            defaults={
                "account_id": account.account_id,
                "region": "us-east-1",
                "name": "legacy-orders",
                "tags": {"owner": "orders-team"},
                "created_at": timezone.now() - timedelta(days=400),
            },
        )
        provisioning.detect_drift()

    def _seed_traffic(self) -> None:
        """Two days of 5-minute throughput and lag points from the local provider, and the alerts they raise
        (payments.refunds runs near its limit and its reader falls behind)."""
        from clusters.observability import alerts, collect

        for account_pk, region in collect.targets():
            collect.collect(account_pk, region, window=timedelta(days=2))
        evaluation = alerts.evaluate()
        self.stdout.write(f"Traffic: 2 days of points; {len(evaluation.opened)} alert(s) opened")

    def _seed_billing(self) -> None:
        """Last month and this month to date, from the local provider's simulated traffic."""
        from django.utils import timezone

        from billing.chargeback import ChargebackError, compute_run
        from billing.months import current_month, next_month, previous_month
        from billing.pricing import usd
        from billing.usage import collect_usage

        this_month = current_month()
        last_month = previous_month(this_month)
        for month in (last_month, this_month):
            collect_usage(month, min(next_month(month), timezone.now().date() + timedelta(days=1)))
            try:
                run = compute_run(month)
            except ChargebackError:
                continue  # finalized: leave it alone
            self.stdout.write(f"Chargeback {run.label}: {usd(run.total_usd)} ({run.line_count} lines)")
