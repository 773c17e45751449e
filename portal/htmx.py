from django.http import HttpRequest


def is_htmx_partial(request: HttpRequest) -> bool:
    """An htmx request that wants a fragment; boosted navigation still gets whole pages."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted
