from django.urls import path

from portal.api import views

app_name = "api"

urlpatterns = [
    path("me/", views.MeApi.as_view(), name="me"),
    path("teams/", views.TeamListApi.as_view(), name="team-list"),
    path("teams/<slug:slug>/", views.TeamDetailApi.as_view(), name="team-detail"),
    path("memberships/", views.MembershipListApi.as_view(), name="membership-list"),
]
