"""Filing a request from a form: who may, validating through the service without saving (the preview),
and submitting once per rendered form (its one-time key, `prepare_and_submit`). New requests (`requests`) and
change requests (`changes`) share this flow."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from clusters import forms, selectors
from clusters.models import Request
from clusters.requests import idempotency, services
from portal import access
from portal.errors import Conflict, NotAllowed

SUBMISSION_KEY = "submission_key"  # the hidden field of every request form: one key per rendered page


def require_requester(request: HttpRequest) -> None:
    """Finance never files requests; people in no team have nobody to file for."""
    if not selectors.can_file_requests(request.user):
        if access.is_finance(request.user):
            raise PermissionDenied("Finance users do not file requests.")
        raise PermissionDenied("You are not a member of any team; ask a platform admin to add you to yours.")


def posted(request: HttpRequest):
    """The POST data to bind a form to (even when empty), or None for a GET."""
    return request.POST if request.method == "POST" else None


def prepare(form: forms.ServiceForm, user):
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


class _Refused(Exception):
    """The form was refused (its errors are on it): the submission key's claim rolls back with it."""


def _save(request: HttpRequest, form: forms.ServiceForm, prepared) -> Request:
    """Save a prepared request; _Refused (errors on the form) when the service refuses it."""
    try:
        return services.submit_request(actor=request.user, prepared=prepared)
    except ValidationError as exc:
        form.apply_service_errors(exc)
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    except Conflict as exc:  # an auto-approval that no longer fits (see the report on services)
        form.add_error(None, exc.message)
    raise _Refused


def _submitted(request: HttpRequest, answer: idempotency.Answer) -> HttpResponse:
    """To the request the form filed, saying so; a repeat of the form is sent to the request it filed."""
    pk = answer.body["id"]
    if answer.replayed:
        messages.info(request, f"This form was already submitted: here is request #{pk}.")
    elif answer.body["status"] == Request.Status.APPROVED:
        messages.success(request, f"Request #{pk} submitted and approved automatically.")
    else:
        messages.success(request, f"Request #{pk} submitted. A platform admin will review it.")
    return redirect("clusters:request-detail", pk=pk)


def submission_key(request: HttpRequest) -> str | None:
    """The posted form's one-time key as the idempotency service keeps it ("form:" sets it apart from API
    keys). None when the page has none or a mangled one (a page cached from before keys existed): such a
    form files without replay protection, as it used to; the duplicate rule still refuses a request that
    repeats a waiting one."""
    try:
        return f"form:{uuid.UUID(request.POST.get(SUBMISSION_KEY, '')).hex}"
    except ValueError:
        return None


def _posted_body(request: HttpRequest) -> dict:
    """What the form said: a repeat with anything else in it is not a repeat."""
    ignored = {SUBMISSION_KEY, "csrfmiddlewaretoken"}
    return {name: request.POST.getlist(name) for name in sorted(request.POST) if name not in ignored}


@dataclass(frozen=True)
class Outcome:
    """What a form's POST (or GET) came to."""

    response: HttpResponse | None = None  # the redirect once filed (or, on a repeat, to what it filed)
    prepared: services.Prepared | None = None  # what the preview shows
    already_filed: int | None = None  # this form's key filed that request, but the form changed since


def prepare_and_submit(request: HttpRequest, form: forms.ServiceForm) -> Outcome:
    """File a POSTed form once per rendered page: its key (`SUBMISSION_KEY`) is claimed through the API's
    Idempotency-Key service before anything else, so Back + Submit, a double click or a browser re-POST of
    the same form goes to the request it filed, and the same key with other input files nothing (the page
    says what was filed; the form comes back with a new key, to file the change on purpose)."""
    if request.method != "POST":
        return Outcome()
    shown = {}

    def file() -> Request:
        shown["prepared"] = prepared = prepare(form, request.user)
        if prepared is None:
            raise _Refused
        return _save(request, form, prepared)

    try:
        answer = idempotency.submit_once(
            user=request.user,
            key=submission_key(request),
            kind=f"form {request.path}",
            body=_posted_body(request),
            submit=file,
            render=lambda saved: {"id": saved.pk, "status": saved.status},
        )
    except _Refused:
        return Outcome(prepared=shown.get("prepared"))
    except idempotency.IdempotencyKeyReused as exc:
        return Outcome(already_filed=exc.request_id)
    except idempotency.IdempotencyKeyInUse:
        messages.info(
            request, "This form is still being submitted: its request appears in this list in a moment."
        )
        return Outcome(response=redirect("clusters:request-list"))
    return Outcome(response=_submitted(request, answer))


def form_context(outcome: Outcome) -> dict:
    """A new one-time key for each rendered form; and the request this page's form filed already, if any."""
    return {"submission_key": uuid.uuid4().hex, "already_filed": outcome.already_filed}


def assessment_context(assessment: dict, cost, total, policies, payload: dict | None = None) -> dict:
    """What the preview panel and the request page both show: headroom, findings, cost and what it covers
    (a cluster request's `estimate_covers`), policies."""
    return {
        "headroom": selectors.headroom_rows(assessment),
        "warnings": selectors.findings(assessment, "warning"),
        "hard_errors": selectors.findings(assessment, "error"),
        "notes": selectors.findings(assessment, "info"),
        "cost_rows": selectors.cost_rows(cost),
        "cost_total": total,
        "cost_covers": (payload or {}).get("estimate_covers", ""),
        "policies": policies,
    }


def preview_context(form: forms.ServiceForm, prepared) -> dict:
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
        **assessment_context(
            prepared.assessment.as_dict(), prepared.cost, prepared.cost.total, policies, prepared.payload
        ),
    }
