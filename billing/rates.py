"""The rate card in force: what a cluster-, partition- and GiB-hour cost in a region on a day.

Chargeback runs, the forecast, request estimates and migration plans all price with it; it reads the
`RateCard` rows and falls back to the list prices of `billing.pricing`.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from billing.models import RateCard
from billing.pricing import LIST_PRICES, Rates


def rates_for(region: str, on: dt.date | None = None) -> Rates:
    """The rate card in force in `region` on `on` (today by default), else the list prices."""
    day = on or timezone.now().date()
    card = RateCard.objects.filter(region=region, effective_from__lte=day).order_by("-effective_from").first()
    if card is None:
        return LIST_PRICES
    return Rates(card.cluster_hour, card.partition_hour, card.gib_in, card.gib_out, card.gib_month)
