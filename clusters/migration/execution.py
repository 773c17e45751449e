"""Step 4: an accepted plan becomes cluster, topic and access requests through the portal's normal request flow.

A member files, in one step (`file_items`; the button runs it as a job, `clusters.migration.filing`), everything
of the plan that is their team's and can be filed now:

- **clusters**: the team's write and dedicated clusters, opened to the other teams whose applications the plan
  places on them; its read clusters once their write cluster is active and carries the topics they copy, each
  with that write cluster as its source (the portal's MSK Replicator feeds it, as for any read cluster). A read
  cluster of PII applications is refused with the reason: the plan names a masking stream job to feed it, and
  MSK Replicator would copy the sensitive fields as they are;
- **topics**: every monolith topic of the team's applications, on its write or dedicated cluster, under its
  monolith name (replication keeps names; docs/migration.md, "Topics"), with the monolith's partitions and
  settings;
- **access**: every producer role the team declared for an application gets produce on its topics there, every
  consumer role consume where its consumers read (a dedicated cluster: the same; write/read: its read cluster).

Each is an ordinary request (rules, quotas, cost estimate) justified by the plan, decided by a platform admin
other than the filer; auto-approval rules apply as to any request (a rule is never its own filer's). What
depends on something not yet approved or not yet running waits and says on what; what the platform's rules
refuse is reported in the rule's words and stops nothing else. Filing again files only what is new: an item
whose object exists, or whose request waits or was approved, is skipped. What a filing makes possible at once
(a request approved by a rule) is filed in the same step.

Platform admins get one "Approval needed" mail per filing, not one per request: the filing's requests are
submitted without their own mail, and a digest task (`mail_filing_digest`, enqueued when the filing's event
commits) names the ones that wait. If that task is lost, beat mails each of them on its own (see
clusters/requests/notifications.py).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property, partial

from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.defaultfilters import pluralize

from billing.pricing import usd
from clusters import rules
from clusters.migration import events, selectors, takeover
from clusters.migration.adapters import request_notifications, request_services
from clusters.migration.models import (
    AutoFiling,
    Filing,
    MigrationEvent,
    MigrationPlan,
    Replication,
    role_lines,
)
from clusters.models import (
    AccessGrant,
    AwsAccount,
    Cluster,
    NetworkProfile,
    PlatformSettings,
    Replicator,
    Request,
    Topic,
)
from portal import access
from portal.dispatch import enqueue_on_commit
from portal.errors import NotAllowed
from portal.links import absolute_url
from portal.models import Team

CLUSTER, TOPIC, ACCESS = "cluster", "topic", "access"
FILED, REQUESTED, READY, WAITING, REFUSED = "filed", "requested", "ready", "waiting", "refused"
STATE_LABELS = {
    FILED: "Filed now",
    REQUESTED: "Requested",
    READY: "Ready to file",
    WAITING: "Waiting",
    REFUSED: "Refused",
}
# The portal's status pills (portal.css): in progress, done, muted, refused.
STATE_STYLES = {
    FILED: "status-submitted",
    REQUESTED: "status-approved",
    READY: "status-pending",
    WAITING: "status-cancelled",
    REFUSED: "status-rejected",
}
_LIVE_REQUEST = (Request.Status.SUBMITTED, Request.Status.APPROVED)
_MAX_PASSES = 4  # clusters → topics → producers' access and read clusters → consumers' access


@dataclass
class Item:
    kind: str  # cluster, topic, access
    cluster: str  # the planned cluster it is on
    label: str  # what, in words
    state: str
    request: Request | None = None
    note: str = ""
    prepare: Callable | None = field(default=None, repr=False, compare=False)  # READY: (actor=) -> Prepared

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def state_style(self) -> str:
        return STATE_STYLES[self.state]


def owner_team_slug(cluster: dict, plan: MigrationPlan, rows=None) -> str:
    """Segregated: the cluster's team. Write/read: the team with the most peak throughput (in + out, as the
    plan counts it: requirements, else the inventory) on it, ties by name; unclaimed applications count for
    nobody ("" only when no team has one there). `rows`: the plan's application rows, when the caller has them."""
    if cluster["group"]["team"]:
        return cluster["group"]["team"]
    if rows is None:
        rows = selectors.application_rows(plan.monolith, plan.snapshot)
    weights: dict[str, Decimal] = {}
    for row in rows:
        if row.application.name in cluster["applications"] and row.application.team is not None:
            slug = row.application.team.slug
            weights[slug] = weights.get(slug, Decimal(0)) + row.peak_in_mbps + row.peak_out_mbps
    return min(weights, key=lambda slug: (-weights[slug], slug)) if weights else ""


