"""Observability pages: a topic's traffic and lag, a cluster's, the fleet's. Server-rendered, no JS needed.

They read stored samples and episodes only (`selectors`), never AWS. Access: a topic or cluster the user
may not see is a 404 (`clusters.selectors.topic_get` / `cluster_get`, i.e. portal.access); lists over
many topics show only the topics the user may see.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from clusters import selectors as cluster_selectors
from clusters.observability import selectors
from clusters.observability.charts import throughput_svg
from clusters.observability.limits import cluster_limits, topic_limits
from clusters.observability.models import AlertEpisode, AlertRule
from clusters.observability.notify import partitions_link
from portal import access

LATEST_ROWS = 12  # the table under a chart: its last hour


def _range_context(request: HttpRequest) -> dict:
    key = selectors.range_key(request.GET.get("range"))
    return {"range": key, "ranges": [(k, label) for k, (label, _, _) in selectors.RANGES.items()]}


@login_required
@require_GET
def topic_detail(request: HttpRequest, pk: int) -> HttpResponse:
    topic = cluster_selectors.topic_get(user=request.user, pk=pk)
    ranges = _range_context(request)
    points = selectors.topic_points(topic, ranges["range"])
    limit_in, limit_out = topic_limits(topic.partitions)
    advice = selectors.topic_advice(topic)
    can_change = access.can_act_for_team(request.user, topic.team) and topic.status == "active"
    context = {
        "topic": topic,
        **ranges,
        "chart": throughput_svg(
            points,
            limit_in=limit_in,
            limit_out=limit_out,
            title=f"{topic.name}: MB/s in and out over the last {selectors.RANGES[ranges['range']][0]}, "
            f"against {topic.partitions} partitions' limits",
        ),
        "latest_points": points[-LATEST_ROWS:][::-1],
        "latest": points[-1] if points else None,
        "limit_in": limit_in,
        "limit_out": limit_out,
        "groups": selectors.topic_groups(topic),
        "episodes": selectors.topic_episodes(topic),
        "advice": advice,
        "remedy_url": partitions_link(topic.pk) if can_change and advice.more_needed else "",
    }
    return render(request, "observability/topic.html", context)


@login_required
@require_GET
def cluster_traffic(request: HttpRequest, pk: int) -> HttpResponse:
    cluster = cluster_selectors.cluster_get(user=request.user, pk=pk)
    ranges = _range_context(request)
    points = selectors.cluster_points(cluster, ranges["range"])
    limit_in, limit_out = cluster_limits()
    topics = selectors.cluster_topics(request.user, cluster)
    context = {
        "cluster": cluster,
        **ranges,
        "chart": throughput_svg(
            points,
            limit_in=limit_in,
            limit_out=limit_out,
            title=f"{cluster.name}: ingress and egress over the last {selectors.RANGES[ranges['range']][0]}, "
            "against the cluster's limits",
        ),
        "latest_points": points[-LATEST_ROWS:][::-1],
        "latest": points[-1] if points else None,
        "limit_in": limit_in,
        "limit_out": limit_out,
        "busiest": selectors.busiest_topics(topics),
        "laggiest": selectors.laggiest_groups(topics),
        "episodes": list(
            AlertEpisode.objects.filter(cluster=cluster, rule__kind=AlertRule.Kind.CLUSTER_THROUGHPUT)
            .select_related("rule")
            .prefetch_related("events")[:20]
        ),
        "can_request": cluster_selectors.can_file_requests(request.user),
    }
    return render(request, "observability/cluster.html", context)


@login_required
@require_GET
def fleet(request: HttpRequest) -> HttpResponse:
    topics = selectors.visible_topics(request.user)
    limit_in, limit_out = cluster_limits()
    context = {
        "clusters": selectors.fleet_clusters(request.user),
        "busiest": selectors.busiest_topics(topics),
        "laggiest": selectors.laggiest_groups(topics),
        "limit_in": limit_in,
        "limit_out": limit_out,
    }
    return render(request, "observability/fleet.html", context)
