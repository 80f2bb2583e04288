"""Every read of the campaigns app, scoped by ``core.scoping`` on region codes.

Progress figures (专项排查 完成率 and 隐患整改率, cn-standards §5.2), per area and overall:

* ``targets``   — objects to check in the area;
* ``checked``   — of them, checked at least once;
* ``hazards``   — checks that found a hazard (each raised a case);
* ``rectified`` — of those hazards, the ones whose case is closed (结案, awaiting the
  evaluation) or archived (归档). Derived from the case's state at the time of reading:
  a case reopened after an unsatisfied evaluation counts as not rectified again;
* ``completion_rate``     = checked / targets (None when there are no targets);
* ``rectification_rate``  = rectified / hazards (None when no hazard was found).
"""

from __future__ import annotations

from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Substr
from django.http import Http404

from civicgrid.campaigns import workflow
from civicgrid.campaigns.models import Campaign, CampaignArea, CampaignCheck, CampaignTarget
from civicgrid.cases import workflow as case_workflow
from civicgrid.core.roles import ROLE_LEVEL
from civicgrid.core.scoping import restrict, scope_for
from civicgrid.regions.models import Grid, Region

__all__ = [
    "AREA_LEVELS",
    "RECTIFIED_STATES",
    "access_campaign",
    "access_target",
    "campaign_summaries",
    "campaigns_visible_to",
    "checks_visible_to",
    "my_targets",
    "progress",
    "targets_visible_to",
]

RECTIFIED_STATES = frozenset({case_workflow.CLOSED, case_workflow.ARCHIVED})
# How progress rows are grouped: a township / village / grid is a prefix of the grid code.
AREA_LEVELS = {"township": 9, "village": 12, "grid": 15}


def campaigns_visible_to(user) -> QuerySet[Campaign]:
    """Campaigns covering any place the user sees cases in (or organised above it). Through
    their places only: a department's staff see the cases routed to their department, not
    every campaign of its area with its targets and checks."""
    areas = restrict(
        CampaignArea.objects.all(),
        user,
        "cases.view",
        region_field="code",
        include_ancestors=True,
        department_grants=False,
    )
    organised = restrict(
        Campaign.objects.all(),
        user,
        "cases.view",
        region_field="region_code",
        department_grants=False,
    )
    return Campaign.objects.filter(
        Q(pk__in=areas.values("campaign_id")) | Q(pk__in=organised.values("pk"))
    )


