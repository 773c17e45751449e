"""Chargeback for people: the finance page, team cost pages, the three CSVs, the API and the command."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from billing import chargeback, exports, months
from billing.models import ChargebackLine, ChargebackRun
from billing.pricing import usd
from portal.models import AuditEvent, Team
from tests.billing.conftest import OCTOBER, at, make_topic
from tests.billing.test_chargeback_runs import GIB, platform_team, usage  # noqa: F401 (fixture)
from tests.conftest import client_for

KINDS = ("summary", "lines", "focus")


@pytest.fixture
def october(shared_cluster, billed_cluster, team_a, team_b, platform_team):  # noqa: F811
    """A shared cluster (split by bytes, one unknown topic) and team A's dedicated cluster, computed."""
    make_topic(shared_cluster, team_a, "team-a.clicks", (at(1, month=9), 1))
    make_topic(shared_cluster, team_b, "=team-b.orders", (at(1, month=9), 1))  # a name starting with "="
    make_topic(billed_cluster, team_a, "team-a.orders", (at(1, month=9), 3), configs={"retention.ms": -1})
    usage(shared_cluster, "team-a.clicks", dt.date(2026, 10, 3), bytes_in=1 * GIB, bytes_out=1 * GIB)
    usage(shared_cluster, "=team-b.orders", dt.date(2026, 10, 3), bytes_in=3 * GIB, bytes_out=3 * GIB)
    usage(shared_cluster, "legacy.unknown", dt.date(2026, 10, 3), bytes_in=2 * GIB)
    usage(billed_cluster, "team-a.orders", dt.date(2026, 10, 7), bytes_in=5 * GIB, bytes_out=7 * GIB)
    return chargeback.compute_run(OCTOBER)


def download(client, month: str, kind: str, *, api: bool = False) -> bytes:
    name = f"billing-api:run-{kind}-csv" if api else "billing:run-csv"
    kwargs = {"month": month} if api else {"month": month, "kind": kind}
    response = client.get(reverse(name, kwargs=kwargs))
    assert response.status_code == 200, response.content
    assert response["Content-Disposition"] == f'attachment; filename="chargeback-{month}-{kind}.csv"'
    return b"".join(response.streaming_content)


def rows(body: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body.decode())))


# --- CSVs ---------------------------------------------------------------------------------------------


def test_recomputing_a_provisional_month_gives_byte_identical_csvs(october, finance):
    client = client_for(finance)
    before = {kind: download(client, "2026-10", kind) for kind in KINDS}
    response = client.post(reverse("billing:run-recompute", kwargs={"month": "2026-10"}))
    assert response.status_code == 302
    run = ChargebackRun.objects.get(month=OCTOBER)
    assert run.computed_at > october.computed_at  # really recomputed (new line rows)
    after = {kind: download(client, "2026-10", kind) for kind in KINDS}
    assert after == before
    assert download(client, "2026-10", "focus", api=True) == before["focus"]


def test_summary_totals_equal_the_lines_to_the_cent(october, finance):
    client = client_for(finance)
    summary = rows(download(client, "2026-10", "summary"))
    lines = rows(download(client, "2026-10", "lines"))
    assert list(summary[0]) == list(exports.SUMMARY_HEADER) and list(lines[0]) == list(exports.LINES_HEADER)
    per_type = [row for row in summary if row["charge_type"] != "total"]
    team_totals = {
        row["team"]: Decimal(row["cost_usd"]) for row in summary[:-1] if row["charge_type"] == "total"
    }
    [grand] = [row for row in summary if row["team"] == exports.ALL_TEAMS]
    by_team: dict[str, Decimal] = {}
    for line in lines:
        by_team[line["team"]] = by_team.get(line["team"], Decimal(0)) + Decimal(line["cost_usd"])
    assert (
        team_totals
        == by_team
        == {
            team: sum((Decimal(row["cost_usd"]) for row in per_type if row["team"] == team), Decimal(0))
            for team in by_team
        }
    )
    assert Decimal(grand["cost_usd"]) == sum(by_team.values()) == october.total_usd
    assert summary[-1] == grand  # totals come last, the grand total at the very end
    assert {row["team"] for row in per_type} == {"Team A", "Team B", "Platform"}
    storage = [row for row in per_type if row["charge_type"] == "storage"]
    assert storage and all(row["unit"] == "GiB-month (estimate)" for row in storage)


