from django.urls import path

from clusters.observability import views

app_name = "observability"

urlpatterns = [
    path("topics/<int:pk>/", views.topic_detail, name="topic"),
    path("clusters/<int:pk>/traffic/", views.cluster_traffic, name="cluster"),
    path("traffic/", views.fleet, name="fleet"),
]
