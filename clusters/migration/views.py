"""HTML pages of the migration assistant. Thin: parse with `forms`, call one service or selector, render.

Who may do what comes from `portal.access`: everyone signed in sees the inventory and plans (members to find
and claim their applications); members claim for their teams and state their applications' requirements;
platform admins register, read, plan and decide; money in a plan follows the cost rule (members see their
teams' figures, admins and finance all).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clusters.migration import (
    autofiling,
    cutover,
    execution,
    forms,
    inventory,
    planning,
    replication,
    replication_launch,
    selectors,
    takeover,
)
from clusters.migration.models import Application, ApplicationClaim, Cutover, Filing, MigrationPlan, Monolith
from clusters.migration.tasks import read_monolith_inventory
from clusters.views.polling import polled_panel
from portal import access
from portal.dispatch import enqueue_on_commit
from portal.errors import Conflict, NotAllowed, PortalError
from portal.htmx import is_htmx_partial


def _require_viewer(request: HttpRequest) -> None:
    if not access.can_view_migration(request.user):
        raise PermissionDenied("Sign in to see the migration.")


def _require_admin(request: HttpRequest) -> None:
    if not access.can_manage_migration(request.user):
        raise PermissionDenied("Only platform admins do this.")


def _monolith(request: HttpRequest, pk: int) -> Monolith:
    _require_viewer(request)
    return get_object_or_404(selectors.monoliths_visible_to(request.user), pk=pk)


def _errors(exc: ValidationError) -> list[str]:
    return [
        message
        for messages_ in getattr(exc, "message_dict", {"": exc.messages}).values()
        for message in messages_
    ]


@login_required
@require_GET
def monolith_list(request: HttpRequest) -> HttpResponse:
    _require_viewer(request)
    return render(
        request,
        "migration/monolith_list.html",
        {
            "monoliths": selectors.monoliths_visible_to(request.user).order_by("name"),
            "is_admin": access.can_manage_migration(request.user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def monolith_register(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    form = forms.MonolithForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
        try:
            monolith = inventory.register_monolith(actor=request.user, **fields)
        except ValidationError as exc:
            for field, problems in exc.message_dict.items():
                for problem in problems:
                    form.add_error(field if field in form.fields else None, problem)
        else:
            messages.success(
                request, f"{monolith.name} is registered. Read its inventory or upload a CSV file next."
            )
            return redirect("migration:monolith-detail", pk=monolith.pk)
    return render(request, "migration/monolith_register.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def monolith_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """An admin changes the connection and replication settings after registration."""
    monolith = _monolith(request, pk)
    _require_admin(request)
    form = forms.MonolithSettingsForm(request.POST or None, instance=Monolith.objects.get(pk=monolith.pk))
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
        try:
            inventory.update_monolith(actor=request.user, monolith_id=monolith.pk, **fields)
        except ValidationError as exc:
            for field, problems in exc.message_dict.items():
                for problem in problems:
                    form.add_error(field if field in form.fields else None, problem)
        else:
            messages.success(request, f"The settings of {monolith.name} are saved.")
            return redirect("migration:monolith-detail", pk=monolith.pk)
    return render(request, "migration/monolith_edit.html", {"monolith": monolith, "form": form})


@login_required
@require_GET
def monolith_detail(request: HttpRequest, pk: int) -> HttpResponse:
    monolith = _monolith(request, pk)
    snapshot = selectors.latest_snapshot(monolith)
    history = selectors.recent_changes(monolith)
    return render(
        request,
        "migration/monolith_detail.html",
        {
            "monolith": monolith,
            "snapshot": snapshot,
            "topics": selectors.inventory_topics(snapshot) if snapshot else [],
            "groups": snapshot.groups.all() if snapshot else [],
            "changes": history[0] if history else None,
            "earlier_changes": history[1:],
            "read_failure": selectors.last_read_failure(monolith),
            "reread_minutes": round(settings.MIGRATION_INVENTORY_INTERVAL_SECONDS / 60),
            "is_admin": access.can_manage_migration(request.user),
            "csv_form": forms.CsvUploadForm(),
            "cost_form": forms.CostForm(initial={"monthly_cost_usd": monolith.monthly_cost_usd}),
            "sees_costs": access.sees_all_costs(request.user),
            "csv_columns": inventory.CSV_COLUMNS,
        },
    )


@login_required
@require_POST
def inventory_read(request: HttpRequest, pk: int) -> HttpResponse:
    monolith = _monolith(request, pk)
    _require_admin(request)
    newest = selectors.latest_snapshot(monolith)
    enqueue_on_commit(read_monolith_inventory, monolith.pk, request.user.pk, newest.number if newest else 0)
    messages.success(
        request,
        "The portal is reading the cluster now (topics, configs, consumer groups, offsets); reload in a minute. "
        "The throughput estimate needs two readings some time apart.",
    )
    return redirect("migration:monolith-detail", pk=monolith.pk)


@login_required
@require_POST
def inventory_upload(request: HttpRequest, pk: int) -> HttpResponse:
    monolith = _monolith(request, pk)
    _require_admin(request)
    form = forms.CsvUploadForm(request.POST, request.FILES)
    row_errors = []
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            snapshot = inventory.import_csv(
                actor=request.user, monolith_id=monolith.pk, content=upload.read(), filename=upload.name
            )
        except inventory.CsvRejected as exc:
            row_errors = exc.row_errors
        else:
            messages.success(
                request, f"Imported {snapshot.topics.count()} topics as inventory #{snapshot.number}."
            )
            return redirect("migration:monolith-detail", pk=monolith.pk)
    return render(
        request,
        "migration/csv_rejected.html",
        {"monolith": monolith, "form": form, "row_errors": row_errors, "csv_columns": inventory.CSV_COLUMNS},
        status=400,
    )


@login_required
@require_POST
def monolith_cost(request: HttpRequest, pk: int) -> HttpResponse:
    monolith = _monolith(request, pk)
    _require_admin(request)
    form = forms.CostForm(request.POST)
    if form.is_valid():
        inventory.set_monolith_cost(
            actor=request.user,
            monolith_id=monolith.pk,
            monthly_cost_usd=form.cleaned_data["monthly_cost_usd"],
        )
        messages.success(
            request, "The monolith's monthly cost is saved; new plan versions compare against it."
        )
    else:
        messages.error(request, f"Monthly cost: {form.errors['monthly_cost_usd'][0]}")
    return redirect("migration:monolith-detail", pk=monolith.pk)


@login_required
@require_POST
def applications_discover(request: HttpRequest, pk: int) -> HttpResponse:
    monolith = _monolith(request, pk)
    _require_admin(request)
    try:
        found = inventory.discover_applications(actor=request.user, monolith_id=monolith.pk)
    except ValidationError as exc:
        messages.error(request, " ".join(_errors(exc)))
    else:
        messages.success(request, f"{len(found)} new application{'s' if len(found) != 1 else ''} found.")
    return redirect("migration:applications", pk=monolith.pk)


@login_required
@require_GET
def applications(request: HttpRequest, pk: int) -> HttpResponse:
    monolith = _monolith(request, pk)
    teams = access.teams_visible_to(request.user).filter(pk__in=access.member_team_ids(request.user))
    teams = list(teams) if not access.is_finance(request.user) else []
    is_admin = access.can_manage_migration(request.user)
    pending = list(selectors.pending_claims(monolith, with_takeover_checks=is_admin))
    waiting = {claim.application_id: claim for claim in pending}
    rows = selectors.application_rows(monolith)
    for row in rows:
        row.can_edit = access.can_edit_application(request.user, row.application)
        # One claim waits per application; an owned one is asked for as a takeover, by the user's other teams.
        row.pending_claim = waiting.get(row.application.pk)
        row.claim_teams = [team for team in teams if team.pk != row.application.team_id]
    # What the admin deciding a takeover must know before pressing approve; and a takeover is offered only
    # where its approval would not be refused, elsewhere the page says why. One look for both.
    takeovers = {
        claim.application_id: claim.application
        for claim in pending
        if is_admin and takeover.is_takeover(claim)
    }
    offered = {
        row.application.pk: row.application
        for row in rows
        if row.claim_teams and row.application.team and not row.pending_claim
    }
    blocked = takeover.blockers_of([*takeovers.values(), *offered.values()])
    outdated = takeover.outdated_by(application for pk, application in takeovers.items() if not blocked[pk])
    for claim in pending:
        claim.blockers = blocked[claim.application_id] if claim.application_id in takeovers else []
        claim.outdates = takeover.outdates_note(claim.application, outdated.get(claim.application_id))
    for row in rows:
        row.takeover_blockers = blocked[row.application.pk] if row.application.pk in offered else []
    return render(
        request,
        "migration/applications.html",
        {
            "monolith": monolith,
            "rows": rows,
            "unclaimed": selectors.unclaimed_topics(monolith),
            "pending": pending,
            "is_admin": is_admin,
        },
    )


@login_required
@require_POST
def application_claim(request: HttpRequest, pk: int) -> HttpResponse:
    _require_viewer(request)
    application = get_object_or_404(Application.objects.select_related("team"), pk=pk)
    teams = access.teams_visible_to(request.user).filter(pk__in=access.member_team_ids(request.user))
    form = forms.ClaimForm(request.POST, teams=teams)
    if not form.is_valid():
        raise PermissionDenied("You can only claim applications for teams you are a member of.")
    try:
        inventory.claim_application(
            actor=request.user,
            application_id=application.pk,
            team=form.cleaned_data["team"],
            note=form.cleaned_data["note"],
        )
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    except ValidationError as exc:
        messages.error(request, " ".join(_errors(exc)))
    else:
        asked = (
            f"Request to take over {application.name} from {application.team.name}"
            if application.team
            else (f"Claim for {application.name}")
        )
        messages.success(request, f"{asked} sent; a platform admin decides.")
    return redirect("migration:applications", pk=application.monolith_id)


@login_required
@require_POST
def claim_decide(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    _require_admin(request)
    claim = get_object_or_404(ApplicationClaim, pk=pk)
    if decision not in ("approve", "reject"):
        raise Http404
    form = forms.DecisionForm(request.POST)
    form.is_valid()
    try:
        inventory.decide_claim(
            actor=request.user,
            claim_id=claim.pk,
            approve=decision == "approve",
            reason=form.cleaned_data.get("reason", ""),
        )
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    except ValidationError as exc:
        messages.error(request, " ".join(_errors(exc)))
    else:
        messages.success(request, f"Claim {decision}d.")
    return redirect("migration:applications", pk=claim.application.monolith_id)


@login_required
@require_http_methods(["GET", "POST"])
def application_requirements(request: HttpRequest, pk: int) -> HttpResponse:
    _require_viewer(request)
    application = get_object_or_404(Application.objects.select_related("monolith", "team"), pk=pk)
    if not access.can_edit_application(request.user, application):
        raise PermissionDenied(
            "Only the owning team's members and platform admins set an application's needs."
        )
    form = forms.RequirementsForm(request.POST or None, instance=Application.objects.get(pk=pk))
    if request.method == "POST" and form.is_valid():
        values = {name: form.cleaned_data[name] for name in forms.RequirementsForm.Meta.fields}
        try:
            inventory.update_requirements(actor=request.user, application_id=application.pk, **values)
        except ValidationError as exc:
            for problem in _errors(exc):
                form.add_error(None, problem)
        else:
            messages.success(request, f"Requirements of {application.name} saved.")
            return redirect("migration:applications", pk=application.monolith_id)
    return render(request, "migration/requirements.html", {"application": application, "form": form})


# --- Plans ---------------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def plans(request: HttpRequest, pk: int) -> HttpResponse:
    monolith = _monolith(request, pk)
    form = forms.PlanForm(request.POST or None)
    if request.method == "POST":
        _require_admin(request)
        if form.is_valid():
            try:
                plan = planning.create_plan(actor=request.user, monolith_id=monolith.pk, **form.cleaned_data)
            except ValidationError as exc:
                for problem in _errors(exc):
                    form.add_error(None, problem)
            else:
                messages.success(request, f"Plan version {plan.version} computed.")
                return redirect("migration:plan-detail", pk=plan.pk)
    return render(
        request,
        "migration/plans.html",
        {
            "monolith": monolith,
            "plans": selectors.plans_of(monolith),
            "form": form,
            "is_admin": access.can_manage_migration(request.user),
        },
    )


def _plan(request: HttpRequest, pk: int) -> MigrationPlan:
    _require_viewer(request)
    return get_object_or_404(MigrationPlan.objects.select_related("monolith", "snapshot", "based_on"), pk=pk)


def _plan_for_user(plan_result: dict, user) -> dict:
    """Money per the cost rule: admins and finance see all; members their teams' clusters and rows."""
    if access.sees_all_costs(user):
        return {**plan_result, "money_visible": True}
    mine = set(access.teams_visible_to(user).values_list("slug", flat=True))
    clusters = [
        {**cluster, "cost_visible": cluster["group"]["team"] in mine} for cluster in plan_result["clusters"]
    ]
    teams = [row for row in plan_result["teams"] if row["team"] in mine]
    return {**plan_result, "clusters": clusters, "teams": teams, "money_visible": False}


