"""HTML views: parse input, call one service or selector, render. Access rules live in `portal.access`."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing import months
from billing import selectors as billing_selectors
from clusters import selectors as cluster_selectors
from clusters.observability import selectors as observability_selectors
from portal import access, demo, selectors, services
from portal.csv_export import streaming_csv_response
from portal.errors import PortalError
from portal.filters import AuditFilterSet
from portal.forms import AddMemberForm, ApiTokenForm, SignInForm, TeamEditForm, TeamForm
from portal.health import check_broker, check_database, check_worker
from portal.htmx import is_htmx_partial
from portal.models import Membership


def _require_admin(request: HttpRequest) -> None:
    if not access.can_manage_teams(request.user):
        raise PermissionDenied("Only platform admins can manage teams.")


def _apply_model_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    dashboard = selectors.dashboard(user=request.user)
    team_rows = cluster_selectors.team_counts(
        user=request.user, teams=selectors.dashboard_teams(user=request.user), limit=selectors.DASHBOARD_TEAMS
    )
    # The month's costs from the selector the cost pages and the finance page read: the same figures.
    costs = billing_selectors.month_costs(user=request.user, month=months.current_month())
    context = {
        "dashboard": dashboard,
        "cards": [(row, costs.for_team(row.team)) for row in team_rows],
        "costs": costs,
        "attention": observability_selectors.attention(request.user),
    }
    return render(request, "portal/dashboard.html", context)


@login_required
@require_GET
def team_list(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/team_list.html", {"teams": selectors.team_list(user=request.user)})


@login_required
@require_http_methods(["GET", "POST"])
def team_create(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            team = services.team_create(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _apply_model_errors(form, exc)
        else:
            messages.success(request, f"Team {team.name} created.")
            return redirect("portal:team-detail", slug=team.slug)
    return render(request, "portal/team_form.html", {"form": form, "title": "New team"})


@login_required
@require_GET
def team_detail(request: HttpRequest, slug: str) -> HttpResponse:
    team = selectors.team_get(user=request.user, slug=slug)
    return render(
        request,
        "portal/team_detail.html",
        {
            "team": team,
            "clusters": list(cluster_selectors.team_clusters(user=request.user, team=team)),
            "members": selectors.team_members(team=team),
            "can_manage": access.can_manage_teams(request.user),
            "can_act": access.can_act_for_team(request.user, team),
            "add_member_form": AddMemberForm(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def team_edit(request: HttpRequest, slug: str) -> HttpResponse:
    _require_admin(request)
    team = selectors.team_get(user=request.user, slug=slug)
    form = TeamEditForm(request.POST or None, instance=team)
    if request.method == "POST" and form.is_valid():
        try:
            services.team_update(actor=request.user, team=team, **form.cleaned_data)
        except ValidationError as exc:
            _apply_model_errors(form, exc)
        else:
            messages.success(request, f"Team {team.name} updated.")
            return redirect("portal:team-detail", slug=team.slug)
    return render(
        request, "portal/team_form.html", {"form": form, "title": f"Edit {team.name}", "team": team}
    )


def _member_panel(request: HttpRequest, team, form: AddMemberForm) -> HttpResponse:
    return render(
        request,
        "portal/_member_panel.html",
        {
            "team": team,
            "clusters": list(cluster_selectors.team_clusters(user=request.user, team=team)),
            "members": selectors.team_members(team=team),
            "can_manage": True,
            "add_member_form": form,
        },
    )


@login_required
@require_POST
def member_add(request: HttpRequest, slug: str) -> HttpResponse:
    _require_admin(request)
    team = selectors.team_get(user=request.user, slug=slug)
    form = AddMemberForm(request.POST)
    if form.is_valid():
        try:
            services.membership_add(actor=request.user, team=team, user=form.cleaned_data["username"])
        except PortalError as exc:
            form.add_error("username", exc.message)
        else:
            messages.success(request, f"{form.cleaned_data['username'].get_username()} added to {team.name}.")
            form = AddMemberForm()
    if is_htmx_partial(request):
        return _member_panel(request, team, form)
    if form.errors:
        for error in form.errors.get("username", []):
            messages.error(request, error)
    return redirect("portal:team-detail", slug=team.slug)


@login_required
@require_POST
def member_remove(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    _require_admin(request)
    team = selectors.team_get(user=request.user, slug=slug)
    membership = get_object_or_404(Membership.objects.select_related("user", "team"), pk=pk, team=team)
    services.membership_remove(actor=request.user, membership=membership)
    messages.success(request, f"{membership.user.get_username()} removed from {team.name}.")
    if is_htmx_partial(request):
        return _member_panel(request, team, AddMemberForm())
    return redirect("portal:team-detail", slug=team.slug)


def _audit_events(request: HttpRequest) -> AuditFilterSet:
    """The events the user may see, narrowed by the filters that parse (the others are named on the page)."""
    return AuditFilterSet(
        request.GET or None, queryset=selectors.audit_event_list(user=request.user), request=request
    )


@login_required
@require_GET
def audit_list(request: HttpRequest) -> HttpResponse:
    events = _audit_events(request)
    page = Paginator(events.qs, 50).get_page(request.GET.get("page"))
    context = {"form": events.form, "page": page, "query": request.GET.urlencode()}
    template = "portal/_audit_table.html" if is_htmx_partial(request) else "portal/audit_list.html"
    return render(request, template, context)


@login_required
@require_GET
def audit_export(request: HttpRequest) -> HttpResponse:
    events = _audit_events(request).qs
    rows = (
        (
            event.created_at.isoformat(),
            event.actor_label,
            event.action,
            event.object_type,
            event.object_id,
            event.object_repr,
            event.team.slug if event.team else "",
            event.details,
        )
        for event in events.iterator(chunk_size=2000)
    )
    header = ["created_at", "actor", "action", "object_type", "object_id", "object", "team", "details"]
    return streaming_csv_response("audit-log.csv", header, rows)


def _token_panel(request: HttpRequest, form: ApiTokenForm, new_key: str | None = None) -> HttpResponse:
    template = "portal/_token_panel.html" if is_htmx_partial(request) else "portal/tokens.html"
    context = {"tokens": selectors.api_token_list(user=request.user), "form": form, "new_key": new_key}
    return render(request, template, context)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        _, new_key = services.api_token_create(user=request.user, name=form.cleaned_data["name"])
        form = ApiTokenForm()
    return _token_panel(request, form, new_key)


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        token = services.api_token_revoke(user=request.user, token_id=pk)
    except PortalError as exc:
        # Someone else's token, or none: indistinguishable on purpose.
        raise PermissionDenied(exc.message) from exc
    if is_htmx_partial(request):
        return _token_panel(request, ApiTokenForm())
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("portal:token-list")


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Database and broker reachability (HTTP 503 if either is down); the worker heartbeat is informative."""
    checks = [check_database(), check_broker(), check_worker()]
    critical_ok = all(check.ok for check in checks if check.name in {"database", "broker"})
    body = {
        "status": "ok" if critical_ok else "unavailable",
        "checks": {check.name: {"ok": check.ok, "detail": check.detail} for check in checks},
    }
    return JsonResponse(body, status=200 if critical_ok else 503)


class LoginView(auth_views.LoginView):
    """Django's login, with the password check throttled (portal.login_throttle: 429 when it is), plus the
    demo logins on a checkout where `seed_demo` made them (DEBUG only)."""

    authentication_form = SignInForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "demo_logins": demo.logins()}

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.has_error(NON_FIELD_ERRORS, "throttled"):
            response.status_code = 429
        return response