def _load(cluster: dict, quota: str) -> Decimal:
    return next(Decimal(load["used"]) for load in cluster["load"] if load["quota"] == quota)


def _status(request: Request) -> str:
    """Where a request stands, in words (the item's note when the page links the request)."""
    if request.status == Request.Status.SUBMITTED:
        return "waits for approval"
    return request.get_status_display().lower()


def _request_note(request: Request) -> str:
    return f"request #{request.pk} {_status(request)}"


class _World:
    """What the portal holds now for one plan's clusters, read once per call (a handful of queries)."""

    def __init__(self, plan: MigrationPlan):
        self.plan = plan
        self.region = plan.result["region"]
        self.template = PlatformSettings.current().topic_name_template
        self.rows = selectors.application_rows(plan.monolith, plan.snapshot)
        self.owners = {
            cluster["name"]: owner_team_slug(cluster, plan, self.rows) for cluster in plan.result["clusters"]
        }
        names = [cluster["name"] for cluster in plan.result["clusters"]]
        self.masked = {  # PII read clusters: fed by a masking job, not by the portal's MSK Replicator
            cluster["name"]
            for cluster in plan.result["clusters"]
            if cluster["side"] == "read" and cluster["group"]["contains_pii"]
        }
        self.clusters = {
            cluster.name: cluster
            for cluster in Cluster.objects.filter(name__in=names, region=self.region)
            .exclude(status=Cluster.Status.DELETED)
            .select_related("account", "team")
        }
        self.cluster_requests: dict[str, Request] = {}
        for request in Request.objects.filter(
            kind=Request.Kind.CLUSTER_CREATE,
            payload__name__in=names,
            payload__region=self.region,
            status__in=_LIVE_REQUEST,
        ).order_by("pk"):
            self.cluster_requests[request.payload["name"]] = request
        ids = [cluster.pk for cluster in self.clusters.values()]
        self.topics = {
            (topic.cluster_id, topic.name): topic
            for topic in Topic.objects.filter(cluster_id__in=ids)
            .exclude(status=Topic.Status.DELETED)
            .select_related("team")
        }
        self.topic_created_by = {}  # topic id -> the request that created it
        for request in Request.objects.filter(
            kind=Request.Kind.TOPIC_CREATE, topic_id__in=[topic.pk for topic in self.topics.values()]
        ).order_by("-pk"):
            self.topic_created_by[request.topic_id] = request
        self.topic_requests = {  # waiting, or approved (and its topic deleted since: not filed again)
            (request.cluster_id, request.payload.get("name")): request
            for request in Request.objects.filter(
                kind=Request.Kind.TOPIC_CREATE, cluster_id__in=ids, status__in=_LIVE_REQUEST
            ).order_by("pk")
        }
        self.grants = set(
            AccessGrant.objects.filter(cluster_id__in=ids)
            .exclude(status__in=AccessGrant.REMOVED)
            .values_list("cluster_id", "topic_id", "principal_arn", "can_produce", "can_consume")
        )
        self.access_requests = {
            (
                request.cluster_id,
                request.payload.get("topic_id"),
                request.payload.get("principal_arn"),
                request.payload.get("produce"),
                request.payload.get("consume"),
            ): request
            for request in Request.objects.filter(
                kind=Request.Kind.ACCESS_GRANT, cluster_id__in=ids, status__in=_LIVE_REQUEST
            )
        }
        self.replicators = {
            replicator.read_cluster_id: replicator
            for replicator in Replicator.objects.filter(read_cluster_id__in=ids).exclude(
                status=Replicator.Status.DELETED
            )
        }

    def cluster_or_wait(self, name: str) -> tuple[Cluster | None, str]:
        """The live cluster of that planned name, or why it is not there to file on."""
        cluster = self.clusters.get(name)
        if cluster is not None:
            if cluster.status == Cluster.Status.FAILED:
                return (
                    None,
                    f"Cluster {name} failed ({cluster.status_reason or 'no reason given'}); an admin retries it.",
                )
            return cluster, ""
        request = self.cluster_requests.get(name)
        if request is not None:
            return None, f"Waits for cluster {name}: {_request_note(request)}."
        if name in self.masked:
            return (
                None,
                f"Waits for read cluster {name}, fed by a masking stream job the portal does not run.",
            )
        owner = self.owners.get(name, "")
        filer = f"team {owner}" if owner else "its team"
        return None, f"Waits for cluster {name}: not requested yet ({filer} files it from this plan)."

    def topic_or_wait(self, cluster: Cluster, name: str) -> tuple[Topic | None, str]:
        topic = self.topics.get((cluster.pk, name))
        if topic is not None:
            return topic, ""
        request = self.topic_requests.get((cluster.pk, name))
        if request is not None:
            return None, f"Waits for topic {name} on {cluster.name}: {_request_note(request)}."
        return None, f"Waits for topic {name} on {cluster.name}: not requested yet."


