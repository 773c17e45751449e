from django.apps import AppConfig


class LocalMskConfig(AppConfig):
    name = "clusters.providers.local"
    label = "local_msk"
    verbose_name = "Local MSK simulator"
