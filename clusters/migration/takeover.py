"""When another team may take over an application, checked against where its migration is.

A takeover changes `Application.team`, which the rest of the migration reads as "the team this is done for":
the plan packs it with its team (segregated: on that team's cluster, in its account), each team files the
requests of its own applications, and the cutover moves its clients onto what was filed. So:

- **refused** once anything was filed or started for it in the current owner's name: its cutover exists (at
  any step: the cutover, its replication and the clusters it moves clients to all assume the owner; "done"
  leaves its topics with the owner), or its topics, or requests for them or for access to them, are on the
  new clusters for the owner (waiting or approved); and while a filing of the owner's requests from a plan of
  its monolith is queued or running (what it files next would be the owner's). `blockers_of` says which, in
  words, for the applications page (the claim queue, and in place of "Ask to take over"); `blockers`, the
  same for one application, for the refusal;
- **allowed** before that. A plan version computed before the takeover still places the application with
  its previous owner, so that version needs a new one: `taken_over_since(plan)` lists such applications, which
  are not filed nor cut over from it, and a version computed before a takeover cannot be accepted. Refusing the
  takeover until a new version exists instead would go round in circles: a version computed before the
  takeover is computed with the previous owner.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.template.defaultfilters import pluralize

from clusters.migration.models import (
    Application,
    ApplicationClaim,
    Cutover,
    Filing,
    MigrationEvent,
    MigrationPlan,
    Replication,
)
from clusters.models import Request, Topic
from portal.models import Team

_LIVE_REQUEST = (Request.Status.SUBMITTED, Request.Status.APPROVED)
_SHOWN = 10  # request numbers named in one sentence


def is_takeover(claim: ApplicationClaim) -> bool:
    application = claim.application
    return application.team_id is not None and application.team_id != claim.team_id


def _numbers(requests: list[Request]) -> str:
    shown = ", ".join(f"#{request.pk}" for request in requests[:_SHOWN])
    return shown + (f" and {len(requests) - _SHOWN} more" if len(requests) > _SHOWN else "")


def _cutover_blockers(applications: list[Application]) -> dict[int, str]:
    cutovers = {
        item.application_id: item
        for item in Cutover.objects.filter(application__in=applications).select_related("plan")
    }
    replications = {
        replication.cutover_id: replication
        for replication in Replication.objects.filter(cutover__in=list(cutovers.values()))
    }
    return {
        application.pk: _cutover_blocker(application, item, replications.get(item.pk))
        for application in applications
        if (item := cutovers.get(application.pk)) is not None
    }


def _cutover_blocker(application: Application, item: Cutover, replication: Replication | None) -> str:
    owner = application.team.name
    if item.step == Cutover.Step.DONE:
        return (
            f"{application.name} is migrated: its cutover from plan v{item.plan.version} is done and its topics "
            f"are on {item.target_cluster} as {owner}'s topics. The migration is over for it; who owns those "
            "topics is not changed here."
        )
    running = (
        f", {replication.get_tool_display()} {replication.name} {replication.get_status_display().lower()}"
        if replication is not None
        else ""
    )
    return (
        f"Its cutover from plan v{item.plan.version} is at step “{item.get_step_display()}” (target "
        f"{item.target_cluster}{running}): it moves {owner}'s clients onto what was filed for {owner}, so its "
        "owner cannot change mid-way."
    )


def _filed_blockers(applications: list[Application]) -> dict[int, str]:
    """Its topics, or requests for them or for access to them, on the new clusters in the owner's name. The
    plan files each monolith topic under its own name for the owning team in the monolith's region."""
    names = {
        application.pk: {link.topic for link in application.topic_links.all()} for application in applications
    }
    every_name = set().union(*names.values())
    teams = {application.team_id for application in applications}
    regions = {application.monolith.region for application in applications}
    topics: dict[tuple[int, str, str], list[Topic]] = {}  # (team, region, name): live topics there
    for topic in (
        Topic.objects.filter(team_id__in=teams, name__in=every_name, cluster__region__in=regions)
        .exclude(status__in=Topic.REMOVED)
        .select_related("cluster")
    ):
        topics.setdefault((topic.team_id, topic.cluster.region, topic.name), []).append(topic)
    creates: dict[tuple[int, str, str], list[Request]] = {}  # (team, region, topic name): waiting or approved
    for request in Request.objects.filter(
        team_id__in=teams,
        status__in=_LIVE_REQUEST,
        cluster__region__in=regions,
        kind=Request.Kind.TOPIC_CREATE,
        payload__name__in=every_name,
    ).select_related("cluster"):
        creates.setdefault((request.team_id, request.cluster.region, request.payload["name"]), []).append(
            request
        )
    grants: dict[tuple[int, int], list[Request]] = {}  # (team, topic id): waiting or approved
    for request in Request.objects.filter(
        team_id__in=teams,
        status__in=_LIVE_REQUEST,
        kind=Request.Kind.ACCESS_GRANT,
        payload__topic_id__in=[topic.pk for found in topics.values() for topic in found],
    ):
        grants.setdefault((request.team_id, request.payload["topic_id"]), []).append(request)
    found = {}
    for application in applications:
        team, region = application.team_id, application.monolith.region
        mine = [topic for name in names[application.pk] for topic in topics.get((team, region, name), [])]
        requests = [
            request for name in names[application.pk] for request in creates.get((team, region, name), [])
        ]
        requests += [request for topic in mine for request in grants.get((team, topic.pk), [])]
        if mine or requests:
            found[application.pk] = _filed_blocker(application, mine, requests)
    return found


