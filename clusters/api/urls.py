from django.urls import path

from clusters.api import views

app_name = "clusters-api"

urlpatterns = [
    path("requests/", views.RequestListApi.as_view(), name="request-list"),
    path("requests/cluster/", views.ClusterRequestCreateApi.as_view(), name="request-cluster"),
    path("requests/topic/", views.TopicRequestCreateApi.as_view(), name="request-topic"),
    path("requests/topic-update/", views.TopicUpdateRequestCreateApi.as_view(), name="request-topic-update"),
    path("requests/topic-delete/", views.TopicDeleteRequestCreateApi.as_view(), name="request-topic-delete"),
    path("requests/access/", views.AccessRequestCreateApi.as_view(), name="request-access"),
    path(
        "requests/access-revoke/", views.AccessRevokeRequestCreateApi.as_view(), name="request-access-revoke"
    ),
    path("requests/decommission/", views.DecommissionRequestCreateApi.as_view(), name="request-decommission"),
    path("requests/decisions/", views.RequestDecisionsApi.as_view(), name="request-decisions"),
    path("requests/<int:pk>/", views.RequestDetailApi.as_view(), name="request-detail"),
    path("requests/<int:pk>/approve/", views.RequestApproveApi.as_view(), name="request-approve"),
    path("requests/<int:pk>/reject/", views.RequestRejectApi.as_view(), name="request-reject"),
    path("requests/<int:pk>/cancel/", views.RequestCancelApi.as_view(), name="request-cancel"),
    path("clusters/", views.ClusterListApi.as_view(), name="cluster-list"),
    path("clusters/<int:pk>/", views.ClusterDetailApi.as_view(), name="cluster-detail"),
]
