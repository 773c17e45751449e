from django.apps import AppConfig


class MigrationAssistantConfig(AppConfig):
    """The migration assistant's models live in their own app (label `migration_assistant`) so its schema
    migrations number on their own, apart from the `clusters` app's."""

    name = "clusters.migration"
    label = "migration_assistant"
    verbose_name = "Migration assistant"
    default_auto_field = "django.db.models.BigAutoField"
