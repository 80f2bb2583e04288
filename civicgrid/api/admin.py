from django.contrib import admin, messages
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from civicgrid.api.actions import do_create_api_key, do_revoke_api_key
from civicgrid.api.models import ApiKey
from civicgrid.core.admin import ScopedAdmin
from civicgrid.core.scoping import scope_for


@admin.register(ApiKey)
class ApiKeyAdmin(ScopedAdmin):
    """Keys are listed read-only; a new key is made by ``do_create_api_key`` and its secret is
    shown once, in the confirmation message."""

    view_permission = "cases.configure"
    change_permission = "cases.configure"
    list_display = ["name", "prefix", "user", "department", "region_code", "created", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix"]
    raw_id_fields = ["user", "department"]
    fields = ["name", "user", "department", "region_code"]
    readonly_fields_existing = [
        "name",
        "prefix",
        "user",
        "department",
        "region_code",
        "created_by",
        "created",
        "revoked_at",
        "last_used_at",
    ]
    actions = ["revoke"]

    def scoped_queryset(self, request):
        # Keys are county configuration: whoever manages them sees all of them.
        return ApiKey.objects.select_related("user", "department", "created_by")

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or scope_for(request.user).has(self.view_permission)

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_add_permission(self, request):
        return self.has_view_permission(request)

    def has_change_permission(self, request, obj=None):
        return False

    def has_revoke_permission(self, request):
        return self.has_view_permission(request)

    def get_fields(self, request, obj=None):
        return self.readonly_fields_existing if obj is not None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields_existing if obj is not None else []

    def save_model(self, request, obj, form, change):
        key, secret = do_create_api_key(
            name=form.cleaned_data["name"],
            actor=request.user,
            user=form.cleaned_data.get("user"),
            department=form.cleaned_data.get("department"),
            region_code=form.cleaned_data.get("region_code") or "",
        )
        obj.pk = key.pk
        obj.prefix, obj.created = key.prefix, key.created
        messages.warning(
            request,
            _("The key's secret is %(secret)s — copy it now; it will not be shown again.")
            % {"secret": secret},
        )

    @admin.action(description=gettext_lazy("Revoke the selected keys"), permissions=["revoke"])
    def revoke(self, request, queryset):
        for key in queryset:
            do_revoke_api_key(key, actor=request.user)
        messages.success(request, _("The selected keys no longer work."))
