"""Paging of the long request lists (request list, approval queue)."""

from __future__ import annotations

from django.http import HttpRequest

from clusters import selectors

PAGE_SIZE = 50


def query_without_page(request: HttpRequest) -> str:
    """The filters of the current list as a query string, for the pager's links."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def page_context(request: HttpRequest, requests, *, load, count: int | None = None) -> dict:
    """The asked-for page of `requests` (rows loaded by key with `load`; `count` when already known) and
    the query its links keep."""
    paginator = selectors.KeyPaginator(requests, PAGE_SIZE, load=load, count=count)
    page = paginator.get_page(request.GET.get("page"))
    return {"page": page, "query": query_without_page(request)}
