"""Drift between the inventory and MSK (platform admins only): the list of open findings, adopting a
cluster created outside the portal, re-applying the portal's tags, marking a vanished cluster deleted."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clusters import forms, provisioning, selectors
from clusters.models import DriftFinding
from clusters.views.filing import posted
from portal import access
from portal.errors import NotAllowed, PortalError


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
    form = forms.AdoptClusterForm(posted(request), finding=finding)
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
