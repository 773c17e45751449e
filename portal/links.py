"""Links to the portal's pages: absolute ones for messages read outside it (mails, Slack), and the ones
every page shows again and again (the menu, a row's links), reversed once per process.

Every absolute link starts with PORTAL_BASE_URL: set it where the portal is public; `make run` (devstack)
sets it to the address it serves on.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse


def absolute_url(viewname: str, *args) -> str:
    return settings.PORTAL_BASE_URL + reverse(viewname, args=args)


def reversed_once(viewname: str, *args) -> str:
    """`reverse(viewname, args=args)`, remembered per process, script prefix and URLconf: reverse() takes
    10 to 150 µs, and the menu and a page of rows ask for the same few URLs on every request."""
    return _reversed(viewname, args, get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)


@cache
def _reversed(viewname: str, args: tuple, script_prefix: str, urlconf) -> str:
    return reverse(viewname, args=args, urlconf=urlconf)
