from django.urls import path

from clusters.migration import views

app_name = "migration"

urlpatterns = [
    path("", views.monolith_list, name="monolith-list"),
    path("new/", views.monolith_register, name="monolith-register"),
    path("<int:pk>/", views.monolith_detail, name="monolith-detail"),
    path("<int:pk>/edit/", views.monolith_edit, name="monolith-edit"),
    path("<int:pk>/read/", views.inventory_read, name="inventory-read"),
    path("<int:pk>/upload/", views.inventory_upload, name="inventory-upload"),
    path("<int:pk>/cost/", views.monolith_cost, name="monolith-cost"),
    path("<int:pk>/applications/", views.applications, name="applications"),
    path("<int:pk>/applications/discover/", views.applications_discover, name="applications-discover"),
    path("<int:pk>/plans/", views.plans, name="plans"),
    path("applications/<int:pk>/claim/", views.application_claim, name="application-claim"),
    path(
        "applications/<int:pk>/requirements/", views.application_requirements, name="application-requirements"
    ),
    path("claims/<int:pk>/<str:decision>/", views.claim_decide, name="claim-decide"),
    path("plans/<int:pk>/", views.plan_detail, name="plan-detail"),
    path("plans/<int:pk>/move/", views.plan_move, name="plan-move"),
    path("plans/<int:pk>/split/<str:key>/", views.plan_split, name="plan-split"),
    path("plans/<int:pk>/merge/", views.plan_merge, name="plan-merge"),
    path("plans/<int:pk>/accept/", views.plan_accept, name="plan-accept"),
    path("plans/<int:pk>/file-requests/", views.plan_file_requests, name="plan-file-requests"),
    path("plans/<int:pk>/next-stages/off/", views.plan_next_stages_off, name="plan-next-stages-off"),
    path("filings/<int:pk>/", views.filing_status, name="filing-status"),
    path("plans/<int:pk>/cutover/", views.cutovers, name="cutovers"),
    path("cutovers/<int:pk>/mm2.properties", views.mm2_properties, name="cutover-mm2"),
    path("cutovers/<int:pk>/gate/", views.cutover_gate, name="cutover-gate"),
    path("cutovers/<int:pk>/replicate/", views.cutover_replicate, name="cutover-replicate"),
    path("cutovers/<int:pk>/<str:action>/", views.cutover_step, name="cutover-step"),
    path("plans/<int:pk>/compare/", views.plan_compare, name="plan-compare"),
]
