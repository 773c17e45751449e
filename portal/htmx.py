from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, QueryDict
from django.shortcuts import resolve_url
from django_htmx.http import HttpResponseClientRedirect


def is_htmx_partial(request: HttpRequest) -> bool:
    """An htmx request that wants a fragment; boosted navigation still gets whole pages."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted


class SignInAgainMiddleware:
    """An htmx request answered by the way to the sign-in page (a session that expired, or ended in another
    tab) or by a refusal (403) moves the whole page to the sign-in page, coming back to that page after.

    Otherwise htmx follows the redirect itself and swaps the sign-in form into the panel it polls, or drops
    a 403 and keeps polling. Once signed in (again), the login view sends the browser straight back: the
    page then loads afresh, with a new CSRF token, or as the full refusal page if access really went. So a
    panel a page loads or polls must refuse only whom its page refuses: otherwise every reload asks again."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        response = self.get_response(request)
        if not getattr(request, "htmx", False):
            return response
        if response.status_code == 403 or _is_redirect_to_login(response):
            return HttpResponseClientRedirect(_login_url(request))
        return response


def _is_redirect_to_login(response) -> bool:
    return response.status_code in (301, 302, 303, 307, 308) and urlsplit(
        response.get("Location", "")
    ).path == resolve_url(settings.LOGIN_URL)


def _login_url(request: HttpRequest) -> str:
    """The sign-in page, with the page the browser shows (not the fragment it asked for) as `next`."""
    page = request.htmx.current_url_abs_path or (request.get_full_path() if request.htmx.boosted else None)
    if page is None:
        return resolve_url(settings.LOGIN_URL)
    query = QueryDict(mutable=True)
    query["next"] = page
    return f"{resolve_url(settings.LOGIN_URL)}?{query.urlencode(safe='/')}"
