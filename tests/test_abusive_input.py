"""Abusive input into the request, team, migration and billing forms and the API: never a 500, one plain
message per field. Each case here was a 500 or an unclear or double message before it was fixed.

The cases that depend on the database engine (numbers that overflow a column, NUL bytes) run on the
database the suite runs on; `DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal` runs them on
PostgreSQL, which refuses a NUL in a text value and an OFFSET past a bigint (SQLite takes both)."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from clusters.migration.models import Monolith
from tests.conftest import client_for

HUGE = "9" * 30
EXPONENT = "Write the number out in full, without an exponent (1000, not 1e3). "


# --- Pages of a list: a page number past any end -------------------------------------------------------


@pytest.mark.parametrize("number", [HUGE, "9" * 19, "9223372036854775807"])
def test_a_page_number_past_any_end_is_the_last_page(admin, number):
    response = client_for(admin).get(reverse("clusters:request-list"), {"page": number})
    assert response.status_code == 200  # was a 500 on PostgreSQL: "bigint out of range"


# --- Migration: the monolith's cost and the requirements --------------------------------------------------


@pytest.fixture
def monolith(admin) -> Monolith:
    from clusters.migration import inventory

    return inventory.register_monolith(
        actor=admin, name="legacy", bootstrap="127.0.0.1:1", security_protocol=Monolith.Security.PLAINTEXT
    )


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        (HUGE, "Monthly cost: Enter a number from 0 to 9,999,999,999.99 USD."),  # was a 500 on PostgreSQL
        (
            "1e9",
            "Monthly cost: Write the number out in full, without an exponent (1000, not 1e3). Enter a "
            "number from 0 to 9,999,999,999.99 USD.",
        ),
        ("12,5", "Monthly cost: Use a point for decimals and no thousands separators, such as 12.5 or 1000."),
    ],
)
def test_the_monoliths_cost_says_what_is_wrong(admin, monolith, typed, message):
    response = client_for(admin).post(
        reverse("migration:monolith-cost", args=[monolith.pk]), {"monthly_cost_usd": typed}
    )
    assert response.status_code == 302
    assert [str(flash) for flash in get_messages(response.wsgi_request)] == [message]
    monolith.refresh_from_db()
    assert monolith.monthly_cost_usd is None


def test_registering_a_monolith_with_a_cost_too_large_is_one_message(admin):
    response = client_for(admin).post(
        reverse("migration:monolith-register"),
        {
            "name": "legacy2",
            "bootstrap": "127.0.0.1:1",
            "security_protocol": "PLAINTEXT",
            "monthly_cost_usd": HUGE,
        },
    )
    assert response.context["form"].errors["monthly_cost_usd"] == [
        "Enter a number from 0 to 9,999,999,999.99 USD."
    ]


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("peak_in_mbps", "1e9", EXPONENT + "Enter a number from 0 to 100,000 MB/s."),
        ("peak_out_mbps", HUGE, "Enter a number from 0 to 100,000 MB/s."),
        ("retention_hours", "NaN", "Enter a whole number from 0 to 2,147,483,647 hours."),
        ("client_connections", "-1", "Enter a whole number from 0 to 2,147,483,647."),
        ("client_connections", HUGE, "Enter a whole number from 0 to 2,147,483,647."),
    ],
)
def test_an_applications_requirements_get_one_message_per_number(db, field, typed, message):
    from clusters.migration.forms import RequirementsForm
    from clusters.migration.models import Application

    data = {"latency_class": "time_insensitive", "client_connections": "0", field: typed}
    form = RequirementsForm(data, instance=Application(name="orders"))
    assert form.errors[field] == [message]


# --- Migration: a monolith's inventory file ---------------------------------------------------------------

CSV_HEADER = "topic,partitions,retention_ms,peak_in_mbps,peak_out_mbps,application,team,consumer_groups\n"


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        # Each was a 500: a NUL PostgreSQL refuses, numbers or texts larger than their column, a digit
        # str.isdigit() takes and int() does not.
        ("t,1,-1,1,1,app\x00x,,", "application: control characters (such as NUL) are not allowed."),
        ("t,1,-1,1,1,app,,g\x00", "consumer_groups: control characters (such as NUL) are not allowed."),
        ("t,1,-1,1,1,a\u202eb,,", "application: control characters (such as NUL) are not allowed."),
        ("t,²,-1,1,1,app,,", "partitions must be a whole number from 1 to 2,147,483,647, not “²”."),
        (
            f"t,{HUGE},-1,1,1,app,,",
            f"partitions must be a whole number from 1 to 2,147,483,647, not “{HUGE}”.",
        ),
        (f"t,{'9' * 5000},-1,1,1,app,,", "partitions must be a whole number from 1 to 2,147,483,647, not “"),
        (f"t,1,{HUGE},1,1,app,,", f"retention_ms must be milliseconds or -1 (unlimited), not “{HUGE}”."),
        ("t,1,-1,1e20,1,app,,", "peak_in_mbps must be at most 99,999,999.999999 MB/s, not “1e20”."),
        (f"t,1,-1,1,1,app,,{'g' * 300}", "a consumer group id has at most 255 characters, not 300."),
    ],
)
def test_an_inventory_file_with_abusive_cells_is_refused_line_by_line(admin, monolith, row, problem):
    from clusters.migration.models import InventorySnapshot

    response = client_for(admin).post(
        reverse("migration:inventory-upload", args=[monolith.pk]),
        {"file": SimpleUploadedFile("m.csv", (CSV_HEADER + row + "\n").encode())},
    )
    assert response.status_code == 400
    [(line, message)] = response.context["row_errors"]
    assert line == 2 and message.startswith(problem), message
    assert not InventorySnapshot.objects.exists()


# --- Teams and tokens: one message per field, no control characters in names ------------------------------

TEAM = {"name": "Payments", "slug": "payments", "cost_center": "CC-1001", "contact_email": "pay@example.com"}
CONTROL = "Use letters, digits, spaces and punctuation only: control characters ({}) are not allowed."


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("contact_email", "a" * 10_000 + "@example.com", "Enter a valid email address."),  # was two messages
        ("contact_email", "pay\x00@example.com", "Enter a valid email address."),  # was two messages
        ("name", "Pay\x1b[31mments", CONTROL.format("U+001B")),  # was taken
        ("name", "Pay\u202ements", CONTROL.format("U+202E")),  # was taken: shows "Paystnem" reversed
        ("name", "Pay\tments", CONTROL.format("U+0009")),
        ("slug", "pay\x00", "Null characters are not allowed."),
    ],
)
def test_the_team_form_gives_one_message_per_field(admin, field, typed, message):
    response = client_for(admin).post(reverse("portal:team-create"), {**TEAM, field: typed})
    assert response.context["form"].errors[field] == [message]


def test_a_team_name_is_held_to_the_same_rule_when_edited(admin, team_a):
    response = client_for(admin).post(
        reverse("portal:team-edit", args=[team_a.slug]), {**TEAM, "name": "A\x07"}
    )
    assert response.context["form"].errors["name"] == [CONTROL.format("U+0007")]


def test_a_token_name_with_control_characters_is_refused(member_a):
    response = client_for(member_a).post(reverse("portal:token-list"), {"name": "ci\x1b]0;owned\x07"})
    assert response.context["form"].errors["name"] == [CONTROL.format("U+001B, U+0007")]


# --- NUL bytes: PostgreSQL refuses them in text, so they must never reach it ------------------------------

NUL = "ab\x00c"


def _form_cases(team_a, cluster_a, platform_account, network_profile):
    from tests.clusters.test_every_error_at_once import cluster_data
    from tests.clusters.test_views import PRINCIPAL, topic_data

    cluster = cluster_data(team_a, platform_account, network_profile)
    access = {"team": team_a.pk, "cluster": cluster_a.pk, "principal_arn": PRINCIPAL, "produce": "on"}
    topic = topic_data(team_a, cluster_a)
    return {
        "clusters:request-new-topic": (topic, ["name", "justification", "expected_in_mbps", "retention_ms"]),
        "clusters:request-new-cluster": (cluster, ["name", "justification", "replicate_topics"]),
        "clusters:request-new-access": (access, ["topic_prefix", "principal_arn", "consumer_group_prefix"]),
        "portal:team-create": (TEAM, ["name", "slug", "cost_center", "contact_email"]),
        "portal:token-list": ({"name": "ci"}, ["name"]),
        "migration:monolith-register": (
            {
                "name": "legacy2",
                "bootstrap": "127.0.0.1:1",
                "security_protocol": "PLAINTEXT",
                "region": "us-east-1",
            },
            ["name", "bootstrap", "sasl_username", "subnet_ids", "monthly_cost_usd"],
        ),
    }


def test_nul_bytes_in_any_form_field_are_one_message_not_a_500(
    admin, member_a, team_a, cluster_a, platform_account, network_profile
):
    admin.memberships.create(team=team_a)
    client = client_for(admin)
    for name, (data, fields) in _form_cases(team_a, cluster_a, platform_account, network_profile).items():
        for field in fields:
            response = client.post(reverse(name), {**data, field: NUL})
            assert response.status_code == 200, (name, field)
            errors = response.context["form"].errors
            assert len(errors.get(field, [])) == 1, (name, field, errors)
