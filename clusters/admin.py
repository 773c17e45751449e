"""Django admin for what platform admins maintain: accounts, network profiles, quotas, rules, shares."""

from django.contrib import admin

from clusters.models import (
    AccessGrant,
    AutoApprovalRule,
    AwsAccount,
    Cluster,
    DriftFinding,
    NetworkProfile,
    PlatformSettings,
    Request,
    RequestEvent,
    Topic,
)
from clusters.observability import admin as observability_admin
from portal import access
from portal.admin_audit import AuditedAdmin


class PlatformAdminOnly(AuditedAdmin):
    """Editable by platform admins (they need is_staff to reach the admin site); nobody else. Every change
    is recorded in the portal's audit log."""

    def has_module_permission(self, request):
        return access.is_platform_admin(request.user)

    def has_view_permission(self, request, obj=None):
        return access.is_platform_admin(request.user)

    def has_add_permission(self, request):
        return access.is_platform_admin(request.user)

    def has_change_permission(self, request, obj=None):
        return access.is_platform_admin(request.user)

    def has_delete_permission(self, request, obj=None):
        return access.is_platform_admin(request.user)


@admin.register(AwsAccount)
class AwsAccountAdmin(PlatformAdminOnly):
    list_display = ("name", "account_id", "ownership", "team", "role_arn")
    list_filter = ("ownership",)


@admin.register(NetworkProfile)
class NetworkProfileAdmin(PlatformAdminOnly):
    list_display = ("name", "account", "region", "vpc_id")
    list_filter = ("region", "account")


@admin.register(PlatformSettings)
class PlatformSettingsAdmin(PlatformAdminOnly):
    def has_add_permission(self, request):
        return False  # one row, created on first use

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AutoApprovalRule)
class AutoApprovalRuleAdmin(PlatformAdminOnly):
    list_display = ("name", "enabled", "kind", "environment", "max_partitions", "require_headroom")


@admin.register(Cluster)
class ClusterAdmin(PlatformAdminOnly):
    """Inventory is changed by requests and provisioning; here only sharing with other teams is edited."""

    list_display = ("name", "team", "kind", "environment", "region", "status")
    list_filter = ("status", "kind", "environment", "region")
    search_fields = ("name", "team__slug")
    filter_horizontal = ("shared_with",)
    readonly_fields = [field.name for field in Cluster._meta.fields if field.name not in {"id"}]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInventory(PlatformAdminOnly):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Topic)
class TopicAdmin(ReadOnlyInventory):
    list_display = ("name", "cluster", "team", "partitions", "status")
    search_fields = ("name",)


@admin.register(AccessGrant)
class AccessGrantAdmin(ReadOnlyInventory):
    list_display = (
        "principal_arn",
        "cluster",
        "topic",
        "topic_prefix",
        "can_produce",
        "can_consume",
        "status",
    )


class RequestEventInline(admin.TabularInline):
    model = RequestEvent
    extra = 0
    can_delete = False
    readonly_fields = ("created_at", "actor_label", "from_status", "to_status", "note")
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Request)
class RequestAdmin(ReadOnlyInventory):
    list_display = ("id", "kind", "summary", "team", "status", "created_at")
    list_filter = ("status", "kind")
    inlines = [RequestEventInline]


@admin.register(DriftFinding)
class DriftFindingAdmin(ReadOnlyInventory):
    """Found by the drift check; acted on from the portal's Drift page (adopt, re-tag, mark deleted)."""

    list_display = ("kind", "arn", "cluster", "account", "region", "detected_at", "resolved_at")
    list_filter = ("kind", ("resolved_at", admin.EmptyFieldListFilter))


# Observability's rules and episodes (issue 14), with the same platform-admins-only, audited base.
observability_admin.register(PlatformAdminOnly)