def _filed_blocker(application: Application, topics: list[Topic], requests: list[Request]) -> str:
    owner = application.team.name
    parts = []
    if requests:
        parts.append(
            f"request{pluralize(len(requests))} {_numbers(sorted(requests, key=lambda r: r.pk))} "
            f"{pluralize(len(requests), 'was,were')} filed for {owner} (its topics and access to them)"
        )
    if topics:
        where = ", ".join(sorted({topic.cluster.name for topic in topics}))
        parts.append(
            f"{len(topics)} of its topics {pluralize(len(topics), 'is,are')} on {where} as {owner}'s"
        )
    what = "; ".join(parts)
    return (
        f"{what[0].upper()}{what[1:]}: they stay {owner}'s whoever owns {application.name}. Until {owner} "
        f"cancels what waits (or an admin rejects it) and deletes what was created, {application.name} cannot "
        "change owner."
    )


def _filing_blockers(applications: list[Application]) -> dict[int, str]:
    """A filing of the owner's requests from a plan of this monolith is queued or running: what it files
    next would be the owner's, after the takeover; once it ends, the other checks see what it filed."""
    filings: dict[tuple[int, int], Filing] = {}  # (team, monolith): the newest queued or running
    for filing in Filing.objects.filter(
        team_id__in={application.team_id for application in applications},
        plan__monolith_id__in={application.monolith_id for application in applications},
        status__in=Filing.ACTIVE,
    ).select_related("plan"):
        filings.setdefault((filing.team_id, filing.plan.monolith_id), filing)
    return {
        application.pk: (
            f"{application.team.name}'s requests from plan v{filing.plan.version} are being filed now: "
            f"{application.name} can change owner once that filing has finished."
        )
        for application in applications
        if (filing := filings.get((application.team_id, application.monolith_id))) is not None
    }


def blockers_of(applications: Iterable[Application]) -> dict[int, list[str]]:
    """Why each of `applications` cannot change owner now, in words, by id; empty when it may. Reads only, in
    a few queries whatever their number (the applications page asks for each one it could offer to take
    over); select their `team` and `monolith`, and prefetch their `topic_links`, to spare one query each."""
    applications = list(applications)
    owned = [application for application in applications if application.team_id is not None]
    found = {application.pk: [] for application in applications}
    if not owned:
        return found
    for check in (_cutover_blockers, _filing_blockers, _filed_blockers):
        for pk, reason in check(owned).items():
            found[pk].append(reason)
    return found


