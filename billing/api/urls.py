from django.urls import path

from billing.api import views

app_name = "billing-api"

urlpatterns = [
    path("billing/runs/", views.RunListApi.as_view(), name="run-list"),
    path("billing/runs/<str:month>/", views.RunDetailApi.as_view(), name="run-detail"),
    path("billing/runs/<str:month>/lines/", views.RunLineListApi.as_view(), name="run-lines"),
    path(
        "billing/runs/<str:month>/summary.csv",
        views.csv_api("summary", "Summary CSV: per team and charge type, with totals"),
        name="run-summary-csv",
    ),
    path(
        "billing/runs/<str:month>/lines.csv",
        views.csv_api("lines", "Lines CSV: every allocated line"),
        name="run-lines-csv",
    ),
    path(
        "billing/runs/<str:month>/focus.csv",
        views.csv_api("focus", "FOCUS 1.2 CSV (derived allocation)"),
        name="run-focus-csv",
    ),
    path("billing/runs/<str:month>/finalize/", views.RunFinalizeApi.as_view(), name="run-finalize"),
]
