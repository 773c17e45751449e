"""The test MSK IAM front's token check must itself be right, or the end-to-end tests prove nothing."""

from __future__ import annotations

import datetime as dt
import struct

import pytest
from aws_msk_iam_sasl_signer import MSKAuthTokenProvider
from botocore.credentials import CredentialProvider, Credentials

from tests.clusters.integrations.kafka import msk_front
from tests.clusters.integrations.kafka.msk_front import Denied, Secret, validate_token

KEY, SECRET, SESSION = "ASIATESTKEY000000001", "secret/with+odd=chars", "session/token+=="


class _Static(CredentialProvider):
    METHOD = "static"

    def load(self):
        return Credentials(KEY, SECRET, SESSION)


def _token() -> str:
    return MSKAuthTokenProvider.generate_auth_token_from_credentials_provider("eu-west-1", _Static())[0]


def _secrets(secret=SECRET, session=SESSION):
    return lambda key_id: (
        Secret(secret, session, "arn:aws:sts::1:assumed-role/r/s") if key_id == KEY else None
    )


def test_a_token_from_the_signer_is_accepted_as_its_principal():
    assert validate_token(_token(), _secrets()) == "arn:aws:sts::1:assumed-role/r/s"


@pytest.mark.parametrize(
    ("secrets", "later", "why"),
    [
        (_secrets(secret="other"), dt.timedelta(0), "signature does not match"),
        (_secrets(session="other"), dt.timedelta(0), "session token"),
        (lambda key_id: None, dt.timedelta(0), "is unknown"),
        (_secrets(), dt.timedelta(minutes=16), "expired"),
    ],
)
def test_a_token_is_refused_with_the_reason(secrets, later, why):
    token = _token()
    with pytest.raises(Denied, match=why):
        validate_token(token, secrets, now=dt.datetime.now(dt.UTC) + later)


def test_a_tampered_token_is_refused():
    url = msk_front.base64.urlsafe_b64decode(_token() + "==").decode()
    tampered = url.replace("kafka-cluster%3AConnect", "kafka-cluster%3AAlterCluster")
    token = msk_front.base64.urlsafe_b64encode(tampered.encode()).decode().rstrip("=")
    with pytest.raises(Denied, match="not kafka-cluster:Connect"):
        validate_token(token, _secrets())


def test_create_topics_v4_goes_to_the_broker_as_v3_with_the_default_replication_factor():
    def string(text: str) -> bytes:
        return struct.pack(">h", len(text)) + text.encode()

    header = struct.pack(">hhi", 19, 4, 7) + string("msk-portal")
    topic = string("t") + struct.pack(">ih", 3, -1) + struct.pack(">i", 0)
    topic += struct.pack(">i", 1) + string("retention.ms") + string("1000")
    request = header + struct.pack(">i", 1) + topic + struct.pack(">ib", 30000, 0)

    rewritten = msk_front.downgrade_create_topics(request)

    assert struct.unpack_from(">h", rewritten, 2) == (3,)
    assert rewritten == request.replace(struct.pack(">ih", 3, -1), struct.pack(">ih", 3, 1)).replace(
        struct.pack(">hhi", 19, 4, 7), struct.pack(">hhi", 19, 3, 7)
    )