@login_required
@require_GET
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    plan = _plan(request, pk)
    is_admin = access.can_manage_migration(request.user)
    return render(
        request,
        "migration/plan_detail.html",
        {
            "plan": plan,
            "monolith": plan.monolith,
            "result": _plan_for_user(plan.result, request.user),
            "move_form": forms.MoveForm(plan=plan) if is_admin else None,
            "merge_form": forms.MergeForm(plan=plan) if is_admin else None,
            "is_admin": is_admin,
            "versions": selectors.plans_of(plan.monolith).exclude(pk=plan.pk),
            "filings": execution.filing_overview(plan, request.user),
            "taken_over": list(takeover.taken_over_since(plan).values()),
        },
    )


def _form_errors(form) -> list[str]:
    return [
        problem if field == "__all__" else f"{form.fields[field].label or field}: {problem}"
        for field, problems in form.errors.items()
        for problem in problems
    ]


def _plan_edit(
    request: HttpRequest, plan: MigrationPlan, form, *, kind: str, check, save, page=None
) -> HttpResponse:
    """One answer for every plan edit. With htmx, or the "check" button, only validate and show the result
    live: the loads per quota and costs of the clusters it changes, or every violation; nothing is saved.
    Otherwise save the next version and open it. `page` renders the edit's own page again on errors (split);
    without it the errors go back to the plan page as messages."""
    edit, errors = None, []
    checking = is_htmx_partial(request) or bool(request.POST.get("check"))
    if form.is_valid():
        values = {name: value for name, value in form.cleaned_data.items() if name != "note"}
        try:
            if checking:
                edit = check(plan, **values)
            else:
                new = save(actor=request.user, plan_id=plan.pk, note=form.cleaned_data["note"], **values)
                messages.success(request, f"Version {new.version} saved: {new.change_note}.")
                return redirect("migration:plan-detail", pk=new.pk)
        except ValidationError as exc:
            errors = _errors(exc)
    else:
        errors = _form_errors(form)
    check_context = {
        "kind": kind,
        "plan": plan,
        "edit": edit,
        "errors": errors,
        "changed": edit.preview(plan) if edit else [],
    }
    if is_htmx_partial(request):
        return render(request, "migration/_edit_check.html", check_context)
    if page is not None:
        return page(check_context)
    for error in errors:
        messages.error(request, error)
    if edit is not None:
        messages.info(
            request, f"{edit.note}: this fits. Nothing is saved until you save it as a new version."
        )
    return redirect("migration:plan-detail", pk=plan.pk)


