"""Thin views of the campaign pages: parse input, call a selector or an action, render."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from civicgrid.campaigns import actions, workflow
from civicgrid.campaigns.forms import (
    CampaignForm,
    CheckForm,
    ProgressForm,
    TargetForm,
    TargetImportForm,
)
from civicgrid.campaigns.models import Campaign, CampaignTarget
from civicgrid.campaigns.selectors import (
    access_campaign,
    access_target,
    campaign_summaries,
    campaigns_visible_to,
    checks_visible_to,
    my_targets,
    progress,
    targets_visible_to,
)
from civicgrid.core.errors import ActionRefused
from civicgrid.core.scoping import scope_for
from civicgrid.regions.models import Grid, Region
from civicgrid.regions.selectors import grids_visible_to
from civicgrid.web.exports import EXPORT_FORMATS, export_response
from civicgrid.web.forms import add_errors

PAGE_SIZE = 50


def _percent(value) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


# --------------------------------------------------------------------------- campaigns


def _campaigns(user):
    return campaigns_visible_to(user).select_related("category").order_by("-start", "-id")


@login_required
def campaign_list(request):
    page = Paginator(_campaigns(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    summaries = campaign_summaries(request.user, page.object_list)
    rows = []
    for campaign in page.object_list:
        figures = summaries[campaign.pk]
        rows.append(
            {
                "campaign": campaign,
                "state": workflow.STATE_LABELS.get(campaign.state, campaign.state),
                **figures,
                "completion": _percent(figures["completion_rate"]),
                "rectification": _percent(figures["rectification_rate"]),
            }
        )
    context = {
        "page": page,
        "rows": rows,
        "may_create": bool(actions.organiser_units(request.user)),
    }
    return render(request, "campaigns/campaign_list.html", context)


def _summary_header():
    return [
        _("title"),
        _("state"),
        _("organised by"),
        _("start"),
        _("end"),
        _("case category of findings"),
        _("targets"),
        _("checked"),
        _("hazards found"),
        _("rectified"),
        _("completion rate"),
        _("rectification rate"),
    ]


@login_required
def campaign_export(request, fmt):
    if fmt not in EXPORT_FORMATS:
        raise Http404
    campaigns = list(_campaigns(request.user)[:5000])
    summaries = campaign_summaries(request.user, campaigns)
    levels = dict(Campaign.OrganiserLevel.choices)

    def rows():
        for c in campaigns:
            f = summaries[c.pk]
            yield [
                c.title,
                str(workflow.STATE_LABELS.get(c.state, c.state)),
                f"{levels.get(c.organiser_level, c.organiser_level)} {c.region_code}",
                c.start,
                c.end,
                c.category.name,
                f["targets"],
                f["checked"],
                f["hazards"],
                f["rectified"],
                _percent(f["completion_rate"]),
                _percent(f["rectification_rate"]),
            ]

    return export_response("campaigns", _summary_header(), rows(), fmt)


def _area_choices(units) -> list[tuple[str, str]]:
    """Townships for a county organiser; a township and its villages for a township."""
    from django.db.models import Q

    towns = [code for level, code in units if level == Campaign.OrganiserLevel.TOWN]
    condition = Q(code__in=towns) | Q(level=Region.Level.VILLAGE, parent__code__in=towns)
    if any(level == Campaign.OrganiserLevel.COUNTY for level, _code in units):
        condition |= Q(level=Region.Level.TOWN)
    regions = Region.objects.filter(condition).order_by("code")
    return [(r.code, f"{r.name} ({r.code})") for r in regions]


@login_required
def campaign_create(request):
    units = actions.organiser_units(request.user)
    if not units:
        raise Http404
    levels = dict(Campaign.OrganiserLevel.choices)
    unit_choices = [(code, f"{levels[level]} {code}") for level, code in units]
    form = CampaignForm(request.POST or None, areas=_area_choices(units), units=unit_choices)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            campaign = actions.do_create_campaign(
                actor=request.user,
                title=data["title"],
                category=data["category"],
                start=data["start"],
                end=data["end"],
                region_codes=data["areas"],
                grids=data["grid_list"],
                target_types=data["target_type_list"],
                checklist=data["checklist_list"],
                description=data["description"],
                organiser_code=data["organiser"],
            )
        except ValidationError as exc:
            add_errors(form, exc)
        except ActionRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("The campaign is created as a draft."))
            return redirect("campaign_detail", pk=campaign.pk)
    return render(request, "campaigns/campaign_form.html", {"form": form})


def _target_grids(user, campaign):
    """Grids in the campaign's areas where the user may add targets."""
    grids = grids_visible_to(user).exclude(kind=Grid.Kind.MICRO).filter(active=True)
    condition = None
    from django.db.models import Q

    for code in campaign.scope_codes:
        condition = (
            Q(code__startswith=code) if condition is None else condition | Q(code__startswith=code)
        )
    grids = grids.filter(condition) if condition is not None else grids.none()
    return grids.order_by("code")


