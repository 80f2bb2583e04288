"""The visit pages: a grid worker's due list and visit form, walks, compliance (应走尽走).

Thin views: parse input with a form, call a selector or an action, render. Every read goes
through ``inspection.selectors`` (scoped by region); names are masked for roles that do not
see personal data.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from civicgrid.core.errors import ActionRefused
from civicgrid.core.scoping import can, scope_for
from civicgrid.inspection import selectors
from civicgrid.inspection.actions import (
    _effective_rules,
    do_record_patrol,
    do_record_visit,
    may_record_patrol,
    may_record_visit,
)
from civicgrid.inspection.forms import (
    GROUP_CHOICES,
    DueListForm,
    PatrolForm,
    PeriodForm,
    VisitForm,
)
from civicgrid.inspection.models import DueVisit
from civicgrid.people.models import House, KeyGroup, Person
from civicgrid.people.pii import mask_name
from civicgrid.people.selectors import access_person
from civicgrid.regions.models import Grid, Region
from civicgrid.regions.selectors import grids_visible_to
from civicgrid.web.exports import EXPORT_FORMATS, export_response
from civicgrid.web.forms import add_errors

PAGE_SIZE = 50


# --------------------------------------------------------------------------- helpers


def _sees_pii(user, region_code: str) -> bool:
    return can(user, "people.view_pii", region_code=region_code)


def _name(user, person: Person) -> str:
    """张三 for roles that see personal data there, else 张* (as the case pages do)."""
    if _sees_pii(user, person.region_code):
        return person.name
    return mask_name(person.name)


def _own_grids(user):
    """The basic grids a person works in: their grid roles, else the grids they may see."""
    codes = [g.prefix for g in scope_for(user).grants if len(g.prefix) >= 15]
    if codes:
        return Grid.objects.filter(code__in=codes).exclude(kind=Grid.Kind.MICRO).order_by("code")
    return grids_visible_to(user).exclude(kind=Grid.Kind.MICRO).order_by("code")


def _centre(grid) -> tuple[float, float] | None:
    bbox = grid.bbox if grid is not None else None
    if bbox and len(bbox) == 4:
        min_lng, min_lat, max_lng, max_lat = bbox
        return (min_lat + max_lat) / 2, (min_lng + max_lng) / 2
    return None


# --------------------------------------------------------------------------- due list


def _distance(metres: float | None) -> str:
    if metres is None:
        return ""
    if metres >= 1000:
        return _("%(km).1f km") % {"km": metres / 1000}
    return _("%(m)d m") % {"m": round(metres)}


@login_required
def due_list(request):
    """A grid worker's visits due today or this week, nearest first from where they stand."""
    if not scope_for(request.user).has("people.view"):
        raise Http404
    form = DueListForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    when = data.get("when") or "week"
    today = timezone.localdate()
    due_by = today if when == "today" else today + timedelta(days=6 - today.weekday())
    lat, lng = data.get("lat"), data.get("lng")
    located = lat is not None and lng is not None
    if not located:
        grid = _own_grids(request.user).first()
        lat, lng = _centre(grid) or (0.0, 0.0)
    rows = selectors.due_list(request.user, lat=lat, lng=lng, due_by=due_by, limit=200)
    items = [
        {
            "due": due,
            "name": _name(request.user, due.person),
            "group": due.rule.key_group.name
            if not due.rule.key_group.sensitive or _sees_pii(request.user, due.region_code)
            else "",
            "address": due.person.house.address if due.person.house else due.person.address,
            "distance": _distance(due.metres),
            "overdue": due.due_date < today,
        }
        for due in rows
    ]
    context = {
        "items": items,
        "when": when,
        "located": located,
        "lat": lat,
        "lng": lng,
        "today": today,
        "due_by": due_by,
    }
    return render(request, "inspection/due_list.html", context)


# --------------------------------------------------------------------------- visits


def _checklist(person: Person) -> list[str]:
    """The checklist of the rule the person is visited under (their open due visit's first)."""
    due = (
        DueVisit.objects.filter(person=person, state=DueVisit.State.DUE)
        .select_related("rule")
        .order_by("-period_start")
        .first()
    )
    if due is not None:
        return list(due.rule.checklist)
    effective = _effective_rules([person.pk]).get(person.pk)
    return list(effective[0].checklist) if effective else []