def _plan_form_edit(kind: str, form_class, check, save):
    """The view of an edit made from the plan page: moving an application, merging two clusters."""

    @login_required
    @require_POST
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        plan = _plan(request, pk)
        _require_admin(request)
        form = form_class(request.POST, plan=plan)
        return _plan_edit(request, plan, form, kind=kind, check=check, save=save)

    view.__doc__ = f"{save.__doc__} With htmx, checked live."
    return view


plan_move = _plan_form_edit("move", forms.MoveForm, planning.check_move, planning.move_application)
plan_merge = _plan_form_edit("merge", forms.MergeForm, planning.check_merge, planning.merge_clusters)


@login_required
@require_http_methods(["GET", "POST"])
def plan_split(request: HttpRequest, pk: int, key: str) -> HttpResponse:
    """Choose which applications of one planned cluster go to a new cluster beside it; checked live."""
    plan = _plan(request, pk)
    _require_admin(request)
    cluster = next((c for c in plan.result["clusters"] if c["key"] == key), None)
    if cluster is None:
        raise Http404("This plan has no such cluster.")
    form = forms.SplitForm(request.POST if request.method == "POST" else None, cluster=cluster)

    def page(check_context: dict) -> HttpResponse:
        context = {**check_context, "monolith": plan.monolith, "cluster": cluster, "form": form}
        return render(request, "migration/plan_split.html", context)

    if request.method == "GET":
        return page({"plan": plan})
    return _plan_edit(
        request,
        plan,
        form,
        kind="split",
        check=lambda plan, applications: planning.check_split(plan, cluster=key, applications=applications),
        save=lambda applications, **rest: planning.split_cluster(
            cluster=key, applications=applications, **rest
        ),
        page=page,
    )


