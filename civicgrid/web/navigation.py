"""The menu at the top of every page: the pages a person's roles give them, in one table.

Each entry names a URL, its label and the permission (any place) that makes it useful; an
entry with no permission is for everyone who is logged in. Pages still check their own
permissions: the menu only leaves out what would be empty or refused.

Entries with a ``group`` are shown under that group's heading (a drop-down on a wide screen,
a row that opens in place on a phone); a group left with one entry for a person shows as that
entry alone, so a grid worker's menu stays flat and a county operator's stays one line.
"""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from civicgrid.core.scoping import scope_for

__all__ = ["GROUPS", "NAV", "NavItem", "navigation"]

ANALYSIS, FIELD, INCENTIVES, SYSTEM = "analysis", "field", "incentives", "system"
GROUPS = {
    ANALYSIS: _("Analysis"),
    FIELD: _("Field work"),
    INCENTIVES: _("Incentives"),
    SYSTEM: _("System"),
}


@dataclass(frozen=True)
class NavItem:
    url_name: str
    label: str
    permission: str | None = None
    roles: tuple[str, ...] = ()  # if given, only for holders of one of these roles
    group: str = ""  # a key of GROUPS, or "" for an entry of its own


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
    NavItem("cockpit", _("Cockpit"), "analytics.view", group=ANALYSIS),
    NavItem("analytics_kpis", _("KPIs"), "analytics.view", group=ANALYSIS),
    NavItem("analytics_reports", _("Reports"), "analytics.view", group=ANALYSIS),
    NavItem("warning_list", _("Early warnings"), "warning.view", group=ANALYSIS),
    NavItem("league", _("League tables"), "cases.view", group=ANALYSIS),
    NavItem("visit_due_list", _("Visits"), "people.view", group=FIELD),
    NavItem("campaign_list", _("Special campaigns"), "cases.view", group=FIELD),
    NavItem("oncall_mine", _("My summons"), "cases.department", group=FIELD),
    NavItem("oncall_postings", _("Staff in grids"), "cases.handle", group=FIELD),
    NavItem("mediation_list", _("Disputes"), "mediation.view"),
    NavItem("incentives_nominations", _("High-value rewards"), "cases.handle", group=INCENTIVES),
    NavItem("incentives_my_rewards", _("My rewards"), roles=_REPORTERS, group=INCENTIVES),
    NavItem("incentives_library", _("Typical cases"), "cases.view", group=INCENTIVES),
    NavItem(
        "incentives_appraisal", _("Appraisal"), roles=_APPRAISED_OR_APPRAISING, group=INCENTIVES
    ),
    NavItem("cogovernance_my_points", _("My points"), roles=("co_governance",), group=INCENTIVES),
    NavItem("cogovernance_leaderboard", _("Co-governance"), "cases.view", group=INCENTIVES),
    NavItem(
        "cogovernance_members", _("Co-governance members"), "cases.supervise", group=INCENTIVES
    ),
    NavItem("cogovernance_awards", _("Annual awards"), roles=_COUNTY, group=INCENTIVES),
    NavItem("grid_list", _("Grids"), "regions.view", group=SYSTEM),
    NavItem("datahub_index", _("Data hub"), "datahub.import", group=SYSTEM),
    NavItem("audit_list", _("Audit trail"), "audit.view", group=SYSTEM),
    NavItem("profile", _("My roles"), group=SYSTEM),
)


def navigation(request) -> dict:
    """Context processor: ``nav`` = the menu of the logged-in user, in order.

    Each entry is a dict: a link (``label``, ``url``, ``current``) or a group (``label``,
    ``links``, ``current`` if one of them is).
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": []}
    scope = scope_for(user)
    entries: list[dict] = []
    groups: dict[str, dict] = {}
    for item in NAV:
        if item.permission and not scope.has(item.permission):
            continue
        if item.roles and not set(item.roles) & set(scope.roles):
            continue
        url = reverse(item.url_name)
        current = request.path == url or (url != "/" and request.path.startswith(url))
        link = {"label": item.label, "url": url, "current": current}
        if not item.group:
            entries.append(link)
            continue
        group = groups.get(item.group)
        if group is None:
            group = groups[item.group] = {
                "label": GROUPS[item.group],
                "links": [],
                "current": False,
            }
            entries.append(group)
        group["links"].append(link)
        group["current"] = group["current"] or current
    # A group with one link for this person is just that link.
    return {"nav": [e["links"][0] if len(e.get("links", ())) == 1 else e for e in entries]}
