"""A number typed into a form or sent to the API gets exactly one message a person understands, and the same
one from both (portal.numbers): "1e9" in a throughput field used to get two ("less than or equal to 100000"
and "no more than 8 digits in total"), "1e-9" only the second, and the API answered in other words again."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from clusters import rules
from clusters.models import Request
from portal import numbers
from portal.api.input import DecimalInput, InputSerializer, IntegerInput
from tests.clusters.test_views import topic_data
from tests.conftest import client_for
from tests.portal.test_api_input import _json_post, _topic_body

MBPS = "Enter a number from 0 to 100,000 MB/s."
PARTITIONS = "Enter a whole number from 1 to 100,000 partitions."
EXPONENT = "Write the number out in full, without an exponent (1000, not 1e3). "
DECIMAL_COMMA = "Use a point for decimals and no thousands separators, such as 12.5 or 1000."

# typed -> (throughput's answer, partitions' answer): a value, or the one message.
TABLE = {
    "1e9": (EXPONENT + MBPS, EXPONENT + PARTITIONS),
    "1e3": (EXPONENT + MBPS, EXPONENT + PARTITIONS),
    "1e-9": (EXPONENT + MBPS, EXPONENT + PARTITIONS),
    "NaN": (MBPS, PARTITIONS),
    "inf": (MBPS, PARTITIONS),
    "-Infinity": (MBPS, PARTITIONS),
    " 12 ": (Decimal(12), 12),
    "-0": (Decimal(0), PARTITIONS),
    "12,5": (DECIMAL_COMMA, "Write the number without separators, such as 1000."),
    "1,000": (DECIMAL_COMMA, "Write the number without separators, such as 1000."),
    "9" * 30: (MBPS, PARTITIONS),
    "9" * 10_000: (MBPS, PARTITIONS),
    "100000.01": (MBPS, "Enter a whole number, without decimals."),
    "1.005": ("Use at most 2 digits after the decimal point.", "Enter a whole number, without decimals."),
    "-1": (MBPS, PARTITIONS),
    "0x10": ("Enter a number such as 12.5.", "Enter a whole number such as 12."),
    "1_000": ("Enter a number such as 12.5.", "Enter a whole number such as 12."),
    "１２": (
        "Enter a number such as 12.5, with the digits 0–9.",
        "Enter a whole number such as 12, with the digits 0–9.",
    ),
    "12\x00": ("Enter a number such as 12.5.", "Enter a whole number such as 12."),
    "<b>1</b>": ("Enter a number such as 12.5.", "Enter a whole number such as 12."),
    "😀": ("Enter a number such as 12.5.", "Enter a whole number such as 12."),
    "   ": ("Enter a number such as 12.5.", "Enter a whole number such as 12."),
}


class _Api(InputSerializer):
    mbps = DecimalInput(**rules.MBPS_FIELD)
    partitions = IntegerInput(**rules.PARTITIONS_FIELD)


def _form_answer(field, value):
    try:
        return field.clean(value)
    except ValidationError as exc:
        return exc.messages


def _api_answer(name, value):
    serializer = _Api(data={name: value}, partial=True)
    if serializer.is_valid():
        return serializer.validated_data[name]
    return [str(message) for message in serializer.errors[name]]


@pytest.mark.parametrize("typed", list(TABLE), ids=lambda typed: repr(typed[:12]))
def test_each_number_gets_one_plain_message_in_forms_and_the_api_alike(typed):
    mbps, partitions = TABLE[typed]
    for form_field, name, expected in (
        (numbers.DecimalField(**rules.MBPS_FIELD), "mbps", mbps),
        (numbers.IntegerField(**rules.PARTITIONS_FIELD), "partitions", partitions),
    ):
        form, api = _form_answer(form_field, typed), _api_answer(name, typed)
        if isinstance(expected, str):
            assert form == [expected] and api == [expected], (name, form, api)
        else:
            assert form == expected and api == expected, (name, form, api)


def test_minus_zero_is_zero_not_minus_zero():
    assert str(numbers.DecimalField(**rules.MBPS_FIELD).clean("-0")) == "0"
    assert numbers.IntegerField(**rules.RETENTION_MS_FIELD).clean("-0") == 0


def test_json_numbers_are_read_as_the_text_would_be():
    assert _api_answer("mbps", 12.5) == Decimal("12.50")
    assert _api_answer("partitions", 12.0) == 12
    assert _api_answer("partitions", 1e9) == [PARTITIONS]
    assert _api_answer("mbps", True) == ["Enter a number such as 12.5."]
    assert _api_answer("mbps", float("inf")) == _api_answer("mbps", float("nan")) == [MBPS]


# --- Through the pages and the API: the topic request ------------------------------------------------


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("expected_in_mbps", "1e9", EXPONENT + MBPS),
        ("expected_out_mbps", "9" * 30, MBPS),
        ("expected_in_mbps", "12,5", DECIMAL_COMMA),
        ("partitions", "NaN", PARTITIONS),
        ("retention_ms", "inf", "Enter a whole number of milliseconds (-1 = unlimited)."),
        ("retention_ms", "-9", "Use a positive number of milliseconds, or -1 for unlimited."),
        ("max_message_bytes", "1e3", EXPONENT + "Enter a whole number of bytes."),
    ],
)
def test_the_topic_form_and_api_give_one_and_the_same_message(
    member_a, team_a, cluster_a, token_for, field, typed, message
):
    response = client_for(member_a).post(
        reverse("clusters:request-new-topic"), topic_data(team_a, cluster_a, **{field: typed})
    )
    assert response.context["form"].errors[field] == [message]
    api = _json_post(
        member_a, token_for, "clusters-api:request-topic", _topic_body(cluster_a, **{field: typed})
    )
    assert api.status_code == 400
    assert api.json()["field_errors"] == {field: [message]}
    assert not Request.objects.exists()
