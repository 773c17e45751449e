"""Money and quantities as people see them: `$1,105.11` on pages, in mails and in Slack; quantities as a
person reads them on pages (`744 cluster-hours`, `11.50 GiB`) and with their 6 documented decimals in the CSVs; the same digits whether the database is SQLite or PostgreSQL.

SQLite sums DecimalFields in floating point and Django returns the sum with up to 15 significant digits
(`Decimal('1105.1100000000000')`); PostgreSQL returns `Decimal('1105.11')`. Both shapes are fed through
the same code below: the formatting functions directly, and `DecimalSum` through Django's own SQLite
converter on a real SQLite connection as well as on the test database.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.core import mail
from django.db.backends.sqlite3.base import DatabaseWrapper as SqliteWrapper
from django.template import Context, Template
from django.test import override_settings
from django.urls import reverse

from billing import budgets
from billing.models import BudgetAlert, ChargebackLine, ChargebackRun
from billing.pricing import quantity_text, usd
from billing.sums import DecimalSum
from portal.models import Team
from tests.billing.conftest import OCTOBER
from tests.conftest import client_for

SQLITE_SHAPES = {  # what Django hands back for a SUM on SQLite → what PostgreSQL hands back
    Decimal("1105.1100000000000"): Decimal("1105.11"),
    Decimal("2894.8900000000000"): Decimal("2894.89"),
    Decimal("2734.45000000000000"): Decimal("2734.45"),
}
# An amount with 4+ digits and no thousands separator, or a money figure with more than 2 decimals.
UNFORMATTED = re.compile(r"\$\d{4}|\$[\d,]+\.\d{3}|\d+\.\d{7,}")


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("1105.1100000000000"), "$1,105.11"),
        (Decimal("1105.11"), "$1,105.11"),
        (Decimal("2894.8900000000000"), "$2,894.89"),
        (Decimal("2734.45000000000000"), "$2,734.45"),
        (Decimal("1234567.891"), "$1,234,567.89"),
        (Decimal("0.005"), "$0.01"),  # half up, as every line is rounded
        (Decimal("0"), "$0.00"),
        (Decimal("-3.2"), "-$3.20"),
        (558, "$558.00"),
        (None, "—"),
    ],
)
def test_usd_is_the_same_for_both_databases_shapes(amount, text):
    assert usd(amount) == text
    assert Template("{% load money %}{{ amount|usd }}").render(Context({"amount": amount})) == text


@pytest.mark.parametrize(
    ("quantity", "unit", "text"),
    [
        # Hours: whole where exact, else to the hundredth; plural unless the figure reads exactly 1.
        (Decimal("744.000000"), "cluster-hour", "744 cluster-hours"),
        (Decimal("1.000000"), "cluster-hour", "1 cluster-hour"),
        (Decimal("2.5"), "cluster-hour", "2.50 cluster-hours"),
        (Decimal("0.270000"), "cluster-hour", "0.27 cluster-hours"),
        (Decimal("109.681234"), "cluster-hour", "109.68 cluster-hours"),
        (Decimal("0.999"), "cluster-hour", "1.00 cluster-hours"),  # rounded, not exact: not "1 cluster-hour"
        (Decimal("0.004"), "cluster-hour", "<0.01 cluster-hours"),  # charged, so not "0"
        (Decimal("0"), "cluster-hour", "0 cluster-hours"),
        (Decimal("12496"), "partition-hour", "12,496 partition-hours"),  # SQLite drops a whole sum's decimals
        (Decimal("12496.000000"), "partition-hour", "12,496 partition-hours"),
        (Decimal("1"), "partition-hour", "1 partition-hour"),
        # Data: to the hundredth of a GiB, to the thousandth below 1 GiB; "GiB" is a symbol, never "GiBs".
        (Decimal("11.5009070000000"), "GiB", "11.50 GiB"),  # SQLite's sum
        (Decimal("1227.110624"), "GiB", "1,227.11 GiB"),
        (Decimal("0.270000"), "GiB", "0.270 GiB"),
        (Decimal("0.9996"), "GiB", "1.00 GiB"),
        (Decimal("0.0004"), "GiB", "<0.001 GiB"),
        (Decimal("0"), "GiB", "0 GiB"),
        (Decimal("266.048312"), "GiB-month", "266.05 GiB-months"),
        (Decimal("0.042"), "GiB-month", "0.042 GiB-months"),
        # A unit the page does not know keeps its stored decimals and its name.
        (Decimal("12345.678900"), "request", "12,345.6789 request"),
        (None, "GiB", "—"),
    ],
)
def test_quantities_read_as_people_say_them(quantity, unit, text):
    assert quantity_text(quantity, unit) == text
    # The filter puts the unit in a span that a narrow column wraps before, not at its hyphen (`.unit`).
    number, _, words = text.partition(" ")
    html = f'{number} <span class="unit">{words}</span>' if words else number
    rendered = Template("{% load money %}{{ q|quantity:unit }}").render(
        Context({"q": quantity, "unit": unit})
    )
    assert rendered == html.replace("<0", "&lt;0")


def test_the_quantity_filter_escapes_a_unit():
    rendered = Template("{% load money %}{{ q|quantity:unit }}").render(Context({"q": 3, "unit": "<b>"}))
    assert rendered == '3 <span class="unit">&lt;b&gt;</span>'


def _line_field(name):
    return ChargebackLine._meta.get_field(name)


@pytest.mark.parametrize(
    ("field", "values", "expected"),
    [
        ("cost_usd", ["552.56", "552.55"], Decimal("1105.11")),
        ("cost_usd", ["0.10", "0.20"], Decimal("0.30")),  # 0.30000000000000004 in floating point
        ("quantity", ["5.250000", "6.250907"], Decimal("11.500907")),
        ("quantity", ["744.000000", "11752.000000"], Decimal("12496.000000")),
    ],
)
def test_decimal_sum_reads_a_real_sqlite_sum_like_postgresql(field, values, expected, django_db_blocker):
    """The sum SQLite computes, through Django's SQLite converter, then DecimalSum's: PostgreSQL's digits."""
    sqlite = SqliteWrapper({"NAME": ":memory:", **_sqlite_defaults()}, alias="money-formatting")
    try:
        with django_db_blocker.unblock(), sqlite.cursor() as cursor:
            cursor.execute("CREATE TABLE line (amount decimal)")
            for value in values:
                stored = sqlite.ops.adapt_decimalfield_value(Decimal(value), 20, 6)
                cursor.execute("INSERT INTO line (amount) VALUES (%s)", [stored])
            cursor.execute("SELECT SUM(amount) FROM line")
            (raw,) = cursor.fetchone()
        aggregate = DecimalSum(field, output_field=_line_field(field))
        value = raw
        for convert in [*sqlite.ops.get_db_converters(aggregate), *aggregate.get_db_converters(sqlite)]:
            value = convert(value, aggregate, sqlite)
    finally:
        sqlite.close()
    without_decimal_sum = sqlite.ops.get_decimalfield_converter(aggregate)(raw, aggregate, sqlite)
    assert str(value) == str(expected)
    assert value.as_tuple().exponent == -_line_field(field).decimal_places
    if field == "quantity":  # what the summary CSV used to print on SQLite
        assert str(without_decimal_sum) != str(expected)


