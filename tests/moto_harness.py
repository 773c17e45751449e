"""moto in server mode over HTTP, and the harness that fills its gaps: shared by tests/clusters/integrations/aws/ and bench/.

- `moto_server()`: a ThreadedMotoServer on a free 127.0.0.1 port for as long as the `with` lasts;
- `DUMMY_CREDENTIALS` / `AWS_VARIABLES_TO_CLEAR`: the environment boto3 needs to reach it and nothing else;
- `reset(url)`: an empty moto (every backend), between tests;
- `ACCOUNT_ID` / `ROLE_ARN` / `EXTERNAL_ID`: the account the portal's role is assumed in;
- `make_clusters_active(account_id)` and `answer_bootstrap_brokers(client, ...)`: moto never turns a
  serverless cluster ACTIVE and has no GetBootstrapBrokers; these do both, outside product code;
- `retry_waits_skipped()`: botocore's waits between attempts (backoff, adaptive rate limiter) take no time.

Imports nothing of the portal's: the portal reaches moto only through settings.AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from unittest import mock

from botocore import endpoint
from botocore.awsrequest import AWSResponse
from botocore.retries import bucket
from moto.kafka.models import kafka_backends
from moto.server import ThreadedMotoServer

from tests.processes import free_port

ACCOUNT_ID = "111122223333"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/msk-portal"
EXTERNAL_ID = "ext-123"

DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
# Anything that could point boto3 at a real account or another endpoint.
AWS_VARIABLES_TO_CLEAR = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """Start moto on a free port; yields its URL (for settings.AWS_ENDPOINT_URL)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def reset(url: str) -> None:
    """Empty every moto backend."""
    # A fixed http://127.0.0.1 URL: no file: or custom scheme can reach urlopen.
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310
        pass


def make_clusters_active(account_id: str = ACCOUNT_ID) -> None:
    """What MSK does a few minutes after CreateClusterV2, and moto never does: every cluster ACTIVE."""
    for backend in kafka_backends[account_id].values():
        for cluster in backend.clusters.values():
            cluster.state = "ACTIVE"


def answer_bootstrap_brokers(client, bootstrap_for: Callable[[str], str]) -> Callable[[], None]:
    """Answer GetBootstrapBrokers on `client` (a boto3 kafka client) with the real response shape, the
    bootstrap string being bootstrap_for(cluster ARN asked about). Returns the function that undoes it."""
    asked: list[str] = []

    def remember_arn(params, **kwargs):
        asked.append(params["ClusterArn"])

    def answer(**kwargs):
        return AWSResponse("", 200, {}, None), {"BootstrapBrokerStringSaslIam": bootstrap_for(asked[-1])}

    client.meta.events.register("before-parameter-build.kafka.GetBootstrapBrokers", remember_arn)
    client.meta.events.register("before-call.kafka.GetBootstrapBrokers", answer)

    def undo() -> None:
        client.meta.events.unregister("before-parameter-build.kafka.GetBootstrapBrokers", remember_arn)
        client.meta.events.unregister("before-call.kafka.GetBootstrapBrokers", answer)

    return undo


class SkippedWaits:
    """The seconds botocore would have waited, added to what its retry clocks read instead of slept."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.count = 0

    def sleep(self, seconds: float | None) -> None:
        self.seconds += seconds or 0
        self.count += 1


class _VirtualClock(bucket.Clock):
    """botocore's retry clock (adaptive mode's token bucket and rate measure), on the skipped waits."""

    def __init__(self, waits: SkippedWaits) -> None:
        self.waits = waits

    def sleep(self, amount):
        self.waits.sleep(amount)

    def current_time(self):
        return time.time() + self.waits.seconds


@contextlib.contextmanager
def retry_waits_skipped() -> Iterator[SkippedWaits]:
    """botocore's waits between attempts take no time: the backoff before a retry (botocore.endpoint's
    time.sleep) and the adaptive rate limiter's wait for a token (TokenBucket) are computed as usual and
    counted, and the time botocore's retry clocks read moves on by as much. What the tests check, the
    attempts and what they bring back, is unchanged; the run does not sleep through adaptive mode's
    backoffs (up to 1 s, 2 s, 4 s … after a throttle) and its 0.5 request/s token rate."""
    waits = SkippedWaits()

    class Condition(threading.Condition):  # TokenBucket waits for a token with its condition's wait(timeout)
        def wait(self, timeout=None):
            waits.sleep(timeout)
            return False

    class Threading:  # botocore.retries.bucket's `threading`: Lock as is, Condition above
        Lock = threading.Lock

    Threading.Condition = Condition

    class Time:  # botocore.endpoint's `time`: its sleep() is the backoff before a retry
        def __getattr__(self, name):
            return getattr(time, name)

        def sleep(self, seconds):
            waits.sleep(seconds)

    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(endpoint, "time", Time()))
        stack.enter_context(mock.patch.object(bucket, "threading", Threading))
        stack.enter_context(mock.patch.object(bucket, "Clock", lambda: _VirtualClock(waits)))
        yield waits
