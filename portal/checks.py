"""Django system checks for settings that are valid but wrong in production (`manage.py check --deploy`)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Tags, Warning, register

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}  # noqa: S104  # nosec B104 - compared, not bound


@register(Tags.security, deploy=True)
def portal_base_url_is_public(app_configs, **kwargs):
    host = urlsplit(settings.PORTAL_BASE_URL).hostname or ""
    if host in LOCAL_HOSTS or not settings.PORTAL_BASE_URL.startswith(("http://", "https://")):
        return [
            Warning(
                f"PORTAL_BASE_URL is {settings.PORTAL_BASE_URL!r}: links in mails and Slack messages will "
                "not open for anyone else.",
                hint="Set PORTAL_BASE_URL to the portal's public address, e.g. https://msk-portal.example.com",
                id="portal.W001",
            )
        ]
    return []
