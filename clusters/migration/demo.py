"""The demo monolith `make run` shows: its inventory (from a file), applications claimed by the demo teams
(one claim left for an admin to decide), their requirements with the roles that get access, the monolith's
cost and an accepted plan, whose page lists what each team files. Written through the services, like a
person would; nothing is filed or replicated, so no AWS call is needed."""

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


ROLE = "arn:aws:iam::111122223333:role/{}"  # roles in the demo's platform account
# What each owning team states (step 2): the roles that get access on the new clusters (consumers with the
# group they read with, as on the monolith), and where the inventory's figures are not the whole story.
REQUIREMENTS = {
    "payments-core": (
        "payments",
        {
            "latency_class": Application.Latency.TIME_SENSITIVE,
            "client_connections": 400,
            "producers": "payments-api, refund-worker",
            "producer_roles": f"{ROLE.format('payments-api')}\n{ROLE.format('refund-worker')}",
            "consumer_roles": "\n".join(
                f"{ROLE.format(group)} {group}" for group in ("ledger", "fraud-check", "notifications")
            ),
        },
    ),
    "card-vault": (
        "payments",
        {
            "contains_pii": True,
            "tolerates_duplicates": False,  # the plan names an exactly-once job for it
            "latency_class": Application.Latency.TIME_SENSITIVE,
            "producers": "vault-api",
            "producer_roles": ROLE.format("vault-api"),
            "consumer_roles": f"{ROLE.format('vault-sync')} vault-sync",
        },
    ),
    "clickstream": (
        "analytics",
        {
            # Half as much again as the inventory saw (53 MB/s in), for the next campaign.
            "peak_in_mbps": Decimal("79.5"),
            "peak_out_mbps": Decimal(159),
            "retention_hours": 72,
            "client_connections": 250,
            "producers": "web-tracker",
            "producer_roles": ROLE.format("web-tracker"),
            "consumer_roles": "\n".join(
                f"{ROLE.format(group)} {group}" for group in ("sessionizer", "warehouse-loader")
            ),
        },
    ),
    "indexer": (
        "search",
        {
            "retention_hours": 24,
            "client_connections": 120,
            "producers": "crawler",
            "producer_roles": ROLE.format("crawler"),
            "consumer_roles": f"{ROLE.format('indexer-main')} indexer-main",
        },
    ),
}


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
    # Every team claimed its applications and an admin approved; analytics' claim on reporting (the file
    # names no team) waits for an admin, so the queue has one to decide.
    for name, slug, decide in (
        ("payments-core", "payments", True),
        ("card-vault", "payments", True),
        ("clickstream", "analytics", True),
        ("indexer", "search", True),
        ("reporting", "analytics", False),
    ):
        application = Application.objects.get(monolith=monolith, name=name)
        member, team = members[slug]
        claim = inventory.claim_application(actor=member, application_id=application.pk, team=team)
        if decide:
            inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=True)
    for name, (slug, values) in REQUIREMENTS.items():
        application = Application.objects.get(monolith=monolith, name=name)
        inventory.update_requirements(actor=members[slug][0], application_id=application.pk, **values)
    plan = planning.create_plan(actor=admin, monolith_id=monolith.pk, backup_region="us-west-2")
    planning.accept_plan(actor=admin, plan_id=plan.pk)
    return monolith
