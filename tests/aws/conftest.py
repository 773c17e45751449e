"""moto in server mode over HTTP for the AWS control plane (clusters.integrations.aws_control).

One ThreadedMotoServer on 127.0.0.1 serves the whole session; every test starts from an empty moto
(`/moto-api/reset`), with dummy credentials in the environment, AWS_ENDPOINT_URL pointing at the server
and aws_control's credential and client caches cleared.
"""

from __future__ import annotations

import socket
import urllib.request

import pytest
from botocore.stub import Stubber
from moto.server import ThreadedMotoServer

from clusters.integrations import aws_control
from clusters.providers.base import AccountRef
from tests.billing.conftest import billed_cluster, shared_cluster  # noqa: F401 - billing fixtures, reused here

ACCOUNT_ID = "111122223333"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/msk-portal"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_url():
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws(moto_url, settings, monkeypatch, tmp_path):
    """An empty moto behind AWS_ENDPOINT_URL, dummy portal credentials, no cached sessions."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                 "AWS_ENDPOINT_URL", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    settings.AWS_ENDPOINT_URL = moto_url
    # A fixed http://127.0.0.1 URL: no file: or custom scheme can reach urlopen.
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310
        pass
    aws_control.clear_caches()
    yield moto_url
    aws_control.clear_caches()


@pytest.fixture
def account(aws) -> AccountRef:
    return AccountRef(account_id=ACCOUNT_ID, region="us-east-1", role_arn=ROLE_ARN, external_id="ext-123")


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
