"""Thin views of the early-warning pages: parse input, call a selector or an action, render."""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from civicgrid.cases import workflow as case_workflow
from civicgrid.cases.models import Category
from civicgrid.core.errors import ActionRefused
from civicgrid.core.scoping import scope_for
from civicgrid.regions.models import Grid, Region
from civicgrid.warning import actions, workflow
from civicgrid.warning.forms import (
    AcknowledgeForm,
    CampaignForm,
    CaseForm,
    DismissForm,
    FilterForm,
    ReportingDayForm,
    SettingForm,
)
from civicgrid.warning.models import Method, ReportingDay, Signal
from civicgrid.warning.run import default_setting, settings_by_category
from civicgrid.warning.selectors import (
    access_signal,
    cases_behind,
    may_configure,
    may_handle,
    place_names,
    region_names,
    signal_series,
    signals_geojson,
    signals_visible_to,
)
from civicgrid.web.exports import EXPORT_FORMATS, export_response
from civicgrid.web.forms import add_errors

PAGE_SIZE = 50
CASES_SHOWN = 200


def _require_view(user) -> None:
    if not scope_for(user).has("warning.view"):
        raise PermissionDenied(_("You may not see early-warning signals."))


def _category_label(category) -> str:
    from django.utils.translation import get_language

    if (get_language() or "").startswith("en") and category.name_en:
        return f"{category.code} {category.name_en}"
    return f"{category.code} {category.name}"


def _filtered(request):
    user = request.user
    visible = signals_visible_to(user)
    used = Category.objects.filter(pk__in=visible.values("category_id")).order_by("code")
    categories = [(c.code, _category_label(c)) for c in used]
    prefixes = [p for p in scope_for(user).prefixes("warning.view")]
    towns = Region.objects.filter(level=Region.Level.TOWN)
    if "" not in prefixes and not scope_for(user).superuser:
        from django.db.models import Q

        condition = Q(pk__in=[])
        for prefix in prefixes:
            condition |= Q(code__startswith=prefix[:9])
        towns = towns.filter(condition)
    form = FilterForm(
        request.GET or None,
        categories=categories,
        towns=[(t.code, t.name) for t in towns.order_by("code")],
    )
    signals = visible.select_related("category", "campaign", "case")
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    state = data.get("state") or ""
    if state == "":
        signals = signals.filter(state__in=workflow.OPEN_STATES)
    elif state != "all":
        signals = signals.filter(state=state)
    if data.get("category"):
        signals = signals.filter(category__code=data["category"])
    if data.get("town"):
        signals = signals.filter(areas__code__startswith=data["town"]).distinct()
    if data.get("since"):
        signals = signals.filter(last_run__gte=data["since"])
    if data.get("until"):
        signals = signals.filter(first_run__lte=data["until"])
    query = urlencode({k: v for k, v in request.GET.items() if k != "page" and v})
    return form, signals.order_by("-last_run", "-recurrence_days", "-id"), query


def _row(signal: Signal, names: dict | None = None) -> dict:
    return {
        "signal": signal,
        "category": _category_label(signal.category),
        "places": place_names(signal, names=names),
        "state": workflow.STATE_LABELS.get(signal.state, signal.state),
        "method": Method(signal.method).label if signal.method in Method.values else signal.method,
    }


@login_required
def warning_list(request):
    _require_view(request.user)
    form, signals, query = _filtered(request)
    page = Paginator(signals, PAGE_SIZE).get_page(request.GET.get("page"))
    names = region_names(page.object_list)
    context = {
        "form": form,
        "page": page,
        "rows": [_row(s, names) for s in page.object_list],
        "query": query,
        "may_configure": may_configure(request.user),
    }
    return render(request, "warning/signal_list.html", context)


@login_required
def warning_export(request, fmt):
    _require_view(request.user)
    if fmt not in EXPORT_FORMATS:
        raise Http404
    _form, signals, _query = _filtered(request)
    header = [
        _("signal"),
        _("category"),
        _("places"),
        _("grids"),
        _("from"),
        _("to"),
        _("observed"),
        _("expected"),
        _("relative risk"),
        _("p-value"),
        _("recurrence interval (days)"),
        _("method"),
        _("state"),
        _("first found on"),
        _("last updated on"),
    ]

    signals = list(signals[:5000])
    names = region_names(signals)

    def rows():
        for s in signals:
            row = _row(s, names)
            yield [
                s.pk,
                row["category"],
                row["places"],
                " ".join(s.grid_codes) or s.region_code,
                s.start,
                s.end,
                s.observed,
                round(s.expected, 2),
                round(s.relative_risk, 2),
                s.p_value,
                round(s.recurrence_days),
                str(row["method"]),
                str(row["state"]),
                s.first_run,
                s.last_run,
            ]

    return export_response("warnings", header, rows(), fmt)