@login_required
@require_POST
def plan_accept(request: HttpRequest, pk: int) -> HttpResponse:
    plan = _plan(request, pk)
    _require_admin(request)
    try:
        planning.accept_plan(actor=request.user, plan_id=plan.pk)
    except ValidationError as exc:
        messages.error(request, " ".join(_errors(exc)))
    except PortalError as exc:
        raise PermissionDenied(exc.message) from exc
    else:
        messages.success(request, f"Version {plan.version} is the accepted plan.")
    return redirect("migration:plan-detail", pk=plan.pk)


@login_required
@require_GET
def plan_compare(request: HttpRequest, pk: int) -> HttpResponse:
    newer = _plan(request, pk)
    try:
        other = int(request.GET.get("with", ""))
    except ValueError as exc:
        raise Http404 from exc
    older = get_object_or_404(MigrationPlan, monolith=newer.monolith, version=other)
    comparison = planning.compare_plans(older, newer)
    if not access.sees_all_costs(request.user):
        mine = set(access.teams_visible_to(request.user).values_list("slug", flat=True))
        comparison = dataclasses.replace(
            comparison, monthly_usd=("—", "—"), teams=[row for row in comparison.teams if row[0] in mine]
        )
    return render(
        request, "migration/plan_compare.html", {"comparison": comparison, "monolith": newer.monolith}
    )


