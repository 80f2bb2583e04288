"""The menu at the top of every page: the pages a person's roles give them, in one table.

Each entry names a URL, its label and the permission (any place) that makes it useful; an
entry with no permission is for everyone who is logged in. Pages still check their own
permissions: the menu only leaves out what would be empty or refused.
"""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from civicgrid.core.scoping import scope_for

__all__ = ["NAV", "NavItem", "navigation"]


@dataclass(frozen=True)
class NavItem:
    url_name: str
    label: str
    permission: str | None = None
    roles: tuple[str, ...] = ()  # if given, only for holders of one of these roles


_FIELD = ("grid_leader", "grid_worker", "grid_worker_pt", "micro_grid_leader")
_REPORTERS = (*_FIELD, "liaison", "co_governance")
_COUNTY = ("county_operator", "county_leader")
_APPRAISED_OR_APPRAISING = (
    *_FIELD,
    "village_staff",
    "township_operator",
    "township_leader",
    *_COUNTY,
)

NAV = (
    NavItem("home", _("Workbench")),
    NavItem("inbox", _("Inbox")),
    NavItem("case_list", _("Cases"), "cases.view"),
    NavItem("cockpit", _("Cockpit"), "analytics.view"),
    NavItem("analytics_kpis", _("KPIs"), "analytics.view"),
    NavItem("analytics_reports", _("Reports"), "analytics.view"),
    NavItem("warning_list", _("Early warnings"), "warning.view"),
    NavItem("league", _("League tables"), "cases.view"),
    NavItem("visit_due_list", _("Visits"), "people.view"),
    NavItem("campaign_list", _("Special campaigns"), "cases.view"),
    NavItem("oncall_mine", _("My summons"), "cases.department"),
    NavItem("oncall_postings", _("Staff in grids"), "cases.handle"),
    NavItem("mediation_list", _("Disputes"), "mediation.view"),
    NavItem("incentives_nominations", _("High-value rewards"), "cases.handle"),
    NavItem("incentives_my_rewards", _("My rewards"), roles=_REPORTERS),
    NavItem("incentives_library", _("Typical cases"), "cases.view"),
    NavItem("incentives_appraisal", _("Appraisal"), roles=_APPRAISED_OR_APPRAISING),
    NavItem("cogovernance_my_points", _("My points"), roles=("co_governance",)),
    NavItem("cogovernance_leaderboard", _("Co-governance"), "cases.view"),
    NavItem("cogovernance_members", _("Co-governance members"), "cases.supervise"),
    NavItem("cogovernance_awards", _("Annual awards"), roles=_COUNTY),
    NavItem("grid_list", _("Grids"), "regions.view"),
    NavItem("datahub_index", _("Data hub"), "datahub.import"),
    NavItem("audit_list", _("Audit trail"), "audit.view"),
    NavItem("profile", _("My roles")),
)


def navigation(request) -> dict:
    """Context processor: ``nav`` = [(label, url, current)] for the logged-in user."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": []}
    scope = scope_for(user)
    items = []
    for item in NAV:
        if item.permission and not scope.has(item.permission):
            continue
        if item.roles and not set(item.roles) & set(scope.roles):
            continue
        url = reverse(item.url_name)
        current = request.path == url or (url != "/" and request.path.startswith(url))
        items.append((item.label, url, current))
    return {"nav": items}