def test_lines_csv_is_formula_safe_and_in_position_order(october, finance):
    lines = rows(download(client_for(finance), "2026-10", "lines"))
    assert len(lines) == october.line_count
    assert "'=team-b.orders" in {line["topic"] for line in lines}
    expected = list(ChargebackLine.objects.filter(run=october).order_by("position"))
    assert [(line["team"], line["cost_usd"]) for line in lines] == [
        (x.team_name, str(x.cost_usd)) for x in expected
    ]


def test_focus_csv_has_every_mandatory_column_and_marks_the_derived_allocation(october, finance):
    focus = rows(download(client_for(finance), "2026-10", "focus"))
    assert list(focus[0]) == list(exports.FOCUS_HEADER)
    assert len(exports.FOCUS_MANDATORY) == 21
    row = next(r for r in focus if r["SkuMeter"] == "Cluster Hours" and r["x_Team"] == "Team B")
    assert row["ServiceName"] == "Amazon Managed Streaming for Apache Kafka"
    assert (
        row["ServiceCategory"] == "Analytics"
        and row["ChargeCategory"] == "Usage"
        and row["ChargeClass"] == ""
    )
    assert row["BillingCurrency"] == "USD" and row["BillingPeriodStart"] == "2026-10-01T00:00:00Z"
    assert row["BillingPeriodEnd"] == row["ChargePeriodEnd"] == "2026-11-01T00:00:00Z"
    assert row["BilledCost"] == row["EffectiveCost"] == row["ListCost"] == row["ContractedCost"] == "334.80"
    assert row["ResourceId"].startswith("arn:aws:kafka:us-east-1:123456789012:cluster/events-write/")
    assert row["x_AllocationBasis"] == "usage_share" and row["x_AllocationRatio"] == "0.600000"
    assert row["x_Provisional"] == "true" and row["x_DerivedAllocation"] == "true"
    assert row["ChargeDescription"].startswith("Derived allocation (not an AWS invoice line)")
    assert json.loads(row["Tags"]) == {
        "team": "Team B",
        "cost-center": "CC-B",
        "env": "prod",
        "cluster": "events-write",
    }
    storage = [r for r in focus if r["SkuMeter"] == "Storage"]
    assert storage and all("estimate" in r["ChargeDescription"] for r in storage)
    total = sum((Decimal(r["BilledCost"]) for r in focus), Decimal(0))
    assert total == october.total_usd


def test_a_finalized_month_is_marked_final_in_the_focus_csv(october, finance):
    chargeback.finalize_run(run_id=october.pk, actor=finance)
    focus = rows(download(client_for(finance), "2026-10", "focus"))
    assert {row["x_Provisional"] for row in focus} == {"false"}


# --- Finance page and actions -------------------------------------------------------------------------


def test_finance_page_shows_every_team_the_run_and_the_downloads(october, finance):
    response = client_for(finance).get(reverse("billing:finance"), {"month": "2026-10"})
    body = response.content.decode()
    assert response.status_code == 200
    for text in (
        "Team A",
        "Team B",
        "Platform",
        "CC-A",
        "CC-B",
        "CC-P",
        "Provisional",
        usd(october.total_usd),
    ):
        assert text in body
    for kind in KINDS:
        assert reverse("billing:run-csv", kwargs={"month": "2026-10", "kind": kind}) in body
    assert "Finalize 2026-10" in body and "Recompute 2026-10" in body and "Storage (estimate)" in body


def test_admins_recompute_but_do_not_finalize(october, admin):
    body = client_for(admin).get(reverse("billing:finance"), {"month": "2026-10"}).content.decode()
    assert "Recompute 2026-10" in body and "Finalize 2026-10" not in body
    response = client_for(admin).post(
        reverse("billing:run-finalize", kwargs={"month": "2026-10"}), {"confirm": "yes"}
    )
    assert response.status_code == 403
    assert ChargebackRun.objects.get(pk=october.pk).status == "provisional"


