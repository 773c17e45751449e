"""Requests to change or remove what a team already owns: a topic's settings, deleting a topic, revoking
access, decommissioning a cluster. One view; the table `CHANGES` says what differs between them (how the
object is found, the form, the wording, what else the change takes down)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from clusters import forms, selectors
from clusters.observability import selectors as observability_selectors
from clusters.requests import limits, services
from clusters.views import filing
from portal import access


@dataclass(frozen=True)
class Change:
    target: str  # what the change is about: "topic", "grant" or "cluster" (the URL's `<target>_id`)
    lookup: Callable  # (user=, pk=) -> the object, 404 when the user may not see it
    form: Callable  # (data, obj, user=, **suggested) -> the bound or unbound form
    title: str  # str.format()ted with obj=
    intro: str  # str.format()ted with obj=
    cluster_id: Callable  # obj -> the cluster page "Back" returns to
    takes_down: Callable | None = None  # obj -> other teams' live topics the change would remove
    suggest: Callable | None = None  # (request, obj) -> Suggestion from an alert's remedy link, or None


@dataclass(frozen=True)
class Suggestion:
    form_kwargs: dict  # what the form starts from instead of the object's own values
    sentences: list[str]  # why, shown above the form


def _partitions_remedy(request: HttpRequest, topic) -> Suggestion | None:
    """An alert's "add partitions" link (`?remedy=partitions`): start from what the observed peak needs."""
    if request.GET.get("remedy") != "partitions":
        return None
    advice = observability_selectors.topic_advice(topic)
    if not advice.more_needed:
        return None
    return Suggestion(
        form_kwargs={"partitions": advice.needed},
        sentences=[f"Suggested: {advice.needed} partitions (now {advice.current}).", *advice.reasons],
    )


def _asks_why(prepare, target: str):
    """Deleting and revoking only ask for a justification."""
    return lambda data, obj, **_: forms.JustificationForm(data, prepare=prepare, target={target: obj})


CHANGES = {
    "topic-update": Change(
        target="topic",
        lookup=selectors.topic_get,
        form=lambda data, topic, **kwargs: forms.TopicUpdateForm(data, topic=topic, **kwargs),
        title="Change topic {obj.name}",
        intro="cleanup.policy stays “{obj.cleanup_policy}”: it cannot be changed after creation.",
        cluster_id=lambda topic: topic.cluster_id,
        suggest=_partitions_remedy,
    ),
    "topic-delete": Change(
        target="topic",
        lookup=selectors.topic_get,
        form=_asks_why(services.prepare_topic_delete, "topic"),
        title="Delete topic {obj.name}",
        intro="Deleting {obj.name} on {obj.cluster.name} loses its data for good.",
        cluster_id=lambda topic: topic.cluster_id,
    ),
    "access-revoke": Change(
        target="grant",
        lookup=selectors.grant_get,
        form=_asks_why(services.prepare_access_revoke, "grant"),
        title="Revoke access: {obj}",
        intro="{obj.principal_arn} loses this access once the request is approved and applied.",
        cluster_id=lambda grant: grant.cluster_id,
    ),
    "decommission": Change(
        target="cluster",
        lookup=selectors.cluster_get,
        form=_asks_why(services.prepare_cluster_decommission, "cluster"),
        title="Decommission cluster {obj.name}",
        intro="Every topic on {obj.name} and its data go with the cluster.",
        cluster_id=lambda cluster: cluster.pk,
        takes_down=limits.other_teams_live_topics,
    ),
}


@login_required
@require_http_methods(["GET", "POST"])
def change_request(request: HttpRequest, change: str, **target_id: int) -> HttpResponse:
    """The form for one of `CHANGES` on the object the URL names; only its team's members may file it."""
    spec = CHANGES[change]
    filing.require_requester(request)
    obj = spec.lookup(user=request.user, pk=target_id[f"{spec.target}_id"])
    if not access.can_act_for_team(request.user, obj.team):
        raise PermissionDenied(f"Only members of {obj.team.name} can request changes to what it owns.")
    suggestion = spec.suggest(request, obj) if spec.suggest else None
    form = spec.form(
        filing.posted(request), obj, user=request.user, **(suggestion.form_kwargs if suggestion else {})
    )
    outcome = filing.prepare_and_submit(request, form)
    if outcome.response is not None:
        return outcome.response
    context = {
        "form": form,
        "title": spec.title.format(obj=obj),
        "target": obj,
        "cancel_url": reverse("clusters:cluster-detail", args=[spec.cluster_id(obj)]),
        "intro": " ".join([*(suggestion.sentences if suggestion else []), spec.intro.format(obj=obj)]),
        "takes_down": spec.takes_down(obj) if spec.takes_down else None,
        "submitted": request.method == "POST",
        **filing.preview_context(form, outcome.prepared),
        **filing.form_context(outcome),
    }
    return render(request, "clusters/change_form.html", context)
