"""Admin pages: read-only lists in the reader's scope (signals and settings change through the
warning pages and their actions)."""

from django.contrib import admin

from civicgrid.core.admin import ScopedAdmin
from civicgrid.warning.models import Signal
from civicgrid.warning.selectors import signals_visible_to


@admin.register(Signal)
class SignalAdmin(ScopedAdmin):
    view_permission = "warning.view"
    list_display = [
        "id",
        "category",
        "method",
        "region_code",
        "start",
        "end",
        "observed",
        "recurrence_days",
        "state",
    ]
    list_filter = ["state", "method"]
    list_select_related = ["category"]

    def scoped_queryset(self, request):
        return signals_visible_to(request.user)
