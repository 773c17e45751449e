"""The MSK provider seam: `get_provider()` returns the implementation chosen by MSK_PROVIDER (local|aws)."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from clusters.providers.base import MskProvider

PROVIDERS = {
    "local": "clusters.providers.local.LocalProvider",
    "aws": "clusters.providers.aws.AwsProvider",
}


@cache
def get_provider() -> MskProvider:
    return import_string(PROVIDERS[settings.MSK_PROVIDER])()
