"""A request's cost estimate shows each rate as money per unit (`$0.0015 per partition-hour`), exact to its
last decimal and with thousands grouped, not as the bare number it is stored as (`0.0015`)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.template import Context, Template

from billing.pricing import unit_price_text
from tests import builders
from tests.conftest import client_for

# What each stored rate reads as, by (price, unit).
RATES = {
    (Decimal("0.0015"), "partition-hour"): "$0.0015 per partition-hour",  # not $0.00
    (Decimal("0.75"), "cluster-hour"): "$0.75 per cluster-hour",
    (Decimal("0.10"), "GiB"): "$0.10 per GiB",
    (Decimal("0.1"), "GiB-month"): "$0.10 per GiB-month",  # cents at least
    ("0.050000", "GiB"): "$0.05 per GiB",  # trailing zeros are not digits of the rate
    (Decimal("1234.5"), "cluster-hour"): "$1,234.50 per cluster-hour",
    (Decimal("0.000125"), "GiB"): "$0.000125 per GiB",
    (Decimal("2"), ""): "$2.00",
    (None, "GiB"): "—",
}


@pytest.mark.parametrize(("rate", "text"), RATES.items(), ids=[text for text in RATES.values()])
def test_a_rate_reads_as_money_per_unit(rate, text):
    price, unit = rate
    assert unit_price_text(price, unit) == text
    rendered = Template("{% load money %}{{ price|unit_price:unit }}").render(
        Context({"price": price, "unit": unit})
    )
    figure, _, words = text.partition(" ")
    assert rendered == (f'{figure} <span class="unit">{words}</span>' if words else figure)


def test_the_request_page_shows_the_estimates_rates_as_money_per_unit(member_a, cluster_a):
    request = builders.topic_request(member_a, cluster_a, "priced")  # 1 MB/s: partitions, data in and out
    page = client_for(member_a).get(f"/requests/{request.pk}/").content.decode()
    table = page.split('aria-label="Estimated monthly cost"')[1].split("</table>")[0]
    assert '<th scope="col" class="num wide-only">Unit price</th>' in table
    rate = '$0.0015 <span class="unit">per partition-hour</span>'
    assert f'<td class="num rate wide-only">{rate}</td>' in table
    assert f'Partition hours<span class="phone-only hint">{rate}</span>' in table  # a phone shows it there
    assert '<td class="num rate wide-only">$0.10 <span class="unit">per GiB</span></td>' in table
    assert ">0.0015<" not in table and ">0.10<" not in table
