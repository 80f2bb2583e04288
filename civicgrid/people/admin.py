from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from civicgrid.core.admin import ScopedAdmin
from civicgrid.core.scoping import restrict
from civicgrid.people.actions import (
    do_assign_role,
    do_create_department,
    do_create_person,
    do_revoke_role,
    do_update_department,
    do_update_person,
)
from civicgrid.people.models import (
    Department,
    House,
    KeyGroup,
    Organisation,
    Person,
    Place,
    RoleAssignment,
)
from civicgrid.people.selectors import (
    departments_visible_to,
    houses_visible_to,
    organisations_visible_to,
    people_visible_to,
    places_visible_to,
    role_assignments_visible_to,
)
from civicgrid.regions.models import Grid


@admin.register(Department)
class DepartmentAdmin(ScopedAdmin):
    view_permission = "departments.view"
    change_permission = "departments.change"
    list_display = ["code", "name", "kind", "region", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["code", "name", "short_name"]
    raw_id_fields = ["region", "parent"]
    fields = ["code", "name", "short_name", "kind", "region", "parent", "active"]

    def scoped_queryset(self, request):
        return departments_visible_to(request.user)

    def object_region_code(self, obj):
        return obj.region.code

    def get_readonly_fields(self, request, obj=None):
        return ["code", "region"] if obj else []

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            changes = {
                f: data[f]
                for f in form.changed_data
                if f in {"name", "short_name", "kind", "active", "parent"}
            }
            if changes:
                do_update_department(obj, actor=request.user, **changes)
        else:
            obj.pk = do_create_department(
                code=data["code"],
                name=data["name"],
                short_name=data.get("short_name", ""),
                kind=data["kind"],
                region=data["region"],
                parent=data.get("parent"),
                actor=request.user,
            ).pk


class PersonForm(forms.ModelForm):
    id_number = forms.CharField(
        label=_("ID number"),
        required=False,
        max_length=18,
        help_text=_("Leave empty to keep the stored number. Stored encrypted."),
    )
    phone = forms.CharField(
        label=_("phone"),
        required=False,
        max_length=20,
        help_text=_("Leave empty to keep the stored number. Stored encrypted."),
    )

    class Meta:
        model = Person
        fields = ["name", "gender", "birth_date", "grid", "address", "is_resident"]


class RoleInline(admin.TabularInline):
    model = RoleAssignment
    fields = ["role", "scope_code", "department", "active", "since"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return True


@admin.register(Person)
class PersonAdmin(ScopedAdmin):
    view_permission = "people.view"
    change_permission = "people.change"
    form = PersonForm
    list_display = ["name", "id_number_masked", "phone_masked", "region_code", "is_resident"]
    list_filter = ["is_resident", "key_groups"]
    search_fields = ["name", "region_code"]
    raw_id_fields = ["grid"]
    inlines = [RoleInline]

    def scoped_queryset(self, request):
        return people_visible_to(request.user)

    def get_search_results(self, request, queryset, search_term):
        # An exact ID or phone number finds the person through the keyed hash, never by scanning.
        from civicgrid.people import pii

        queryset, distinct = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term:
            hashes = [pii.blind_index("id", term.upper()), pii.blind_index("phone", term)]
            queryset |= self.get_queryset(request).filter(
                id_number_hash__in=hashes
            ) | self.get_queryset(request).filter(phone_hash__in=hashes)
        return queryset, distinct

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "grid":
            kwargs["queryset"] = restrict(
                Grid.objects.all(), request.user, "people.change", region_field="code"
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            changes = {
                f: data[f]
                for f in form.changed_data
                if f in {"name", "gender", "birth_date", "grid", "address", "is_resident"}
            }
            for secret in ("id_number", "phone"):
                if data.get(secret):
                    changes[secret] = data[secret]
            if changes:
                do_update_person(obj, actor=request.user, **changes)
        else:
            obj.pk = do_create_person(
                name=data["name"],
                grid=data.get("grid"),
                gender=data.get("gender", ""),
                birth_date=data.get("birth_date"),
                address=data.get("address", ""),
                is_resident=data.get("is_resident", True),
                id_number=data.get("id_number", ""),
                phone=data.get("phone", ""),
                actor=request.user,
            ).pk

    def save_related(self, request, form, formsets, change):
        pass  # roles are given and taken on the role-assignment page, through actions


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(ScopedAdmin):
    view_permission = "people.view"
    change_permission = "people.assign_role"
    region_field = "scope_code"
    list_display = ["person", "role", "scope_code", "department", "active"]
    list_filter = ["role", "active"]
    search_fields = ["person__name", "scope_code"]
    raw_id_fields = ["person", "region", "grid", "department"]
    fields = ["person", "role", "region", "grid", "department", "since"]
    actions = ["revoke"]

    def scoped_queryset(self, request):
        return role_assignments_visible_to(request.user)

    def has_change_permission(self, request, obj=None):
        # An assignment is given or revoked, never edited in place.
        return obj is None and super().has_change_permission(request)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        obj.pk = do_assign_role(
            data["person"],
            data["role"],
            region=data.get("region"),
            grid=data.get("grid"),
            department=data.get("department"),
            since=data.get("since"),
            actor=request.user,
        ).pk

    @admin.action(description=_("Revoke the selected roles"))
    def revoke(self, request, queryset):
        for assignment in queryset:
            do_revoke_role(assignment, actor=request.user)
        messages.success(request, _("Roles revoked."))


@admin.register(KeyGroup)
class KeyGroupAdmin(ScopedAdmin):
    """Reference data shipped with the code (migration); read-only here."""

    view_permission = "people.view"
    list_display = ["code", "name", "visit_rule", "sensitive"]

    def scoped_queryset(self, request):
        return KeyGroup.objects.all()


class ReadOnlyScopedAdmin(ScopedAdmin):
    view_permission = "people.view"
    search_fields = ["name"]


@admin.register(House)
class HouseAdmin(ReadOnlyScopedAdmin):
    list_display = ["code", "address", "kind", "region_code"]
    search_fields = ["code", "address"]

    def scoped_queryset(self, request):
        return houses_visible_to(request.user)


@admin.register(Organisation)
class OrganisationAdmin(ReadOnlyScopedAdmin):
    list_display = ["name", "kind", "region_code"]

    def scoped_queryset(self, request):
        return organisations_visible_to(request.user)


@admin.register(Place)
class PlaceAdmin(ReadOnlyScopedAdmin):
    list_display = ["name", "kind", "region_code"]

    def scoped_queryset(self, request):
        return places_visible_to(request.user)
