"""Filing a request from a form: who may, validating through the service without saving (the preview),
and submitting. New requests (`requests`) and change requests (`changes`) share this flow."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from clusters import forms, selectors
from clusters.models import Request
from clusters.requests import services
from portal import access
from portal.errors import Conflict, NotAllowed


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


def submit(request: HttpRequest, form: forms.ServiceForm, prepared) -> HttpResponse | None:
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


def prepare_and_submit(request: HttpRequest, form: forms.ServiceForm):
    """(response, prepared): a redirect once a POST is saved; otherwise no response and what the preview
    shows (None for a GET or a refused form, whose errors are on it)."""
    if request.method != "POST":
        return None, None
    prepared = prepare(form, request.user)
    if prepared is None:
        return None, None
    return submit(request, form, prepared), prepared


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
