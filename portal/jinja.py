"""The few templates rendered many times a page are Jinja2 templates (`templates/jinja2/`): the rows of the
two long lists (`clusters/_request_rows.html`, `clusters/_queue_rows.html`) and the filter bars
(`_filter_bar.html`). Every other template, the pages and tables around them included, is Django's
template language.

Why: a page of the approval queue is 50 rows of about 30 values each, and Django's template language
resolves and escapes each value through several layers of calls. The same 50 rows render in 2.6 ms with
Django's templates and 1.0 ms with Jinja2, which compiles a template to Python; a filter bar of six fields
in 0.8 and 0.2 ms. That was most of what kept the long lists above their latency target (bench/pages.py).
The output is the same HTML, escaped the same way (autoescape on).

`render_partial` renders one for a Django template to insert (`{{ rows }}`, `{{ form }}`) or for an htmx
answer. The filters the templates use are named in settings.TEMPLATES (`OPTIONS["filters"]`), so this
module, at the bottom of the apps' layers, imports none of the apps above it.
"""

from __future__ import annotations

import jinja2
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template import engines
from django.utils.module_loading import import_string
from django.utils.safestring import SafeString, mark_safe


def environment(*, filters: dict[str, str] | None = None, **options) -> jinja2.Environment:
    """The Jinja2 engine's environment (settings.TEMPLATES): `filters` maps a filter's name to the dotted
    path of its function, under the names the Django templates give them (`usd`, `utc_minute`)."""
    options.pop("autoescape", None)  # Django's default, said here too: every value is escaped
    env = jinja2.Environment(autoescape=True, **options)
    env.filters.update({name: import_string(path) for name, path in (filters or {}).items()})
    return env


def render_partial(template_name: str, context: dict, *, request: HttpRequest | None = None) -> SafeString:
    """`template_name` (under templates/jinja2/) as HTML. With `request`, the page's CSRF token as
    `csrf_token`, read once for all of the partial's forms (the engine's own would mask a new token for
    each of the hundred forms of a queue page)."""
    if request is not None:
        context = {**context, "csrf_token": get_token(request)}
    return mark_safe(engines["jinja2"].get_template(template_name).render(context))  # noqa: S308 (autoescaped)
