"""Admin pages: read-only lists in the reader's scope (campaigns change through the pages)."""

from django.contrib import admin

from civicgrid.campaigns.models import Campaign, CampaignCheck, CampaignTarget
from civicgrid.campaigns.selectors import (
    campaigns_visible_to,
    checks_visible_to,
    targets_visible_to,
)
from civicgrid.core.admin import ScopedAdmin


@admin.register(Campaign)
class CampaignAdmin(ScopedAdmin):
    view_permission = "cases.view"
    list_display = ["title", "organiser_level", "region_code", "start", "end", "state"]
    list_filter = ["state", "organiser_level"]

    def scoped_queryset(self, request):
        return campaigns_visible_to(request.user).select_related("category")


@admin.register(CampaignTarget)
class CampaignTargetAdmin(ScopedAdmin):
    view_permission = "cases.view"
    list_display = ["label", "kind", "campaign", "region_code", "state"]
    list_filter = ["state"]
    list_select_related = ["campaign"]

    def scoped_queryset(self, request):
        return targets_visible_to(request.user)


@admin.register(CampaignCheck)
class CampaignCheckAdmin(ScopedAdmin):
    view_permission = "cases.view"
    list_display = ["target", "checked_at", "hazard", "worker", "case"]
    list_filter = ["hazard"]
    list_select_related = ["target", "worker", "case"]
    date_hierarchy = "checked_at"

    def scoped_queryset(self, request):
        return checks_visible_to(request.user)
