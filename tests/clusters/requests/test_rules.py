from decimal import Decimal

import pytest

from billing.pricing import LIST_PRICES, monthly_estimate, stored_gib_estimate
from clusters import rules
from clusters.requests import policies


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("a", True),
        ("team-a-dev", True),
        ("9lives", True),
        ("x" * 64, True),
        ("x" * 65, False),
        ("-leading", False),
        ("under_score", False),
        ("", False),
        ("dot.name", False),
    ],
)
def test_cluster_names_follow_msk_rules(name, ok):
    assert (rules.cluster_name_error(name) is None) == ok


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("payments.orders", True),
        ("a_b-c.D9", True),
        (".", False),
        ("..", False),
        ("x" * 249, True),
        ("x" * 250, False),
        ("bad name", False),
        ("ümlaut", False),
        ("", False),
    ],
)
def test_topic_names_follow_kafka_rules(name, ok):
    assert (rules.topic_name_error(name) is None) == ok


def test_topic_name_error_names_the_bad_characters():
    assert "' '" in rules.topic_name_error("bad name!") and "'!'" in rules.topic_name_error("bad name!")


@pytest.mark.parametrize(
    ("in_mbps", "out_mbps", "expected"),
    [(0, 0, 1), (5, 0, 1), (5.1, 0, 2), (12, 10, 3), (1, 95, 10), (50, 100, 10), (51, 10, 11)],
)
def test_partition_suggestion_is_max_of_ceilings(in_mbps, out_mbps, expected):
    assert rules.suggested_partitions(Decimal(str(in_mbps)), Decimal(str(out_mbps))) == expected


def test_naming_convention_and_namespace():
    assert rules.full_topic_name("{team}.{name}", team_slug="payments", name="orders") == "payments.orders"
    assert rules.topic_namespace("{team}.{name}", team_slug="payments") == "payments."
    assert rules.topic_namespace("prod-{team}-{name}", team_slug="pay") == "prod-pay-"


@pytest.mark.parametrize(
    ("arn", "ok"),
    [
        ("arn:aws:iam::123456789012:role/orders", True),
        ("arn:aws:iam::123456789012:role/path/to/orders-svc", True),
        ("arn:aws-us-gov:iam::123456789012:role/x", True),
        ("arn:aws:iam::12345678901:role/x", False),
        ("arn:aws:iam::123456789012:user/x", False),
        ("arn:aws:iam::123456789012:role/", False),
        ("not an arn", False),
    ],
)
def test_principal_arns_are_validated(arn, ok):
    assert (rules.principal_arn_error(arn) is None) == ok


def test_network_needs_two_zones():
    one_zone = [
        {"id": "subnet-0123456789abcdef0", "az": "us-east-1a"},
        {"id": "subnet-0123456789abcdef1", "az": "us-east-1a"},
    ]
    assert "two different availability zones" in rules.network_errors(one_zone, [], "us-east-1")["subnets"]
    two = [one_zone[0], {"id": "subnet-0123456789abcdef1", "az": "us-east-1b"}]
    assert rules.network_errors(two, ["sg-0123456789abcdef0"], "us-east-1") == {}
    assert "must be in eu-west-1" in rules.network_errors(two, [], "eu-west-1")["subnets"]
    assert "security_group_ids" in rules.network_errors(two, ["nope"], "us-east-1")


def test_producer_and_consumer_policies_are_least_privilege():
    cluster_arn = (
        "arn:aws:kafka:us-east-1:123456789012:cluster/shared/c07c74ea-5146-4a03-add1-9baa787a5b14-s3"
    )
    producer = policies.access_policy(
        region="us-east-1",
        account_id="123456789012",
        cluster_name="shared",
        cluster_arn=cluster_arn,
        topic_prefix="team-a.",
        produce=True,
        consume=False,
    )
    assert producer["Statement"] == [
        {
            "Sid": "Connect",
            "Effect": "Allow",
            "Resource": cluster_arn,
            "Action": ["kafka-cluster:Connect", "kafka-cluster:WriteDataIdempotently"],
        },
        {
            "Sid": "Topics",
            "Effect": "Allow",
            "Action": ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"],
            "Resource": "arn:aws:kafka:us-east-1:123456789012:topic/shared/c07c74ea-5146-4a03-add1-9baa787a5b14-s3/team-a.*",
        },
    ]
    consumer = policies.access_policy(
        region="us-east-1",
        account_id="123456789012",
        cluster_name="shared",
        topic="team-a.orders",
        produce=False,
        consume=True,
        consumer_group_prefix="billing-",
    )
    resources = [statement["Resource"] for statement in consumer["Statement"]]
    assert resources == [
        "arn:aws:kafka:us-east-1:123456789012:cluster/shared/*",
        "arn:aws:kafka:us-east-1:123456789012:topic/shared/*/team-a.orders",
        "arn:aws:kafka:us-east-1:123456789012:group/shared/*/billing-*",
    ]
    actions = {action for statement in consumer["Statement"] for action in statement["Action"]}
    assert "kafka-cluster:WriteData" not in actions and "kafka-cluster:ReadData" in actions


def test_monthly_estimate_at_list_prices():
    # 1 cluster: 730 h × $0.75 = $547.50; 10 MB/s × 2,628,000 s / 2^30 = 24,475.157 GiB × $0.10 = $2,447.52
    estimate = monthly_estimate(LIST_PRICES, clusters=1, in_mbps=Decimal(10))
    assert [line.cost for line in estimate.lines] == [Decimal("547.50"), Decimal("2447.52")]
    assert estimate.total == Decimal("2995.02")
    partitions = monthly_estimate(LIST_PRICES, partitions=6)
    assert partitions.total == Decimal("6.57")  # 6 × 730 × 0.0015


def test_storage_estimate_caps_at_retention_bytes():
    week = stored_gib_estimate(
        in_mbps=Decimal(1), retention_ms=7 * 24 * 3600 * 1000, retention_bytes=-1, partitions=1
    )
    assert week == Decimal("563.264")  # 1 MB/s × 604,800 s / 2^30
    capped = stored_gib_estimate(in_mbps=Decimal(1), retention_ms=-1, retention_bytes=2**30, partitions=3)
    assert capped == Decimal("3.000")


def test_stored_estimates_read_back_unchanged():
    from billing.pricing import estimate_from_dict

    estimate = monthly_estimate(
        LIST_PRICES, clusters=1, partitions=6, in_mbps=Decimal(3), storage_gib=Decimal(12)
    )
    assert estimate_from_dict(estimate.as_dict()) == estimate
