"""The MSK provider seam: `get_provider()` returns the implementation chosen by MSK_PROVIDER (local|aws), and
`account_ref` says where a cluster's calls go. Provisioning and billing both reach MSK through here.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from clusters.providers.base import AccountRef, MskProvider

PROVIDERS = {
    "local": "clusters.providers.local.provider.LocalProvider",
    "aws": "clusters.providers.aws.AwsProvider",
}


@cache
def get_provider() -> MskProvider:
    return import_string(PROVIDERS[settings.MSK_PROVIDER])()


def account_region_ref(account, region: str) -> AccountRef:
    """Where calls for a registered AWS account and region go (through the role assumed there)."""
    return AccountRef(
        account_id=account.account_id,
        region=region,
        role_arn=account.role_arn,
        external_id=account.external_id,
    )


def account_ref(cluster) -> AccountRef:
    """Where a cluster's calls go: its account (select_related it) and region."""
    return account_region_ref(cluster.account, cluster.region)