@login_required
@require_POST
def plan_file_requests(request: HttpRequest, pk: int) -> HttpResponse:
    """A team member asks for the accepted plan's clusters, topics and access for their team to be filed as
    requests: the filing runs as a task (`clusters.migration.filing`), and the page shows its progress."""
    plan = _plan(request, pk)
    teams = access.teams_visible_to(request.user).filter(pk__in=access.member_team_ids(request.user))
    form = forms.FilingForm(request.POST, teams=teams)
    if not form.is_valid() or access.is_finance(request.user):
        raise PermissionDenied("You can only file requests for teams you are a member of.")
    team, next_stages = form.cleaned_data["team"], form.cleaned_data["next_stages"]
    try:
        autofiling.press(actor=request.user, plan_id=plan.pk, team=team, next_stages=next_stages)
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    except Conflict as exc:
        messages.error(request, exc.message)
    except ValidationError as exc:
        messages.error(request, " ".join(_errors(exc)))
    else:
        then = " The next stages are filed by themselves as they become possible." if next_stages else ""
        messages.success(
            request,
            f"Filing {team.name}'s requests in the background: progress, then what was filed, below.{then}",
        )
    return redirect(f"{reverse('migration:plan-detail', args=[plan.pk])}#filing-{team.pk}")


@login_required
@require_POST
def plan_next_stages_off(request: HttpRequest, pk: int) -> HttpResponse:
    """Turn off the filing of a team's next stages by themselves: the team's members and platform admins."""
    plan = _plan(request, pk)
    form = forms.FilingForm(request.POST, teams=access.teams_visible_to(request.user))
    if not form.is_valid():
        raise PermissionDenied("Only the team's members and platform admins turn this off.")
    team = form.cleaned_data["team"]
    try:
        turned_off = autofiling.turn_off(actor=request.user, plan_id=plan.pk, team=team)
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    if turned_off:
        messages.success(request, f"{team.name}'s next stages are no longer filed by themselves.")
    else:
        messages.info(request, f"{team.name}'s next stages were not being filed by themselves.")
    return redirect(f"{reverse('migration:plan-detail', args=[plan.pk])}#filing-{team.pk}")


