"""Ready-to-paste client settings for an active cluster (IAM authentication over SASL/SSL)."""

from __future__ import annotations


def java_properties(*, bootstrap: str) -> str:
    return "\n".join(
        [
            f"bootstrap.servers={bootstrap}",
            "security.protocol=SASL_SSL",
            "sasl.mechanism=AWS_MSK_IAM",
            "sasl.jaas.config=software.amazon.msk.auth.iam.IAMLoginModule required;",
            "sasl.client.callback.handler.class=software.amazon.msk.auth.iam.IAMClientCallbackHandler",
        ]
    )


def python_confluent_kafka(*, bootstrap: str, region: str) -> str:
    return "\n".join(
        [
            "# pip install confluent-kafka aws-msk-iam-sasl-signer-python",
            "from aws_msk_iam_sasl_signer import MSKAuthTokenProvider",
            "",
            "",
            "def oauth_cb(oauth_config):",
            f'    token, expiry_ms = MSKAuthTokenProvider.generate_auth_token("{region}")',
            "    return token, expiry_ms / 1000",
            "",
            "",
            "config = {",
            f'    "bootstrap.servers": "{bootstrap}",',
            '    "security.protocol": "SASL_SSL",',
            '    "sasl.mechanisms": "OAUTHBEARER",',
            '    "oauth_cb": oauth_cb,',
            "}",
        ]
    )
