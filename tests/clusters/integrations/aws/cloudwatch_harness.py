"""Test-side CloudWatch helpers for moto in server mode: seeding `AWS/Kafka` datapoints and injecting errors.

Product code never sees any of this. Seeding goes over HTTP with PutMetricData (≤ 1000 datapoints a call)
from a plain boto3 client holding the assumed role's credentials, so moto files the datapoints under the
account the portal's role belongs to, exactly where the portal's own reads land. Real AWS refuses
PutMetricData into `AWS/` namespaces; moto accepts it, which is what makes this stand-in possible.

Errors are injected with a `before-send` hook on the portal's cached client, i.e. after botocore built and
signed the request and before it reaches the network, so botocore's retry handler (adaptive mode) sees
them exactly as it would see AWS's answer. botocore 1.44 talks to CloudWatch in AWS JSON 1.0 (its model
also offers Smithy RPC v2 CBOR), so the error body follows the request's protocol, as AWS's would.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable

import boto3
from botocore.awsrequest import AWSResponse

NAMESPACE = "AWS/Kafka"
PUT_LIMIT = 1000  # datapoints per PutMetricData call (AWS's limit)


def seeding_client(endpoint_url: str, role_arn: str, region: str = "us-east-1"):
    """A cloudwatch client, independent of the portal's, acting as the role (moto: in the role's account)."""
    sts = boto3.client(
        "sts",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # moto's dummy keys
    )
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="seeder")["Credentials"]
    return boto3.client(
        "cloudwatch",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def datum(
    cluster: str, topic: str, metric_name: str, when: dt.datetime, value: float, broker: str = ""
) -> dict:
    """One per-partition, per-minute sample as MSK Serverless publishes it (no Partition dimension); with
    `broker`, one broker's per-minute sample of the topic as MSK Provisioned publishes it (+ Broker ID)."""
    return {
        "MetricName": metric_name,
        "Dimensions": [{"Name": "Cluster Name", "Value": cluster}]
        + ([{"Name": "Broker ID", "Value": broker}] if broker else [])
        + [{"Name": "Topic", "Value": topic}],
        "Timestamp": when,
        "Value": float(value),
        "Unit": "Bytes/Second",
    }


def lag_datum(
    cluster: str, group: str, topic: str, metric_name: str, when: dt.datetime, value: float
) -> dict:
    """One per-minute consumer-lag sample as MSK publishes it (per group × topic, no Partition dimension)."""
    return {
        "MetricName": metric_name,
        "Dimensions": [
            {"Name": "Cluster Name", "Value": cluster},
            {"Name": "Consumer Group", "Value": group},
            {"Name": "Topic", "Value": topic},
        ],
        "Timestamp": when,
        "Value": float(value),
        "Unit": "Seconds" if metric_name == "EstimatedMaxTimeLag" else "Count",
    }


def replicator_datum(replicator: str, topic: str, metric_name: str, when: dt.datetime, value: float) -> dict:
    """One per-minute MSK Replicator sample (AWS/Kafka, dimensions ReplicatorName + Topic): MessageLag is a
    count of source messages not yet consumed, ReplicationLatency milliseconds."""
    return {
        "MetricName": metric_name,
        "Dimensions": [{"Name": "ReplicatorName", "Value": replicator}, {"Name": "Topic", "Value": topic}],
        "Timestamp": when,
        "Value": float(value),
        "Unit": "Milliseconds" if metric_name == "ReplicationLatency" else "Count",
    }


def put_datapoints(client, data: Iterable[dict]) -> int:
    """PutMetricData in calls of at most 1000 datapoints; returns the number of calls."""
    calls, batch = 0, []
    for item in data:
        batch.append(item)
        if len(batch) == PUT_LIMIT:
            client.put_metric_data(Namespace=NAMESPACE, MetricData=batch)
            calls, batch = calls + 1, []
    if batch:
        client.put_metric_data(Namespace=NAMESPACE, MetricData=batch)
        calls += 1
    return calls


# --- CBOR error responses ---------------------------------------------------------------------------


def _cbor_head(major: int, length: int) -> bytes:
    if length < 24:
        return bytes([major << 5 | length])
    if length < 256:
        return bytes([major << 5 | 24, length])
    return bytes([major << 5 | 25]) + length.to_bytes(2, "big")


def _cbor_text(text: str) -> bytes:
    raw = text.encode()
    return _cbor_head(3, len(raw)) + raw


def cbor_map(fields: dict[str, str]) -> bytes:
    """A CBOR map of text to text (all an RPC v2 CBOR error body needs)."""
    return _cbor_head(5, len(fields)) + b"".join(_cbor_text(k) + _cbor_text(v) for k, v in fields.items())


class _Raw:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **kwargs):
        yield self.body


def error_response(request, status: int, code: str | None, message: str = "injected") -> AWSResponse:
    """CloudWatch's error answer in the request's protocol (AWS JSON 1.0 or RPC v2 CBOR): `__type` names
    the error, `x-amzn-query-error` carries the query-compatible code; code None → an empty body."""
    cbor = "cbor" in str(request.headers.get("Content-Type", ""))
    headers = (
        {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"}
        if cbor
        else {"Content-Type": "application/x-amz-json-1.0"}
    )
    body = b""
    if code is not None:
        fields = {"__type": f"com.amazonaws.cloudwatch#{code}", "message": message}
        body = cbor_map(fields) if cbor else json.dumps(fields).encode()
        headers["x-amzn-query-error"] = f"{code};Sender"
    return AWSResponse(request.url, status, headers, _Raw(body))


class Faults:
    """A before-send hook: `decide(n)` (n = 1-based attempt) returns (status, code) to fail, or None to pass."""

    def __init__(self, decide: Callable[[int], tuple[int, str | None] | None]):
        self.decide = decide
        self.attempts = 0
        self.injected = 0

    def before_send(self, request, **kwargs):
        self.attempts += 1
        failure = self.decide(self.attempts)
        if failure is None:
            return None
        self.injected += 1
        return error_response(request, *failure)

    def install(self, client) -> None:
        client.meta.events.register_first("before-send.cloudwatch.GetMetricData", self.before_send)

    def remove(self, client) -> None:
        client.meta.events.unregister("before-send.cloudwatch.GetMetricData", self.before_send)
