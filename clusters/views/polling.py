"""Panels htmx polls while something moves; the answer that stops the polling comes from django-htmx."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django_htmx.http import HttpResponseStopPolling


def polled_panel(request: HttpRequest, template: str, context: dict, *, moving: bool) -> HttpResponse:
    """The panel; once nothing moves, as htmx's stop-polling answer (286) so the page stops asking."""
    if moving:
        return render(request, template, context)
    return HttpResponseStopPolling(render_to_string(template, context, request=request))