@pytest.mark.parametrize("month", ["2026-13", "October", "0001-01", "2026-10-01"])
def test_a_bad_month_is_a_readable_400(month, finance):
    response = client_for(finance).get(reverse("billing:finance"), {"month": month})
    assert response.status_code == 400
    assert "YYYY-MM" in response.content.decode() or "between" in response.content.decode()
    response = client_for(finance).get(reverse("billing:run-csv", kwargs={"month": month, "kind": "summary"}))
    assert response.status_code == 400
    response = client_for(finance).get(reverse("billing-api:run-detail", kwargs={"month": month}))
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert "month" in response.json()["field_errors"]


def test_a_month_without_a_run_is_a_404_for_the_csvs(finance):
    response = client_for(finance).get(
        reverse("billing:run-csv", kwargs={"month": "2026-10", "kind": "lines"})
    )
    assert response.status_code == 404
    response = client_for(finance).get(
        reverse("billing:run-csv", kwargs={"month": "2026-10", "kind": "other"})
    )
    assert response.status_code == 404


def test_finalize_needs_the_confirmation(october, finance):
    response = client_for(finance).post(reverse("billing:run-finalize", kwargs={"month": "2026-10"}))
    assert response.status_code == 400 and "confirmation" in response.content.decode()
    assert ChargebackRun.objects.get(pk=october.pk).status == "provisional"


def test_a_month_that_is_not_over_cannot_be_finalized(finance, token_for):
    # The finance page offered "Finalize" for the month to date (and any future month once recomputed):
    # finalized, the rest of the month's usage would never be charged.
    for month in (months.current_month(), months.next_month(months.current_month())):
        label = f"{month:%Y-%m}"
        client = client_for(finance)
        assert client.post(reverse("billing:run-recompute", kwargs={"month": label})).status_code == 302
        page = client.get(reverse("billing:finance"), {"month": label}).content.decode()
        assert f"Recompute {label}" in page and f"Finalize {label}" not in page
        assert f"{label} can be finalized once it is over." in page
        response = client.post(reverse("billing:run-finalize", kwargs={"month": label}), {"confirm": "yes"})
        assert response.status_code == 409
        assert f"{label} is not over yet" in response.content.decode()
        headers = {"Authorization": f"Bearer {token_for(finance)}"}
        api = client_for(None).post(
            reverse("billing-api:run-finalize", kwargs={"month": label}), headers=headers
        )
        assert api.status_code == 409 and api.json()["code"] == "conflict"
        assert ChargebackRun.objects.get(month=month).status == "provisional"


def test_finalized_month_is_immutable_via_html_and_api(october, finance, admin, token_for):
    client = client_for(finance)
    response = client.post(reverse("billing:run-finalize", kwargs={"month": "2026-10"}), {"confirm": "yes"})
    assert response.status_code == 302
    run = ChargebackRun.objects.get(pk=october.pk)
    assert run.status == "finalized" and run.finalized_by == finance
    snapshot = list(ChargebackLine.objects.filter(run=run).order_by("position").values())
    csvs = {kind: download(client, "2026-10", kind) for kind in KINDS}

    for user, name, data in (
        (finance, "billing:run-recompute", {}),
        (admin, "billing:run-recompute", {}),
        (finance, "billing:run-finalize", {"confirm": "yes"}),
    ):
        response = client_for(user).post(reverse(name, kwargs={"month": "2026-10"}), data)
        assert response.status_code == 409
        assert "2026-10 is " in response.content.decode() and "finalized" in response.content.decode()

    headers = {"Authorization": f"Bearer {token_for(finance)}"}
    response = client_for(None).post(
        reverse("billing-api:run-finalize", kwargs={"month": "2026-10"}), headers=headers
    )
    assert response.status_code == 409
    assert response.json() == {
        "code": "conflict",
        "message": "2026-10 is already finalized.",
        "field_errors": {},
    }

    assert list(ChargebackLine.objects.filter(run=run).order_by("position").values()) == snapshot
    assert ChargebackRun.objects.get(pk=run.pk).finalized_at == run.finalized_at
    assert {kind: download(client, "2026-10", kind) for kind in KINDS} == csvs
    assert AuditEvent.objects.filter(action="billing.chargeback.finalized").count() == 1


