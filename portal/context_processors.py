from django.conf import settings

from clusters import selectors as request_selectors
from portal import access


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"oidc_enabled": settings.OIDC_ENABLED}
    return {
        "oidc_enabled": settings.OIDC_ENABLED,
        "nav": {
            "is_platform_admin": access.is_platform_admin(user),
            "is_finance": access.is_finance(user),
            "role_label": "Superuser" if user.is_superuser else user.get_role_display(),
            # Callables: templates evaluate them only where the navigation is rendered (not in partials).
            "can_request": lambda: request_selectors.can_file_requests(user),
            "open_approvals": request_selectors.open_request_count
            if access.is_platform_admin(user)
            else None,
        },
    }
