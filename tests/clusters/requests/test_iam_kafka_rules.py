"""Property tests: whatever the portal's rules accept is also valid for IAM and Kafka.

The reference predicates below are written from the outside systems' own definitions, not from
clusters.rules: IAM's CreateRole input (botocore's IAM model: `roleNameType` = `[\\w+=,.@-]+` of 1–64,
`pathType` = `/` or `/[\\u0021-\\u007E]+/` of 1–512, `accountIdType` = 12 digits, ARNs ≤ 2,048) and
Kafka's `Topic.validate` (`[a-zA-Z0-9._-]`, ≤ 249, not "." or ".."; names that differ only by '.' vs '_'
collide). All are ASCII-only, as IAM's Java patterns and Kafka's are.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, event, example, given, settings
from hypothesis import strategies as st

from clusters import rules
from tests.conftest import examples

# --- Reference predicates -------------------------------------------------------------------------

IAM_ROLE_NAME = re.compile(r"[A-Za-z0-9_+=,.@-]{1,64}")  # Java's \w is ASCII: [a-zA-Z_0-9]
IAM_PATH = re.compile(r"/|/[\x21-\x7e]+/")
IAM_ACCOUNT = re.compile(r"[0-9]{12}")
PARTITION_OF_REGION = {
    "us-east-1": "aws",
    "eu-west-1": "aws",
    "cn-north-1": "aws-cn",
    "us-gov-west-1": "aws-us-gov",
}


def iam_accepts_role_arn(arn: str, *, partition: str) -> bool:
    """A role IAM can have, in `partition`, whose path does not walk up ('..') or stand still ('.')."""
    if not arn.isascii() or len(arn) > 2048:
        return False
    head = f"arn:{partition}:iam::"
    if not arn.startswith(head):
        return False
    account, _, resource = arn[len(head) :].partition(":")
    if not IAM_ACCOUNT.fullmatch(account) or not resource.startswith("role/"):
        return False
    path, _, name = resource[len("role") :].rpartition("/")
    path += "/"
    segments = path.strip("/").split("/") if path != "/" else []
    return bool(
        IAM_ROLE_NAME.fullmatch(name)
        and len(path) <= 512
        and IAM_PATH.fullmatch(path)
        and not any(segment in ("", ".", "..") for segment in segments)
    )


def kafka_accepts_topic(name: str) -> bool:
    return (
        name.isascii()
        and 1 <= len(name) <= 249
        and name not in (".", "..")
        and all(char.isalnum() or char in "._-" for char in name)
    )


def kafka_collides(a: str, b: str) -> bool:
    return a.replace(".", "_") == b.replace(".", "_")


def iam_group_prefix_is_literal(prefix: str) -> bool:
    """The prefix goes into `…:group/<cluster>/<uuid>/<prefix>*`: no IAM wildcard or separator may widen
    it, and Kafka group ids with ':' get no lag metrics."""
    return (
        prefix.isascii()
        and 1 <= len(prefix) <= 249
        and not any(char in "*?:/ \t\n$" for char in prefix)
        and any(char.isalnum() for char in prefix)
    )


# --- Strategies: mostly near-valid input, with the characters that have fooled rules before --------

SAFE = "abcXYZ019+=,.@_-"
TRICKY = "aZ09+=,.@_-/*?: é１٣\u00a0\n"  # includes a full-width and an Arabic-Indic digit
segment = (
    st.text(alphabet=SAFE, min_size=1, max_size=12)
    | st.text(alphabet=TRICKY, max_size=12)
    | st.sampled_from([".", "..", "", "a" * 70])
)
accounts = st.text(alphabet="0123456789", min_size=12, max_size=12) | st.text(
    alphabet="0123456789１٣", min_size=11, max_size=13
)
regions = st.sampled_from(sorted(PARTITION_OF_REGION))


@st.composite
def arns_and_regions(draw):
    """Mostly near-valid ARNs (the region's own partition, 12 ASCII digits, safe segments), each part
    sometimes replaced by something IAM refuses; sometimes any text at all."""
    region = draw(regions)
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(max_size=80)), region
    right = PARTITION_OF_REGION[region]
    partition = draw(st.sampled_from([right] * 6 + ["aws", "aws-cn", "aws-us-gov", "aws-iso", "AWS", ""]))
    account = draw(accounts)
    path = "".join(f"{part}/" for part in draw(st.lists(segment, max_size=3)))
    name = draw(segment | st.text(alphabet="abc", min_size=60, max_size=70))
    return f"arn:{partition}:iam::{account}:role/{path}{name}", region


@settings(max_examples=examples(1500), deadline=None)
@given(arn_in=arns_and_regions())
@example(arn_in=("arn:aws:iam::１１１１２２２２３３３３:role/x", "us-east-1"))
@example(arn_in=("arn:aws:iam::111122223333:role/../../admin", "us-east-1"))
@example(arn_in=("arn:aws-cn:iam::111122223333:role/x", "eu-west-1"))
@example(arn_in=(f"arn:aws:iam::111122223333:role/{'r' * 65}", "us-east-1"))
def test_every_accepted_role_arn_is_a_role_iam_can_have(arn_in):
    arn, region = arn_in
    accepted = rules.principal_arn_error(arn, region=region) is None
    event("accepted" if accepted else "refused")
    if accepted:
        assert iam_accepts_role_arn(arn, partition=PARTITION_OF_REGION[region]), arn


@settings(max_examples=examples(300), deadline=None)
@given(
    account=st.text(alphabet="0123456789", min_size=12, max_size=12),
    path=st.lists(st.text(alphabet=SAFE, min_size=1, max_size=10), max_size=3),
    name=st.text(alphabet=SAFE, min_size=1, max_size=64),
    region=regions,
)
def test_every_role_iam_can_have_is_accepted(account, path, name, region):
    """The other direction: the rule is not merely refusing everything."""
    assume(all(part not in (".", "..") for part in path))
    partition = PARTITION_OF_REGION[region]
    arn = f"arn:{partition}:iam::{account}:role/" + "".join(f"{part}/" for part in path) + name
    assert iam_accepts_role_arn(arn, partition=partition)
    assert rules.principal_arn_error(arn, region=region) is None


@pytest.mark.parametrize(
    ("arn", "region", "says"),
    [
        ("arn:aws:iam::１１１１２２２２３３３３:role/x", "us-east-1", "only ASCII"),
        ("arn:aws:iam::١١١١٢٢٢٢٣٣٣٣:role/x", "us-east-1", "only ASCII"),
        ("arn:aws:iam::123456789012:role/" + "r" * 65, "us-east-1", "65 characters; IAM allows 64"),
        ("arn:aws:iam::123456789012:role/../../admin", "us-east-1", "“..”"),
        ("arn:aws:iam::123456789012:role/a//b", "us-east-1", "empty"),
        ("arn:aws-cn:iam::123456789012:role/x", "eu-west-1", "must start with arn:aws:"),
        ("arn:aws:iam::123456789012:role/x", "cn-north-1", "must start with arn:aws-cn:"),
        ("arn:aws-iso:iam::123456789012:role/x", "us-east-1", "not an AWS partition"),
        ("arn:aws:iam::12345678901:role/x", "us-east-1", "12 digits"),
        ("arn:aws:iam::123456789012:user/x", "us-east-1", "Only IAM roles"),
        ("arn:aws:iam::123456789012:role/x*", "us-east-1", "'*'"),
        ("arn:aws:iam:us-east-1:123456789012:role/x", "us-east-1", "like arn:aws:iam::"),
    ],
)
def test_known_bad_role_arns_are_refused_in_words(arn, region, says):
    assert says in rules.principal_arn_error(arn, region=region)


def test_account_roles_use_the_same_rule_without_a_region():
    rules.validate_role_arn("arn:aws-cn:iam::123456789012:role/portal")
    with pytest.raises(Exception, match="only ASCII"):
        rules.validate_role_arn("arn:aws:iam::１２３４５６７８９０１２:role/portal")


# --- Topic names ----------------------------------------------------------------------------------

names = st.text(alphabet="ab_.-Z9 é١*", max_size=20) | st.sampled_from(
    [".", "..", "...", "_", "-", "x" * 250]
)
teams = st.sampled_from(["payments", "team-a", "s"])


@settings(max_examples=examples(1500), deadline=None)
@given(team=teams, name=names)
@example(team="payments", name=".")
@example(team="payments", name="..")
def test_every_accepted_topic_name_is_one_kafka_accepts(team, name):
    full = rules.full_topic_name("{team}.{name}", team_slug=team, name=name)
    accepted = rules.topic_short_name_error(name) is None and rules.topic_name_error(full) is None
    event("accepted" if accepted else "refused")
    if accepted:
        assert kafka_accepts_topic(full) and kafka_accepts_topic(name)
        assert any(char.isalnum() for char in name)  # never 'payments..' from a name of dots


@settings(max_examples=examples(1000), deadline=None)
@given(
    name=st.text(alphabet="ab._", min_size=1, max_size=8),
    others=st.lists(st.text(alphabet="ab._", max_size=8)),
)
@example(name="x_auto", others=["x.auto"])
def test_a_name_kafka_would_refuse_as_a_collision_is_found(name, others):
    found = rules.colliding_topic(name, others)
    event("collision" if found else "no collision")
    if any(kafka_collides(name, other) for other in others):
        assert found is not None and kafka_collides(name, found)
    else:
        assert found is None


# --- Consumer-group prefixes ----------------------------------------------------------------------

prefixes = (
    st.text(alphabet="ab.-_9", max_size=12)
    | st.text(alphabet="ab.-_9*?: é１/", max_size=12)
    | st.builds("payments.{}".format, st.text(alphabet="ab.-_9*?: é１", max_size=8))
    | st.sampled_from(["search", "s", ".", "payments."])
)


@settings(max_examples=examples(1500), deadline=None)
@given(prefix=prefixes, shared=st.booleans())
@example(prefix="search", shared=True)
@example(prefix="s", shared=True)
def test_every_accepted_group_prefix_is_literal_and_on_shared_clusters_the_teams_own(prefix, shared):
    namespace = "payments." if shared else ""
    accepted = rules.group_prefix_error(prefix, namespace=namespace) is None
    event("accepted" if accepted else "refused")
    if accepted:
        assert iam_group_prefix_is_literal(prefix), prefix
        if shared:
            assert prefix.startswith("payments.")


@pytest.mark.parametrize("prefix", ["search", "s", "pay", "payments"])
def test_another_teams_namespace_is_refused_on_a_shared_cluster(prefix):
    assert "namespace “payments.”" in rules.group_prefix_error(prefix, namespace="payments.")
    assert rules.group_prefix_error(prefix) is None  # a cluster only the team uses
