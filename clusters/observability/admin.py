"""Django admin: platform admins tune the alert rules (thresholds, durations, on/off); episodes are read-only."""

from django.contrib import admin

from clusters.observability.models import AlertEpisode, AlertRule


def register(base: type[admin.ModelAdmin]) -> None:
    """Called by clusters/admin.py with its platform-admins-only, audited base class."""

    @admin.register(AlertRule)
    class AlertRuleAdmin(base):
        list_display = ("kind", "enabled", "percent_of_limit", "for_minutes", "lag_seconds", "updated_at")
        readonly_fields = ("kind",)

        def has_add_permission(self, request):
            return False  # one row per kind, created by the migration

        def has_delete_permission(self, request, obj=None):
            return False

    @admin.register(AlertEpisode)
    class AlertEpisodeAdmin(base):
        list_display = ("summary", "status", "team", "opened_at", "resolved_at")
        list_filter = ("status", "rule")

        def has_add_permission(self, request):
            return False

        def has_change_permission(self, request, obj=None):
            return False

        def has_delete_permission(self, request, obj=None):
            return False
