from django.urls import path

from clusters.api import views

app_name = "clusters-api"

urlpatterns: list = []
