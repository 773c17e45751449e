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
