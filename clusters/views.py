"""HTML views for requests, approvals and the cluster inventory.

They parse input with `clusters.forms`, call one `clusters.services` function or a `clusters.selectors`
read, and render. Access rules come from `portal.access`: an object the user may not see is a 404, an
action they may not take a 403. With htmx, forms preview live (`request_preview`) and the approval queue
decides inline (the row is swapped for its new state).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clusters import client_config, forms, limits, provisioning, selectors, services
from clusters.models import AccessGrant, Cluster, DriftFinding, PlatformSettings, Replicator, Request, Topic
from clusters.observability import selectors as observability_selectors
from portal import access
from portal.errors import Conflict, NotAllowed, PortalError
from portal.htmx import is_htmx_partial

PAGE_SIZE = 50

NEW_FORMS = {
    "cluster": (forms.ClusterRequestForm, "New cluster"),
    "topic": (forms.TopicRequestForm, "New topic"),
    "access": (forms.AccessRequestForm, "Access to a topic"),
}


def _require_requester(request: HttpRequest) -> None:
    """Finance never files requests; people in no team have nobody to file for."""
    if not selectors.can_file_requests(request.user):
        if access.is_finance(request.user):
            raise PermissionDenied("Finance users do not file requests.")
        raise PermissionDenied("You are not a member of any team; ask a platform admin to add you to yours.")


def _require_admin(request: HttpRequest) -> None:
    if not access.is_platform_admin(request.user):
        raise PermissionDenied("Only platform admins decide on requests.")


def _posted(request: HttpRequest):
    """The POST data to bind a form to (even when empty), or None for a GET."""
    return request.POST if request.method == "POST" else None


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


# --- Lists ----------------------------------------------------------------------------------------


@login_required
@require_GET
def request_list(request: HttpRequest) -> HttpResponse:
    form = forms.RequestFilterForm(request.GET or None, teams=access.teams_visible_to(request.user))
    requests = selectors.request_list(user=request.user, filters=form.filters())
    page = selectors.KeyPaginator(requests, PAGE_SIZE, load=selectors.request_rows).get_page(
        request.GET.get("page")
    )
    context = {
        "form": form,
        "page": page,
        "query": _query_without_page(request),
        "sees_all": access.is_platform_admin(request.user),
        "can_request": selectors.can_file_requests(request.user),
    }
    template = "clusters/_request_table.html" if is_htmx_partial(request) else "clusters/request_list.html"
    return render(request, template, context)


@login_required
@require_GET
def approval_queue(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    form = forms.ApprovalFilterForm(request.GET or None, teams=access.teams_visible_to(request.user))
    requests = selectors.approval_queue(user=request.user, filters=form.filters(), sort=form.sort_order())
    page = selectors.KeyPaginator(requests, PAGE_SIZE, load=selectors.open_request_rows).get_page(
        request.GET.get("page")
    )
    context = {
        "form": form,
        "page": page,
        "query": _query_without_page(request),
        "back_url": request.get_full_path(),
    }
    template = "clusters/_queue_table.html" if is_htmx_partial(request) else "clusters/approval_queue.html"
    return render(request, template, context)


# --- New requests ---------------------------------------------------------------------------------


@login_required
@require_GET
def request_new(request: HttpRequest) -> HttpResponse:
    _require_requester(request)
    return render(request, "clusters/request_new.html")


def _prepare(form: forms.ServiceForm, user):
    """Validate through the service without saving; None (and errors on the form) when it refuses."""
    if not form.is_valid():
        return None
    try:
        return form.prepare(actor=user, **form.service_kwargs())
    except ValidationError as exc:
        form.apply_service_errors(exc)
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    return None


def _submit(request: HttpRequest, form: forms.ServiceForm, prepared) -> HttpResponse | None:
    """Save a prepared request and redirect to it; None (errors on the form) when refused."""
    try:
        saved = services.submit_request(actor=request.user, prepared=prepared)
    except ValidationError as exc:
        form.apply_service_errors(exc)
        return None
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    except Conflict as exc:  # an auto-approval that no longer fits (see the report on services)
        form.add_error(None, exc.message)
        return None
    if saved.status == Request.Status.APPROVED:
        messages.success(request, f"Request #{saved.pk} submitted and approved automatically.")
    else:
        messages.success(request, f"Request #{saved.pk} submitted. A platform admin will review it.")
    return redirect("clusters:request-detail", pk=saved.pk)


def _assessment_context(assessment: dict, cost, total, policies) -> dict:
    """What the preview panel and the request page both show: headroom, findings, cost, policies."""
    return {
        "headroom": selectors.headroom_rows(assessment),
        "warnings": selectors.findings(assessment, "warning"),
        "hard_errors": selectors.findings(assessment, "error"),
        "notes": selectors.findings(assessment, "info"),
        "cost_rows": selectors.cost_rows(cost),
        "cost_total": total,
        "policies": policies,
    }


def _preview_context(form: forms.ServiceForm, prepared) -> dict:
    suggested = None
    if isinstance(form, forms.TopicRequestForm):
        suggested = prepared.payload["suggested_partitions"] if prepared else form.suggested_partitions()
    if prepared is None:
        return {"form": form, "prepared": None, "suggested_partitions": suggested}
    if prepared.kind == Request.Kind.ACCESS_REVOKE and prepared.grant and prepared.grant.policy:
        policies = [(prepared.grant.principal_arn, selectors.pretty_json(prepared.grant.policy))]
    else:
        policies = selectors.policies_for(prepared.kind, prepared.payload)
    return {
        "form": form,
        "prepared": prepared,
        "suggested_partitions": suggested,
        **_assessment_context(prepared.assessment.as_dict(), prepared.cost, prepared.cost.total, policies),
    }


def _initial_from_query(request: HttpRequest) -> dict:
    """Links may preselect a team, cluster or topic (`?cluster=3`); the form still limits the choices."""
    return {
        key: value
        for key, value in request.GET.items()
        if key in ("team", "cluster", "topic") and value.isdigit()
    }


def _new_request(request: HttpRequest, kind: str) -> HttpResponse:
    _require_requester(request)
    form_class, title = NEW_FORMS[kind]
    form = form_class(_posted(request), user=request.user, initial=_initial_from_query(request))
    prepared = None
    if request.method == "POST":
        prepared = _prepare(form, request.user)
        if prepared is not None:
            response = _submit(request, form, prepared)
            if response is not None:
                return response
    context = {
        "form": form,
        "kind": kind,
        "title": title,
        "submitted": request.method == "POST",
        "no_clusters": "cluster" in form.fields
        and kind != "cluster"
        and not form.fields["cluster"].queryset.exists(),
        **_preview_context(form, prepared),
    }
    return render(request, "clusters/request_form.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def request_new_cluster(request: HttpRequest) -> HttpResponse:
    return _new_request(request, "cluster")


@login_required
@require_http_methods(["GET", "POST"])
def request_new_topic(request: HttpRequest) -> HttpResponse:
    return _new_request(request, "topic")


@login_required
@require_http_methods(["GET", "POST"])
def request_new_access(request: HttpRequest) -> HttpResponse:
    return _new_request(request, "access")


@login_required
@require_POST
def request_preview(request: HttpRequest, kind: str) -> HttpResponse:
    """Validate and assess without saving; answers the preview panel (200 even when the input is wrong)."""
    if kind not in NEW_FORMS:
        raise Http404("No such request form")
    _require_requester(request)
    form_class, _ = NEW_FORMS[kind]
    form = form_class(request.POST, user=request.user)
    prepared = _prepare(form, request.user)
    context = {**_preview_context(form, prepared), "kind": kind, "submitted": True, "swap_choices": True}
    return render(request, "clusters/_preview.html", context)


# --- Change requests on existing inventory --------------------------------------------------------


def _change_request(
    request: HttpRequest, *, form, title: str, target, cancel_url: str, intro: str = "", takes_down=None
):
    prepared = None
    if request.method == "POST":
        prepared = _prepare(form, request.user)
        if prepared is not None:
            response = _submit(request, form, prepared)
            if response is not None:
                return response
    context = {
        "form": form,
        "title": title,
        "target": target,
        "cancel_url": cancel_url,
        "intro": intro,
        "takes_down": takes_down,
        "submitted": request.method == "POST",
        **_preview_context(form, prepared),
    }
    return render(request, "clusters/change_form.html", context)


def _require_acts_for(request: HttpRequest, team) -> None:
    if not access.can_act_for_team(request.user, team):
        raise PermissionDenied(f"Only members of {team.name} can request changes to what it owns.")


@login_required
@require_http_methods(["GET", "POST"])
def request_topic_update(request: HttpRequest, topic_id: int) -> HttpResponse:
    _require_requester(request)
    topic = selectors.topic_get(user=request.user, pk=topic_id)
    _require_acts_for(request, topic.team)
    intro = f"cleanup.policy stays “{topic.cleanup_policy}”: it cannot be changed after creation."
    # An alert's "add partitions" link: start from what the observed peak needs, and say why.
    advice = (
        observability_selectors.topic_advice(topic) if request.GET.get("remedy") == "partitions" else None
    )
    if advice and advice.more_needed:
        intro = " ".join(
            [f"Suggested: {advice.needed} partitions (now {advice.current}).", *advice.reasons, intro]
        )
    form = forms.TopicUpdateForm(
        _posted(request), topic=topic, partitions=advice.needed if advice and advice.more_needed else None
    )
    return _change_request(
        request,
        form=form,
        title=f"Change topic {topic.name}",
        target=topic,
        cancel_url=reverse("clusters:cluster-detail", args=[topic.cluster_id]),
        intro=intro,
    )


@login_required
@require_http_methods(["GET", "POST"])
def request_topic_delete(request: HttpRequest, topic_id: int) -> HttpResponse:
    _require_requester(request)
    topic = selectors.topic_get(user=request.user, pk=topic_id)
    _require_acts_for(request, topic.team)
    form = forms.JustificationForm(
        _posted(request), prepare=services.prepare_topic_delete, target={"topic": topic}
    )
    return _change_request(
        request,
        form=form,
        title=f"Delete topic {topic.name}",
        target=topic,
        cancel_url=reverse("clusters:cluster-detail", args=[topic.cluster_id]),
        intro=f"Deleting {topic.name} on {topic.cluster.name} loses its data for good.",
    )


@login_required
@require_http_methods(["GET", "POST"])
def request_access_revoke(request: HttpRequest, grant_id: int) -> HttpResponse:
    _require_requester(request)
    grant = selectors.grant_get(user=request.user, pk=grant_id)
    _require_acts_for(request, grant.team)
    form = forms.JustificationForm(
        _posted(request), prepare=services.prepare_access_revoke, target={"grant": grant}
    )
    return _change_request(
        request,
        form=form,
        title=f"Revoke access: {grant}",
        target=grant,
        cancel_url=reverse("clusters:cluster-detail", args=[grant.cluster_id]),
        intro=f"{grant.principal_arn} loses this access once the request is approved and applied.",
    )


@login_required
@require_http_methods(["GET", "POST"])
def request_decommission(request: HttpRequest, cluster_id: int) -> HttpResponse:
    _require_requester(request)
    cluster = selectors.cluster_get(user=request.user, pk=cluster_id)
    _require_acts_for(request, cluster.team)
    form = forms.JustificationForm(
        _posted(request), prepare=services.prepare_cluster_decommission, target={"cluster": cluster}
    )
    return _change_request(
        request,
        form=form,
        title=f"Decommission cluster {cluster.name}",
        target=cluster,
        cancel_url=reverse("clusters:cluster-detail", args=[cluster.pk]),
        intro=f"Every topic on {cluster.name} and its data go with the cluster.",
        takes_down=limits.other_teams_live_topics(cluster),
    )


# --- One request, and the decisions on it ---------------------------------------------------------


def _decision_context(request: HttpRequest, obj: Request, *, error: str = "", reject_form=None) -> dict:
    user = request.user
    return {
        "takes_down": selectors.decommission_takes_down(obj),
        "req": obj,
        "can_cancel": access.can_cancel_request(user, obj),
        "can_decide": obj.is_open and access.can_decide_request(user, obj),
        "own_open_request": obj.is_open and access.is_platform_admin(user) and obj.requested_by_id == user.pk,
        "error": error,
        "reject_form": reject_form or forms.RejectForm(auto_id=f"id_%s_{obj.pk}"),
    }


@login_required
@require_GET
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    obj = selectors.request_get(user=request.user, pk=pk)
    context = {
        **_decision_context(request, obj),
        **_assessment_context(
            obj.assessment or {},
            selectors.request_cost(obj),
            obj.estimated_monthly_cost,
            selectors.request_policies(obj),
        ),
        "events": selectors.request_events(request=obj),
        "payload_rows": selectors.payload_rows(obj.payload),
        "changes": selectors.payload_changes(obj.payload),
        "access_rows": selectors.payload_access(obj.payload),
    }
    context["progress"] = selectors.request_progress(request=obj)
    context["request_obj"] = obj
    return render(request, "clusters/request_detail.html", context)


@login_required
@require_GET
def request_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The request's provisioning panel alone, for htmx polling; 286 stops polling once nothing moves."""
    obj = selectors.request_get(user=request.user, pk=pk)
    progress = selectors.request_progress(request=obj)
    response = render(request, "clusters/_request_progress.html", {"progress": progress, "request_obj": obj})
    if not progress.in_flight:
        response.status_code = 286
    return response