def _justification(plan: MigrationPlan, what: str) -> str:
    return (
        f"Migration off {plan.monolith.name}, accepted plan v{plan.version} "
        f"({absolute_url('migration:plan-detail', plan.pk)}): {what}"
    )


def _placement(plan: MigrationPlan) -> dict[tuple[str, str], dict]:
    """(side, application) -> its planned cluster."""
    return {
        (cluster["side"], name): cluster
        for cluster in plan.result["clusters"]
        for name in cluster["applications"]
    }


def _team_slugs(plan: MigrationPlan) -> dict[str, str]:
    """application -> its team's slug ("" when unclaimed)."""
    return {
        application.name: application.team.slug if application.team else ""
        for application in plan.monolith.applications.select_related("team")
    }


# --- Clusters ----------------------------------------------------------------------------------------------


def _taken_over_note(plan: MigrationPlan, taken: takeover.TakenOver) -> str:
    return (
        f"Waits for a new plan version: {taken.sentence} after v{plan.version} was computed, which still places it "
        f"with {taken.previous_team}. An admin computes and accepts a new version."
    )


def _cluster_items(plan, team, world: _World, teams_of: dict[str, str], stale: dict) -> list[Item]:
    items = []
    placement = _placement(plan)
    for planned in plan.result["clusters"]:
        if world.owners[planned["name"]] != team.slug:
            continue
        name, side = planned["name"], planned["side"]
        kind = {"write": Cluster.Kind.WRITE, "read": Cluster.Kind.READ}.get(side, Cluster.Kind.DEDICATED)
        label = f"{Cluster.Kind(kind).label.split(' (')[0]} {name}"
        request = world.cluster_requests.get(name)
        if request is not None:
            items.append(Item(CLUSTER, name, label, REQUESTED, request, _status(request)))
            continue
        if name in world.clusters:
            items.append(Item(CLUSTER, name, label, REQUESTED, None, "already in the inventory"))
            continue
        if all(app in stale for app in planned["applications"]):  # only for applications taken over since
            note = _taken_over_note(plan, stale[planned["applications"][0]])
            items.append(Item(CLUSTER, name, label, WAITING, None, note))
            continue
        others = sorted({teams_of.get(app, "") for app in planned["applications"]} - {"", team.slug})
        source, topics = None, []
        if side == "read" and planned["group"]["contains_pii"]:
            items.append(Item(CLUSTER, name, label, REFUSED, None, _masking_note(planned)))
            continue
        if side == "read":
            sources = sorted(
                {
                    placement[("write", app)]["name"]
                    for app in planned["applications"]
                    if ("write", app) in placement
                }
            )
            if len(sources) != 1:
                note = (
                    f"Its applications are on {len(sources)} write clusters ({', '.join(sources)}); a read cluster is "
                    "fed by one replicator from one write cluster. An admin moves them onto one write cluster "
                    "(a new plan version), or splits this read cluster."
                )
                items.append(Item(CLUSTER, name, label, REFUSED, None, note))
                continue
            source, why = world.cluster_or_wait(sources[0])
            if source is not None and source.status != Cluster.Status.ACTIVE:
                why = (
                    f"Waits for write cluster {source.name}, {source.get_status_display().lower()}: a read cluster "
                    "is fed by MSK Replicator from a running write cluster."
                )
            if why:
                items.append(Item(CLUSTER, name, label, WAITING, None, why))
                continue
            topics = planned["topics"]
            missing = [topic for topic in topics if (source.pk, topic) not in world.topics]
            if missing:
                shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
                note = (
                    f"Waits for topic{pluralize(len(missing))} {shown} on {source.name} (their teams file them from "
                    "this plan): the replicator copies topics the write cluster has."
                )
                items.append(Item(CLUSTER, name, label, WAITING, None, note))
                continue
        items.append(_cluster_item(plan, team, planned, kind, label, others, source, topics, world))
    return items


