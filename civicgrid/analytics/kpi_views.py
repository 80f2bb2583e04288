"""The KPI table page (D6): every KPI of an area, department and period against its target.

``/analytics/kpis/`` — region (within the person's ``analytics.view`` scope), department,
period (default: last month) and a grouping; the table of all KPIs with value, numerator /
denominator, target and whether it is met, and the KPIs per township / village / department /
category; both tables export as CSV and .xlsx. Numbers come from ``analytics.kpis`` restricted
to what the person may see. A region outside the person's scope is a 404, not data.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicgrid.analytics import kpis
from civicgrid.core.scoping import ancestor_codes, scope_for
from civicgrid.web.exports import EXPORT_FORMATS, export_response

__all__ = ["kpi_export", "kpi_table"]

PERMISSION = "analytics.view"
GROUP_LABELS = {
    "town": _("Per township"),
    "village": _("Per village / community"),
    "grid": _("Per grid"),
    "department": _("Per department (lead)"),
    "category": _("Per category"),
}
_CHILD_GROUP = {6: "town", 9: "village", 12: "grid"}


def _prefixes(user) -> list[str]:
    """The region codes the person reads analyses of ("" = everywhere)."""
    scope = scope_for(user)
    if scope.superuser:
        return [""]
    return sorted(set(scope.prefixes(PERMISSION)))


def _in_scope(prefixes: list[str], code: str) -> bool:
    return any(code.startswith(prefix) for prefix in prefixes)


def _region_choices(prefixes: list[str]) -> list[tuple[str, str]]:
    """Each place of the person's scope and the places one level below it."""
    from civicgrid.regions.models import Region

    tops = [p for p in prefixes if p] or list(
        Region.objects.filter(parent__isnull=True).values_list("code", flat=True)
    )
    rows = Region.objects.filter(code__in=tops) | Region.objects.filter(parent__code__in=tops)
    choices = []
    for code, name, level in rows.order_by("code").values_list("code", "name", "level"):
        indent = "" if code in tops else "— "
        choices.append((code, f"{indent}{name}" if level != "county" else name))
    return choices


def _department_choices(region_code: str) -> list[tuple[str, str]]:
    """Departments serving the area: its own offices and those of the places above it."""
    from django.db.models import Q

    from civicgrid.people.models import Department

    condition = Q(region__code__startswith=region_code) | Q(
        region__code__in=ancestor_codes(region_code)
    )
    rows = Department.objects.filter(condition, active=True).order_by("region__code", "code")
    return [("", _("All departments"))] + list(rows.values_list("code", "name"))


def last_month(today: date) -> tuple[date, date]:
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


class KpiForm(forms.Form):
    region = forms.ChoiceField(label=_("Area"), required=False)
    department = forms.ChoiceField(label=_("Department"), required=False)
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    group = forms.ChoiceField(
        label=_("Group by"), required=False, choices=[("", "—"), *GROUP_LABELS.items()]
    )

    def __init__(self, *args, regions, departments, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = regions
        self.fields["department"].choices = departments

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError(_("The period ends before it starts."))
        return data


def _selection(request) -> dict:
    """Parse the query: region within scope (else 404), department, period, grouping."""
    user = request.user
    if not scope_for(user).has(PERMISSION):
        raise PermissionDenied
    prefixes = _prefixes(user)
    regions = _region_choices(prefixes)
    asked = request.GET.get("region", "")
    if asked and not _in_scope(prefixes, asked):
        raise Http404  # someone else's area: no figures, and no hint whether it exists
    region = asked if asked in dict(regions) else (regions[0][0] if regions else "")
    start, end = last_month(timezone.localdate())
    department, group = "", _CHILD_GROUP.get(len(region), "department")
    form = KpiForm(
        request.GET or None,
        regions=regions,
        departments=_department_choices(region),
        initial={"region": region, "start": start, "end": end, "group": group},
    )
    if form.is_valid():
        data = form.cleaned_data
        start, end = data["start"] or start, data["end"] or end
        department = data["department"] or ""
        group = data["group"] or group
    zone = timezone.get_current_timezone()
    return {
        "form": form,
        "region": region,
        "region_name": dict(regions).get(region, region).lstrip("— "),
        "department": department,
        "group": group,
        "start": start,
        "end": end,
        "since": datetime.combine(start, time.min, tzinfo=zone),
        "until": datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone),
    }