def _may_add_targets(user, campaign) -> bool:
    return campaign.state != workflow.CLOSED and scope_for(user).has("cases.report")


def _campaign_targets(request, campaign):
    targets = targets_visible_to(request.user).filter(campaign=campaign).select_related("grid")
    state = request.GET.get("state")
    if state in CampaignTarget.State.values:
        targets = targets.filter(state=state)
    return targets.order_by("region_code", "id")


@login_required
def campaign_detail(request, pk, target_form=None, import_form=None):
    campaign = access_campaign(request.user, pk)
    progress_form = ProgressForm(request.GET or None)
    by = progress_form.level()
    figures = progress(request.user, campaign, by=by)
    for row in [*figures["rows"], figures["total"]]:
        row["completion"] = _percent(row["completion_rate"])
        row["rectification"] = _percent(row["rectification_rate"])
    page = Paginator(_campaign_targets(request, campaign), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    may_add = _may_add_targets(request.user, campaign)
    if may_add:
        grids = _target_grids(request.user, campaign)
        target_form = target_form or TargetForm(campaign=campaign, grids=grids)
        import_form = import_form or TargetImportForm()
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "campaign": campaign,
        "state_label": workflow.STATE_LABELS.get(campaign.state, campaign.state),
        "organiser": Region.objects.filter(code=campaign.region_code)
        .values_list("name", flat=True)
        .first()
        or dict(Campaign.OrganiserLevel.choices).get(campaign.organiser_level),
        "areas": _area_names(campaign.scope_codes),
        "steps": _steps(campaign),
        "transitions": (
            [(a, workflow.ACTION_LABELS[a]) for a in workflow.allowed_actions(campaign.state)]
            if actions.may_manage(request.user, campaign)
            else []
        ),
        "progress_form": progress_form,
        "by": by,
        "progress": figures,
        "page": page,
        "query": query.urlencode(),
        "target_state": request.GET.get("state", ""),
        "target_states": CampaignTarget.State.choices,
        "target_form": target_form if may_add else None,
        "import_form": import_form if may_add else None,
    }
    return render(request, "campaigns/campaign_detail.html", context)


def _steps(campaign):
    labels = {"create": _("Created"), **workflow.ACTION_LABELS}
    steps = list(campaign.steps.select_related("actor"))
    for step in steps:
        step.label = labels.get(step.action, step.action)
    return steps


def _area_names(codes: list[str]) -> list[str]:
    names = dict(Region.objects.filter(code__in=codes).values_list("code", "name"))
    names.update(Grid.objects.filter(code__in=codes).values_list("code", "name"))
    return [f"{names.get(code, '')} ({code})" for code in codes]


@login_required
@require_POST
def campaign_act(request, pk, action):
    campaign = access_campaign(request.user, pk)
    steps = {"activate": actions.do_activate_campaign, "close": actions.do_close_campaign}
    if action not in steps:
        raise Http404
    try:
        steps[action](campaign, actor=request.user)
    except ActionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, _("Done: %(action)s.") % {"action": workflow.ACTION_LABELS[action]}
        )
    return redirect("campaign_detail", pk=campaign.pk)


@login_required
@require_POST
def campaign_add_target(request, pk):
    campaign = access_campaign(request.user, pk)
    if not _may_add_targets(request.user, campaign):
        messages.error(request, _("Targets cannot be added here now."))
        return redirect("campaign_detail", pk=campaign.pk)
    form = TargetForm(request.POST, campaign=campaign, grids=_target_grids(request.user, campaign))
    if form.is_valid():
        try:
            actions.do_add_target(campaign, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_errors(form, exc)
        except ActionRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("The target is added."))
            return redirect("campaign_detail", pk=campaign.pk)
    return campaign_detail(request, pk, target_form=form)


@login_required
@require_POST
def campaign_import_targets(request, pk):
    campaign = access_campaign(request.user, pk)
    if not _may_add_targets(request.user, campaign):
        messages.error(request, _("Targets cannot be added here now."))
        return redirect("campaign_detail", pk=campaign.pk)
    form = TargetImportForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            added = actions.do_add_targets_from_csv(
                campaign, actor=request.user, data=form.cleaned_data["file"].read()
            )
        except ValidationError as exc:
            form.add_error("file", exc.messages)
        except ActionRefused as exc:
            form.add_error("file", str(exc))
        else:
            messages.success(request, _("%(count)d targets are added.") % {"count": len(added)})
            return redirect("campaign_detail", pk=campaign.pk)
    return campaign_detail(request, pk, import_form=form)


