"""Filing an accepted plan's requests for one team, as a job the team watches (step 4, `execution`).

A press of "File <team>'s requests" only records a `Filing` (queued, with who pressed) and enqueues
`tasks.run_filing` once that commits (`start`); a second press while one for the same plan and team is queued
or running is refused. The task (`run`) moves it to running, files through `execution.file_items` with a
progress callback that writes "N of M" and the items filed or refused so far, one by one, then moves it to done
with the result the page shows (filed items with their requests, refused ones with the reasons) and the
plan's `plan.requests_filed` event, which enqueues the admins' one digest mail, in one transaction.

Nothing is lost when a worker dies or the broker is down: each filed request commits on its own, and beat
(`requeue_lost`) finds filings queued or running without a sign of life for longer than
PROVISIONING_REDISPATCH_SECONDS, puts a running one back to queued (a new attempt) and enqueues it again. A
rerun files only what is still ready; the requests an earlier run filed still show as filed, since their ids
were kept. An earlier run that was only slow stops at its next progress update (its attempt is no longer the
filing's). Every status change is a compare-and-set through `events.move` with its `MigrationEvent`.
"""

from __future__ import annotations

from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clusters.migration import events, execution
from clusters.migration.models import AutoFiling, Filing
from portal import access
from portal.dispatch import enqueue_on_commit
from portal.errors import Conflict, NotAllowed
from portal.models import Team

Status = Filing.Status
BUSY = "{team}'s requests from this plan are being filed already: wait for that filing to finish (its progress is on this page)."


class Superseded(Exception):
    """Beat gave this filing to a newer run: the older one stops."""


def start(*, actor, plan_id: int, team: Team, auto: AutoFiling | None = None, why: str = "") -> Filing:
    """Record the press and enqueue the filing once it commits. Refused (Conflict) while the team's filing
    of this plan is queued or running. `auto`: started by beat for the person who opted in to the next
    stages (`actor`, the requester of what it files), recorded as filed automatically, `why` its reason."""
    from clusters.migration import tasks

    plan = execution.accepted_plan(plan_id)
    if not access.can_act_for_team(actor, team):
        raise NotAllowed("You can only file requests for teams you are a member of.")
    try:
        with transaction.atomic():
            filing = Filing.objects.create(plan=plan, team=team, requested_by=actor, auto_filing=auto)
            events.record(
                plan.monolith,
                "filing.queued" if auto is None else "filing.filed_automatically",
                actor=actor if auto is None else None,  # nobody pressed: beat
                obj=filing,
                to_status=Status.QUEUED,
                reason=why,
                team=team,
                details={"plan": plan.version, **({"auto_filing": auto.pk} if auto else {})},
            )
            enqueue_on_commit(tasks.run_filing, filing.pk)
    except IntegrityError as exc:  # one_active_filing_per_plan_and_team
        raise Conflict(BUSY.format(team=team.name)) from exc
    return filing


def tried_before(plan, team: Team) -> set[tuple[str, str, str]]:
    """(kind, cluster, label) of the items a filing of the plan for the team filed or had refused: done, failed
    or still running (their `result` keeps what they tried item by item). An automatic filing files none of
    them again (`autofiling`): one ready again was rejected, cancelled or refused, and is left to a person."""
    results = Filing.objects.filter(plan=plan, team=team).values_list("result", flat=True)
    return {
        (row["kind"], row["cluster"], row["label"])
        for result in results
        for row in result
        if row["state"] in (execution.FILED, execution.REFUSED)
    }


def _move(filing: Filing, to_status: str, *, why: str = "", details: dict | None = None, **fields) -> bool:
    """events.move with the filing's monolith and team; `why` is the event's reason, `fields` the columns."""
    return events.move(
        filing.plan.monolith,
        filing,
        f"filing.{to_status}",
        from_status=filing.status,
        to_status=to_status,
        actor=None,  # the worker, or beat
        reason=why,
        team=filing.team,
        details=details,
        fields=fields,
    )


