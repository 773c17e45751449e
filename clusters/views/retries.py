"""Retrying a failed topic, grant or replicator step from the cluster page (platform admins). One view;
`RETRIES` says how each kind of object is found, which row or panel answers and which cluster page it is
on. With htmx the answer is that row in its new state (409 when nothing was retried); without, a redirect
to the cluster page with a message."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from clusters import provisioning, selectors
from clusters.models import AccessGrant, Replicator, Topic
from portal import access
from portal.errors import Conflict, NotAllowed
from portal.htmx import is_htmx_partial


@dataclass(frozen=True)
class Retry:
    model: type[Model]
    lookup: Callable  # (user=, pk=) -> the object, 404 when the user may not see it
    with_actions: Callable  # (user, obj) -> obj marked with what the user may do on its row
    template: str  # the row or panel that answers an htmx retry, with the object as `name`
    name: str
    cluster_id: Callable  # obj -> the cluster page it is shown on


RETRIES = {
    "topic": Retry(
        model=Topic,
        lookup=selectors.topic_get,
        with_actions=lambda user, topic: selectors.with_row_actions(user, [topic])[0],
        template="clusters/_topic_row.html",
        name="topic",
        cluster_id=lambda topic: topic.cluster_id,
    ),
    "grant": Retry(
        model=AccessGrant,
        lookup=selectors.grant_get,
        with_actions=lambda user, grant: selectors.with_row_actions(user, [grant])[0],
        template="clusters/_grant_row.html",
        name="grant",
        cluster_id=lambda grant: grant.cluster_id,
    ),
    "replicator": Retry(
        model=Replicator,
        lookup=selectors.replicator_get,
        with_actions=selectors.replicator_with_actions,
        template="clusters/_replicator_panel.html",
        name="replicator",
        cluster_id=lambda replicator: replicator.read_cluster_id,
    ),
}


def _retry(request: HttpRequest, model, obj) -> tuple[str, str]:
    """(ok, error) of retrying obj's failed step; an object the admin may not retry is a 403."""
    if not access.is_platform_admin(request.user):
        raise PermissionDenied("Only platform admins retry provisioning.")
    try:
        words = provisioning.retry_step(model, pk=obj.pk, actor=request.user)
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    except Conflict as exc:
        return "", exc.message
    return f"Retrying {words}: {obj}.", ""


@login_required
@require_POST
def retry_step(request: HttpRequest, what: str, pk: int) -> HttpResponse:
    spec = RETRIES[what]
    obj = spec.lookup(user=request.user, pk=pk)  # 404 before anything when it is invisible
    ok, error = _retry(request, spec.model, obj)
    if is_htmx_partial(request):
        fresh = spec.with_actions(request.user, spec.lookup(user=request.user, pk=pk))
        context = {spec.name: fresh, "ok": ok, "error": error}
        return render(request, spec.template, context, status=409 if error else 200)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, ok)
    return redirect("clusters:cluster-detail", pk=spec.cluster_id(obj))