@login_required
def campaign_progress_export(request, pk, fmt):
    if fmt not in EXPORT_FORMATS:
        raise Http404
    campaign = access_campaign(request.user, pk)
    by = ProgressForm(request.GET or None).level()
    figures = progress(request.user, campaign, by=by)
    header = [
        _("area code"),
        _("area"),
        _("targets"),
        _("checked"),
        _("hazards found"),
        _("rectified"),
        _("completion rate"),
        _("rectification rate"),
    ]
    total = {**figures["total"], "key": _("overall"), "name": ""}
    rows = (
        [
            r["key"],
            r["name"],
            r["targets"],
            r["checked"],
            r["hazards"],
            r["rectified"],
            _percent(r["completion_rate"]),
            _percent(r["rectification_rate"]),
        ]
        for r in [*figures["rows"], total]
    )
    return export_response(f"campaign-{campaign.pk}-progress-{by}", header, rows, fmt)


def _target_header():
    return [
        _("type"),
        _("object"),
        _("address"),
        _("grid code"),
        _("grid"),
        _("state"),
        _("latitude"),
        _("longitude"),
    ]


def _target_row(t):
    return [
        t.kind,
        t.label,
        t.address,
        t.region_code,
        t.grid.name,
        str(t.get_state_display()),
        t.lat,
        t.lng,
    ]


@login_required
def campaign_targets_export(request, pk, fmt):
    if fmt not in EXPORT_FORMATS:
        raise Http404
    campaign = access_campaign(request.user, pk)
    targets = _campaign_targets(request, campaign)
    rows = (_target_row(t) for t in targets.iterator(chunk_size=1000))
    return export_response(f"campaign-{campaign.pk}-targets", _target_header(), rows, fmt)


# --------------------------------------------------------------------------- a worker's targets


def _require_reporter(user) -> None:
    if not scope_for(user).has("cases.report"):
        raise Http404


@login_required
def campaign_my_targets(request):
    _require_reporter(request.user)
    targets = my_targets(request.user)
    state = request.GET.get("state", "pending")
    if state in CampaignTarget.State.values:
        targets = targets.filter(state=state)
    page = Paginator(targets, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "state": state,
        "states": CampaignTarget.State.choices,
    }
    return render(request, "campaigns/my_targets.html", context)


@login_required
def campaign_my_targets_export(request, fmt):
    _require_reporter(request.user)  # as the page: 404, not an empty table
    if fmt not in EXPORT_FORMATS:
        raise Http404
    targets = my_targets(request.user)
    header = [_("campaign"), *_target_header()]
    rows = ([t.campaign.title, *_target_row(t)] for t in targets.iterator(chunk_size=1000))
    return export_response("my-campaign-targets", header, rows, fmt)


@login_required
def campaign_target_check(request, pk):
    target = access_target(request.user, pk)
    campaign = target.campaign
    if not actions.may_check(request.user, target):
        raise Http404
    form = CheckForm(request.POST or None, request.FILES or None, checklist=campaign.checklist)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            check = actions.do_record_check(
                target,
                actor=request.user,
                hazard=data["hazard"],
                answers=form.answers(),
                notes=data["notes"],
                lat=data["lat"],
                lng=data["lng"],
                description=data["description"],
                photos=[data["photo"]] if data.get("photo") else [],
            )
        except ValidationError as exc:
            add_errors(form, exc)
        except ActionRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("The check is recorded."))
            return redirect("campaign_check_detail", pk=check.pk)
    checks = checks_visible_to(request.user).filter(target=target).select_related("case")
    context = {
        "target": target,
        "campaign": campaign,
        "form": form,
        "checks": checks,
        "open": campaign.state == workflow.ACTIVE,
    }
    return render(request, "campaigns/target_check.html", context)


@login_required
def campaign_check_detail(request, pk):
    check = get_object_or_404(
        checks_visible_to(request.user).select_related("target", "campaign", "case", "worker"),
        pk=pk,
    )
    from civicgrid.cases.selectors import cases_visible_to

    case_visible = (
        check.case is not None and cases_visible_to(request.user).filter(pk=check.case_id).exists()
    )
    context = {"check": check, "case_visible": case_visible}
    return render(request, "campaigns/check_detail.html", context)
