from django.urls import path

from clusters.views import approvals, changes, clusters, drift, requests, retries

app_name = "clusters"

urlpatterns = [
    path("requests/", requests.request_list, name="request-list"),
    path("requests/new/", requests.request_new, name="request-new"),
    path("requests/new/cluster/", requests.new_request, {"kind": "cluster"}, name="request-new-cluster"),
    path("requests/new/topic/", requests.new_request, {"kind": "topic"}, name="request-new-topic"),
    path("requests/new/access/", requests.new_request, {"kind": "access"}, name="request-new-access"),
    path("requests/new/<str:kind>/preview/", requests.request_preview, name="request-preview"),
    path(
        "requests/new/topic-update/<int:topic_id>/",
        changes.change_request,
        {"change": "topic-update"},
        name="request-topic-update",
    ),
    path(
        "requests/new/topic-delete/<int:topic_id>/",
        changes.change_request,
        {"change": "topic-delete"},
        name="request-topic-delete",
    ),
    path(
        "requests/new/access-revoke/<int:grant_id>/",
        changes.change_request,
        {"change": "access-revoke"},
        name="request-access-revoke",
    ),
    path(
        "requests/new/decommission/<int:cluster_id>/",
        changes.change_request,
        {"change": "decommission"},
        name="request-decommission",
    ),
    path("requests/<int:pk>/", requests.request_detail, name="request-detail"),
    path("requests/<int:pk>/progress/", requests.request_progress, name="request-progress"),
    path("requests/<int:pk>/approve/", approvals.request_approve, name="request-approve"),
    path("requests/<int:pk>/reject/", approvals.request_reject, name="request-reject"),
    path("requests/<int:pk>/cancel/", approvals.request_cancel, name="request-cancel"),
    path("approvals/", approvals.approval_queue, name="approval-queue"),
    path("approvals/decide/", approvals.approval_bulk, name="approval-bulk"),
    path("clusters/", clusters.cluster_list, name="cluster-list"),
    path("clusters/<int:pk>/", clusters.cluster_detail, name="cluster-detail"),
    path("clusters/<int:pk>/status/", clusters.cluster_status, name="cluster-status"),
    path("clusters/<int:pk>/retry/", clusters.cluster_retry, name="cluster-retry"),
    path("topics/<int:pk>/retry/", retries.retry_step, {"what": "topic"}, name="topic-retry"),
    path("grants/<int:pk>/retry/", retries.retry_step, {"what": "grant"}, name="grant-retry"),
    path("replicators/<int:pk>/retry/", retries.retry_step, {"what": "replicator"}, name="replicator-retry"),
    path("drift/", drift.drift_list, name="drift-list"),
    path("drift/<int:pk>/adopt/", drift.drift_adopt, name="drift-adopt"),
    path("drift/<int:pk>/retag/", drift.drift_retag, name="drift-retag"),
    path("drift/<int:pk>/mark-deleted/", drift.drift_mark_deleted, name="drift-mark-deleted"),
]
