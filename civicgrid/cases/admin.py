from django.contrib import admin

from civicgrid.cases.actions import do_update_category
from civicgrid.cases.models import Case, Category
from civicgrid.cases.selectors import cases_visible_to
from civicgrid.core.admin import ScopedAdmin
from civicgrid.core.scoping import scope_for


@admin.register(Category)
class CategoryAdmin(ScopedAdmin):
    """The taxonomy is shared by the county: everyone who handles cases reads it; the county
    centre edits it (through ``do_update_category``). New nodes come by CSV import."""

    view_permission = "cases.view"
    change_permission = "cases.configure"
    list_display = ["code", "name", "name_en", "default_level", "sign_limit", "active"]
    list_filter = ["default_level", "active", "parent"]
    search_fields = ["code", "name", "name_en"]
    readonly_fields = ["code", "parent"]
    fields = [
        "code",
        "parent",
        "name",
        "name_en",
        "default_level",
        "department_kinds",
        "sign_limit",
        "resolve_limit_grid",
        "resolve_limit_village",
        "resolve_limit_town",
        "resolve_limit_county",
        "acceptance_criteria",
        "closing_criteria",
        "active",
    ]

    def scoped_queryset(self, request):
        return Category.objects.select_related("parent")

    def has_view_permission(self, request, obj=None):
        return scope_for(request.user).has(self.view_permission)

    def has_change_permission(self, request, obj=None):
        return scope_for(request.user).has(self.change_permission)

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        changes = {f: form.cleaned_data[f] for f in form.changed_data if f in form.cleaned_data}
        if changes:
            do_update_category(obj, actor=request.user, **changes)


@admin.register(Case)
class CaseAdmin(ScopedAdmin):
    """Read-only list for configuration staff; cases are worked in the workbench."""

    view_permission = "cases.view"
    list_display = [
        "code",
        "state",
        "category",
        "level",
        "unit_code",
        "created",
        "resolve_deadline",
    ]
    list_filter = ["state", "level", "channel", "supervised"]
    search_fields = ["code"]
    date_hierarchy = "created"

    def scoped_queryset(self, request):
        return cases_visible_to(request.user).select_related("category")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Case._meta.fields]
