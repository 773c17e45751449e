"""MSK Serverless pricing: pure functions over Decimal (no ORM), shared by estimates and chargeback.

Units: data is metered in GiB (2^30 bytes); throughput in the request forms is MB/s (10^6 bytes/s);
a month is 730 hours. Amounts are rounded half-up to the cent per line; totals are sums of rounded lines,
so a total always equals the sum of the lines shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

HOURS_PER_MONTH = Decimal(730)
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
BYTES_PER_MB = Decimal(10**6)
BYTES_PER_GIB = Decimal(2**30)
CENT = Decimal("0.01")
QUANTITY = Decimal("0.000001")  # quantities (hours, GiB, GiB-months) keep 6 decimals
# Storage estimate when retention is unlimited: one month of data (labelled as an estimate everywhere).
UNLIMITED_RETENTION_ESTIMATE_SECONDS = SECONDS_PER_MONTH


@dataclass(frozen=True)
class Rates:
    cluster_hour: Decimal
    partition_hour: Decimal
    gib_in: Decimal
    gib_out: Decimal
    gib_month: Decimal


LIST_PRICES = Rates(  # us-east-1 list prices (shared/reference/msk-serverless.md §2.2)
    cluster_hour=Decimal("0.75"),
    partition_hour=Decimal("0.0015"),
    gib_in=Decimal("0.10"),
    gib_out=Decimal("0.05"),
    gib_month=Decimal("0.10"),
)


@dataclass(frozen=True)
class CostLine:
    charge_type: str  # cluster_hours, partition_hours, data_in, data_out, storage
    quantity: Decimal
    unit: str
    unit_price: Decimal
    cost: Decimal


@dataclass(frozen=True)
class CostEstimate:
    lines: tuple[CostLine, ...]

    @property
    def total(self) -> Decimal:
        return sum((line.cost for line in self.lines), Decimal("0.00"))

    def as_dict(self) -> dict:
        return {
            "total_usd": str(self.total),
            "lines": [
                {
                    "charge_type": line.charge_type,
                    "quantity": str(line.quantity),
                    "unit": line.unit,
                    "unit_price_usd": str(line.unit_price),
                    "cost_usd": str(line.cost),
                }
                for line in self.lines
            ],
        }


def estimate_from_dict(data: dict) -> CostEstimate:
    """The inverse of `CostEstimate.as_dict()`, for estimates stored with a request."""
    return CostEstimate(
        tuple(
            CostLine(
                line["charge_type"],
                Decimal(line["quantity"]),
                line["unit"],
                Decimal(line["unit_price_usd"]),
                Decimal(line["cost_usd"]),
            )
            for line in data.get("lines", [])
        )
    )


def money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def usd(amount: Decimal | int | str | None) -> str:
    """An amount as people read it, on pages, in mails and in Slack: `$1,105.11`, `-$3.20`; None → "—"."""
    if amount is None or amount == "":
        return "—"
    cents = money(Decimal(amount))
    return f"{'-' if cents < 0 else ''}${abs(cents):,.2f}"


# How a page shows a metered quantity, by its unit: hours whole where exact, else to the hundredth; data to
# the hundredth of a GiB, to the thousandth below 1 GiB (a small topic's 0.270 GiB would read 0.27 next to
# 1,227.11). Units are English nouns, plural unless the figure reads exactly 1; "GiB" is a symbol.
HOUR_UNITS = {"cluster-hour": "cluster-hours", "partition-hour": "partition-hours"}
DATA_UNITS = {"GiB": "GiB", "GiB-month": "GiB-months"}


def quantity_text(quantity: Decimal | int | str | None, unit: str) -> str:
    """A metered quantity and its unit on a page: `744 cluster-hours`, `2.50 cluster-hours`, `1 cluster-hour`,
    `1,227.11 GiB`, `0.270 GiB-months`; None → "—". The CSVs keep all 6 decimals and the unit as stored."""
    if quantity is None or quantity == "":
        return "—"
    amount = Decimal(quantity)
    if unit in HOUR_UNITS:
        whole = amount == amount.to_integral_value()
        number = _grouped(amount, Decimal(1) if whole else CENT)
    elif unit in DATA_UNITS:
        small = amount.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP) < 1
        number = "0" if amount == 0 else _grouped(amount, Decimal("0.001") if small else CENT)
    else:  # a unit this list does not know: every stored decimal that is not a trailing zero
        number = _grouped(amount, QUANTITY).rstrip("0").rstrip(".")
    plural = {**HOUR_UNITS, **DATA_UNITS}.get(unit, unit)
    return f"{number} {unit if number == '1' else plural}"


def unit_price_text(price: Decimal | int | str | None, unit: str) -> str:
    """A rate as people read it: `$0.0015 per partition-hour`, `$0.75 per cluster-hour`, `$0.10 per GiB`,
    `$1,200.00 per cluster-hour`; exact (cents, and every further decimal the rate has: a list price of
    0.0015 is not $0.00), thousands grouped; None → "—"."""
    if price is None or price == "":
        return "—"
    amount = Decimal(price)
    decimals = max(2, -amount.normalize().as_tuple().exponent)
    figure = f"{'-' if amount < 0 else ''}${abs(amount):,.{decimals}f}"
    return f"{figure} per {unit}" if unit else figure


def _grouped(amount: Decimal, step: Decimal) -> str:
    """`amount` half up to `step`, thousands grouped; an amount above 0 but below `step` reads `<0.01`, not 0."""
    rounded = amount.quantize(step, rounding=ROUND_HALF_UP)
    if rounded == 0 and amount > 0:
        return f"<{step}"
    decimals = max(0, -step.as_tuple().exponent)
    return f"{rounded:,.{decimals}f}"


def mbps_to_gib_per_month(mbps: Decimal) -> Decimal:
    return (Decimal(mbps) * BYTES_PER_MB * SECONDS_PER_MONTH / BYTES_PER_GIB).quantize(Decimal("0.001"))


def stored_gib_estimate(
    *, in_mbps: Decimal, retention_ms: int, retention_bytes: int, partitions: int
) -> Decimal:
    """Average GiB kept: write rate × retention time, capped by retention.bytes per partition."""
    seconds = (
        UNLIMITED_RETENTION_ESTIMATE_SECONDS if retention_ms in (-1, None) else Decimal(retention_ms) / 1000
    )
    stored_bytes = Decimal(in_mbps) * BYTES_PER_MB * seconds
    if retention_bytes not in (-1, None):
        stored_bytes = min(stored_bytes, Decimal(retention_bytes) * partitions)
    return (stored_bytes / BYTES_PER_GIB).quantize(Decimal("0.001"))


def _line(charge_type: str, quantity: Decimal, unit: str, unit_price: Decimal) -> CostLine:
    return CostLine(charge_type, quantity, unit, unit_price, money(quantity * unit_price))


def monthly_estimate(
    rates: Rates,
    *,
    clusters: int = 0,
    partitions: int = 0,
    in_mbps: Decimal = Decimal(0),
    out_mbps: Decimal = Decimal(0),
    storage_gib: Decimal = Decimal(0),
) -> CostEstimate:
    """A month of steady use at the given rates; lines with zero quantity are left out."""
    candidates = [
        ("cluster_hours", HOURS_PER_MONTH * clusters, "cluster-hour", rates.cluster_hour),
        ("partition_hours", HOURS_PER_MONTH * partitions, "partition-hour", rates.partition_hour),
        ("data_in", mbps_to_gib_per_month(in_mbps), "GiB", rates.gib_in),
        ("data_out", mbps_to_gib_per_month(out_mbps), "GiB", rates.gib_out),
        ("storage", Decimal(storage_gib), "GiB-month", rates.gib_month),
    ]
    return CostEstimate(tuple(_line(*c) for c in candidates if c[1] > 0))


def topic_monthly_estimate(
    rates: Rates,
    *,
    partitions: int,
    in_mbps: Decimal,
    out_mbps: Decimal,
    retention_ms: int | None,
    retention_bytes: int | None,
) -> CostEstimate:
    """A topic's month: its partitions, data in and out, and the storage its retention keeps. Topic requests
    and migration plans price a topic with this one function, so the same topic costs the same in both."""
    storage = stored_gib_estimate(
        in_mbps=in_mbps, retention_ms=retention_ms, retention_bytes=retention_bytes, partitions=partitions
    )
    return monthly_estimate(
        rates, partitions=partitions, in_mbps=in_mbps, out_mbps=out_mbps, storage_gib=storage
    )


def combined(estimates: list[CostEstimate]) -> CostEstimate:
    """Several estimates as one, a line per charge type: quantities and (already rounded) costs added up, so
    its total is exactly the sum of the estimates' totals. They must be priced at one rate card."""
    lines: dict[str, CostLine] = {}
    for estimate in estimates:
        for line in estimate.lines:
            have = lines.get(line.charge_type)
            if have is None:
                lines[line.charge_type] = line
                continue
            if have.unit_price != line.unit_price:
                raise ValueError(
                    f"{line.charge_type} is priced at two rates: {have.unit_price}, {line.unit_price}."
                )
            lines[line.charge_type] = CostLine(
                line.charge_type,
                have.quantity + line.quantity,
                line.unit,
                line.unit_price,
                have.cost + line.cost,
            )
    order = ("cluster_hours", "partition_hours", "data_in", "data_out", "storage")
    return CostEstimate(tuple(sorted(lines.values(), key=lambda line: order.index(line.charge_type))))
