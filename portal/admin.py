from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group

from portal.admin_audit import AuditedAdmin
from portal.forms import AdminSignInForm
from portal.models import ApiToken, AuditEvent, Membership, Team, User

# The admin's sign-in is throttled like the portal's (portal.login_throttle).
admin.site.login_form = AdminSignInForm
# Every admin below is an AuditedAdmin: each change made here is recorded in the portal's audit log.
admin.site.unregister(Group)


@admin.register(Group)
class AuditedGroupAdmin(AuditedAdmin, GroupAdmin):
    pass


@admin.register(User)
class PortalUserAdmin(AuditedAdmin, UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("Portal", {"fields": ("role",)}))
    list_display = ("username", "email", "role", "is_active", "is_superuser")
    list_filter = ("role", "is_active", "is_superuser")


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(AuditedAdmin):
    list_display = ("name", "slug", "cost_center", "contact_email")
    search_fields = ("name", "slug", "cost_center")
    inlines = [MembershipInline]


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedAdmin):
    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("user", "name", "prefix", "key_hash", "created_at", "last_used_at")


@admin.register(AuditEvent)
class AuditEventAdmin(AuditedAdmin):
    """Read-only: the audit trail is append-only."""

    list_display = ("created_at", "actor_label", "action", "object_repr", "team")
    list_filter = ("action",)
    search_fields = ("action", "actor_label", "object_repr")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
