"""Optional Slack notifications through an incoming webhook (SLACK_WEBHOOK_URL); off when unset."""

from __future__ import annotations

import json
import logging
import urllib.request

from django.conf import settings

logger = logging.getLogger(__name__)


def post(text: str) -> bool:
    url = settings.SLACK_WEBHOOK_URL
    if not url:
        return False
    if not url.startswith("https://"):
        logger.warning("SLACK_WEBHOOK_URL must be an https URL; not posting")
        return False
    request = urllib.request.Request(  # noqa: S310 - https only, checked above
        url, data=json.dumps({"text": text}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310  # nosec B310
        return 200 <= response.status < 300