def _masking_note(planned: dict) -> str:
    return (
        f"Its applications ({', '.join(planned['applications'])}) carry PII, and a read cluster must not carry "
        "the sensitive fields: the plan names a masking stream job (e.g. Apache Flink) to feed it, which the "
        "portal does not run. MSK Replicator would copy the records as they are, so this read cluster is not "
        "filed; an admin sets up the masking job and its cluster."
    )


def _network(planned: dict, region: str) -> tuple[AwsAccount | None, NetworkProfile | None]:
    account = (
        AwsAccount.objects.filter(account_id=planned["group"]["account"]).first()
        if planned["group"]["account"]
        else AwsAccount.objects.filter(ownership=AwsAccount.Ownership.PLATFORM).order_by("pk").first()
    )
    profile = (
        NetworkProfile.objects.filter(account=account, region=region).order_by("pk").first()
        if account
        else None
    )
    return account, profile


def _cluster_item(plan, team, planned, kind, label, others, source, topics, world) -> Item:
    account, profile = _network(planned, world.region)
    if source is not None:  # a read cluster lives where its replicator can reach its write cluster
        account, profile = source.account, source.network_profile
    if profile is None:
        note = f"No network profile of the account in {world.region}: waits for an admin to add one."
        return Item(CLUSTER, planned["name"], label, WAITING, None, note)
    latency = planned["group"]["latency"].replace("-", "_") or Cluster.LatencyClass.INSENSITIVE
    fed = f" Fed from {source.name} by MSK Replicator: {', '.join(topics)}." if source is not None else ""
    shared = f" Opened to {', '.join(others)}, whose applications the plan puts here." if others else ""
    what = (
        f"{', '.join(planned['applications'])} move here. Planned load at {plan.headroom_percent} % headroom; "
        f"{_cost_sentence(planned)}{fed}{shared}"
    )

    prepare = partial(
        request_services.prepare_cluster_create,
        team=team,
        name=planned["name"],
        kind=kind,
        environment="prod",
        account=account,
        region=world.region,
        network_profile=profile,
        expected_write_mbps=rules.request_mbps(_load(planned, "ingress")),
        expected_read_mbps=rules.request_mbps(_load(planned, "egress")),
        contains_pii=planned["group"]["contains_pii"],
        latency_class=latency,
        justification=_justification(plan, what),
        source_cluster=source,
        replicate_topics=list(topics),
        share_with=list(Team.objects.filter(slug__in=others)),
        estimate_basis=_estimate_basis(plan, planned),
    )

    return Item(CLUSTER, planned["name"], label, READY, prepare=prepare)


def _cost_sentence(planned: dict) -> str:
    """The plan's figure for the cluster and how the requests filed from it share it."""
    total = usd(planned["monthly_usd"])
    if "cluster_usd" not in planned:  # a plan computed before its figures were split by request
        return f"estimated {total} a month."
    if planned["side"] == "read":
        return f"the plan estimates {total} a month for it, all in this request (its topics are copied in)."
    count = len(planned["topic_costs"])
    return (
        f"the plan estimates {total} a month for it: {usd(planned['cluster_usd'])} in this request and "
        f"{usd(planned['topics_usd'])} in the requests of its {count} topic{pluralize(count)}."
    )


