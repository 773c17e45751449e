"""The cluster inventory: the list (with the quota each cluster's topics take), one cluster's page (its
topics, grants, replicator, requests and provisioning steps), the provisioning panel htmx polls, and
restarting a failed provisioning (platform admins)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from clusters import provisioning, selectors
from clusters.integrations import client_config
from clusters.models import Cluster
from clusters.views.lists import PAGE_SIZE
from clusters.views.polling import polled_panel
from portal import access
from portal.htmx import is_htmx_partial


@login_required
@require_GET
def cluster_list(request: HttpRequest) -> HttpResponse:
    include_deleted = request.GET.get("deleted") == "1"
    clusters = selectors.cluster_list(user=request.user, include_deleted=include_deleted)
    page = Paginator(clusters, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = selectors.with_quota_use(page.object_list)
    context = {
        "page": page,
        "include_deleted": include_deleted,
        "can_request": selectors.can_file_requests(request.user),
    }
    return render(request, "clusters/cluster_list.html", context)


@login_required
@require_GET
def cluster_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    cluster = selectors.cluster_get(user=user, pk=pk)
    shared_with = list(cluster.shared_with.order_by("name"))
    actions = selectors.cluster_actions(user=user, cluster=cluster, shared_with=shared_with)
    context = {
        "topics": selectors.with_row_actions(
            user, list(selectors.cluster_topics(user=user, cluster=cluster))
        ),
        "grants": selectors.with_row_actions(
            user, list(selectors.cluster_grants(user=user, cluster=cluster))
        ),
        "requests": selectors.cluster_requests(user=user, cluster=cluster),
        "can_decommission": actions.decommission,
        "can_request_here": actions.request_here,
        "shared_with": shared_with,
        "replicator": selectors.replicator_with_actions(user, selectors.cluster_replicator(cluster=cluster)),
        **_provisioning_context(request, cluster),
    }
    return render(request, "clusters/cluster_detail.html", context)


def _provisioning_context(request: HttpRequest, cluster) -> dict:
    active = cluster.status == Cluster.Status.ACTIVE and cluster.bootstrap_brokers
    return {
        "cluster": cluster,
        "in_flight": cluster.status in Cluster.IN_FLIGHT,
        "can_retry": access.can_retry_provisioning(request.user, cluster),
        "events": selectors.provisioning_events(cluster=cluster),
        "java_config": client_config.java_properties(bootstrap=cluster.bootstrap_brokers) if active else "",
        "python_config": (
            client_config.python_confluent_kafka(bootstrap=cluster.bootstrap_brokers, region=cluster.region)
            if active
            else ""
        ),
    }


@login_required
@require_GET
def cluster_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The provisioning panel alone, for htmx polling until nothing moves."""
    cluster = selectors.cluster_get(user=request.user, pk=pk)
    context = _provisioning_context(request, cluster)
    return polled_panel(request, "clusters/_provisioning_panel.html", context, moving=context["in_flight"])


@login_required
@require_POST
def cluster_retry(request: HttpRequest, pk: int) -> HttpResponse:
    cluster = selectors.cluster_get(user=request.user, pk=pk)
    if not access.is_platform_admin(request.user):
        raise PermissionDenied("Only platform admins retry provisioning.")
    provisioning.retry_cluster(cluster_id=cluster.pk, actor=request.user)
    cluster.refresh_from_db()
    if is_htmx_partial(request):
        return render(request, "clusters/_provisioning_panel.html", _provisioning_context(request, cluster))
    messages.success(request, f"Provisioning of {cluster.name} restarted.")
    return redirect("clusters:cluster-detail", pk=cluster.pk)
