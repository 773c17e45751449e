"""Cost Explorer: the AWS bill's MSK cost per portal cluster — the only module that reads it.

Clusters carry the `portal-cluster-id` tag from creation; once that tag is activated as a cost-allocation
tag (Billing console; up to 24 h), Cost Explorer groups MSK's unblended cost by it. Costs not tagged (tag not
activated yet, or resources outside the portal) come back under an empty tag value and are ignored here.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from clusters.integrations import aws_control
from clusters.integrations.records import AccountRef

SERVICE_NAME = "Amazon Managed Streaming for Apache Kafka"
CLUSTER_TAG = "portal-cluster-id"


def monthly_cost_by_cluster(account: AccountRef, start: dt.date, end: dt.date) -> dict[int, Decimal]:
    """Unblended MSK cost in USD per portal cluster id for [start, end), read in the account's role."""
    client = aws_control.client(account, "ce")
    costs: dict[int, Decimal] = {}
    token = None
    while True:
        page = {"NextPageToken": token} if token else {}
        with aws_control.translated(account, "read Cost Explorer costs"):
            response = client.get_cost_and_usage(
                TimePeriod={"Start": start.isoformat(), "End": end.isoformat()},
                Granularity="MONTHLY",
                Metrics=["UnblendedCost"],
                Filter={"Dimensions": {"Key": "SERVICE", "Values": [SERVICE_NAME]}},
                GroupBy=[{"Type": "TAG", "Key": CLUSTER_TAG}],
                **page,
            )
        for period in response.get("ResultsByTime", []):
            for group in period.get("Groups", []):
                tag_value = group["Keys"][0].partition("$")[2]  # "portal-cluster-id$42"
                if not tag_value.isdigit():
                    continue  # untagged MSK cost
                amount = Decimal(group["Metrics"]["UnblendedCost"]["Amount"])
                costs[int(tag_value)] = costs.get(int(tag_value), Decimal(0)) + amount
        token = response.get("NextPageToken")
        if not token:
            return costs
