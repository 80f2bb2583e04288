"""The province KPI table (issue 11): the case KPIs of every county for a period, from the
daily rollup (``analytics.rollup``), so 90 counties and 50 million cases answer in seconds.

``/analytics/province/`` — for anyone with ``analytics.view``: the counties of their scope
(everywhere for the province, their own county for a county), or their townships if their
scope is a township; a narrower scope (a village, a grid) is below what the rollup keeps, so
the table says so instead. Period: from … to (local days, default last month).
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicgrid.analytics import kpis, rollup
from civicgrid.analytics.kpi_views import PERMISSION, _number, _prefixes, last_month
from civicgrid.analytics.models import RollupMark
from civicgrid.core.scoping import scope_for
from civicgrid.web.exports import EXPORT_FORMATS, export_response

__all__ = ["province_export", "province_table"]

MAX_DAYS = 3 * 366


class PeriodForm(forms.Form):
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise forms.ValidationError(_("The period ends before it starts."))
        if start and end and (end - start).days > MAX_DAYS:
            raise forms.ValidationError(_("Choose a period of at most three years."))
        return data


def _places(prefixes: list[str]) -> tuple[str, list[str]]:
    """(level, region prefixes) the table shows for a scope: counties if the scope holds a
    county or more, else townships; prefixes narrower than a township are left out."""
    if any(len(p) <= 6 for p in prefixes):
        return "county", [p for p in prefixes if len(p) <= 6]
    return "town", [p for p in prefixes if len(p) <= 9]


def _table(request) -> dict:
    """The period, the places of the user's scope and their rows (refuses without the right)."""
    if not scope_for(request.user).has(PERMISSION):
        raise PermissionDenied
    start, end = last_month(timezone.localdate())
    form = PeriodForm(request.GET or None, initial={"start": start, "end": end})
    if form.is_valid():
        start = form.cleaned_data["start"] or start
        end = form.cleaned_data["end"] or end
    level, prefixes = _places(_prefixes(request.user))
    rows = []
    for prefix in sorted(set(prefixes)):
        rows += rollup.province_kpis(start, end, region_code=prefix, level=level)
    return {
        "form": form,
        "start": start,
        "end": end,
        "level": level,
        "narrow": not prefixes,
        "rows": rows,
    }


@login_required
def province_table(request):
    """全省考核: the case KPIs per county (or township) of one's scope for a period."""
    table = _table(request)
    codes = list(rollup.ROLLUP_KPIS)
    mark = RollupMark.objects.filter(name=rollup.NAME).values_list("upto", flat=True).first()
    context = {
        **table,
        "as_of": mark,
        "formats": EXPORT_FORMATS,
        "query": request.GET.urlencode(),
        "kpi_list": [kpis.KPIS[c] for c in codes],
        "rows": [
            {
                "key": row["key"],
                "name": row["name"],
                "intake": _number(row["accept_rate"].denominator),
                "values": [_number(row[c].value, kpis.KPIS[c].unit) for c in codes],
            }
            for row in table["rows"]
        ],
    }
    return render(request, "analytics/province.html", context)


def _count(value):
    """Counters are floats (hours for some KPIs): whole ones are written as integers."""
    return int(value) if value is not None and value == int(value) else value


@login_required
def province_export(request, fmt):
    """The same table as CSV or Excel: per place, the cases reported and every KPI's value,
    numerator and denominator (so a spreadsheet can re-add them across places)."""
    if fmt not in EXPORT_FORMATS:
        raise Http404
    table = _table(request)
    codes = list(rollup.ROLLUP_KPIS)
    header = [_("code"), _("name"), _("cases reported")]
    for code in codes:
        label = kpis.KPIS[code].label
        header += [label, f"{label}: {_('numerator')}", f"{label}: {_('denominator')}"]
    rows = []
    for row in table["rows"]:
        line = [row["key"], row["name"], _count(row["accept_rate"].denominator)]
        for code in codes:
            value = row[code].value
            line += [
                None if value is None else round(value, 1),
                _count(row[code].numerator),
                _count(row[code].denominator),
            ]
        rows.append(line)
    name = f"kpis-{table['level']}-{table['start']}-{table['end']}"
    return export_response(name, [str(h) for h in header], rows, fmt)
