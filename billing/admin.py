from django.contrib import admin

from billing.models import RateCard
from clusters.admin import PlatformAdminOnly


@admin.register(RateCard)
class RateCardAdmin(PlatformAdminOnly):
    list_display = (
        "region",
        "effective_from",
        "cluster_hour",
        "partition_hour",
        "gib_in",
        "gib_out",
        "gib_month",
    )
    list_filter = ("region",)
