"""Alert messages to the owning team: once when an episode opens, once when it clears.

Recipients: the team's contact address and its members (mail), plus the portal's Slack webhook if set.
Each message is claimed by a compare-and-set from null on the episode (`opened_notified_at`,
`resolved_notified_at`) inside `send_once`'s transaction, so a redelivered or re-enqueued task sends
nothing twice. Every opening message carries its remedy: for a topic or a lagging group, the topic-change
request pre-filled with the partitions the observed peak needs (and why); for a cluster, the way to a
new cluster (and the topic pages, to move the busiest topics).
"""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from clusters.observability.models import AlertEpisode, AlertRule
from clusters.observability.selectors import topic_advice
from portal.links import absolute_url
from portal.messages_once import send_once
from portal.models import User

CLAIMS = {"opened": "opened_notified_at", "resolved": "resolved_notified_at"}


def remedy_lines(episode: AlertEpisode) -> list[str]:
    """What the team can do about it, with the links that start it."""
    if episode.rule.kind == AlertRule.Kind.CLUSTER_THROUGHPUT:
        return [
            "Remedy: move busy topics to a cluster of their own, or request a new cluster:",
            absolute_url("clusters:request-new-cluster"),
            f"The cluster's traffic and busiest topics: {absolute_url('observability:cluster', episode.cluster_id)}",
        ]
    advice = topic_advice(episode.topic, now=episode.opened_at)  # the peak as of the alert
    if not advice.more_needed:
        return [f"The topic's page: {absolute_url('observability:topic', episode.topic_id)}"]
    return [
        f"Remedy: add partitions ({advice.current} → {advice.needed}).",
        *advice.reasons,
        "The change request, pre-filled:",
        absolute_url("clusters:request-topic-update", episode.topic_id) + "?remedy=partitions",
    ]


def partitions_link(topic_id: int) -> str:
    return reverse("clusters:request-topic-update", args=[topic_id]) + "?remedy=partitions"


def _recipients(episode: AlertEpisode) -> list[str]:
    members = User.objects.filter(is_active=True, memberships__team=episode.team).values_list(
        "email", flat=True
    )
    return sorted({email for email in [episode.team.contact_email, *members] if email})


def notify(*, episode_id: int, event: str) -> bool:
    episode = AlertEpisode.objects.select_related("rule", "team", "topic", "cluster").get(pk=episode_id)
    claim_field = CLAIMS[event]
    page = (
        absolute_url("observability:topic", episode.topic_id)
        if episode.topic_id
        else absolute_url("observability:cluster", episode.cluster_id)
    )
    if event == "opened":
        subject = f"[MSK portal] {episode.rule}: {episode.summary}"
        body = "\n".join(
            [f"{episode.summary}.", "", *remedy_lines(episode), "", f"Details and history: {page}", ""]
        )
    else:
        subject = f"[MSK portal] Resolved: {episode.summary}"
        body = (
            f"Cleared at {episode.resolved_at:%Y-%m-%d %H:%M} UTC, after it began at "
            f"{episode.opened_at:%Y-%m-%d %H:%M} UTC.\n\nHistory: {page}\n"
        )

    def claim() -> bool:
        return (
            AlertEpisode.objects.filter(pk=episode.pk, **{f"{claim_field}__isnull": True}).update(
                **{claim_field: timezone.now()}
            )
            == 1
        )

    return send_once(claim, subject=subject, body=body, recipients=_recipients(episode), link=page)