def _estimate_basis(plan: MigrationPlan, planned: dict):
    """What the cluster request prices besides its cluster-hours: what the plan put on the cluster that no
    topic request carries (planning._priced). None for a plan computed before that split: the expected
    throughput, as before."""
    priced = planned.get("cluster_priced")
    if priced is None:
        return None
    reserved = int(next(load["reserved"] for load in planned["load"] if load["quota"] == "partitions"))
    tool = Replication.Tool(planned["replication"]["tool"]).label
    if planned["side"] == "read":
        covers = (
            f"one cluster-month, the {priced['partitions']:,} partitions on it ({reserved} of them the compacted "
            f"partitions {tool} keeps here) and the data in and out and storage (estimate) of the topics it copies "
            f"in: all of plan v{plan.version}'s figure for this cluster"
        )
    else:
        covers = (
            f"one cluster-month and the {reserved} compacted partitions {tool} keeps here; the partitions, data "
            f"in and out and storage of its topics are in their own requests (plan v{plan.version})"
        )
    return request_services.ClusterEstimateBasis(
        partitions=priced["partitions"],
        in_mbps=Decimal(priced["in_mbps"]),
        out_mbps=Decimal(priced["out_mbps"]),
        storage_gib=Decimal(priced["storage_gib"]),
        covers=covers,
    )


# --- Topics ------------------------------------------------------------------------------------------------


def _topic_settings(inventory_topic, application) -> dict:
    """The monolith topic's partitions and settings, as a topic request takes them. Values Serverless does not
    allow are passed on, for the request's own rules to refuse in words."""
    configs = inventory_topic.configs or {}

    def number(key: str, default: int) -> int:
        try:
            return int(configs[key])
        except (KeyError, TypeError, ValueError):
            return default

    retention_ms = inventory_topic.retention_ms
    if application.retention_hours:
        retention_ms = application.retention_hours * 3_600_000
    return {
        "partitions": inventory_topic.partitions,
        "cleanup_policy": "compact" if inventory_topic.compacted else "delete",
        "retention_ms": retention_ms,
        "retention_bytes": inventory_topic.retention_bytes,
        "max_message_bytes": number("max.message.bytes", rules.DEFAULT_MAX_MESSAGE_BYTES),
        "compression_type": configs.get("compression.type") or "producer",
        "message_timestamp_type": configs.get("message.timestamp.type") or "CreateTime",
    }


def _topic_items(plan, team, row, planned, world: _World, other_slugs: list[str]) -> list[Item]:
    items = []
    cluster, why = world.cluster_or_wait(planned["name"])
    write_side = planned["side"] == "write"
    for inventory_topic in row.topics:
        name = inventory_topic.name
        label = f"Topic {name}"
        if error := rules.kept_topic_name_error(name, template=world.template, other_team_slugs=other_slugs):
            items.append(Item(TOPIC, planned["name"], label, REFUSED, None, error))
            continue
        settings = _topic_settings(inventory_topic, row.application)
        # The plan's figures for the topic (its estimate of it is this request's, to the cent); a plan computed
        # before it kept them: the inventory's.
        figures = planned.get("topic_costs", {}).get(name)
        if figures is not None:
            in_mbps, out_mbps = Decimal(figures["in_mbps"]), Decimal(figures["out_mbps"])
            settings["retention_ms"] = figures["retention_ms"]
        else:
            in_mbps = rules.request_mbps(inventory_topic.peak_in_mbps)
            out_mbps = in_mbps if write_side else rules.request_mbps(inventory_topic.peak_out_mbps)
        needed = rules.suggested_partitions(in_mbps, out_mbps)
        if needed > inventory_topic.partitions:
            note = (
                f"At {in_mbps} MB/s in and {out_mbps} MB/s out it needs {needed} partitions, not "
                f"{inventory_topic.partitions} (a Serverless partition takes 5 MB/s in, 10 out), and replication "
                "keeps the monolith's count: add partitions on the monolith first (keys move), then file again."
            )
            items.append(Item(TOPIC, planned["name"], label, REFUSED, None, note))
            continue
        if cluster is None:
            items.append(Item(TOPIC, planned["name"], label, WAITING, None, why))
            continue
        existing = world.topics.get((cluster.pk, name))
        if existing is not None:
            state = REQUESTED if existing.team_id == team.pk else REFUSED
            owned = "" if existing.team_id == team.pk else f", owned by {existing.team.name}"
            note = f"on {cluster.name} already ({existing.get_status_display().lower()}{owned})"
            request = world.topic_created_by.get(existing.pk)
            items.append(Item(TOPIC, planned["name"], label, state, request, note))
            continue
        waiting = world.topic_requests.get((cluster.pk, name))
        if waiting is not None:
            items.append(Item(TOPIC, planned["name"], label, REQUESTED, waiting, _status(waiting)))
            continue
        what = (
            f"{name} of {row.application.name}, under its monolith name (replication keeps names), with the "
            f"monolith's {inventory_topic.partitions} partition{pluralize(inventory_topic.partitions)}."
        )

        prepare = partial(
            request_services.prepare_topic_create,
            team=team,
            cluster=cluster,
            name=name,
            name_as_is=True,
            expected_in_mbps=in_mbps,
            expected_out_mbps=out_mbps,
            justification=_justification(plan, what),
            **settings,
        )
        items.append(Item(TOPIC, planned["name"], label, READY, prepare=prepare))
    return items


