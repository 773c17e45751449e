from django.conf import settings
from django.utils.html import escape

from clusters import selectors as request_selectors
from portal import access
from portal.links import reversed_once

# The header's links, by the name base.html reads them as (`{{ menu.teams }}`).
MENU = {
    "dashboard": "portal:dashboard",
    "teams": "portal:team-list",
    "requests": "clusters:request-list",
    "new_request": "clusters:request-new",
    "approvals": "clusters:approval-queue",
    "clusters": "clusters:cluster-list",
    "traffic": "observability:fleet",
    "drift": "clusters:drift-list",
    "finance": "billing:finance",
    "migration": "migration:monolith-list",
    "audit": "portal:audit-list",
    "tokens": "portal:token-list",
    "api_docs": "api-docs",
    "admin": "admin:index",
    "logout": "logout",
}


def navigation(request):
    user = getattr(request, "user", None)
    menu = {key: escape(reversed_once(name)) for key, name in MENU.items()}  # not 16 {% url %}
    if user is None or not user.is_authenticated:
        return {"oidc_enabled": settings.OIDC_ENABLED, "menu": menu}
    return {
        "oidc_enabled": settings.OIDC_ENABLED,
        "menu": menu,
        "nav": {
            "is_platform_admin": access.is_platform_admin(user),
            "is_finance": access.is_finance(user),
            "role_label": "Superuser" if user.is_superuser else user.get_role_display(),
            # Callables: queried only where the navigation is rendered (not in htmx fragments), and once
            # per request however often templates ask (context processors run for every render).
            "can_request": _once_per_request(
                request, "can_request", lambda: request_selectors.can_file_requests(user)
            ),
            "sees_all_costs": access.sees_all_costs(user),
            # Members: a "Costs" link per team of theirs (finance and admins use the finance page).
            "cost_teams": lambda: access.member_teams(user),
            "open_approvals": (
                (lambda: open_approvals_count(request)) if access.is_platform_admin(user) else None
            ),
            "open_drift": (
                (lambda: _admin_counts(request).open_drift) if access.is_platform_admin(user) else None
            ),
        },
    }


def open_approvals_count(request) -> int:
    """Requests waiting for an admin, counted once per request: the navigation's badge and the pager of
    the (unfiltered) approval queue show the same number, and on a long queue the count is the costliest
    query of the page."""
    return _admin_counts(request).open_requests


def _admin_counts(request):
    """Both badges of an admin's menu, read together once per request (`admin_counts`)."""
    return _cached(request, "admin_counts", request_selectors.admin_counts)


def _once_per_request(request, name: str, compute):
    return lambda: _cached(request, name, compute)


def _cached(request, name: str, compute):
    cache = request.__dict__.setdefault("_navigation_cache", {})
    if name not in cache:
        cache[name] = compute()
    return cache[name]