def blockers(application: Application) -> list[str]:
    """Why `application` cannot change owner now, in words; empty when it may. Reads only. The one rule: the
    approval of a takeover refuses with these, and the pages show them instead of offering one."""
    return blockers_of([application])[application.pk]


def outdated_by(applications: Iterable[Application]) -> dict[int, MigrationPlan]:
    """The accepted plan that places each of `applications` (by id; absent when none does), which a change of
    owner would leave needing a new version. One query whatever their number (the applications page asks for
    every takeover waiting)."""
    applications = list(applications)
    if not applications:
        return {}
    accepted = {
        plan.monolith_id: plan
        for plan in MigrationPlan.objects.filter(
            monolith_id__in={application.monolith_id for application in applications},
            status=MigrationPlan.Status.ACCEPTED,
        )
    }
    found = {}
    for application in applications:
        plan = accepted.get(application.monolith_id)
        if plan is not None and any(application.name in c["applications"] for c in plan.result["clusters"]):
            found[application.pk] = plan
    return found


def outdates(application: Application) -> MigrationPlan | None:
    """The accepted plan that places `application`, which a change of owner would leave needing a new version."""
    return outdated_by([application]).get(application.pk)


def outdates_note(application: Application, plan: MigrationPlan | None) -> str:
    if plan is None:
        return ""
    return (
        f"Accepted plan v{plan.version} places {application.name} with {application.team.name}: approving leaves "
        f"it needing a new version, and nothing of {application.name} is filed or cut over from v{plan.version}."
    )


@dataclass(frozen=True)
class TakenOver:
    application: str
    team: str  # names
    previous_team: str
    approved_by: str
    approved_at: datetime

    @property
    def sentence(self) -> str:
        return (
            f"{self.application} was taken over by {self.team} from {self.previous_team} "
            f"({self.approved_by}, {self.approved_at:%Y-%m-%d %H:%M} UTC)"
        )


def _computed_at(plan: MigrationPlan) -> datetime:
    """When the placements of `plan` were packed: an edited version keeps those of the version it came from."""
    node = plan
    while node.based_on_id:
        node = MigrationPlan.objects.only("created_at", "based_on").get(pk=node.based_on_id)
    return node.created_at


def taken_over_since(plan: MigrationPlan) -> dict[str, TakenOver]:
    """Applications of `plan` another team took over after its placements were computed (and did not give back),
    newest takeover each: the plan still places them with their previous owner."""
    placed = {name for cluster in plan.result["clusters"] for name in cluster["applications"]}
    events = [
        event
        for event in MigrationEvent.objects.filter(
            monolith_id=plan.monolith_id, action="claim.approved", created_at__gt=_computed_at(plan)
        ).order_by("created_at", "id")
        if event.details.get("application") in placed
        and event.details.get("previous_team") not in (None, "", event.details.get("team"))
    ]
    slugs = {event.details[key] for event in events for key in ("team", "previous_team")}
    names = dict(Team.objects.filter(slug__in=slugs).values_list("slug", "name"))
    found: dict[str, TakenOver] = {}
    planned_with: dict[str, str] = {}  # application -> its owner when the plan was computed
    for event in events:  # oldest first: the newest takeover of an application is the one kept
        name, team, previous = (
            event.details["application"],
            event.details["team"],
            event.details["previous_team"],
        )
        if planned_with.setdefault(name, previous) == team:  # given back to the owner the plan has
            found.pop(name, None)
            continue
        found[name] = TakenOver(
            name, names.get(team, team), names.get(previous, previous), event.actor_label, event.created_at
        )
    return found
