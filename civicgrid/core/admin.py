"""The admin follows the same scope as everything else, and writes only through actions."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.utils.translation import gettext_lazy as _

from civicgrid.core.models import AuditEvent
from civicgrid.core.scoping import can, restrict, scope_for

__all__ = ["ScopedAdmin"]

admin.site.site_header = _("civicgrid administration")
admin.site.site_title = _("civicgrid")
admin.site.index_title = _("Configuration")


class ScopedAdmin(admin.ModelAdmin):
    """A ModelAdmin whose rows and rights come from ``core.scoping``, not Django's model perms.

    Subclasses name the permissions, how to find an object's region code, and implement
    ``save_model`` with the app's actions. Nothing is deleted from the admin.
    """

    view_permission = ""
    change_permission = ""
    region_field = "region_code"
    # County-wide reference data (taxonomies, rules): no place of its own, the same for all.
    reference_data = False

    def scoped_queryset(self, request):
        return restrict(
            super().get_queryset(request),
            request.user,
            self.view_permission,
            region_field=self.region_field,
        )

    def get_queryset(self, request):
        return self.scoped_queryset(request)

    def object_region_code(self, obj) -> str:
        return getattr(obj, self.region_field)

    def has_module_permission(self, request):
        return scope_for(request.user).has(self.view_permission)

    def has_view_permission(self, request, obj=None):
        if obj is None:
            return scope_for(request.user).has(self.view_permission)
        return can(request.user, self.view_permission, region_code=self.object_region_code(obj))

    def has_add_permission(self, request):
        return bool(self.change_permission) and scope_for(request.user).has(self.change_permission)

    def has_change_permission(self, request, obj=None):
        if not self.change_permission:
            return False
        if obj is None:
            return scope_for(request.user).has(self.change_permission)
        return can(request.user, self.change_permission, region_code=self.object_region_code(obj))

    def has_delete_permission(self, request, obj=None):
        return False

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Actions validate and check scope again; their refusal is a message, never a 500.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        except PermissionDenied as exc:
            messages.error(request, str(exc) or _("You are not allowed to do this here."))
        return HttpResponseRedirect(request.get_full_path())


@admin.register(AuditEvent)
class AuditEventAdmin(ScopedAdmin):
    view_permission = "audit.view"
    region_field = "scope_code"
    list_display = [
        "id",
        "created",
        "actor_name",
        "action",
        "target_type",
        "target_repr",
        "scope_code",
    ]
    list_filter = ["action"]
    search_fields = ["actor_name", "target_repr", "target_id", "request_id"]
    date_hierarchy = "created"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in AuditEvent._meta.fields]
