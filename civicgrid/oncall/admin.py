"""Admin pages: postings are added and ended through actions; summonses are read-only."""

from django.contrib import admin

from civicgrid.core.admin import ScopedAdmin
from civicgrid.oncall.actions import do_end_posting, do_post_staff
from civicgrid.oncall.models import StaffPosting, Summons, SummonsEvent
from civicgrid.oncall.selectors import postings_visible_to, summonses_visible_to


@admin.register(StaffPosting)
class StaffPostingAdmin(ScopedAdmin):
    view_permission = "cases.view"
    change_permission = "people.assign_role"
    list_display = ["person", "department", "grid", "kind", "starts_on", "ends_on"]
    list_filter = ["kind", "department__kind"]
    list_select_related = ["person", "department", "grid"]
    search_fields = ["person__name", "grid__name", "region_code"]
    raw_id_fields = ["person", "grid", "department"]

    def scoped_queryset(self, request):
        return postings_visible_to(request.user)

    fields = ["person", "department", "grid", "kind", "starts_on", "ends_on", "note"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["person", "department", "grid", "kind", "starts_on", "note"]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            if "ends_on" in form.changed_data and data["ends_on"]:
                do_end_posting(obj, actor=request.user, ends_on=data["ends_on"])
            return
        saved = do_post_staff(
            person=data["person"],
            department=data["department"],
            grid=data["grid"],
            kind=data["kind"],
            starts_on=data.get("starts_on"),
            ends_on=data.get("ends_on"),
            note=data.get("note", ""),
            actor=request.user,
        )
        obj.pk = saved.pk


class SummonsEventInline(admin.TabularInline):
    model = SummonsEvent
    extra = 0
    can_delete = False
    fields = ["created", "action", "from_state", "to_state", "actor_name", "text"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Summons)
class SummonsAdmin(ScopedAdmin):
    view_permission = "cases.view"
    list_display = ["case", "staff_name", "department", "grid", "state", "sent_at"]
    list_filter = ["state"]
    list_select_related = ["case", "department", "grid"]
    search_fields = ["case__code", "staff_name"]
    date_hierarchy = "sent_at"
    inlines = [SummonsEventInline]

    def scoped_queryset(self, request):
        return summonses_visible_to(request.user)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Summons._meta.fields]
