from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [
    path("billing/finance/", views.finance, name="finance"),
    path("billing/runs/<str:month>/<str:kind>.csv", views.run_csv, name="run-csv"),
    path(
        "billing/runs/<str:month>/recompute/", views.run_action, {"action": "recompute"}, name="run-recompute"
    ),
    path("billing/runs/<str:month>/finalize/", views.run_action, {"action": "finalize"}, name="run-finalize"),
    path("billing/runs/<str:month>/actuals/", views.run_action, {"action": "actuals"}, name="run-actuals"),
    path("billing/runs/<str:month>/scaling/", views.run_action, {"action": "scaling"}, name="run-scaling"),
    path("billing/teams/<slug:slug>/", views.team_costs, name="team-costs"),
]
