"""Read-only admin pages over the scheme, nominations, the ledger and typical cases; appraisal
weights are changed here by the county centre (``do_set_indicator_weight``)."""

from django.contrib import admin

from civicgrid.core.admin import ScopedAdmin
from civicgrid.core.scoping import scope_for

from .actions import do_set_indicator_weight
from .models import (
    AppraisalIndicator,
    Nomination,
    RewardEntry,
    RewardScheme,
    TownBudget,
    TypicalCase,
)


class _ReadOnly(ScopedAdmin):
    view_permission = "cases.view"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(RewardScheme)
class RewardSchemeAdmin(_ReadOnly):
    region_field = "county_code"
    list_display = ["name", "version", "valid_from", "valid_to", "county_code"]


@admin.register(TownBudget)
class TownBudgetAdmin(_ReadOnly):
    region_field = "town_code"
    list_display = ["town_code", "year", "amount", "updated"]


@admin.register(Nomination)
class NominationAdmin(_ReadOnly):
    list_display = ["id", "case", "dispute", "tier", "amount", "state", "town_code", "nominated_at"]
    list_filter = ["state"]
    list_select_related = ["case", "dispute", "tier"]


@admin.register(RewardEntry)
class RewardEntryAdmin(_ReadOnly):
    region_field = "town_code"
    list_display = ["id", "created", "recipient_name", "amount", "kind", "nomination", "year"]
    list_filter = ["kind", "year"]


@admin.register(TypicalCase)
class TypicalCaseAdmin(_ReadOnly):
    list_display = ["title", "state", "criterion", "town_code", "year"]
    list_filter = ["state", "criterion", "year"]


@admin.register(AppraisalIndicator)
class AppraisalIndicatorAdmin(ScopedAdmin):
    reference_data = True
    view_permission = "cases.view"
    change_permission = "cases.configure"
    list_display = ["key", "weight", "active"]
    fields = ["key", "weight", "active"]
    readonly_fields = ["key"]

    def scoped_queryset(self, request):
        return AppraisalIndicator.objects.all()

    def has_view_permission(self, request, obj=None):
        return scope_for(request.user).has(self.view_permission)

    def has_change_permission(self, request, obj=None):
        return scope_for(request.user).has(self.change_permission)

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        do_set_indicator_weight(
            obj.key,
            weight=form.cleaned_data["weight"],
            active=form.cleaned_data["active"],
            actor=request.user,
        )