def _sqlite_defaults() -> dict:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "USER": "",
        "PASSWORD": "",
        "HOST": "",
        "PORT": "",
        "OPTIONS": {},
        "TIME_ZONE": None,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "AUTOCOMMIT": True,
        "ATOMIC_REQUESTS": False,
        "TEST": {},
    }


# --- Rendered pages, CSVs, mails and Slack --------------------------------------------------------------


@pytest.fixture
def october_by_hand(team_a, billed_cluster):
    """Team A's October as lines written by hand: $1,105.11 in all, data in 11.500907 GiB, 12,496 hours."""
    run = ChargebackRun.objects.create(month=OCTOBER, total_usd=Decimal("1105.11"), line_count=4)
    base = {
        "run": run,
        "team": team_a,
        "team_name": team_a.name,
        "cost_center": team_a.cost_center,
        "cluster": billed_cluster,
        "cluster_name": billed_cluster.name,
        "region": "us-east-1",
        "account_id": "123456789012",
        "allocation_basis": "dedicated",
        "allocation_ratio": Decimal(1),
    }
    for position, (topic, charge_type, quantity, unit, price, cost) in enumerate(
        [
            ("", "cluster_hours", "744", "cluster-hour", "0.75", "558.00"),
            ("team-a.orders", "partition_hours", "11752", "partition-hour", "0.0015", "17.63"),
            ("team-a.orders", "data_in", "5.250000", "GiB", "0.10", "0.53"),
            ("team-a.orders", "data_in", "6.250907", "GiB", "0.10", "528.95"),
        ],
        start=1,
    ):
        ChargebackLine.objects.create(
            **base,
            position=position,
            topic_name=topic,
            charge_type=charge_type,
            quantity=Decimal(quantity),
            unit=unit,
            unit_price_usd=Decimal(price),
            cost_usd=Decimal(cost),
        )
    ChargebackRun.objects.filter(pk=run.pk).update(computed_at=dt.datetime(2026, 11, 1, 3, tzinfo=dt.UTC))
    Team.objects.filter(pk=team_a.pk).update(monthly_budget_usd=Decimal("4000.00"))
    return run


