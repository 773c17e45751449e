from django.urls import path

from clusters import views

app_name = "clusters"

urlpatterns = [
    path("requests/", views.request_list, name="request-list"),
    path("requests/new/", views.request_new, name="request-new"),
    path("requests/new/cluster/", views.request_new_cluster, name="request-new-cluster"),
    path("requests/new/topic/", views.request_new_topic, name="request-new-topic"),
    path("requests/new/access/", views.request_new_access, name="request-new-access"),
    path(
        "requests/new/<str:kind>/preview/",
        views.request_preview,
        name="request-preview",
    ),
    path(
        "requests/new/topic-update/<int:topic_id>/", views.request_topic_update, name="request-topic-update"
    ),
    path(
        "requests/new/topic-delete/<int:topic_id>/", views.request_topic_delete, name="request-topic-delete"
    ),
    path(
        "requests/new/access-revoke/<int:grant_id>/",
        views.request_access_revoke,
        name="request-access-revoke",
    ),
    path(
        "requests/new/decommission/<int:cluster_id>/", views.request_decommission, name="request-decommission"
    ),
    path("requests/<int:pk>/", views.request_detail, name="request-detail"),
    path("requests/<int:pk>/approve/", views.request_approve, name="request-approve"),
    path("requests/<int:pk>/reject/", views.request_reject, name="request-reject"),
    path("requests/<int:pk>/cancel/", views.request_cancel, name="request-cancel"),
    path("approvals/", views.approval_queue, name="approval-queue"),
    path("clusters/", views.cluster_list, name="cluster-list"),
    path("clusters/<int:pk>/", views.cluster_detail, name="cluster-detail"),
    path("clusters/<int:pk>/status/", views.cluster_status, name="cluster-status"),
    path("requests/<int:pk>/progress/", views.request_progress, name="request-progress"),
    path("clusters/<int:pk>/retry/", views.cluster_retry, name="cluster-retry"),
    path("topics/<int:pk>/retry/", views.topic_retry, name="topic-retry"),
    path("grants/<int:pk>/retry/", views.grant_retry, name="grant-retry"),
    path("replicators/<int:pk>/retry/", views.replicator_retry, name="replicator-retry"),
    path("drift/", views.drift_list, name="drift-list"),
    path("drift/<int:pk>/adopt/", views.drift_adopt, name="drift-adopt"),
    path("drift/<int:pk>/retag/", views.drift_retag, name="drift-retag"),
    path("drift/<int:pk>/mark-deleted/", views.drift_mark_deleted, name="drift-mark-deleted"),
]