@login_required
def visit_record(request, person_id):
    """Record a visit to a person; "found a problem" raises a case in the same step."""
    person = access_person(request.user, person_id)
    if not may_record_visit(request.user, person):
        raise Http404
    checklist = _checklist(person)
    if request.method == "POST":
        form = VisitForm(request.POST, request.FILES, checklist=checklist)
        if form.is_valid():
            data = form.cleaned_data
            raise_case = None
            if data["found_problem"]:
                raise_case = {"category": data["category"], "description": data["description"]}
            try:
                visit = do_record_visit(
                    person,
                    actor=request.user,
                    outcome=data["outcome"],
                    lat=data["lat"],
                    lng=data["lng"],
                    answers=form.answers_given(),
                    notes=data["notes"],
                    photos=data["photos"],
                    raise_case=raise_case,
                )
            except ValidationError as exc:
                add_errors(form, exc)
            except ActionRefused as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("The visit is recorded."))
                if visit.case_id:
                    messages.success(
                        request, _("Raised as case %(code)s.") % {"code": visit.case.code}
                    )
                return redirect("visit_detail", pk=visit.pk)
    else:
        form = VisitForm(checklist=checklist, initial={"outcome": "seen"})
    context = {
        "form": form,
        "person": person,
        "name": _name(request.user, person),
        "house": person.house,
        "due": DueVisit.objects.filter(person=person, state=DueVisit.State.DUE)
        .order_by("due_date")
        .first(),
    }
    return render(request, "inspection/visit_form.html", context)


@login_required
def visit_detail(request, pk):
    visit = get_object_or_404(
        selectors.visits_visible_to(request.user).select_related(
            "person", "worker", "case", "due_visit__rule__key_group"
        ),
        pk=pk,
    )
    context = {
        "visit": visit,
        "name": _name(request.user, visit.person),
        "answers": list((visit.answers or {}).items()),
        "photos": list(visit.photos.all()),
        "sees_case": visit.case_id is not None
        and can(request.user, "cases.view", region_code=visit.case.region_code),
    }
    return render(request, "inspection/visit_detail.html", context)


@login_required
def visit_photo(request, pk, photo_pk):
    """A visit's photo, for those who may see the visit (media is not served publicly)."""
    visit = get_object_or_404(selectors.visits_visible_to(request.user), pk=pk)
    photo = get_object_or_404(visit.photos, pk=photo_pk)
    try:
        handle = photo.file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404 from None
    return FileResponse(handle, content_type=photo.content_type)


# --------------------------------------------------------------------------- patrols


@login_required
def patrol_new(request):
    """Record a comprehensive walk: the page's script fills the track from the phone's GPS."""
    grids = _own_grids(request.user)
    grid = None
    wanted = request.POST.get("grid") or request.GET.get("grid")
    if wanted:
        try:
            grid = grids.filter(pk=int(wanted)).first()
        except (TypeError, ValueError):
            grid = None
    if grid is None:
        grid = grids.first()
    if grid is None or not may_record_patrol(request.user, grid):
        raise Http404
    houses = list(House.objects.filter(grid=grid).order_by("code"))
    if request.method == "POST":
        form = PatrolForm(request.POST, houses=houses)
        if form.is_valid():
            data = form.cleaned_data
            try:
                patrol = do_record_patrol(
                    grid,
                    actor=request.user,
                    started_at=data["started_at"],
                    ended_at=data["ended_at"],
                    track=data["track"],
                    houses=[int(pk) for pk in data["houses"]],
                    notes=data["notes"],
                )
            except ValidationError as exc:
                add_errors(form, exc)
            except ActionRefused as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request,
                    _("The walk is recorded: %(n)d houses covered.")
                    % {"n": patrol.covered.count()},
                )
                return redirect("patrol_list")
    else:
        form = PatrolForm(houses=houses)
    many = grids[:2].count() > 1
    context = {
        "form": form,
        "grid": grid,
        "grids": grids[:500] if many else [],
    }
    return render(request, "inspection/patrol_form.html", context)