def assert_formatted(body: str) -> None:
    assert not UNFORMATTED.search(body), UNFORMATTED.search(body)[0]


def test_the_team_cost_page_shows_formatted_money(october_by_hand, member_a):
    body = (
        client_for(member_a)
        .get(reverse("billing:team-costs", kwargs={"slug": "team-a"}), {"month": "2026-10"})
        .content.decode()
    )
    assert '<dd id="team-total">$1,105.11</dd>' in body
    assert "$1,105.11 of $4,000.00 (27.6 %), $2,894.89 left." in body
    assert (
        '<td class="num">$558.00</td>' in body and '<td class="num">$547.11</td>' in body
    )  # by cluster/topic
    assert '<td class="num quantity">744 <span class="unit">cluster-hours</span></td>' in body
    assert '<td class="num quantity">11,752 <span class="unit">partition-hours</span></td>' in body
    assert '<td class="num quantity">11.50 <span class="unit">GiB</span></td>' in body
    assert "2026-10: $1,105.11 (provisional)" in body  # the trend chart's bar title
    assert_formatted(body)


def test_the_finance_page_shows_formatted_money(october_by_hand, finance):
    body = client_for(finance).get(reverse("billing:finance"), {"month": "2026-10"}).content.decode()
    assert '<dd id="run-total">$1,105.11</dd>' in body
    assert '<strong id="grand-total">$1,105.11</strong>' in body
    assert "<strong>$1,105.11</strong>" in body  # the team's total row
    assert "2026-10</a> Provisional · $1,105.11" in body
    # The team's lines by charge type, each quantity with its unit in the plural.
    assert (
        '<td class="num quantity">744 <span class="unit">cluster-hours</span></td><td class="num">$558.00</td>'
        in body
    )
    assert (
        '<td class="num quantity">11.50 <span class="unit">GiB</span></td><td class="num">$529.48</td>'
        in body
    )
    assert_formatted(body)


def test_the_summary_csv_writes_six_decimals_for_every_quantity(october_by_hand, finance):
    response = client_for(finance).get(
        reverse("billing:run-csv", kwargs={"month": "2026-10", "kind": "summary"})
    )
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    quantities = {row["charge_type"]: row["quantity"] for row in rows if row["charge_type"] != "total"}
    assert quantities == {
        "cluster_hours": "744.000000",
        "data_in": "11.500907",
        "partition_hours": "11752.000000",
    }
    assert [row["cost_usd"] for row in rows if row["charge_type"] == "total"] == ["1105.11", "1105.11"]


@override_settings(SLACK_WEBHOOK_URL="https://hooks.slack.example/T000/B000/XXXX")
def test_budget_alert_mail_and_slack_show_formatted_money(october_by_hand, team_a, member_a, monkeypatch):
    posted = []
    monkeypatch.setattr("portal.slack.post", lambda text: posted.append(text) or True)
    alert = BudgetAlert.objects.create(
        team=team_a,
        month=OCTOBER,
        threshold_percent=80,
        spent_usd=Decimal("1105.11"),
        budget_usd=Decimal("1200.00"),
    )
    budgets.send(alert.pk)
    [message] = mail.outbox
    assert "(month to date, provisional)" in message.body
    assert "Team A has spent $1,105.11 of its $1,200.00 monthly budget for October 2026" in message.body
    assert message.subject.endswith("reached 80 % of its October 2026 budget ($1,105.11 of $1,200.00)")
    [text] = posted
    assert "($1,105.11 of $1,200.00)" in text
    assert_formatted(message.body + message.subject + text)