def access_campaign(user, pk) -> Campaign:
    """The campaign if the user may see it; otherwise 404."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404 from None
    campaign = (
        campaigns_visible_to(user).select_related("category", "created_by").filter(pk=pk).first()
    )
    if campaign is None:
        raise Http404
    return campaign


def targets_visible_to(user) -> QuerySet[CampaignTarget]:
    return restrict(
        CampaignTarget.objects.all(),
        user,
        "cases.view",
        region_field="region_code",
        department_grants=False,  # as for the campaigns themselves
    )


def checks_visible_to(user) -> QuerySet[CampaignCheck]:
    return restrict(
        CampaignCheck.objects.all(),
        user,
        "cases.view",
        region_field="region_code",
        department_grants=False,
    )


def access_target(user, pk) -> CampaignTarget:
    target = (
        targets_visible_to(user).select_related("campaign__category", "grid").filter(pk=pk).first()
    )
    if target is None:
        raise Http404
    return target


def my_targets(user) -> QuerySet[CampaignTarget]:
    """The targets of campaigns under way that the user checks: a grid worker's are those in
    their own grids; village, township and county staff get every target they may report in.
    Unchecked first."""
    grid_codes = {
        g.prefix[:15]
        for g in scope_for(user).grants
        if "cases.report" in g.permissions
        and ROLE_LEVEL.get(g.role) in {"grid", "micro_grid"}
        and len(g.prefix) >= 15
    }
    targets = CampaignTarget.objects.filter(campaign__state=workflow.ACTIVE)
    if grid_codes:
        condition = Q()
        for code in grid_codes:
            condition |= Q(region_code__startswith=code)
        targets = targets.filter(condition)
    else:
        targets = restrict(targets, user, "cases.report", region_field="region_code")
    return targets.select_related("campaign", "grid").order_by("-state", "region_code", "id")


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _names(level: str, keys) -> dict[str, str]:
    keys = [k for k in keys if k]
    if level == "grid":
        return dict(Grid.objects.filter(code__in=keys).values_list("code", "name"))
    return dict(Region.objects.filter(code__in=keys).values_list("code", "name"))


def progress(user, campaign: Campaign | None = None, *, by: str = "township") -> dict:
    """Targets, checks, hazards and rectification per area the user sees (two aggregate
    queries, one over targets and one over checks).

    ``by`` is "township", "village" or "grid". Returns ``{"rows": [...], "total": {...}}``;
    a row has ``key`` (the area's code), ``name`` and the figures of the module docstring.
    """
    if by not in AREA_LEVELS:
        raise ValueError(f"unknown area level {by!r}")
    length = AREA_LEVELS[by]
    targets = targets_visible_to(user)
    checks = checks_visible_to(user)
    if campaign is not None:
        targets = targets.filter(campaign=campaign)
        checks = checks.filter(campaign=campaign)
    target_rows = (
        targets.annotate(key=Substr("region_code", 1, length))
        .values("key")
        .annotate(
            targets=Count("id"),
            checked=Count("id", filter=Q(state=CampaignTarget.State.CHECKED)),
        )
        .order_by()
    )
    check_rows = (
        checks.filter(hazard=True)
        .annotate(key=Substr("region_code", 1, length))
        .values("key")
        .annotate(
            hazards=Count("id"),
            rectified=Count("id", filter=Q(case__state__in=RECTIFIED_STATES)),
        )
        .order_by()
    )
    figures: dict[str, dict] = {}
    blank = {"targets": 0, "checked": 0, "hazards": 0, "rectified": 0}
    for row in target_rows:
        figures.setdefault(row["key"], dict(blank)).update(
            targets=row["targets"], checked=row["checked"]
        )
    for row in check_rows:
        figures.setdefault(row["key"], dict(blank)).update(
            hazards=row["hazards"], rectified=row["rectified"]
        )
    names = _names(by, figures)
    rows = []
    for key in sorted(figures):
        row = {"key": key, "name": names.get(key, ""), **figures[key]}
        rows.append(_with_rates(row))
    total = {field: sum(r[field] for r in rows) for field in blank}
    return {"rows": rows, "total": _with_rates(total)}


def _with_rates(row: dict) -> dict:
    row["completion_rate"] = _rate(row["checked"], row["targets"])
    row["rectification_rate"] = _rate(row["rectified"], row["hazards"])
    return row


def campaign_summaries(user, campaigns) -> dict[int, dict]:
    """Per campaign (ids of ``campaigns``): the overall figures within the user's scope."""
    ids = [c.pk for c in campaigns]
    blank = {"targets": 0, "checked": 0, "hazards": 0, "rectified": 0}
    result = {pk: dict(blank) for pk in ids}
    target_rows = (
        targets_visible_to(user)
        .filter(campaign_id__in=ids)
        .values(cid=F("campaign_id"))
        .annotate(
            targets=Count("id"),
            checked=Count("id", filter=Q(state=CampaignTarget.State.CHECKED)),
        )
        .order_by()
    )
    for row in target_rows:
        result[row["cid"]].update(targets=row["targets"], checked=row["checked"])
    check_rows = (
        checks_visible_to(user)
        .filter(campaign_id__in=ids, hazard=True)
        .values(cid=F("campaign_id"))
        .annotate(
            hazards=Count("id"),
            rectified=Count("id", filter=Q(case__state__in=RECTIFIED_STATES)),
        )
        .order_by()
    )
    for row in check_rows:
        result[row["cid"]].update(hazards=row["hazards"], rectified=row["rectified"])
    return {pk: _with_rates(row) for pk, row in result.items()}
