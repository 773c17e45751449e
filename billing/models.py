from decimal import Decimal

from django.db import models
from django.utils import timezone

from clusters.models import REGION_CHOICES


class RateCard(models.Model):
    """MSK Serverless unit prices for a region from a date on (admin-editable).

    The newest card whose `effective_from` is not after a day prices that day; with no card, the us-east-1
    list prices in `billing.pricing.LIST_PRICES` apply.
    """

    region = models.CharField(max_length=20, choices=REGION_CHOICES)
    effective_from = models.DateField(default=timezone.now)
    cluster_hour = models.DecimalField("USD per cluster-hour", max_digits=10, decimal_places=6)
    partition_hour = models.DecimalField("USD per partition-hour", max_digits=10, decimal_places=6)
    gib_in = models.DecimalField("USD per GiB written", max_digits=10, decimal_places=6)
    gib_out = models.DecimalField("USD per GiB read", max_digits=10, decimal_places=6)
    gib_month = models.DecimalField("USD per GiB-month stored", max_digits=10, decimal_places=6)

    class Meta:
        ordering = ["region", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["region", "effective_from"], name="ratecard_unique_region_date")
        ]

    def __str__(self) -> str:
        return f"{self.region} from {self.effective_from}"

    def clean(self):
        from django.core.exceptions import ValidationError

        for field in ("cluster_hour", "partition_hour", "gib_in", "gib_out", "gib_month"):
            value = getattr(self, field)
            if value is not None and value < Decimal(0):
                raise ValidationError({field: "Prices cannot be negative."})
