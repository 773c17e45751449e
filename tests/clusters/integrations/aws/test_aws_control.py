"""clusters.integrations.aws_control and the AwsProvider against moto in server mode (real HTTP, real botocore).

Where moto 5.2.5 lacks AWS behaviour the harness fills it with botocore's Stubber on the cached client,
never with branches in product code:
- duplicate cluster names: moto accepts them, AWS answers ConflictException;
- GetBootstrapBrokers: not implemented (HTTP 500);
- ListClustersV2 pagination: moto ignores MaxResults and never returns NextToken;
- throttling, 5xx and access errors: moto never produces them for these calls.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from botocore.stub import ANY, Stubber

from clusters.integrations import aws_control
from clusters.providers.aws import AwsProvider
from clusters.providers.base import (
    AccessDenied,
    AccountRef,
    ClusterSpec,
    GrantSpec,
    NameConflict,
    NotFound,
    ProviderError,
    TransientError,
)
from tests.moto_harness import ACCOUNT_ID, ROLE_ARN

BOOTSTRAP = "boot-abcd1234.c1.kafka-serverless.us-east-1.amazonaws.com:9098"


def spec(name: str, **tags: str) -> ClusterSpec:
    return ClusterSpec(
        name=name,
        subnet_ids=("subnet-0123456789abcdef0", "subnet-0123456789abcdef1"),
        security_group_ids=("sg-0123456789abcdef0",),
        tags=tags,
    )


def create_request(name: str, **tags: str) -> dict:
    """The exact CreateClusterV2 request aws_control sends for spec(name, **tags)."""
    return {
        "ClusterName": name,
        "Tags": tags,
        "Serverless": {
            "VpcConfigs": [
                {
                    "SubnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
                    "SecurityGroupIds": ["sg-0123456789abcdef0"],
                }
            ],
            "ClientAuthentication": {"Sasl": {"Iam": {"Enabled": True}}},
        },
    }


@pytest.fixture
def provider() -> AwsProvider:
    return AwsProvider()


@pytest.fixture
def sts_calls(monkeypatch) -> list[str]:
    """Role ARNs of every AssumeRole call aws_control makes (each goes to moto over HTTP)."""
    calls: list[str] = []
    real = aws_control._sts_client

    def counting(region):
        sts = real(region)
        sts.meta.events.register(
            "provide-client-params.sts.AssumeRole", lambda params, **_: calls.append(params["RoleArn"])
        )
        return sts

    monkeypatch.setattr(aws_control, "_sts_client", counting)
    return calls


# --- Clusters against moto ------------------------------------------------------------------------


def test_create_returns_arn_and_state_and_is_found_by_name(provider, account):
    created = provider.create_cluster(account, spec("team-a", team="a", **{"cost-center": "CC-A"}))

    assert created.name == "team-a"
    assert created.state == "CREATING"
    # moto's ARN format is serverless-cluster/<uuid> (AWS: cluster/<name>/<uuid>-sN); what matters is that
    # the call ran with the assumed role's credentials: moto files it under the role's account.
    assert created.arn.startswith(f"arn:aws:kafka:us-east-1:{ACCOUNT_ID}:")
    assert created.tags == {"team": "a", "cost-center": "CC-A"}
    found = provider.find_cluster(account, "team-a")
    assert found == created


def test_tags_and_network_are_applied(provider, account):
    created = provider.create_cluster(account, spec("team-a", team="a", environment="dev"))

    kafka = aws_control.kafka_client(account)
    assert kafka.list_tags_for_resource(ResourceArn=created.arn)["Tags"] == {
        "team": "a",
        "environment": "dev",
    }
    info = kafka.describe_cluster_v2(ClusterArn=created.arn)["ClusterInfo"]
    assert info["ClusterType"] == "SERVERLESS"
    assert info["Serverless"]["VpcConfigs"] == [
        {
            "SubnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
            "SecurityGroupIds": ["sg-0123456789abcdef0"],
        }
    ]
    assert info["Serverless"]["ClientAuthentication"] == {"Sasl": {"Iam": {"Enabled": True}}}


def test_find_matches_the_exact_name_not_the_prefix(provider, account):
    longer = provider.create_cluster(account, spec("team-a-dev"))
    exact = provider.create_cluster(account, spec("team-a"))

    assert provider.find_cluster(account, "team-a") == exact
    assert provider.find_cluster(account, "team-a-dev") == longer
    assert provider.find_cluster(account, "team") is None
    assert provider.find_cluster(account, "team-b") is None


def test_list_returns_every_serverless_cluster(provider, account):
    names = {f"cluster-{i:02d}" for i in range(12)}
    for name in names:
        provider.create_cluster(account, spec(name))
    # A provisioned cluster in the same account is not the portal's business.
    aws_control.kafka_client(account).create_cluster_v2(
        ClusterName="provisioned-one",
        Provisioned={
            "BrokerNodeGroupInfo": {
                "InstanceType": "kafka.m5.large",
                "ClientSubnets": ["subnet-1", "subnet-2"],
            },
            "KafkaVersion": "3.6.0",
            "NumberOfBrokerNodes": 2,
        },
    )

    listed = provider.list_clusters(account)

    assert {state.name for state in listed} == names
    assert all(state.arn and state.state == "CREATING" for state in listed)


def test_delete_cluster(provider, account):
    created = provider.create_cluster(account, spec("team-a"))
    kept = provider.create_cluster(account, spec("team-a-dev"))

    provider.delete_cluster(account, created.arn)

    assert provider.find_cluster(account, "team-a") is None
    assert [state.arn for state in provider.list_clusters(account)] == [kept.arn]


def test_tag_cluster_sets_the_portal_tags_and_keeps_the_others(provider, account):
    created = provider.create_cluster(account, spec("team-a", team="someone-else", owner="ops"))

    provider.tag_cluster(
        account, created.arn, {"team": "team-a", "cost-center": "CC-A", "environment": "dev"}
    )

    tags = aws_control.kafka_client(account).list_tags_for_resource(ResourceArn=created.arn)["Tags"]
    assert tags == {"team": "team-a", "cost-center": "CC-A", "environment": "dev", "owner": "ops"}
    # What drift detection reads: the listing carries the new tags.
    assert provider.find_cluster(account, "team-a").tags == tags


def test_tagging_a_cluster_that_is_gone_is_not_found(provider, account, kafka_stub):
    arn = f"arn:aws:kafka:us-east-1:{ACCOUNT_ID}:cluster/gone/c07c74ea-5146-4a03-add1-9baa787a5b14-s3"
    kafka_stub.add_client_error(
        "tag_resource",
        service_error_code="NotFoundException",
        service_message="Cluster not found",
        http_status_code=404,
        expected_params={"ResourceArn": arn, "Tags": {"team": "a"}},
    )

    with pytest.raises(NotFound, match="Cluster not found"):
        provider.tag_cluster(account, arn, {"team": "a"})


def test_accounts_are_isolated(provider, account):
    other = AccountRef(
        account_id="444455556666", region="us-east-1", role_arn="arn:aws:iam::444455556666:role/msk-portal"
    )
    provider.create_cluster(account, spec("team-a"))

    assert provider.find_cluster(other, "team-a") is None
    assert provider.list_clusters(other) == []


# --- Pagination (moto ignores MaxResults: the Stubber plays AWS's pages) ----------------------------


def _info(name: str, state: str = "ACTIVE") -> dict:
    return {
        "ClusterName": name,
        "ClusterArn": f"arn:aws:kafka:us-east-1:{ACCOUNT_ID}:cluster/{name}/c07c74ea-5146-4a03-add1-9baa787a5b14-s3",
        "ClusterType": "SERVERLESS",
        "State": state,
        "Tags": {"team": "a"},
    }


def test_list_follows_next_token_across_pages(account, kafka_stub):
    kafka_stub.add_response(
        "list_clusters_v2",
        {"ClusterInfoList": [_info("a"), _info("b")], "NextToken": "page-2"},
        {"ClusterTypeFilter": "SERVERLESS", "MaxResults": 2},
    )
    kafka_stub.add_response(
        "list_clusters_v2",
        {"ClusterInfoList": [_info("c", "CREATING")]},
        {"ClusterTypeFilter": "SERVERLESS", "MaxResults": 2, "NextToken": "page-2"},
    )

    listed = aws_control.list_serverless_clusters(account, page_size=2)

    assert [(s.name, s.state) for s in listed] == [("a", "ACTIVE"), ("b", "ACTIVE"), ("c", "CREATING")]
    assert listed[0].tags == {"team": "a"}


def test_find_reads_past_the_first_page_and_skips_a_deleting_twin(account, kafka_stub):
    name_filter = {"ClusterTypeFilter": "SERVERLESS", "ClusterNameFilter": "team-a"}
    kafka_stub.add_response(
        "list_clusters_v2",
        {"ClusterInfoList": [_info("team-a-dev"), _info("team-a", "DELETING")], "NextToken": "t2"},
        name_filter,
    )
    kafka_stub.add_response(
        "list_clusters_v2",
        {"ClusterInfoList": [_info("team-a-prod"), _info("team-a", "CREATING")]},
        {**name_filter, "NextToken": "t2"},
    )

    found = aws_control.find_cluster_by_name(account, "team-a")

    assert (found.name, found.state) == ("team-a", "CREATING")


def test_find_ignores_a_cluster_that_is_only_deleting(account, kafka_stub):
    kafka_stub.add_response(
        "list_clusters_v2",
        {"ClusterInfoList": [_info("team-a", "DELETING"), _info("team-a-dev")]},
        {"ClusterTypeFilter": "SERVERLESS", "ClusterNameFilter": "team-a"},
    )

    assert aws_control.find_cluster_by_name(account, "team-a") is None


# --- moto gaps filled with the Stubber ----------------------------------------------------------


def test_duplicate_name_is_name_conflict(provider, account, kafka_stub):
    kafka_stub.add_client_error(
        "create_cluster_v2",
        service_error_code="ConflictException",
        service_message="A resource with this name already exists.",
        http_status_code=409,
        expected_params=create_request("team-a", team="a"),
    )

    with pytest.raises(NameConflict) as caught:
        provider.create_cluster(account, spec("team-a", team="a"))
    assert "already exists" in caught.value.message
    assert not caught.value.transient


def test_bootstrap_brokers_is_the_sasl_iam_string(provider, account, kafka_stub):
    arn = _info("team-a")["ClusterArn"]
    kafka_stub.add_response(
        "get_bootstrap_brokers",
        {"BootstrapBrokerStringSaslIam": BOOTSTRAP, "BootstrapBrokerStringSaslIamIpv6": "ignored:9098"},
        {"ClusterArn": arn},
    )

    assert provider.bootstrap_brokers(account, arn) == BOOTSTRAP


def test_bootstrap_brokers_missing_while_creating_is_transient(account, kafka_stub):
    kafka_stub.add_response("get_bootstrap_brokers", {}, {"ClusterArn": ANY})

    with pytest.raises(TransientError):
        aws_control.bootstrap_brokers(account, _info("team-a")["ClusterArn"])


def test_deleting_a_cluster_already_gone_is_fine(provider, account, kafka_stub):
    # moto answers a second delete with HTTP 500 (KeyError); AWS answers NotFoundException.
    kafka_stub.add_client_error(
        "delete_cluster",
        service_error_code="NotFoundException",
        service_message="Cluster not found",
        http_status_code=404,
        expected_params={"ClusterArn": _info("gone")["ClusterArn"]},
    )

    provider.delete_cluster(account, _info("gone")["ClusterArn"])


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("TooManyRequestsException", 429),
        ("ThrottlingException", 400),
        ("InternalServerErrorException", 500),
        ("ServiceUnavailableException", 503),
        ("SomethingNew", 502),
    ],
)
def test_throttling_and_server_errors_are_transient(provider, account, kafka_stub, code, status):
    kafka_stub.add_client_error(
        "list_clusters_v2", service_error_code=code, service_message="Rate exceeded", http_status_code=status
    )

    with pytest.raises(TransientError) as caught:
        provider.list_clusters(account)
    assert caught.value.transient
    assert "Rate exceeded" in caught.value.message


@pytest.mark.parametrize(
    ("code", "status"), [("ForbiddenException", 403), ("UnauthorizedException", 401), ("AccessDenied", 403)]
)
def test_access_errors_name_the_role_and_account(provider, account, kafka_stub, code, status):
    kafka_stub.add_client_error(
        "create_cluster_v2",
        service_error_code=code,
        service_message="not authorized to perform: kafka:CreateClusterV2",
        http_status_code=status,
    )

    with pytest.raises(AccessDenied) as caught:
        provider.create_cluster(account, spec("team-a"))
    message = caught.value.message
    assert ROLE_ARN in message and ACCOUNT_ID in message
    assert "kafka:CreateClusterV2" in message
    assert not caught.value.transient


def test_other_client_errors_are_permanent_with_the_aws_message(provider, account, kafka_stub):
    kafka_stub.add_client_error(
        "create_cluster_v2",
        service_error_code="BadRequestException",
        service_message="The subnet subnet-0123456789abcdef0 does not exist.",
        http_status_code=400,
    )

    with pytest.raises(ProviderError) as caught:
        provider.create_cluster(account, spec("team-a"))
    assert type(caught.value) is ProviderError
    assert not caught.value.transient
    assert "subnet-0123456789abcdef0 does not exist" in caught.value.message


def test_expired_token_forgets_the_credentials(account, kafka_stub, sts_calls):
    kafka_stub.add_client_error(
        "list_clusters_v2", service_error_code="ExpiredTokenException", http_status_code=403
    )
    before = len(sts_calls)

    with pytest.raises(TransientError):
        aws_control.list_serverless_clusters(account)
    aws_control.credentials(account)
    assert len(sts_calls) == before + 1


def test_unreachable_endpoint_is_transient(account, settings, moto_url):
    settings.AWS_MAX_ATTEMPTS = 1
    aws_control.credentials(account)  # assumed against moto; then AWS goes away
    settings.AWS_ENDPOINT_URL = "http://127.0.0.1:9"  # discard port: nothing listens

    with pytest.raises(TransientError) as caught:
        aws_control.list_serverless_clusters(account)
    assert "unreachable" in caught.value.message

    aws_control.clear_caches()
    with pytest.raises(TransientError) as caught:
        aws_control.credentials(account)
    assert ROLE_ARN in caught.value.message


# --- Assumed-role sessions -----------------------------------------------------------------------


def test_assume_role_is_cached_per_role_and_external_id(provider, account, sts_calls):
    provider.create_cluster(account, spec("team-a"))
    provider.find_cluster(account, "team-a")
    provider.list_clusters(account)
    assert sts_calls == [ROLE_ARN]

    other_external_id = AccountRef(
        account_id=ACCOUNT_ID, region="us-east-1", role_arn=ROLE_ARN, external_id="another"
    )
    provider.list_clusters(other_external_id)
    provider.list_clusters(other_external_id)
    assert sts_calls == [ROLE_ARN, ROLE_ARN]


def test_credentials_are_renewed_five_minutes_before_expiry(account, sts_calls, monkeypatch):
    first = aws_control.credentials(account)
    first_client = aws_control.kafka_client(account)
    expires_at = first.expires_at

    monkeypatch.setattr(aws_control, "_now", lambda: expires_at - timedelta(minutes=5, seconds=1))
    assert aws_control.credentials(account) is first
    assert aws_control.kafka_client(account) is first_client
    assert len(sts_calls) == 1

    monkeypatch.setattr(aws_control, "_now", lambda: expires_at - timedelta(minutes=4, seconds=59))
    renewed = aws_control.credentials(account)
    assert renewed is not first
    assert len(sts_calls) == 2
    assert aws_control.kafka_client(account) is not first_client  # clients follow their credentials


def test_concurrent_first_calls_assume_the_role_once(account, sts_calls):
    barrier = threading.Barrier(8)
    results = []

    def worker():
        barrier.wait()
        results.append(aws_control.credentials(account))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert len(results) == 8 and len({id(creds) for creds in results}) == 1
    assert sts_calls == [ROLE_ARN]


def test_assume_role_sends_the_external_id_and_session_name(account, monkeypatch):
    stubbers = []
    real = aws_control._sts_client

    def stubbed(region):
        sts = real(region)
        stubber = Stubber(sts)
        stubber.add_client_error(
            "assume_role",
            service_error_code="AccessDenied",
            service_message=f"User: arn:aws:iam::123456789012:user/portal is not authorized to perform: "
            f"sts:AssumeRole on resource: {ROLE_ARN}",
            http_status_code=403,
            expected_params={"RoleArn": ROLE_ARN, "RoleSessionName": "msk-portal", "ExternalId": "ext-123"},
        )
        stubber.activate()
        stubbers.append(stubber)
        return sts

    monkeypatch.setattr(aws_control, "_sts_client", stubbed)

    with pytest.raises(AccessDenied) as caught:
        AwsProvider().list_clusters(account)
    assert caught.value.message.startswith(
        f"The portal cannot assume {ROLE_ARN} in account {ACCOUNT_ID}: User: arn:aws:iam::123456789012:user/portal"
    )
    stubbers[0].assert_no_pending_responses()


def test_client_configuration_follows_settings(account, settings, moto_url):
    settings.AWS_CONNECT_TIMEOUT_SECONDS = 3
    settings.AWS_READ_TIMEOUT_SECONDS = 7
    settings.AWS_MAX_ATTEMPTS = 4

    kafka = aws_control.kafka_client(account)

    assert kafka.meta.endpoint_url == moto_url
    assert kafka.meta.region_name == "us-east-1"
    assert kafka.meta.config.connect_timeout == 3
    assert kafka.meta.config.read_timeout == 7
    assert kafka.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 4}
    assert aws_control.kafka_client(account) is kafka


def test_secrets_stay_out_of_reprs(account):
    creds = aws_control.credentials(account)

    assert creds.secret_access_key and creds.session_token
    assert creds.secret_access_key not in repr(creds) and creds.session_token not in repr(creds)


# --- Grants: inline role policies in moto IAM ------------------------------------------------------


def _document(topic: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["kafka-cluster:Connect"],
                "Resource": f"arn:aws:kafka:us-east-1:{ACCOUNT_ID}:cluster/shared/uuid-s1",
            },
            {
                "Effect": "Allow",
                "Action": ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"],
                "Resource": f"arn:aws:kafka:us-east-1:{ACCOUNT_ID}:topic/shared/uuid-s1/{topic}",
            },
        ],
    }


@pytest.fixture
def app_role(account) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = aws_control.iam_client(account).create_role(
        RoleName="orders-consumer", Path="/apps/", AssumeRolePolicyDocument=json.dumps(trust)
    )
    return role["Role"]["Arn"]


def _inline(account, role_name: str) -> dict:
    iam = aws_control.iam_client(account)
    return {
        name: iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
        for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    }


def test_grant_puts_replaces_and_deletes_an_inline_policy(provider, account, app_role):
    assert app_role == f"arn:aws:iam::{ACCOUNT_ID}:role/apps/orders-consumer"
    grant = GrantSpec(
        principal_arn=app_role, policy_name="msk-portal-grant-7", policy_document=_document("a.*")
    )

    provider.apply_grant(account, grant)
    provider.apply_grant(account, grant)  # idempotent
    assert _inline(account, "orders-consumer") == {"msk-portal-grant-7": _document("a.*")}

    changed = GrantSpec(
        principal_arn=app_role, policy_name="msk-portal-grant-7", policy_document=_document("b")
    )
    provider.apply_grant(account, changed)
    assert _inline(account, "orders-consumer") == {"msk-portal-grant-7": _document("b")}

    provider.remove_grant(account, changed)
    assert _inline(account, "orders-consumer") == {}
    provider.remove_grant(account, changed)  # already gone: fine


def test_grant_to_a_missing_role_is_not_found_and_removing_it_is_fine(provider, account):
    grant = GrantSpec(
        principal_arn=f"arn:aws:iam::{ACCOUNT_ID}:role/nobody",
        policy_name="p",
        policy_document=_document("x"),
    )

    with pytest.raises(NotFound):
        provider.apply_grant(account, grant)
    provider.remove_grant(account, grant)


@pytest.mark.parametrize(
    ("principal", "role_name"),
    [
        (f"arn:aws:iam::{ACCOUNT_ID}:role/plain", "plain"),
        (f"arn:aws:iam::{ACCOUNT_ID}:role/a/b/pathed", "pathed"),
        (f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/session-role/alice@example.com", "session-role"),
    ],
)
def test_role_name_from_principal_arn(account, principal, role_name):
    assert aws_control.role_name_from_principal_arn(account, principal) == role_name


@pytest.mark.parametrize(
    "principal",
    [
        f"arn:aws:iam::{ACCOUNT_ID}:user/alice",
        "arn:aws:iam::999999999999:role/elsewhere",
        "not-an-arn",
        f"arn:aws:iam::{ACCOUNT_ID}:role/",
    ],
)
def test_grants_only_go_to_roles_of_the_account(provider, account, principal):
    grant = GrantSpec(principal_arn=principal, policy_name="p", policy_document={})

    with pytest.raises(ProviderError) as caught:
        provider.apply_grant(account, grant)
    assert type(caught.value) is ProviderError and not caught.value.transient
