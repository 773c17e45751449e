"""Filing the next stages of a team's requests from the accepted plan by themselves (step 4, `filing`).

A plan's requests are filed in stages: a team's clusters first, their topics and access once the cluster is
requested, approved or active, read clusters once their write cluster runs. The person who files may tick
"File the next stages by themselves as they become possible" (`press`): an `AutoFiling` (plan, team, who,
since) is recorded with the filing, and while it is on, beat (`file_next_stages`) looks at the plan's items
for the team and, when some are ready to file, starts a `Filing` in that person's name (`filing.start` with
`auto`): they are the requester of what it files, so the four-eyes rule holds as for a press. One look per
opt-in and run, least recently looked at first, at most `BATCH`; an opt-in whose team has a filing queued or
running is not looked at (that filing files what is ready).

What an earlier filing of the plan for the team filed or had refused and is ready again (its request was
rejected or cancelled, or a rule refused it) is left to a person's press: filing it again by itself would
undo an admin's decision, or fail the same way at every look. It neither starts an automatic filing nor is
filed by one started for other items (`filing.tried_before`, which also counts what a failed filing tried).

It stops by itself, recorded with the reason, when the plan is no longer the accepted version, the person is
no longer a member of the team (or may no longer file), or nothing remains to file; the team's members and
platform admins turn it off on the plan page (`turn_off`). Every change is a compare-and-set through
`events.move` with its `MigrationEvent`; each automatic filing is a `filing.filed_automatically` event.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from clusters.migration import events, execution, filing
from clusters.migration.models import AutoFiling, Filing, MigrationPlan
from portal import access
from portal.errors import Conflict, NotAllowed
from portal.models import Team

Status = AutoFiling.Status
BATCH = 20  # opt-ins looked at per beat run (each look reads the plan's items: a handful of queries)


def person(user) -> str:
    return user.get_full_name() or user.get_username()


def press(*, actor, plan_id: int, team: Team, next_stages: bool = False) -> Filing:
    """A press of "File <team>'s requests": the filing (`filing.start`) and, when ticked, the opt-in to the
    next stages, in one transaction (a refused press opts in to nothing)."""
    with transaction.atomic():
        job = filing.start(actor=actor, plan_id=plan_id, team=team)
        if next_stages:
            opt_in(actor=actor, plan=job.plan, team=team)
    return job


def opt_in(*, actor, plan: MigrationPlan, team: Team) -> AutoFiling:
    """Turn it on for `actor`, who may file for the team. Already on (theirs or a teammate's): left as it is."""
    if not access.can_act_for_team(actor, team):
        raise NotAllowed("You can only file requests for teams you are a member of.")
    current = AutoFiling.objects.filter(plan=plan, team=team, status=Status.ON).first()
    if current is not None:
        return current
    try:
        with transaction.atomic():
            auto = AutoFiling.objects.create(plan=plan, team=team, requested_by=actor)
            events.record(
                plan.monolith,
                "autofiling.on",
                actor=actor,
                obj=auto,
                to_status=Status.ON,
                team=team,
                details={"plan": plan.version},
            )
    except IntegrityError:  # one_auto_filing_per_plan_and_team: a teammate's came first
        return AutoFiling.objects.get(plan=plan, team=team, status=Status.ON)
    return auto


def _move(auto: AutoFiling, action: str, *, actor, reason: str) -> bool:
    return events.move(
        auto.plan.monolith,
        auto,
        action,
        from_status=Status.ON,
        to_status=Status.OFF,
        actor=actor,
        reason=reason,
        team=auto.team,
        fields={"stopped_at": timezone.now(), "stopped_by": actor, "reason": reason},
    )


def turn_off(*, actor, plan_id: int, team: Team) -> bool:
    """The team's members and platform admins turn it off. False when it was not on."""
    if not access.can_watch_filing(actor, team):
        raise NotAllowed("Only the team's members and platform admins turn this off.")
    auto = (
        AutoFiling.objects.filter(plan_id=plan_id, team=team, status=Status.ON)
        .select_related("plan__monolith", "team")
        .first()
    )
    if auto is None:
        return False
    return _move(auto, "autofiling.off", actor=actor, reason=f"Turned off by {person(actor)}.")


def _stop(auto: AutoFiling, reason: str) -> None:
    _move(auto, "autofiling.stopped", actor=None, reason=reason)


def file_next_stages(*, limit: int = BATCH) -> list[int]:
    """Beat: look at the opt-ins that are on and whose team has no filing queued or running, least recently
    looked at first; start a filing where items became ready, stop those with nothing left. Returns the ids
    of the filings started."""
    busy = Filing.objects.filter(plan=OuterRef("plan"), team=OuterRef("team"), status__in=Filing.ACTIVE)
    due = (
        AutoFiling.objects.filter(status=Status.ON)
        .exclude(Exists(busy))
        .select_related("plan__monolith", "plan__snapshot", "team", "requested_by")
        .order_by(F("checked_at").asc(nulls_first=True), "pk")[:limit]
    )
    started = []
    for auto in due:
        if not AutoFiling.objects.filter(pk=auto.pk, status=Status.ON).update(checked_at=timezone.now()):
            continue  # turned off meanwhile
        job = _look(auto)
        if job is not None:
            started.append(job.pk)
    return started


def _look(auto: AutoFiling) -> Filing | None:
    plan, team, who = auto.plan, auto.team, auto.requested_by
    if plan.status != MigrationPlan.Status.ACCEPTED:
        _stop(auto, f"Plan v{plan.version} is no longer the accepted version.")
        return None
    if not access.can_act_for_team(who, team):
        _stop(auto, f"{person(who)} is no longer a member of {team.name} who may file its requests.")
        return None
    items = execution.plan_items(plan, team)
    tried = filing.tried_before(plan, team)
    ready = [
        item
        for item in items
        if item.state == execution.READY and (item.kind, item.cluster, item.label) not in tried
    ]
    if ready:
        why = (
            f"Filed automatically for {person(who)}, who opted in on {auto.created_at:%Y-%m-%d %H:%M} UTC: "
            f"{len(ready)} item{'s' if len(ready) != 1 else ''} became ready to file."
        )
        try:
            return filing.start(actor=who, plan_id=plan.pk, team=team, auto=auto, why=why)
        except Conflict:
            return None  # a press came first: that filing files them
        except (ValidationError, NotAllowed):
            return None  # superseded or left the team this instant: the next look stops it
    if not any(item.state == execution.WAITING for item in items):
        left = sum(item.state == execution.READY for item in items)
        again = ""
        if left:
            some = "1 item" if left == 1 else f"{left} items"
            again = (
                f" {some} filed before and rejected, cancelled or refused "
                f"{'waits' if left == 1 else 'wait'} for a person to file {'it' if left == 1 else 'them'} again."
            )
        _stop(
            auto,
            f"Nothing remains to file by itself: everything of the plan for {team.name} is filed.{again}",
        )
    return None
