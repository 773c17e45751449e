"""The three chargeback CSVs of a month, as header + row generators (reads only, constant memory).

Rows come from `.iterator()` querysets (lines) or small database aggregates (summary), never from a list of
every line. Nothing in a row depends on when the run was computed, so recomputing a provisional month with
the same inputs gives byte-identical files. `portal.csv_export` writes them (formula-safe).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from billing.models import ChargebackLine, ChargebackRun
from billing.months import month_bounds
from billing.sums import DecimalSum

CHUNK = 2000
STORAGE = ChargebackLine.ChargeType.STORAGE
ESTIMATE_UNIT = "GiB-month (estimate)"
TOTAL = "total"
ALL_TEAMS = "All teams"

SUMMARY_HEADER = ("month", "team", "cost_center", "charge_type", "quantity", "unit", "cost_usd")
LINES_HEADER = (
    "month",
    "team",
    "cost_center",
    "cluster",
    "topic",
    "charge_type",
    "quantity",
    "unit",
    "unit_price_usd",
    "cost_usd",
    "allocation_basis",
    "allocation_ratio",
)
FOCUS_MANDATORY = (
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
)
FOCUS_HEADER = (
    *FOCUS_MANDATORY,
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "RegionId",
    "SubAccountId",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ListUnitPrice",
    "SkuMeter",
    "Tags",
    "x_Team",
    "x_CostCenter",
    "x_AllocationBasis",
    "x_AllocationRatio",
    "x_Provisional",
    "x_DerivedAllocation",
)

SERVICE_NAME = "Amazon Managed Streaming for Apache Kafka"
SERVICE_CATEGORY = "Analytics"  # as AWS files MSK (docs/billing.md, "FOCUS export")
PROVIDER = "AWS"
INVOICE_ISSUER = "Amazon Web Services, Inc."
RESOURCE_TYPE = "Kafka Serverless Cluster"
SKU_METERS = {
    "cluster_hours": "Cluster Hours",
    "partition_hours": "Partition Hours",
    "data_in": "Data In",
    "data_out": "Data Out",
    "storage": "Storage",
}
CHARGE_WORDS = {
    "cluster_hours": "cluster-hours",
    "partition_hours": "partition-hours",
    "data_in": "data in",
    "data_out": "data out",
    "storage": "storage (estimate: MSK Serverless publishes no storage metric; from bytes written and retention)",
}
BASIS_WORDS = dict(ChargebackLine.Basis.choices)

LINE_FIELDS = (
    "team_name",
    "cost_center",
    "cluster_name",
    "cluster_arn",
    "region",
    "account_id",
    "environment",
    "topic_name",
    "charge_type",
    "quantity",
    "unit",
    "unit_price_usd",
    "cost_usd",
    "allocation_basis",
    "allocation_ratio",
)


@dataclass(frozen=True)
class Export:
    kind: str
    header: Sequence[str]
    rows: Iterator[Sequence[object]]
    filename: str


def _qty(value: Decimal) -> str:
    return format(value, "f")


def _usd(value: Decimal) -> str:
    return f"{value:.2f}"


def _lines(run: ChargebackRun):
    return (
        ChargebackLine.objects.filter(run=run)
        .order_by("position")
        .values_list(*LINE_FIELDS)
        .iterator(chunk_size=CHUNK)
    )


def summary_rows(run: ChargebackRun) -> Iterator[tuple]:
    """One row per team and charge type, then one total row per team, then the grand total."""
    label = run.label
    lines = ChargebackLine.objects.filter(run=run)
    for row in (
        lines.values_list("team_name", "cost_center", "charge_type", "unit")
        .annotate(quantity=DecimalSum("quantity"), cost=DecimalSum("cost_usd"))
        .order_by("team_name", "cost_center", "charge_type", "unit")
    ):
        team, cost_center, charge_type, unit, quantity, cost = row
        unit = ESTIMATE_UNIT if charge_type == STORAGE else unit
        yield (label, team, cost_center, charge_type, _qty(quantity), unit, _usd(cost))
    for team, cost_center, cost in (
        lines.values_list("team_name", "cost_center")
        .annotate(cost=DecimalSum("cost_usd"))
        .order_by("team_name", "cost_center")
    ):
        yield (label, team, cost_center, TOTAL, "", "", _usd(cost))
    grand = lines.aggregate(cost=DecimalSum("cost_usd"))["cost"] or Decimal("0.00")
    yield (label, ALL_TEAMS, "", TOTAL, "", "", _usd(grand))


def line_rows(run: ChargebackRun) -> Iterator[tuple]:
    label = run.label
    for (
        team,
        cost_center,
        cluster,
        _arn,
        _region,
        _account,
        _env,
        topic,
        charge_type,
        quantity,
        unit,
        price,
        cost,
        basis,
        ratio,
    ) in _lines(run):
        yield (
            label,
            team,
            cost_center,
            cluster,
            topic,
            charge_type,
            _qty(quantity),
            unit,
            _qty(price),
            _usd(cost),
            basis,
            _qty(ratio),
        )


def _description(charge_type: str, cluster: str, topic: str, team: str, basis: str) -> str:
    where = f"cluster {cluster}" + (f", topic {topic}" if topic else "")
    return (
        f"Derived allocation (not an AWS invoice line): MSK Serverless {CHARGE_WORDS[charge_type]} on {where}, "
        f"allocated to {team} by {BASIS_WORDS.get(basis, basis).lower()}"
    )


def focus_rows(run: ChargebackRun) -> Iterator[tuple]:
    """FOCUS 1.2 rows: every mandatory column, resource and SKU detail, and the allocation in x_ columns."""
    start, end = month_bounds(run.month)
    period_start, period_end = start.strftime("%Y-%m-%dT%H:%M:%SZ"), end.strftime("%Y-%m-%dT%H:%M:%SZ")
    # The charges cover the month up to where the run metered it (the whole month once it is over).
    charged_until = min(run.metered_until or end, end).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    provisional = "true" if run.status == ChargebackRun.Status.PROVISIONAL else "false"
    for (
        team,
        cost_center,
        cluster,
        arn,
        region,
        account,
        env,
        topic,
        charge_type,
        quantity,
        unit,
        price,
        cost,
        basis,
        ratio,
    ) in _lines(run):
        tags = {"team": team, "cost-center": cost_center, "env": env, "cluster": cluster}
        if topic:
            tags["topic"] = topic
        cost_text = _usd(cost)
        yield (
            cost_text,
            account,
            f"AWS account {account}",
            "USD",
            period_start,
            period_end,
            "Usage",
            "",
            _description(charge_type, cluster, topic, team, basis),
            period_start,
            charged_until,
            cost_text,
            cost_text,
            INVOICE_ISSUER,
            cost_text,
            _qty(quantity),
            unit,
            PROVIDER,
            PROVIDER,
            SERVICE_CATEGORY,
            SERVICE_NAME,
            arn,
            cluster,
            RESOURCE_TYPE,
            region,
            account,
            _qty(quantity),
            unit,
            _qty(price),
            SKU_METERS[charge_type],
            json.dumps(tags, sort_keys=True, separators=(",", ":")),
            team,
            cost_center,
            basis,
            _qty(ratio),
            provisional,
            "true",
        )


KINDS = {
    "summary": (SUMMARY_HEADER, summary_rows),
    "lines": (LINES_HEADER, line_rows),
    "focus": (FOCUS_HEADER, focus_rows),
}


def export(run: ChargebackRun, kind: str) -> Export:
    """One of the three CSVs of `run` (`kind`: summary, lines or focus)."""
    header, rows = KINDS[kind]
    return Export(kind, header, rows(run), f"chargeback-{run.label}-{kind}.csv")
