"""The rows of the two long lists (request list, approval queue) are Jinja2 templates
(`templates/jinja2/clusters/_request_rows.html`, `_queue_rows.html`); every other template, the tables
around these rows included, is Django's template language.

Why: a page shows 50 rows of about 30 values each, and Django's template language resolves and
escapes each value through several layers of calls. The same 50 rows of the approval queue render in
2.6 ms with Django's templates and 1.1 ms with Jinja2, which compiles a template to Python; that was
most of what kept the queue above its latency target (bench/pages.py). The output is the same HTML.

`render_rows` renders a list's rows for the table's Django template (`{{ rows }}`) and for an htmx
answer that is one row.
"""

from __future__ import annotations

import jinja2
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template import engines
from django.utils.safestring import SafeString, mark_safe

from billing import pricing
from clusters.templatetags.clusters_tags import utc_minute


def environment(**options) -> jinja2.Environment:
    """The Jinja2 engine's environment (settings.TEMPLATES): the two filters the rows use, under the
    names the Django templates give them."""
    options.pop("autoescape", None)  # Django's default, said here too: every value is escaped
    env = jinja2.Environment(autoescape=True, **options)
    env.filters.update(usd=pricing.usd, utc_minute=utc_minute)
    return env


def render_rows(request: HttpRequest, template_name: str, context: dict) -> SafeString:
    """The rows of `template_name` (under templates/jinja2/) as HTML. The page's CSRF token is read once
    (its forms' hidden inputs all carry it): the engine's own `csrf_token` would mask a new one for
    each of a page's hundred forms."""
    template = engines["jinja2"].get_template(template_name)
    return mark_safe(template.render({**context, "csrf_token": get_token(request)}))  # noqa: S308 (autoescaped)