def _forms(signal, bound=None, **overrides):
    today = timezone.localdate()
    forms = {
        "acknowledge": AcknowledgeForm(),
        "dismiss": DismissForm(),
        "campaign": CampaignForm(
            initial={
                "title": _("%(category)s: special campaign") % {"category": signal.category.name},
                "start": today,
                "end": today + timedelta(days=30),
                "description": _(
                    "From early-warning signal #%(id)s (%(places)s, %(start)s – %(end)s)."
                )
                % {
                    "id": signal.pk,
                    "places": place_names(signal),
                    "start": signal.start,
                    "end": signal.end,
                },
            }
        ),
        "case": CaseForm(),
    }
    forms.update(overrides)
    return forms


def step_note(step) -> str:
    """A person's note as written; the daily run's numbers in the reader's language."""
    if step.action not in workflow.SYSTEM_ACTIONS:
        return step.note
    import json

    try:
        data = json.loads(step.note)
        method = Method(data["method"]).label
    except (ValueError, KeyError, TypeError):
        return step.note
    return _(
        "%(method)s: %(observed)s observed, %(expected)s expected, relative risk "
        "%(relative_risk)s, recurrence interval %(recurrence_days)s days"
    ) % {**data, "method": method}


@login_required
def warning_detail(request, pk, **overrides):
    signal = access_signal(request.user, pk)
    cases = cases_behind(request.user, signal).select_related("grid")
    shown = list(cases[:CASES_SHOWN])
    for case in shown:
        case.state_label = case_workflow.STATE_LABELS.get(case.state, case.state)
    names = dict(Grid.objects.filter(code__in=signal.grid_codes).values_list("code", "name"))
    allowed = workflow.allowed_actions(signal.state) if may_handle(request.user, signal) else []
    steps = list(signal.steps.select_related("actor"))
    for step in steps:
        step.note = step_note(step)
        step.label = workflow.ACTION_LABELS.get(step.action, step.action)
        step.state_label = workflow.STATE_LABELS.get(step.to_state, step.to_state)
    context = {
        "signal": signal,
        "row": _row(signal),
        "cases": shown,
        "case_count": cases.count(),
        "cases_shown": CASES_SHOWN,
        "steps": steps,
        "allowed": allowed,
        "forms": _forms(signal, **overrides),
        "series": signal_series(signal),
        "grid_names": [f"{names.get(c, c)} ({c})" for c in signal.grid_codes],
        "map_tiles": settings.MAP_TILE_URL,
        "map_attribution": settings.MAP_TILE_ATTRIBUTION,
    }
    status = 400 if overrides else 200
    return render(request, "warning/signal_detail.html", context, status=status)


@login_required
def warning_map(request, pk):
    signal = access_signal(request.user, pk)
    return JsonResponse(signals_geojson(request.user, signals=[signal]))


@login_required
def warning_map_open(request):
    """The open signals' places the user may see (the cockpit's layer)."""
    _require_view(request.user)
    region = (request.GET.get("region") or "").strip()
    if region and not region.isdigit():
        region = ""
    return JsonResponse(signals_geojson(request.user, region[:18]))


