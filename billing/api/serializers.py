from rest_framework import serializers

from billing.models import ChargebackLine, ChargebackRun


class RunOutput(serializers.ModelSerializer):
    month = serializers.CharField(source="label")
    finalized_by = serializers.CharField(source="finalized_by.username", default=None, allow_null=True)

    class Meta:
        model = ChargebackRun
        fields = ["month", "status", "computed_at", "total_usd", "line_count", "finalized_at", "finalized_by"]


class LineOutput(serializers.ModelSerializer):
    team = serializers.CharField(source="team_name")
    team_slug = serializers.CharField(source="team.slug", default=None, allow_null=True)
    cluster = serializers.CharField(source="cluster_name")
    topic = serializers.CharField(source="topic_name")

    class Meta:
        model = ChargebackLine
        fields = [
            "position",
            "team",
            "team_slug",
            "cost_center",
            "cluster",
            "cluster_arn",
            "region",
            "account_id",
            "environment",
            "topic",
            "charge_type",
            "quantity",
            "unit",
            "unit_price_usd",
            "cost_usd",
            "allocation_basis",
            "allocation_ratio",
        ]