# --- Access ------------------------------------------------------------------------------------------------


def _access_items(plan, team, row, placement, world: _World) -> list[Item]:
    """Producers on the application's write or dedicated cluster, consumers where its consumers read."""
    application = row.application
    home = placement.get(("write", application.name)) or placement.get(("", application.name))
    reads = placement.get(("read", application.name)) or home
    wanted = [(words[0], "", home, True) for words in role_lines(application.producer_roles)]
    wanted += [(words[0], words[1], reads, False) for words in role_lines(application.consumer_roles)]
    items = []
    for arn, group, planned, produce in wanted:
        right = "produce" if produce else f"consume as {group}"
        source, why = world.cluster_or_wait(home["name"])
        target, target_why = world.cluster_or_wait(planned["name"])
        for inventory_topic in row.topics:
            name = inventory_topic.name
            label = f"{right.capitalize()} on {name} for {arn}"
            if error := rules.principal_arn_error(arn, region=world.region):
                items.append(Item(ACCESS, planned["name"], label, REFUSED, None, error))
                continue
            topic = None
            if source is not None:
                topic, why = world.topic_or_wait(source, name)
            if topic is None or target is None:
                items.append(Item(ACCESS, planned["name"], label, WAITING, None, why or target_why))
                continue
            if target.pk != source.pk:
                replicator = world.replicators.get(target.pk)
                if replicator is None or name not in replicator.topics:
                    note = f"{target.name} does not copy {name} from {source.name}: an admin adds it to its replicator."
                    items.append(Item(ACCESS, planned["name"], label, REFUSED, None, note))
                    continue
            key = (target.pk, topic.pk, arn, produce, not produce)
            if key in world.grants:
                items.append(Item(ACCESS, planned["name"], label, REQUESTED, None, "granted already"))
                continue
            if (request := world.access_requests.get(key)) is not None:
                items.append(Item(ACCESS, planned["name"], label, REQUESTED, request, _status(request)))
                continue
            what = f"{right} on {name} ({application.name}) for {arn} on {target.name}, as on the monolith."

            prepare = partial(
                request_services.prepare_access_grant,
                team=team,
                cluster=target,
                topic=topic,
                entry=request_services.AccessInput(arn, produce, not produce, group),
                justification=_justification(plan, what),
            )
            items.append(Item(ACCESS, planned["name"], label, READY, prepare=prepare))
    return items


# --- The step ----------------------------------------------------------------------------------------------


def accepted_plan(plan_id: int) -> MigrationPlan:
    plan = MigrationPlan.objects.select_related("monolith", "snapshot").get(pk=plan_id)
    if plan.status != MigrationPlan.Status.ACCEPTED:
        raise ValidationError("Only the accepted plan becomes requests.")
    return plan


