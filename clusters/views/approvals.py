"""The approval queue and the decisions on a request: approve, reject (platform admins, never their own
request) and cancel (its requester). With htmx a decision answers with the queue row or the request's
decision panel in its new state; without, it redirects back with a message. The queue's bulk bar approves
or rejects the ticked requests (up to a page) and redirects back to the same page with a summary."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET, require_POST

from clusters import forms, selectors
from clusters.filters import ApprovalFilterSet
from clusters.models import Request
from clusters.requests import services
from clusters.views import lists
from portal import access, jinja
from portal.context_processors import open_approvals_count
from portal.errors import Conflict, NotAllowed
from portal.htmx import is_htmx_partial


@login_required
@require_GET
def approval_queue(request: HttpRequest) -> HttpResponse:
    if not access.is_platform_admin(request.user):
        raise PermissionDenied("Only platform admins decide on requests.")
    requests = ApprovalFilterSet(
        request.GET or None, queryset=selectors.approval_queue(user=request.user), request=request
    )
    listing = lists.page_context(
        request,
        requests.qs,
        build=lambda values: _queue_rows(request, selectors.rows_of(values)),
        # Unfiltered, the queue is every submitted request (admins see all): the number the
        # navigation's badge counts anyway, so the pager does not count them a second time.
        count=None if requests.narrows() else open_approvals_count(request),
    )
    back_url = request.get_full_path()
    rows = _queue_rows_html(request, listing["page"].object_list, back_url=back_url)
    # The bulk bar's "Select all on this page": the page's requests this admin may decide on.
    decidable = [str(row.pk) for row in listing["page"].object_list if row.can_decide]
    context = {"form": requests.form, **listing, "rows": rows, "back_url": back_url}
    context.update(
        bulk_ids=" ".join(decidable), bulk_count=len(decidable), bulk_limit=services.BULK_DECISION_LIMIT
    )
    template = "clusters/_queue_table.html" if is_htmx_partial(request) else "clusters/approval_queue.html"
    return lists.render_list(request, template, context)


@login_required
@require_POST
def approval_bulk(request: HttpRequest) -> HttpResponse:
    """The bulk bar: approve or reject the selected requests (`services.decide_many`), then back to the
    queue page it was sent from with what happened to each, or what is wrong with the selection."""
    if not access.is_platform_admin(request.user):
        raise PermissionDenied("Only platform admins decide on requests.")
    back = _safe_next(request) or reverse("clusters:approval-queue")
    form = forms.BulkDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(message for errors in form.errors.values() for message in errors))
        return redirect(back)
    try:
        outcome = services.decide_many(
            actor=request.user,
            request_ids=form.cleaned_data["request_ids"],
            approve=form.approve,
            reason=form.cleaned_data["reason"],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    level = messages.WARNING if outcome.decided else messages.ERROR
    messages.add_message(request, level if outcome.skipped else messages.SUCCESS, outcome.summary())
    return redirect(back)


def _queue_rows(request: HttpRequest, rows: list[selectors.RequestRow]) -> list[selectors.RequestRow]:
    """Rows of the queue as `_queue_rows.html` shows them: whether the admin may decide (and whether an
    approval needs an override reason, given on the request's page), and the links."""
    return lists.with_links(
        selectors.with_override_needed(selectors.with_decision_rights(request.user, rows)),
        detail="clusters:request-detail",
        approve="clusters:request-approve",
        reject="clusters:request-reject",
    )


def _queue_rows_html(
    request: HttpRequest,
    rows: list[selectors.RequestRow],
    *,
    back_url: str,
    ok: str = "",
    error: str = "",
    reason_errors=(),
    reason_value: str = "",
) -> SafeString:
    """`clusters/_queue_rows.html`: a page of the queue's rows, or the one row answering an inline
    decision with its message (and, for a refused rejection, the reason typed and what is wrong with it).
    `back_url` is where a decision made without htmx returns."""
    context = {"rows": rows, "back_url": back_url, "ok": ok, "error": error, "reason_errors": reason_errors}
    context["reason_value"] = reason_value
    return jinja.render_partial("clusters/_queue_rows.html", context, request=request)


def decision_context(request: HttpRequest, obj: Request, *, error: str = "", reject_form=None) -> dict:
    """What the decision panel shows of a request to this user (also part of the request's page)."""
    user = request.user
    return {
        "takes_down": selectors.decommission_takes_down(obj),
        "req": obj,
        "can_cancel": access.can_cancel_request(user, obj),
        "can_decide": access.can_decide_request(user, obj),
        "own_open_request": access.is_own_open_request(user, obj),
        "error": error,
        "reject_form": reject_form or forms.RejectForm(auto_id=f"id_%s_{obj.pk}"),
    }


def _safe_next(request: HttpRequest) -> str:
    """The posted `next` when it is a page of this site, else ""."""
    url = request.POST.get("next", "")
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=False):
        return url
    return ""


def _back_url(request: HttpRequest, obj: Request) -> str:
    return _safe_next(request) or reverse("clusters:request-detail", args=[obj.pk])


def _decision_response(
    request: HttpRequest, pk: int, *, ok: str = "", error: str = "", status: int = 200, reject_form=None
) -> HttpResponse:
    """htmx: the queue row (or the request's decision panel) in its new state, with the message.
    Without htmx: back where the form came from, with a flash message."""
    obj = selectors.request_row(user=request.user, pk=pk)
    if is_htmx_partial(request):
        if reject_form is not None and reject_form.errors:
            error = ""  # said once, under the reason box it is about (the flash says it without htmx)
        if request.POST.get("fragment") == "row":
            reason = {}
            if reject_form is not None:  # the reason the admin typed stays, with what is wrong with it
                reason = {
                    "reason_errors": reject_form.errors.get("reason", ()),
                    "reason_value": reject_form["reason"].value() or "",
                }
            row = _queue_rows(request, [selectors.one_request_row(obj.pk)])
            html = _queue_rows_html(
                request, row, back_url=request.POST.get("next", ""), ok=ok, error=error, **reason
            )
            response = HttpResponse(html, status=status)
        else:
            context = {**decision_context(request, obj, error=error, reject_form=reject_form), "ok": ok}
            response = render(request, "clusters/_decision_panel.html", context, status=status)
        return _with_approval_counts(request, response)
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
