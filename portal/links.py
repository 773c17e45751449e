"""Absolute links to the portal's pages, for messages read outside it (mails, Slack).

Every such link starts with PORTAL_BASE_URL: set it where the portal is public; `make run` (devstack)
sets it to the address it serves on.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse


def absolute_url(viewname: str, *args) -> str:
    return settings.PORTAL_BASE_URL + reverse(viewname, args=args)
