"""Headers every page and API answer of the portal carries (static files, served by WhiteNoise before
this runs, are left alone):

- Content-Security-Policy (settings.CONTENT_SECURITY_POLICY): scripts and styles only from the portal's
  own static files, no inline script, no eval, no framing. The templates keep to it (htmx's own inline
  indicator style is switched off in base.html; Swagger UI loads its start script from a URL);
  tests/system/browser/test_content_security_policy.py loads every main page as each role and fails on any
  violation the browser reports.
- Cache-Control: no-store (unless the view chose its own): pages and API answers carry people's names,
  teams' costs and request details, which must not stay in shared or browser caches.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # Django's debug error pages (DEBUG only) are styled inline; under the policy they are unreadable.
        if not (settings.DEBUG and response.status_code >= 400):
            response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        if "Cache-Control" not in response.headers:
            add_never_cache_headers(response)
        return response
