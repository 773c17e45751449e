"""Least-privilege IAM policy documents for MSK IAM access control (kafka-cluster:* actions).

Before the cluster exists its ARN's uuid is unknown, so the document uses `cluster/<name>/*`
(wildcards are allowed after `:cluster/`, `:topic/` and `:group/`); once the ARN is known it is exact.
"""

from __future__ import annotations


def _cluster_base(
    *, region: str, account_id: str, cluster_name: str, cluster_arn: str = ""
) -> tuple[str, str]:
    """(cluster ARN, '<name>/<uuid>' path) to build topic and group ARNs from."""
    if cluster_arn:
        path = cluster_arn.split(":cluster/", 1)[1]
        return cluster_arn, path
    return f"arn:aws:kafka:{region}:{account_id}:cluster/{cluster_name}/*", f"{cluster_name}/*"


def access_policy(
    *,
    region: str,
    account_id: str,
    cluster_name: str,
    cluster_arn: str = "",
    topic: str = "",
    topic_prefix: str = "",
    produce: bool,
    consume: bool,
    consumer_group_prefix: str = "",
) -> dict:
    cluster, path = _cluster_base(
        region=region, account_id=account_id, cluster_name=cluster_name, cluster_arn=cluster_arn
    )
    arn_prefix = cluster.split(":cluster/", 1)[0]
    topic_arn = f"{arn_prefix}:topic/{path}/{topic if topic else topic_prefix + '*'}"
    cluster_actions = ["kafka-cluster:Connect"]
    topic_actions = ["kafka-cluster:DescribeTopic"]
    statements = []
    if produce:
        # Modern clients are idempotent producers by default, which needs this on the cluster.
        cluster_actions.append("kafka-cluster:WriteDataIdempotently")
        topic_actions.append("kafka-cluster:WriteData")
    if consume:
        topic_actions.append("kafka-cluster:ReadData")
    statements.append({"Sid": "Connect", "Effect": "Allow", "Action": cluster_actions, "Resource": cluster})
    statements.append({"Sid": "Topics", "Effect": "Allow", "Action": topic_actions, "Resource": topic_arn})
    if consume:
        statements.append(
            {
                "Sid": "ConsumerGroups",
                "Effect": "Allow",
                "Action": ["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"],
                "Resource": f"{arn_prefix}:group/{path}/{consumer_group_prefix}*",
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}