def plan_items(plan: MigrationPlan, team: Team) -> list[Item]:
    """Everything of the plan that is `team`'s to file, and where each stands now. Reads only."""
    world = _World(plan)
    stale = takeover.taken_over_since(plan)  # placed with their previous owner: not filed from this version
    teams_of = {name: slug for name, slug in _team_slugs(plan).items() if name not in stale}
    placement = _placement(plan)
    other_slugs = list(Team.objects.exclude(pk=team.pk).values_list("slug", flat=True))
    items = _cluster_items(plan, team, world, teams_of, stale)
    rows = [row for row in world.rows if row.application.team_id == team.pk]
    for name in sorted(stale.keys() & {row.application.name for row in rows}):
        planned = placement.get(("write", name)) or placement.get(("", name))
        label = f"Topics and access of {name}"
        items.append(Item(TOPIC, planned["name"], label, WAITING, None, _taken_over_note(plan, stale[name])))
    rows = [row for row in rows if row.application.name not in stale]
    for row in rows:
        planned = placement.get(("write", row.application.name)) or placement.get(("", row.application.name))
        if planned is not None:
            items += _topic_items(plan, team, row, planned, world, other_slugs)
    for row in rows:
        if placement.get(("write", row.application.name)) or placement.get(("", row.application.name)):
            items += _access_items(plan, team, row, placement, world)
    return items


# progress(done, total, item): `item` just tried (None when a pass starts); `done` of `total` tried so far.
Progress = Callable[[int, int, "Item | None"], None]


def file_requests(*, actor, plan_id: int, team: Team) -> list[Item]:
    """File what is ready and record the filing (its event, and the admins' digest on commit). The filing job
    (`clusters.migration.filing`) calls `file_items` and records with its own finish instead."""
    plan = accepted_plan(plan_id)
    result, tried = file_items(actor=actor, plan=plan, team=team)
    if tried:  # something was tried: filed, or refused by a request's own rules
        record_filing(plan, actor, team, result)
    return result


def file_items(
    *,
    actor,
    plan: MigrationPlan,
    team: Team,
    progress: Progress | None = None,
    skip: Collection[tuple[str, str, str]] = (),
) -> tuple[list, bool]:
    """File what is ready; what that makes ready at once (a rule approved it) is filed in the same step. Each
    request commits on its own, so a filing stopped half-way keeps what it filed and filing again files only
    what is still ready. `skip`: (kind, cluster, label) of items left ready, unfiled (an automatic filing's:
    what was filed or refused before). Returns every item of the team with where it stands, and whether
    anything was tried."""
    if not access.can_act_for_team(actor, team):
        raise NotAllowed("You can only file requests for teams you are a member of.")
    done: dict[tuple[str, str, str], Item] = {}  # filed or refused in this step
    for _ in range(_MAX_PASSES):
        ready = [
            item
            for item in plan_items(plan, team)
            if item.state == READY and _key(item) not in done and _key(item) not in skip
        ]
        total = len(done) + len(ready)
        if progress is not None:
            progress(len(done), total, None)
        progressed = False
        for item in ready:
            try:
                request = request_services.submit_request(
                    actor=actor, prepared=item.prepare(actor=actor), notify_approvers=False
                )
            except ValidationError as exc:
                done[_key(item)] = Item(item.kind, item.cluster, item.label, REFUSED, None, _messages(exc))
            else:
                done[_key(item)] = Item(item.kind, item.cluster, item.label, FILED, request, _status(request))
                progressed = progressed or request.status == Request.Status.APPROVED
            if progress is not None:
                progress(len(done), total, done[_key(item)])
        if not progressed:
            break
    return [done.get(_key(item), item) for item in plan_items(plan, team)], bool(done)