def _number(value, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:.1f}" if unit else (f"{value:g}" if value == int(value) else f"{value:.1f}")
    return f"{text} {unit}".strip() if unit else text


def _kpi_rows(request, sel: dict) -> list[dict]:
    values = kpis.compute(
        sel["since"],
        sel["until"],
        region_code=sel["region"],
        department=sel["department"] or None,
        user=request.user,
    )
    goals = kpis.targets(sel["region"], sel["start"].year)
    rows = []
    for code, kpi in kpis.KPIS.items():
        value, target = values[code], goals.get(code)
        met = kpis.is_met(code, value.value, target)
        rows.append(
            {
                "code": code,
                "kpi": kpi,
                "value": _number(value.value, kpi.unit),
                "raw": None if value.value is None else round(value.value, 1),
                "numerator": _number(value.numerator),
                "denominator": _number(value.denominator),
                "num": value.numerator,
                "den": value.denominator,
                "target": "—"
                if target is None
                else f"{'≥' if kpi.direction == 'higher' else '≤'} {_number(target, kpi.unit)}",
                "target_value": target,
                "met": met,
            }
        )
    return rows


def _group_rows(request, sel: dict) -> list[dict]:
    return kpis.compute_by(
        sel["group"],
        sel["since"],
        sel["until"],
        region_code=sel["region"],
        department=sel["department"] or None,
        user=request.user,
    )


MET_LABELS = {True: _("met"), False: _("not met"), None: "—"}


@login_required
def kpi_table(request):
    """考核指标: the KPI table of an area (and department) for a period, and per sub-area."""
    sel = _selection(request)
    rows = _kpi_rows(request, sel)
    groups = _group_rows(request, sel)
    context = {
        **sel,
        "rows": rows,
        "met_labels": MET_LABELS,
        "group_title": GROUP_LABELS[sel["group"]],
        "kpi_list": list(kpis.KPIS.values()),
        "groups": [
            {
                "name": row["name"],
                "key": row["key"],
                "values": [_number(row[code].value, kpi.unit) for code, kpi in kpis.KPIS.items()],
            }
            for row in groups
        ],
        "query": request.GET.urlencode(),
        "formats": EXPORT_FORMATS,
    }
    return render(request, "analytics/kpis.html", context)


@login_required
def kpi_export(request, table, fmt):
    if table not in {"kpis", "groups"} or fmt not in EXPORT_FORMATS:
        raise Http404
    sel = _selection(request)
    name = f"kpis-{sel['region'] or 'all'}-{sel['start']}-{sel['end']}"
    if table == "kpis":
        header = [
            _("KPI"),
            _("code"),
            _("value"),
            _("unit"),
            _("numerator"),
            _("denominator"),
            _("target"),
            _("met"),
            _("formula"),
        ]
        rows = (
            [
                r["kpi"].label,
                r["code"],
                r["raw"],
                r["kpi"].unit,
                r["num"],
                r["den"],
                r["target_value"],
                str(MET_LABELS[r["met"]]),
                r["kpi"].symbols,
            ]
            for r in _kpi_rows(request, sel)
        )
    else:
        name += f"-{sel['group']}"
        header = [_("code"), _("name")] + [k.label for k in kpis.KPIS.values()]
        rows = (
            [row["key"], row["name"]]
            + [None if row[code].value is None else round(row[code].value, 1) for code in kpis.KPIS]
            for row in _group_rows(request, sel)
        )
    return export_response(name, [str(h) for h in header], rows, fmt)
