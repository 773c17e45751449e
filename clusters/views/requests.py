"""The request list, filing a new cluster, topic or access request (with its live preview), and one
request's page with its provisioning progress."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clusters import forms, selectors
from clusters.filters import RequestFilterSet
from clusters.views import approvals, filing, lists
from clusters.views.polling import polled_panel
from portal import access, jinja
from portal.htmx import is_htmx_partial

NEW_FORMS = {
    "cluster": (forms.ClusterRequestForm, "New cluster"),
    "topic": (forms.TopicRequestForm, "New topic"),
    "access": (forms.AccessRequestForm, "Access to a topic"),
}


@login_required
@require_GET
def request_list(request: HttpRequest) -> HttpResponse:
    requests = RequestFilterSet(
        request.GET or None, queryset=selectors.request_list(user=request.user), request=request
    )
    listing = lists.page_context(
        request,
        requests.qs,
        build=lambda values: lists.with_links(
            selectors.with_work(selectors.rows_of(values)), detail="clusters:request-detail"
        ),
    )
    context = {
        "form": requests.form,
        **listing,
        "rows": jinja.render_partial("clusters/_request_rows.html", {"rows": listing["page"].object_list}),
        "sees_all": access.is_platform_admin(request.user),
        "can_request": selectors.can_file_requests(request.user),
    }
    template = "clusters/_request_table.html" if is_htmx_partial(request) else "clusters/request_list.html"
    return lists.render_list(request, template, context)


@login_required
@require_GET
def request_new(request: HttpRequest) -> HttpResponse:
    filing.require_requester(request)
    return render(request, "clusters/request_new.html")


def _initial_from_query(request: HttpRequest) -> dict:
    """Links may preselect a team, cluster or topic (`?cluster=3`); the form still limits the choices."""
    return {
        key: value
        for key, value in request.GET.items()
        if key in ("team", "cluster", "topic") and value.isdigit()
    }


@login_required
@require_http_methods(["GET", "POST"])
def new_request(request: HttpRequest, kind: str) -> HttpResponse:
    """A new cluster, topic or access request (`kind`, from the URL)."""
    filing.require_requester(request)
    form_class, title = NEW_FORMS[kind]
    form = form_class(filing.posted(request), user=request.user, initial=_initial_from_query(request))
    outcome = filing.prepare_and_submit(request, form)
    if outcome.response is not None:
        return outcome.response
    context = {
        "form": form,
        "kind": kind,
        "title": title,
        "submitted": request.method == "POST",
        "no_clusters": "cluster" in form.fields
        and kind != "cluster"
        and not form.fields["cluster"].queryset.exists(),
        **filing.preview_context(form, outcome.prepared),
        **filing.form_context(outcome),
    }
    return render(request, "clusters/request_form.html", context)


@login_required
@require_POST
def request_preview(request: HttpRequest, kind: str) -> HttpResponse:
    """Validate and assess without saving; answers the preview panel (200 even when the input is wrong)."""
    if kind not in NEW_FORMS:
        raise Http404("No such request form")
    filing.require_requester(request)
    form_class, _ = NEW_FORMS[kind]
    form = form_class(request.POST, user=request.user)
    prepared = filing.prepare(form, request.user)
    context = {
        **filing.preview_context(form, prepared),
        "kind": kind,
        "submitted": True,
        "swap_choices": True,
    }
    return render(request, "clusters/_preview.html", context)


def _live_context(request: HttpRequest, obj) -> dict:
    """What changes on a request's page without a reload: its facts and decision, its provisioning and its
    history (`_request_live.html` sends them again while the page polls)."""
    return {
        **approvals.decision_context(request, obj),
        "events": selectors.request_events(request=obj),
        "progress": selectors.request_progress(request=obj),
        "request_obj": obj,
    }


@login_required
@require_GET
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    obj = selectors.request_get(user=request.user, pk=pk)
    context = {
        **_live_context(request, obj),
        **filing.assessment_context(
            obj.assessment or {},
            selectors.request_cost(obj),
            obj.estimated_monthly_cost,
            selectors.request_policies(obj),
            obj.payload,
        ),
        "payload_rows": selectors.payload_rows(obj.payload),
        "changes": selectors.payload_changes(obj.payload),
        "access_rows": selectors.payload_access(obj.payload),
    }
    return render(request, "clusters/request_detail.html", context)


@login_required
@require_GET
def request_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """What the request's page polls (htmx): its provisioning panel, with its facts, decision and history
    swapped in out of band, until the request is final (rejected, cancelled, or nothing moves any more and
    no failed step can be retried); while a failed step waits for a retry, at a slower pace."""
    obj = selectors.request_get(user=request.user, pk=pk)
    context = _live_context(request, obj)
    return polled_panel(
        request, "clusters/_request_live.html", context, moving=bool(context["progress"].poll_every)
    )