@login_required
@require_POST
def warning_act(request, pk, action):
    signal = access_signal(request.user, pk)
    forms = {
        "acknowledge": AcknowledgeForm,
        "dismiss": DismissForm,
        "campaign": CampaignForm,
        "case": CaseForm,
    }
    if action not in forms:
        raise Http404
    form = forms[action](request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            if action == "acknowledge":
                actions.do_acknowledge_signal(signal, actor=request.user, note=data["note"])
            elif action == "dismiss":
                actions.do_dismiss_signal(signal, actor=request.user, reason=data["reason"])
            elif action == "campaign":
                actions.do_campaign_from_signal(signal, actor=request.user, **data)
            else:
                actions.do_case_from_signal(
                    signal, actor=request.user, description=data["description"]
                )
        except ValidationError as exc:
            add_errors(form, exc)
        except ActionRefused as exc:
            # not possible now (the state moved on) or not allowed: say why on the page
            messages.error(request, str(exc))
            return redirect("warning_detail", pk=signal.pk)
        else:
            messages.success(
                request, _("Done: %(action)s.") % {"action": workflow.ACTION_LABELS[action]}
            )
            return redirect("warning_detail", pk=signal.pk)
    return warning_detail(request, pk, **{action: form})


# --------------------------------------------------------------------------- settings


def _require_configure(user) -> None:
    if not may_configure(user):
        raise PermissionDenied(_("Only the county centre sets early-warning parameters."))


@login_required
def warning_settings(request):
    _require_configure(request.user)
    rows = []
    for setting in settings_by_category():
        rows.append(
            {
                "setting": setting,
                "category": _category_label(setting.category),
                "methods": ", ".join(str(Method(m).label) for m in setting.active_methods),
                "saved": setting.pk is not None,
            }
        )
    return render(request, "warning/settings.html", {"rows": rows})


@login_required
def warning_setting_edit(request, code):
    _require_configure(request.user)
    category = Category.objects.filter(code=code, parent__isnull=False).first()
    if category is None:
        raise Http404
    setting = getattr(category, "warning_setting", None) or default_setting(category)
    initial = {
        "enabled": setting.enabled,
        "methods": setting.active_methods,
        "max_days": setting.max_days,
        "max_cells": setting.max_cells,
        "max_radius_km": setting.max_radius_km,
        "threshold_days": setting.threshold_days,
        "min_cases": setting.min_cases,
        "replicates": setting.replicates,
        "fast": setting.fast,
        "history_days": setting.history_days,
    }
    form = SettingForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                actions.do_configure_warning(category, actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                add_errors(form, exc)
            except ActionRefused as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("The settings of %s are saved.") % category.name)
                return redirect("warning_settings")
        status = 400
    return render(
        request,
        "warning/setting_form.html",
        {"form": form, "category": _category_label(category)},
        status=status,
    )


# --------------------------------------------------------------------------- reporting days


def _reporting_day_rows():
    return ReportingDay.objects.select_related("created_by").order_by("-day")


@login_required
def reporting_days(request):
    """The days the detectors leave out (publicity pushes, outages): list, and mark one."""
    _require_configure(request.user)
    form = ReportingDayForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                marked = actions.do_mark_reporting_day(
                    form.cleaned_data["day"],
                    actor=request.user,
                    kind=form.cleaned_data["kind"],
                    note=form.cleaned_data["note"],
                )
            except ValidationError as exc:
                add_errors(form, exc)
            except ActionRefused as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("%s is marked.") % marked.day)
                return redirect("warning_reporting_days")
        status = 400
    page = Paginator(_reporting_day_rows(), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request, "warning/reporting_days.html", {"form": form, "page": page}, status=status
    )


@login_required
@require_POST
def reporting_day_remove(request):
    """Take a day's mark back (POST ``day``); an unknown or malformed day is said, not a 500."""
    _require_configure(request.user)
    try:
        day = parse_date(request.POST.get("day") or "")
    except ValueError:  # well formed, but no such date
        day = None
    marked = ReportingDay.objects.filter(day=day).first() if day else None
    if marked is None:
        messages.error(request, _("No such marked day."))
        return redirect("warning_reporting_days")
    try:
        actions.do_unmark_reporting_day(marked, actor=request.user)
    except ActionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("The mark of %s is taken back.") % marked.day)
    return redirect("warning_reporting_days")


@login_required
def reporting_days_export(request, fmt):
    _require_configure(request.user)
    if fmt not in EXPORT_FORMATS:
        raise Http404
    header = [_("day"), _("kind"), _("note"), _("marked by"), _("marked at")]

    def rows():
        for marked in _reporting_day_rows()[:5000]:
            yield [
                marked.day,
                marked.get_kind_display(),
                marked.note,
                marked.created_by.get_username() if marked.created_by else "",
                timezone.localtime(marked.created).strftime("%Y-%m-%d %H:%M"),
            ]

    return export_response("reporting-days", header, rows(), fmt)