def _patrol_rows(request):
    return (
        selectors.patrols_visible_to(request.user)
        .select_related("grid", "worker")
        .order_by("-started_at", "-id")
    )


PATROL_COLUMNS = [
    gettext_lazy("grid code"),
    gettext_lazy("grid"),
    gettext_lazy("walked by"),
    gettext_lazy("started at"),
    gettext_lazy("ended at"),
    gettext_lazy("length (m)"),
    gettext_lazy("houses covered"),
]


def _patrol_values(patrols):
    from django.db.models import Count

    for p in patrols.annotate(n_houses=Count("covered")):
        yield [
            p.grid.code,
            p.grid.name,
            p.worker.get_username(),
            timezone.localtime(p.started_at),
            timezone.localtime(p.ended_at),
            round(p.length_m),
            p.n_houses,
        ]


@login_required
def patrol_list(request):
    if not scope_for(request.user).has("people.view"):
        raise Http404
    page = Paginator(_patrol_rows(request), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(_patrol_values(_patrol_rows(request).filter(pk__in=[p.pk for p in page])))
    context = {
        "page": page,
        "columns": PATROL_COLUMNS,
        "rows": rows,
        "may_record": _own_grids(request.user).exists()
        and scope_for(request.user).has("cases.report"),
    }
    return render(request, "inspection/patrol_list.html", context)


@login_required
def patrol_export(request, fmt):
    if fmt not in EXPORT_FORMATS or not scope_for(request.user).has("people.view"):
        raise Http404
    return export_response(
        "patrols", [str(c) for c in PATROL_COLUMNS], _patrol_values(_patrol_rows(request)), fmt
    )


# --------------------------------------------------------------------------- compliance

TABLES = {
    "compliance": gettext_lazy("Due vs done"),
    "overdue": gettext_lazy("Overdue visits"),
    "never": gettext_lazy("Never visited"),
    "coverage": gettext_lazy("Walk coverage"),
}
COVERAGE_CHOICES = [c for c in GROUP_CHOICES if c[0] in selectors.COVERAGE_GROUPS]


def _period(request, groups):
    """The period and grouping on screen: this month to today unless the form says otherwise."""
    today = timezone.localdate()
    start, end, by = today.replace(day=1), today, groups[0][0]
    data = request.GET.copy()
    for name, value in (("start", start.isoformat()), ("end", end.isoformat()), ("by", by)):
        if not data.get(name):
            data[name] = value
    form = PeriodForm(data, groups=groups)
    if form.is_valid():
        start = form.cleaned_data["start"] or start
        end = form.cleaned_data["end"] or end
        by = form.cleaned_data["by"] or by
    return form, start, end, by


def _presets(today: date) -> list[dict]:
    quarter = date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
    return [
        {"label": _("This week"), "start": today - timedelta(days=today.weekday())},
        {"label": _("This month"), "start": today.replace(day=1)},
        {"label": _("This quarter"), "start": quarter},
        {"label": _("This year"), "start": date(today.year, 1, 1)},
    ]


def _group_names(by: str, keys: list[str]) -> dict[str, str]:
    if by == "grid":
        return dict(Grid.objects.filter(code__in=keys).values_list("code", "name"))
    if by in {"village", "township"}:
        return dict(Region.objects.filter(code__in=keys).values_list("code", "name"))
    if by == "key_group":
        return dict(KeyGroup.objects.filter(code__in=keys).values_list("code", "name"))
    if by == "worker":
        return dict(
            Person.objects.filter(user__username__in=keys).values_list("user__username", "name")
        )
    return {}


def _percent(rate: float) -> float:
    return round(rate * 100, 1)


def _table(request, table: str) -> dict:
    """Columns and rows (plain values, ready for a page or an export) of one table."""
    user = request.user
    today = timezone.localdate()
    labels = dict(GROUP_CHOICES)
    if table == "compliance":
        form, start, end, by = _period(request, GROUP_CHOICES)
        data = selectors.compliance(user, start=start, end=end, by=by, today=today)
        names = _group_names(by, [r["key"] for r in data if r["key"]])
        columns = [
            labels[by],
            _("name"),
            _("Visits owed"),
            _("Visits done"),
            _("Missed (period over)"),
            _("Overdue (still open)"),
            _("Done rate %"),
        ]
        rows = [
            [
                r["key"] or "—",
                names.get(r["key"], ""),
                r["due"],
                r["done"],
                r["missed"],
                r["overdue"],
                _percent(r["rate"]),
            ]
            for r in data
        ]
        return {"form": form, "start": start, "end": end, "columns": columns, "rows": rows}
    if table == "coverage":
        form, start, end, by = _period(request, COVERAGE_CHOICES)
        data = selectors.coverage(user, start=start, end=end, by=by)
        names = _group_names(by, [r["key"] for r in data])
        columns = [labels[by], _("name"), _("Houses"), _("Houses covered"), _("Coverage %")]
        rows = [
            [r["key"], names.get(r["key"], ""), r["houses"], r["covered"], _percent(r["rate"])]
            for r in data
        ]
        return {"form": form, "start": start, "end": end, "columns": columns, "rows": rows}
    if table == "overdue":
        dues = selectors.overdue_visits(user, today=today).select_related("grid")
        columns = [
            _("Person"),
            _("Key group"),
            _("grid code"),
            _("grid"),
            _("Due date"),
            _("Days overdue"),
            _("Responsible worker"),
        ]

        def overdue_rows(queryset):
            for d in queryset:
                sees = _sees_pii(user, d.region_code)
                yield [
                    _name(user, d.person),
                    d.rule.key_group.name if sees or not d.rule.key_group.sensitive else "—",
                    d.region_code,
                    d.grid.name if d.grid else "",
                    d.due_date,
                    (today - d.due_date).days,
                    d.assignee.get_username() if d.assignee else "",
                ]

        return {"columns": columns, "queryset": dues, "make_rows": overdue_rows}
    if table == "never":
        people = selectors.never_visited(user).select_related("grid").prefetch_related("key_groups")
        columns = [_("Person"), _("Key groups"), _("grid code"), _("grid")]

        def never_rows(queryset):
            for p in queryset:
                sees = _sees_pii(user, p.region_code)
                groups = [g.name for g in p.key_groups.all() if sees or not g.sensitive]
                yield [
                    _name(user, p),
                    "、".join(groups) or "—",
                    p.region_code,
                    p.grid.name if p.grid else "",
                ]

        return {"columns": columns, "queryset": people, "make_rows": never_rows}
    raise Http404


def _allowed(request) -> None:
    if not scope_for(request.user).has("people.view"):
        raise Http404


@login_required
def compliance_page(request, table="compliance"):
    """应走尽走: due vs done by a grouping and period; overdue; never visited; coverage."""
    _allowed(request)
    if table not in TABLES:
        raise Http404
    data = _table(request, table)
    page = None
    links = []
    if "queryset" in data:
        page = Paginator(data["queryset"], PAGE_SIZE).get_page(request.GET.get("page"))
        shown = list(page.object_list)
        data["rows"] = list(data["make_rows"](shown))
        # The person's name leads to the visit form, for those who may visit them.
        people = [getattr(item, "person", item) for item in shown]
        links = [
            reverse("visit_record", args=[p.pk]) if may_record_visit(request.user, p) else ""
            for p in people
        ]
    query = request.GET.copy()
    query.pop("page", None)
    today = timezone.localdate()
    context = {
        **data,
        "table": table,
        "title": TABLES[table],
        "tabs": [{"key": k, "label": v} for k, v in TABLES.items()],
        "rows": [
            {"cells": row, "link": links[i] if i < len(links) else ""}
            for i, row in enumerate(data["rows"])
        ],
        "page": page,
        "query": query.urlencode(),
        "presets": _presets(today) if "form" in data else [],
        "today": today,
    }
    return render(request, "inspection/compliance.html", context)


@login_required
def compliance_export(request, table, fmt):
    _allowed(request)
    if table not in TABLES or fmt not in EXPORT_FORMATS:
        raise Http404
    data = _table(request, table)
    rows = data["rows"] if "rows" in data else data["make_rows"](data["queryset"])
    name = f"visits-{table}"
    if "start" in data:
        name += f"-{data['start']}-{data['end']}"
    return export_response(name, [str(c) for c in data["columns"]], rows, fmt)
