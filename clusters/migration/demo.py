"""The demo monolith `make run` shows: its inventory (from a file), applications claimed by the demo teams,
requirements, the monolith's cost and a first plan. Written through the services, like a person would."""

from __future__ import annotations

from decimal import Decimal

from clusters.migration import inventory, planning
from clusters.migration.models import Application, Monolith

NAME = "legacy-kafka"
INVENTORY = (
    "topic,partitions,retention_ms,peak_in_mbps,peak_out_mbps,application,team,consumer_groups,compacted\n"
    "payments.transactions,24,604800000,35,105,payments-core,payments,ledger;fraud-check;notifications,no\n"
    "payments.refunds,6,604800000,2,4,payments-core,payments,ledger,no\n"
    "payments.card-vault,6,2592000000,4,4,card-vault,payments,vault-sync,no\n"
    "search.documents,48,86400000,60,120,indexer,search,indexer-main,no\n"
    "search.index-state,12,-1,1,1,indexer,search,indexer-main,yes\n"
    "clicks.raw,8,86400000,45,90,clickstream,analytics,sessionizer;warehouse-loader,no\n"
    "clicks.sessions,12,604800000,8,16,clickstream,analytics,warehouse-loader,no\n"
    "reports.daily,3,2592000000,0.5,1,reporting,,bi-export,no\n"
)


def seed(*, admin, members: dict) -> Monolith | None:
    """Once: a second run finds the monolith and changes nothing."""
    if Monolith.objects.filter(name=NAME).exists():
        return None
    monolith = inventory.register_monolith(
        actor=admin,
        name=NAME,
        bootstrap="kafka-1.legacy.internal:9096,kafka-2.legacy.internal:9096",
        security_protocol=Monolith.Security.SASL_SSL,
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="msk-portal-reader",
        password_env="LEGACY_KAFKA_PASSWORD",  # noqa: S106 - the name of an environment variable
        region="us-east-1",
    )
    inventory.import_csv(
        actor=admin, monolith_id=monolith.pk, content=INVENTORY.encode(), filename="legacy-kafka.csv"
    )
    inventory.discover_applications(actor=admin, monolith_id=monolith.pk)
    inventory.set_monolith_cost(actor=admin, monolith_id=monolith.pk, monthly_cost_usd=Decimal("14500"))
    # Payments and analytics claimed theirs and an admin approved; search's claim waits; reporting is unclaimed.
    for name, slug, decide in (
        ("payments-core", "payments", True),
        ("card-vault", "payments", True),
        ("clickstream", "analytics", True),
        ("indexer", "search", False),
    ):
        application = Application.objects.get(monolith=monolith, name=name)
        member, team = members[slug]
        claim = inventory.claim_application(actor=member, application_id=application.pk, team=team)
        if decide:
            inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=True)
    vault = Application.objects.get(monolith=monolith, name="card-vault")
    inventory.update_requirements(
        actor=members["payments"][0],
        application_id=vault.pk,
        contains_pii=True,
        tolerates_duplicates=False,
        latency_class=Application.Latency.TIME_SENSITIVE,
    )
    core = Application.objects.get(monolith=monolith, name="payments-core")
    inventory.update_requirements(
        actor=members["payments"][0],
        application_id=core.pk,
        latency_class=Application.Latency.TIME_SENSITIVE,
        client_connections=400,
    )
    planning.create_plan(actor=admin, monolith_id=monolith.pk, backup_region="us-west-2")
    return monolith