@login_required
@require_GET
def filing_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The team's filing panel, polled by htmx while the filing is queued or running (286 once it is done).
    For those who may file for the team, and admins; anyone else: 404."""
    _require_viewer(request)
    job = get_object_or_404(Filing.objects.select_related("team"), pk=pk)
    if not access.can_watch_filing(request.user, job.team):
        raise Http404("No such filing.")
    plan = _plan(request, job.plan_id)
    if not is_htmx_partial(request):
        return redirect(f"{reverse('migration:plan-detail', args=[plan.pk])}#filing-{job.team_id}")
    team_filing = execution.team_filing(plan, job.team, request.user)
    context = {"filing": team_filing, "plan": plan}
    return polled_panel(request, "migration/_team_filing.html", context, moving=team_filing.busy)


# --- Cutover -------------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def cutovers(request: HttpRequest, pk: int) -> HttpResponse:
    plan = _plan(request, pk)
    if request.method == "POST":
        _require_admin(request)
        try:
            created = cutover.start_cutovers(actor=request.user, plan_id=plan.pk)
        except ValidationError as exc:
            messages.error(request, " ".join(_errors(exc)))
        else:
            messages.success(
                request, f"{len(created)} application{'s' if len(created) != 1 else ''} ready to cut over."
            )
        return redirect("migration:cutovers", pk=plan.pk)
    return render(
        request,
        "migration/cutovers.html",
        {
            "plan": plan,
            "monolith": plan.monolith,
            "board": cutover.board(plan),
            "is_admin": access.can_manage_migration(request.user),
            "sees_costs": access.sees_all_costs(request.user),
            "duplicate_warning": cutover.DUPLICATE_WARNING,
            "taken_over": list(takeover.taken_over_since(plan).values()),
        },
    )


def _cutover(request: HttpRequest, pk: int) -> Cutover:
    _require_viewer(request)
    return get_object_or_404(Cutover.objects.select_related("application__monolith", "plan"), pk=pk)


@login_required
@require_GET
def cutover_gate(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx: does the next step's precondition hold right now?"""
    item = _cutover(request, pk)
    _require_admin(request)
    following = cutover.next_step(item.step)
    gate = cutover.check_gate(item, following) if following else None
    label = Cutover.Step(following).label if following else ""
    return render(request, "migration/_gate.html", {"item": item, "gate": gate, "following": label})


def _cutover_action(request: HttpRequest, item: Cutover, act: Callable[[], str]) -> HttpResponse:
    """Run `act`, which returns what it did in words, on one application's cutover; that, or its refusal, is
    the message on the cutover board."""
    try:
        done = act()
    except ValidationError as exc:
        messages.error(request, f"{item.application.name}: " + " ".join(_errors(exc)))
    else:
        messages.success(request, f"{item.application.name}: {done}")
    return redirect("migration:cutovers", pk=item.plan_id)


@login_required
@require_POST
def cutover_step(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    item = _cutover(request, pk)
    _require_admin(request)
    expected = request.POST.get("expected_step", "")
    if expected not in Cutover.Step.values or action not in ("advance", "rollback"):
        raise Http404

    def record_step() -> str:
        if action == "advance":
            cutover.advance(actor=request.user, cutover_id=item.pk, expected_step=expected)
        else:
            cutover.rollback(
                actor=request.user,
                cutover_id=item.pk,
                expected_step=expected,
                reason=request.POST.get("reason", ""),
            )
        return "step recorded."

    return _cutover_action(request, item, record_step)


@login_required
@require_POST
def cutover_replicate(request: HttpRequest, pk: int) -> HttpResponse:
    """Start replicating one application's topics (recorded now, created by a task)."""
    item = _cutover(request, pk)
    _require_admin(request)

    def start() -> str:
        row = replication_launch.request_replication(actor=request.user, cutover_id=item.pk)
        return f"{row.get_tool_display()} is being started."

    return _cutover_action(request, item, start)


@login_required
@require_GET
def mm2_properties(request: HttpRequest, pk: int) -> HttpResponse:
    """The MirrorMaker 2 configuration of one application of a plan, to run on the platform's own Connect."""
    item = _cutover(request, pk)
    _require_admin(request)
    cluster = cutover.target_cluster(item)
    topics, groups = cutover.topics_and_groups(item)
    text = replication.mm2_properties(
        item.application.monolith,
        target_bootstrap=cluster.bootstrap_brokers
        if cluster
        else "<bootstrap of " + item.target_cluster + ">",
        topics=topics,
        groups=groups,
    )
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="mm2-{item.application.name}.properties"'
    return response