def test_finalize_via_the_api(october, finance, token_for):
    headers = {"Authorization": f"Bearer {token_for(finance)}"}
    url = reverse("billing-api:run-finalize", kwargs={"month": "2026-10"})
    response = client_for(None).post(url, headers=headers)
    assert response.status_code == 200 and response.json()["status"] == "finalized"
    assert response.json()["finalized_by"] == "finance"
    response = client_for(None).post(
        reverse("billing-api:run-finalize", kwargs={"month": "2026-09"}), headers=headers
    )
    assert response.status_code == 404


# --- Team pages -------------------------------------------------------------------------------------


def test_member_sees_their_team_costs_only(october, member_a, team_b):
    client = client_for(member_a)
    response = client.get(reverse("billing:team-costs", kwargs={"slug": "team-a"}), {"month": "2026-10"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "team-a.clicks" in body and "team-a.orders" in body and "events-write" in body
    assert "team-b.orders" not in body and "CC-B" not in body
    assert "<svg" in body and 'role="img"' in body and "Storage (estimate)" in body
    assert client.get(reverse("billing:team-costs", kwargs={"slug": "team-b"})).status_code == 404
    assert client.get(reverse("billing:team-costs", kwargs={"slug": "nope"})).status_code == 404
    assert client.get(reverse("billing:finance")).status_code == 403
    nav = client.get(reverse("portal:dashboard")).content.decode()
    assert (
        reverse("billing:team-costs", kwargs={"slug": "team-a"}) in nav
        and reverse("billing:finance") not in nav
    )


def test_team_total_matches_its_lines_and_the_trend_covers_twelve_months(october, finance, team_a):
    body = (
        client_for(finance)
        .get(reverse("billing:team-costs", kwargs={"slug": "team-a"}), {"month": "2026-10"})
        .content.decode()
    )
    total = sum(line.cost_usd for line in ChargebackLine.objects.filter(run=october, team=team_a))
    assert f'<dd id="team-total">{usd(total)}</dd>' in body
    assert body.count('<rect class="bar') == 12 and "2025-11" in body and "2026-10: $" in body
    assert reverse("billing:finance") in body  # finance: link back to all teams


def test_budget_vs_actual_shows_the_80_and_100_percent_alerts(october, member_a, team_a):
    Team.objects.filter(pk=team_a.pk).update(monthly_budget_usd=Decimal("100.00"))
    chargeback.compute_run(OCTOBER)
    body = (
        client_for(member_a)
        .get(reverse("billing:team-costs", kwargs={"slug": "team-a"}), {"month": "2026-10"})
        .content.decode()
    )
    assert "Over budget: 100 % reached." in body
    assert "80 % alert" in body and "100 % alert" in body


def test_dashboards_show_the_cost_pages_figures_and_finance_sees_billing_activity(
    october, finance, member_a, team_a, clock
):
    clock(at(20, 9))
    team_a_total = usd(sum(line.cost_usd for line in ChargebackLine.objects.filter(run=october, team=team_a)))
    body = client_for(member_a).get(reverse("portal:dashboard")).content.decode()
    assert f'<dd id="mtd-team-a"><a href="/billing/teams/team-a/">{team_a_total}</a></dd>' in body
    assert "no usage recorded yet" not in body and 'id="mtd-all"' not in body
    body = client_for(finance).get(reverse("portal:dashboard")).content.decode()
    assert f'<span id="mtd-all">{usd(october.total_usd)}</span> month to date' in body
    assert f'<a href="/billing/teams/team-a/">{team_a_total}</a>' in body
    assert "Nothing has happened yet" not in body and "Chargeback computed" in body


# --- API ----------------------------------------------------------------------------------------------


def test_api_runs_and_lines(october, finance, member_b, token_for):
    finance_headers = {"Authorization": f"Bearer {token_for(finance)}"}
    client = client_for(None)
    runs = client.get(reverse("billing-api:run-list"), headers=finance_headers).json()
    assert runs["count"] == 1 and runs["results"][0]["month"] == "2026-10"
    detail = client.get(
        reverse("billing-api:run-detail", kwargs={"month": "2026-10"}), headers=finance_headers
    )
    assert detail.json()["total_usd"] == str(october.total_usd)
    url = reverse("billing-api:run-lines", kwargs={"month": "2026-10"})
    page = client.get(url, {"team": "team-a", "page_size": 2}, headers=finance_headers).json()
    assert page["count"] == ChargebackLine.objects.filter(run=october, team__slug="team-a").count()
    assert len(page["results"]) == 2 and {line["team_slug"] for line in page["results"]} == {"team-a"}
    member_headers = {"Authorization": f"Bearer {token_for(member_b)}"}
    mine = client.get(url, {"page_size": 500}, headers=member_headers).json()
    assert mine["count"] >= 1 and {line["team"] for line in mine["results"]} == {"Team B"}
    assert client.get(url, {"team": "team-a"}, headers=member_headers).json()["count"] == 0
    assert client.get(reverse("billing-api:run-list"), headers=member_headers).status_code == 403


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"team": "team a"}, "team: Use only letters, digits, hyphens and underscores."),
        ({"team": ""}, "team: Leave the parameter out or choose a value."),
    ],
)
def test_api_lines_refuse_a_bad_team_in_the_error_shape(october, finance, token_for, query, message):
    url = reverse("billing-api:run-lines", kwargs={"month": "2026-10"})
    response = client_for(None).get(url, query, headers={"Authorization": f"Bearer {token_for(finance)}"})
    assert response.status_code == 400
    assert response.json() == {"code": "invalid", "message": message, "field_errors": {"team": [message[6:]]}}