def _back_url(request: HttpRequest, obj: Request) -> str:
    url = request.POST.get("next", "")
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=False):
        return url
    return reverse("clusters:request-detail", args=[obj.pk])


def _decision_response(
    request: HttpRequest, pk: int, *, ok: str = "", error: str = "", status: int = 200, reject_form=None
) -> HttpResponse:
    """htmx: the queue row (or the request's decision panel) in its new state, with the message.
    Without htmx: back where the form came from, with a flash message."""
    obj = selectors.request_row(user=request.user, pk=pk)
    if is_htmx_partial(request):
        context = {**_decision_context(request, obj, error=error, reject_form=reject_form), "ok": ok}
        if request.POST.get("fragment") == "row":
            context["req"] = selectors.request_rows([obj.pk])[0]
            context["back_url"] = request.POST.get("next", "")
            return _with_approval_counts(
                request, render(request, "clusters/_queue_row.html", context, status=status)
            )
        return _with_approval_counts(
            request, render(request, "clusters/_decision_panel.html", context, status=status)
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, ok)
    return redirect(_back_url(request, obj))


def _with_approval_counts(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """An admin's navigation shows how many requests wait: the new count rides along with an inline
    decision's answer (htmx out-of-band swap), so the badge follows without a page load."""
    if access.is_platform_admin(request.user):
        counts = render_to_string(
            "_approvals_count_oob.html", {"count": selectors.open_request_count()}, request=request
        )
        response.content += counts.encode()
    return response


def _decide(request: HttpRequest, pk: int, action) -> HttpResponse:
    selectors.request_row(user=request.user, pk=pk)  # 404 before anything when the request is invisible
    try:
        return action()
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    except Conflict as exc:
        return _decision_response(request, pk, error=exc.message, status=409)


@login_required
@require_POST
def request_approve(request: HttpRequest, pk: int) -> HttpResponse:
    def approve():
        services.approve_request(
            request_id=pk, actor=request.user, override_reason=request.POST.get("override_reason", "")[:4000]
        )
        return _decision_response(request, pk, ok=f"Request #{pk} approved.")

    return _decide(request, pk, approve)


@login_required
@require_POST
def request_reject(request: HttpRequest, pk: int) -> HttpResponse:
    def reject():
        form = forms.RejectForm(request.POST, auto_id=f"id_%s_{pk}")
        form.is_valid()
        try:
            services.reject_request(
                request_id=pk, actor=request.user, reason=form.cleaned_data.get("reason", "")
            )
        except ValidationError as exc:
            reason_errors = exc.message_dict.get("reason", exc.messages) if hasattr(exc, "error_dict") else []
            reason_errors = reason_errors or exc.messages
            for message in reason_errors:
                form.add_error("reason", message)
            return _decision_response(
                request, pk, error=" ".join(reason_errors), status=422, reject_form=form
            )
        return _decision_response(request, pk, ok=f"Request #{pk} rejected.")

    return _decide(request, pk, reject)


@login_required
@require_POST
def request_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    def cancel():
        services.cancel_request(request_id=pk, actor=request.user)
        return _decision_response(request, pk, ok=f"Request #{pk} cancelled.")

    return _decide(request, pk, cancel)


# --- Inventory ------------------------------------------------------------------------------------


@login_required
@require_GET
def cluster_list(request: HttpRequest) -> HttpResponse:
    clusters = selectors.cluster_list(user=request.user, include_deleted=request.GET.get("deleted") == "1")
    page = Paginator(clusters, PAGE_SIZE).get_page(request.GET.get("page"))
    quotas = PlatformSettings.current()
    for cluster in page.object_list:
        # Quota headroom used by the live topics, as on the request forms.
        cluster.write_pct = round(100 * (cluster.write_total or 0) / quotas.max_write_mbps)
        cluster.read_pct = round(100 * (cluster.read_total or 0) / quotas.max_read_mbps)
        cluster.partition_pct = round(100 * (cluster.partition_total or 0) / quotas.max_partitions)
    context = {
        "page": page,
        "include_deleted": request.GET.get("deleted") == "1",
        "can_request": selectors.can_file_requests(request.user),
    }
    return render(request, "clusters/cluster_list.html", context)


@login_required
@require_GET
def cluster_detail(request: HttpRequest, pk: int) -> HttpResponse:
    cluster = selectors.cluster_get(user=request.user, pk=pk)
    acting = selectors.acting_team_ids(request.user)
    topics = list(selectors.cluster_topics(user=request.user, cluster=cluster))
    grants = list(selectors.cluster_grants(user=request.user, cluster=cluster))
    _mark_actions(request, [*topics, *grants], acting)
    shared_with = list(cluster.shared_with.order_by("name"))
    usable_by = {cluster.team_id, *(team.pk for team in shared_with)}
    context = {
        "cluster": cluster,
        "topics": topics,
        "grants": grants,
        "requests": selectors.cluster_requests(user=request.user, cluster=cluster),
        "can_decommission": cluster.team_id in acting and cluster.is_live,
        "can_request_here": bool(acting & usable_by) and cluster.status in selectors.USABLE_CLUSTER_STATUSES,
        "shared_with": shared_with,
        "replicator": _replicator_with_actions(request, selectors.cluster_replicator(cluster=cluster)),
        **_provisioning_context(request, cluster),
    }
    return render(request, "clusters/cluster_detail.html", context)


def _mark_actions(request: HttpRequest, items, acting: set[int]) -> None:
    """What the user may do on each topic or grant row: request changes (their team's), retry (admins)."""
    admin = access.is_platform_admin(request.user)
    for item in items:
        item.can_change = item.team_id in acting
        item.can_retry = admin and item.status == item.Status.FAILED


def _replicator_with_actions(request: HttpRequest, replicator):
    if replicator is not None:
        replicator.can_retry = (
            access.is_platform_admin(request.user) and replicator.status == Replicator.Status.FAILED
        )
    return replicator


IN_FLIGHT = {Cluster.Status.PENDING, Cluster.Status.PROVISIONING, Cluster.Status.DELETING}


def _provisioning_context(request: HttpRequest, cluster) -> dict:
    active = cluster.status == Cluster.Status.ACTIVE and cluster.bootstrap_brokers
    return {
        "cluster": cluster,
        "in_flight": cluster.status in IN_FLIGHT,
        "can_retry": cluster.status == Cluster.Status.FAILED and access.is_platform_admin(request.user),
        "events": selectors.provisioning_events(cluster=cluster),
        "java_config": client_config.java_properties(bootstrap=cluster.bootstrap_brokers) if active else "",
        "python_config": (
            client_config.python_confluent_kafka(bootstrap=cluster.bootstrap_brokers, region=cluster.region)
            if active
            else ""
        ),
    }


@login_required
@require_GET
def cluster_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The provisioning panel alone, for htmx polling; 286 tells htmx to stop once nothing moves."""
    cluster = selectors.cluster_get(user=request.user, pk=pk)
    context = _provisioning_context(request, cluster)
    response = render(request, "clusters/_provisioning_panel.html", context)
    if not context["in_flight"]:
        response.status_code = 286
    return response


@login_required
@require_POST
def cluster_retry(request: HttpRequest, pk: int) -> HttpResponse:
    cluster = selectors.cluster_get(user=request.user, pk=pk)
    if not access.is_platform_admin(request.user):
        raise PermissionDenied("Only platform admins retry provisioning.")
    provisioning.retry_cluster(cluster_id=cluster.pk, actor=request.user)
    cluster.refresh_from_db()
    if is_htmx_partial(request):
        return render(request, "clusters/_provisioning_panel.html", _provisioning_context(request, cluster))
    messages.success(request, f"Provisioning of {cluster.name} restarted.")
    return redirect("clusters:cluster-detail", pk=cluster.pk)


# --- Retrying a failed topic, grant or replicator step (platform admins) ---------------------------


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


def _retry_response(request: HttpRequest, *, cluster_id: int, ok: str, error: str, template: str, context):
    """htmx: the row (or panel) in its new state with the message, 409 when nothing was retried.
    Without htmx: back to the cluster page with a flash message."""
    if is_htmx_partial(request):
        return render(
            request, template, {**context(), "ok": ok, "error": error}, status=409 if error else 200
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, ok)
    return redirect("clusters:cluster-detail", pk=cluster_id)


def _row_context(request: HttpRequest, item, key: str):
    def context() -> dict:
        fresh = (selectors.topic_get if key == "topic" else selectors.grant_get)(
            user=request.user, pk=item.pk
        )
        _mark_actions(request, [fresh], selectors.acting_team_ids(request.user))
        return {key: fresh}

    return context


@login_required
@require_POST
def topic_retry(request: HttpRequest, pk: int) -> HttpResponse:
    topic = selectors.topic_get(user=request.user, pk=pk)  # 404 before anything when it is invisible
    ok, error = _retry(request, Topic, topic)
    return _retry_response(
        request, cluster_id=topic.cluster_id, ok=ok, error=error, template="clusters/_topic_row.html",
        context=_row_context(request, topic, "topic"),
    )  # fmt: skip


@login_required
@require_POST
def grant_retry(request: HttpRequest, pk: int) -> HttpResponse:
    grant = selectors.grant_get(user=request.user, pk=pk)
    ok, error = _retry(request, AccessGrant, grant)
    return _retry_response(
        request, cluster_id=grant.cluster_id, ok=ok, error=error, template="clusters/_grant_row.html",
        context=_row_context(request, grant, "grant"),
    )  # fmt: skip


@login_required
@require_POST
def replicator_retry(request: HttpRequest, pk: int) -> HttpResponse:
    replicator = selectors.replicator_get(user=request.user, pk=pk)
    ok, error = _retry(request, Replicator, replicator)

    def context() -> dict:
        fresh = selectors.replicator_get(user=request.user, pk=pk)
        return {"replicator": _replicator_with_actions(request, fresh)}

    return _retry_response(
        request, cluster_id=replicator.read_cluster_id, ok=ok, error=error,
        template="clusters/_replicator_panel.html", context=context,
    )  # fmt: skip


# --- Drift findings: adopt or fix (platform admins) ------------------------------------------------


def _drift_finding(request: HttpRequest, pk: int) -> DriftFinding:
    """403 for everyone but platform admins (whether or not the finding exists), then 404."""
    if not access.is_platform_admin(request.user):
        raise PermissionDenied("Only platform admins act on drift.")
    return selectors.drift_finding_get(user=request.user, pk=pk)


@login_required
@require_GET
def drift_list(request: HttpRequest) -> HttpResponse:
    if not access.is_platform_admin(request.user):
        raise PermissionDenied("Only platform admins see drift.")
    check_minutes = max(1, round(settings.DRIFT_INTERVAL_SECONDS / 60))
    return render(
        request, "clusters/drift_list.html", {"drift": selectors.open_drift(), "check_minutes": check_minutes}
    )


def _back_to_drift(request: HttpRequest, *, ok: str = "", error: str = "") -> HttpResponse:
    if error:
        messages.error(request, error)
    else:
        messages.success(request, ok)
    return redirect("clusters:drift-list")


def _drift_action(request: HttpRequest, pk: int, action, ok) -> HttpResponse:
    finding = _drift_finding(request, pk)
    try:
        cluster = action(finding_id=finding.pk, actor=request.user)
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    except PortalError as exc:  # already resolved, does not apply, MSK trouble: said in words
        return _back_to_drift(request, error=exc.message)
    return _back_to_drift(request, ok=ok(cluster))


@login_required
@require_http_methods(["GET", "POST"])
def drift_adopt(request: HttpRequest, pk: int) -> HttpResponse:
    finding = _drift_finding(request, pk)
    if finding.resolved_at is not None:
        return _back_to_drift(request, error=provisioning.ALREADY_RESOLVED)
    if finding.kind != DriftFinding.Kind.UNKNOWN:
        return _back_to_drift(request, error="Only clusters created outside the portal can be adopted.")
    form = forms.AdoptClusterForm(_posted(request), finding=finding)
    if request.method == "POST" and form.is_valid():
        try:
            cluster = provisioning.adopt_unknown_cluster(
                finding_id=finding.pk, actor=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            form.apply_service_errors(exc)
        except NotAllowed as exc:
            raise PermissionDenied(exc.message) from exc
        except PortalError as exc:
            if exc.message == provisioning.ALREADY_RESOLVED:
                return _back_to_drift(request, error=exc.message)
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"{cluster.name} is adopted: {cluster.team.name} owns it from now on.")
            return redirect("clusters:cluster-detail", pk=cluster.pk)
    return render(request, "clusters/drift_adopt.html", {"finding": finding, "form": form})


@login_required
@require_POST
def drift_retag(request: HttpRequest, pk: int) -> HttpResponse:
    return _drift_action(
        request,
        pk,
        provisioning.reapply_portal_tags,
        lambda cluster: f"Portal tags re-applied to {cluster.name}.",
    )


@login_required
@require_POST
def drift_mark_deleted(request: HttpRequest, pk: int) -> HttpResponse:
    return _drift_action(
        request,
        pk,
        provisioning.mark_deleted,
        lambda cluster: (
            f"{cluster.name} is marked deleted with its topics. To have it again, file a new cluster request."
        ),
    )
