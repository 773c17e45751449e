"""moto in server mode over HTTP for the AWS control plane (clusters.integrations.aws_control).

One ThreadedMotoServer on 127.0.0.1 serves the whole session; every test starts from an empty moto
(`/moto-api/reset`), with dummy credentials in the environment, AWS_ENDPOINT_URL pointing at the server,
aws_control's credential and client caches cleared, and botocore's waits between attempts skipped
(moto_harness.retry_waits_skipped: the retries happen, their backoff takes no time).
"""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from clusters.integrations import aws_control
from clusters.providers.base import AccountRef
from tests import moto_harness
from tests.billing.conftest import billed_cluster, shared_cluster  # noqa: F401 - billing fixtures, reused here
from tests.moto_harness import ACCOUNT_ID, EXTERNAL_ID, ROLE_ARN


@pytest.fixture(scope="session")
def moto_url():
    with moto_harness.moto_server() as url:
        yield url


_RETRY_WAITS = pytest.StashKey[moto_harness.SkippedWaits]()


@pytest.fixture
def aws(moto_url, settings, monkeypatch, tmp_path, request):
    """An empty moto behind AWS_ENDPOINT_URL, dummy portal credentials, no cached sessions, no backoff sleeps.

    Other test packages import it (with moto_url) by name, so it asks only for pytest's own fixtures."""
    for name in moto_harness.AWS_VARIABLES_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    for name, value in moto_harness.DUMMY_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    settings.AWS_ENDPOINT_URL = moto_url
    moto_harness.reset(moto_url)
    aws_control.clear_caches()
    with moto_harness.retry_waits_skipped() as waits:
        request.node.stash[_RETRY_WAITS] = waits
        yield moto_url
    aws_control.clear_caches()


@pytest.fixture
def retry_waits(aws, request) -> moto_harness.SkippedWaits:
    """botocore's waits between attempts in this test, counted and skipped (moto_harness.retry_waits_skipped)."""
    return request.node.stash[_RETRY_WAITS]


@pytest.fixture
def account(aws) -> AccountRef:
    return AccountRef(account_id=ACCOUNT_ID, region="us-east-1", role_arn=ROLE_ARN, external_id=EXTERNAL_ID)


@pytest.fixture
def kafka_stub(account):
    """A botocore Stubber on the cached kafka client aws_control hands out for `account`.

    Fills moto's gaps (no ConflictException, no GetBootstrapBrokers, no pagination, no throttling);
    the Stubber checks each request against the kafka service model.
    """
    stubber = Stubber(aws_control.kafka_client(account))
    with stubber:
        yield stubber
        stubber.assert_no_pending_responses()