# --- Management command -------------------------------------------------------------------------------


def test_command_computes_finalizes_and_writes_the_three_csvs(october, finance, tmp_path):
    out = io.StringIO()
    call_command("chargeback", "--month", "2026-10", "--out", str(tmp_path / "first"), stdout=out)
    assert "computed" in out.getvalue()
    files = {kind: (tmp_path / "first" / f"chargeback-2026-10-{kind}.csv").read_bytes() for kind in KINDS}
    client = client_for(finance)
    assert files == {kind: download(client, "2026-10", kind) for kind in KINDS}

    call_command(
        "chargeback", "--month", "2026-10", "--finalize", "--out", str(tmp_path / "final"), stdout=out
    )
    run = ChargebackRun.objects.get(month=OCTOBER)
    assert run.status == "finalized" and run.finalized_by is None
    assert AuditEvent.objects.get(action="billing.chargeback.finalized").actor is None
    final = (tmp_path / "final" / "chargeback-2026-10-summary.csv").read_bytes()
    assert final == files["summary"]  # the summary does not carry the status
    # A finalized month is never recomputed: an error (exit status 1), nothing written, nothing changed.
    with pytest.raises(CommandError, match="2026-10 is finalized and cannot change") as refused:
        call_command("chargeback", "--month", "2026-10", "--out", str(tmp_path / "again"), stdout=out)
    assert refused.value.returncode == 1 and not (tmp_path / "again").exists()
    # Its CSVs as they stand, without recomputing.
    call_command(
        "chargeback", "--month", "2026-10", "--no-recompute", "--out", str(tmp_path / "csv"), stdout=out
    )
    assert (tmp_path / "csv" / "chargeback-2026-10-summary.csv").read_bytes() == final
    with pytest.raises(CommandError, match="already finalized"):
        call_command("chargeback", "--month", "2026-10", "--no-recompute", "--finalize", stdout=out)


@pytest.mark.parametrize("month", ["2026-1x", "13-2026", "2026-00", "1999-12"])
def test_command_refuses_a_bad_month_readably(month, db):
    with pytest.raises(CommandError, match=r"YYYY-MM|between"):
        call_command("chargeback", "--month", month)