def run(filing_id: int) -> str:
    """The task's body: file the team's ready items, then finish the record. Idempotent: a filing not queued
    (done, failed, or taken by another delivery) is left alone; a rerun files only what is still ready."""
    filing = Filing.objects.select_related("plan__monolith", "team", "requested_by").get(pk=filing_id)
    if filing.status != Status.QUEUED:
        return filing.status
    now = timezone.now()
    attempt = filing.attempt + 1
    fields = {"attempt": attempt, "touched_at": now, "started_at": filing.started_at or now}
    if not _move(filing, Status.RUNNING, **fields):
        return Filing.objects.get(pk=filing_id).status  # another delivery took it first
    # What this filing's runs filed or had refused so far (`tried_before`); its filed request ids still
    # show as filed when a rerun finishes.
    tried = list(filing.result)

    def progress(done: int, total: int, item) -> None:
        changes = {"done_count": done, "total": total, "touched_at": timezone.now()}
        if item is not None:
            tried.append(_stored(item))
            changes["result"] = tried
        if not Filing.objects.filter(pk=filing.pk, status=Status.RUNNING, attempt=attempt).update(**changes):
            raise Superseded

    try:
        plan = execution.accepted_plan(filing.plan_id)  # still the accepted one
        # Started by beat: what any filing filed or had refused before is left to a person's press.
        skip = tried_before(plan, filing.team) if filing.auto_filing_id else frozenset()
        items, _ = execution.file_items(
            actor=filing.requested_by, plan=plan, team=filing.team, progress=progress, skip=skip
        )
    except Superseded:
        return "superseded"
    except SoftTimeLimitExceeded:
        raise  # left running: beat runs it again, and the rerun files the rest
    except (ValidationError, NotAllowed) as exc:  # the plan was superseded, the filer left the team
        message = " ".join(exc.messages) if isinstance(exc, ValidationError) else exc.message
        return _fail(filing, attempt, message)
    except Exception:
        _fail(filing, attempt, "An unexpected error stopped it (the portal's log has the details).")
        raise
    filed_ids = {row["request"] for row in tried if row["state"] == execution.FILED}
    return _finish(filing, attempt, items, filed_ids)


def _fail(filing: Filing, attempt: int, reason: str) -> str:
    with transaction.atomic():
        if Filing.objects.select_for_update().filter(pk=filing.pk, attempt=attempt).exists():
            _move(filing, Status.FAILED, why=reason, reason=reason, finished_at=timezone.now())
    return Status.FAILED


def _finish(filing: Filing, attempt: int, items: list, filed_ids: set[int]) -> str:
    """Done, with the result and the plan's filing event (the admins' digest) in one transaction. Items an
    earlier run of this filing filed count as filed."""
    for item in items:
        if item.request is not None and item.request.pk in filed_ids:
            item.state = execution.FILED
    with transaction.atomic():
        if not Filing.objects.select_for_update().filter(pk=filing.pk, attempt=attempt).exists():
            return "superseded"
        moved = _move(
            filing,
            Status.DONE,
            finished_at=timezone.now(),
            touched_at=timezone.now(),
            result=[_stored(item) for item in items],
            details={"filed": len(filed_ids)},
        )
        if moved and any(item.state in (execution.FILED, execution.REFUSED) for item in items):
            execution.record_filing(
                filing.plan, filing.requested_by, filing.team, items, details={"filing": filing.pk}
            )
    return filing.status


def _stored(item) -> dict:
    return {
        "kind": item.kind,
        "cluster": item.cluster,
        "label": item.label,
        "state": item.state,
        "request": item.request.pk if item.request is not None else None,
        "note": item.note,
    }


def requeue_lost(*, lost_after_seconds: int, now=None) -> list[int]:
    """Beat: filings queued or running with no sign of life for `lost_after_seconds` (the task was lost, the
    worker died) are enqueued again; a running one goes back to queued first, as a new attempt."""
    from clusters.migration import tasks

    cutoff = (now or timezone.now()) - timedelta(seconds=lost_after_seconds)
    ids = []
    lost = Filing.objects.filter(status__in=Filing.ACTIVE, touched_at__lt=cutoff).select_related(
        "plan__monolith", "team"
    )
    for filing in lost:
        with transaction.atomic():
            if filing.status == Status.RUNNING:
                reason = (
                    f"No progress for {lost_after_seconds} s: its worker was lost; filed again from here."
                )
                if not _move(filing, Status.QUEUED, why=reason, touched_at=timezone.now()):
                    continue
            elif not Filing.objects.filter(pk=filing.pk, status=Status.QUEUED).update(
                touched_at=timezone.now()
            ):
                continue  # started meanwhile
            enqueue_on_commit(tasks.run_filing, filing.pk)
        ids.append(filing.pk)
    return ids