def record_filing(
    plan: MigrationPlan, actor, team: Team, result: list[Item], details: dict | None = None
) -> None:
    """The filing's event, and with it the admins' one mail about the requests that wait (enqueued on commit)."""
    from clusters.migration import tasks

    new = [item for item in result if item.state == FILED]
    with transaction.atomic():
        event = events.record(
            plan.monolith,
            "plan.requests_filed",
            actor=actor,
            obj=plan,
            team=team,
            details={
                "requests": [item.request.pk for item in new],
                "filed": [item.label for item in new],
                "refused": [f"{item.label}: {item.note}" for item in result if item.state == REFUSED],
                "waiting": sum(1 for item in result if item.state == WAITING),
                **(details or {}),
            },
        )
        if any(item.request.status == Request.Status.SUBMITTED for item in new):
            enqueue_on_commit(tasks.mail_filing_digest, event.pk)


def mail_filing_digest(event_id: int) -> int:
    """The platform admins' one mail about a filing's requests that wait for them (run by the task; a second
    run sends nothing). Returns how many requests it named."""
    event = MigrationEvent.objects.select_related("monolith").get(pk=event_id, action="plan.requests_filed")
    plan = MigrationPlan.objects.get(pk=event.object_id)
    source = (
        f"the accepted migration plan v{plan.version} of {event.monolith.name} "
        f"({absolute_url('migration:plan-detail', plan.pk)})."
    )
    return request_notifications.notify_submitted_together(
        request_ids=event.details["requests"], source=source
    )


def _key(item: Item) -> tuple[str, str, str]:
    return item.kind, item.cluster, item.label


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return " ".join(message for messages in exc.message_dict.values() for message in messages)
    return " ".join(exc.messages)


@dataclass
class TeamFiling:
    team: Team
    items: list[Item]  # empty while its filing is queued or running: the panel shows the progress instead
    can_file: bool
    job: Filing | None = None  # its latest filing, for those who may watch it (access.can_watch_filing)
    auto: AutoFiling | None = None  # its latest opt-in to the next stages, for the same people

    @property
    def files_next_stages(self) -> bool:
        return self.auto is not None and self.auto.status == AutoFiling.Status.ON

    @property
    def count(self) -> dict[str, int]:
        """Items per state (the template reads `count.waiting`)."""
        counts = dict.fromkeys(STATE_LABELS, 0)
        for item in self.items:
            counts[item.state] += 1
        return counts

    @property
    def busy(self) -> bool:
        return self.job is not None and self.job.is_active

    @cached_property
    def result(self) -> dict[str, list[Item]]:
        """The latest filing's stored result as items with their requests (one query), by state."""
        rows = self.job.result if self.job is not None else []
        requests = Request.objects.in_bulk([row["request"] for row in rows if row["request"]])
        by_state: dict[str, list[Item]] = {state: [] for state in STATE_LABELS}
        for row in rows:
            request = requests.get(row["request"])
            by_state[row["state"]].append(
                Item(row["kind"], row["cluster"], row["label"], row["state"], request, row["note"])
            )
        return by_state


def team_filing(plan: MigrationPlan, team: Team, user) -> TeamFiling:
    """One team's share of the plan for the page: its latest filing and opt-in to the next stages, and where
    its items stand now (not while a filing is running: it changes them)."""
    job = auto = None
    if access.can_watch_filing(user, team):
        job = Filing.objects.filter(plan=plan, team=team).select_related("requested_by").first()
        auto = (
            AutoFiling.objects.filter(plan=plan, team=team)
            .select_related("requested_by", "stopped_by")
            .first()
        )
    items = [] if job is not None and job.is_active else plan_items(plan, team)
    return TeamFiling(team, items, access.can_act_for_team(user, team), job, auto)


def filing_overview(plan: MigrationPlan, user) -> list[TeamFiling]:
    """For the plan page: where each team's requests stand (admins: every team with a share of the plan;
    members: their teams). Refusals by the naming and partition rules show before anything is filed."""
    if plan.status != MigrationPlan.Status.ACCEPTED:
        return []
    rows = selectors.application_rows(plan.monolith, plan.snapshot)
    slugs = {row.application.team.slug for row in rows if row.application.team} | {
        owner_team_slug(cluster, plan, rows) for cluster in plan.result["clusters"]
    }
    teams = access.teams_visible_to(user).filter(slug__in=slugs - {""}).order_by("name")
    return [team_filing(plan, team, user) for team in teams]
