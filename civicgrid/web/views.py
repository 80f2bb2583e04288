"""Thin views: parse input, call a selector or action, render."""

import csv

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count, Q
from django.http import (
    FileResponse,
    Http404,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from civicgrid.cases.selectors import access_case, deadline_status, timeline
from civicgrid.cases.workflow import ACTION_LABELS, STATE_LABELS
from civicgrid.core.errors import ActionRefused
from civicgrid.core.roles import Role
from civicgrid.core.scoping import can, scope_for
from civicgrid.people.actions import do_reveal_person_pii
from civicgrid.people.selectors import access_person, people_visible_to
from civicgrid.regions.selectors import grids_visible_to, regions_visible_to
from civicgrid.web.forms import GridFilterForm


@require_GET
def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@login_required
def home(request):
    scope = scope_for(request.user)
    labels = dict(Role.choices)
    regions = regions_visible_to(request.user).values("level").annotate(n=Count("id"))
    counts = {row["level"]: row["n"] for row in regions}
    context = {
        "roles": [
            {"label": labels.get(g.role, g.role), "scope": g.prefix or _("everywhere")}
            for g in scope.grants
        ],
        "town_count": counts.get("town", 0),
        "village_count": counts.get("village", 0),
        "grid_count": grids_visible_to(request.user).exclude(kind="micro").count(),
        "people_count": people_visible_to(request.user).count()
        if scope.has("people.view")
        else None,
    }
    return render(request, "web/home.html", context)


def _filtered_grids(request):
    grids = grids_visible_to(request.user).exclude(kind="micro").order_by("code")
    form = GridFilterForm(request.GET)
    if not form.is_valid():
        return grids, form
    query, kind = form.cleaned_data["q"].strip(), form.cleaned_data["kind"]
    if query:
        grids = grids.filter(Q(name__contains=query) | Q(code__startswith=query))
    if kind:
        grids = grids.filter(kind=kind)
    return grids, form


@login_required
def grid_list(request):
    grids, form = _filtered_grids(request)
    page = Paginator(grids.annotate(micro_count=Count("micro_grids")), 50).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {"page": page, "form": form, "query": query.urlencode()}
    return render(request, "web/grid_list.html", context)


class _Echo:
    def write(self, value):
        return value


@login_required
def grid_export(request):
    grids, _form = _filtered_grids(request)
    writer = csv.writer(_Echo())
    header = [_("grid code"), _("name"), _("kind"), _("purpose"), _("village / community")]

    def rows():
        yield "\ufeff" + writer.writerow(header)
        for grid in grids.iterator(chunk_size=1000):
            yield writer.writerow(
                [
                    grid.code,
                    grid.name,
                    grid.get_kind_display(),
                    grid.purpose,
                    grid.village.name,
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="grids.csv"'
    return response


@login_required
def person_detail(request, person_id):
    person = access_person(request.user, person_id)
    return render(request, "web/person_detail.html", _person_context(request, person, None))


def _person_context(request, person, revealed) -> dict:
    """Sensitive key groups (community correction …) only for roles that see personal data."""
    groups = person.key_groups.all()
    if not can(request.user, "people.view_pii", region_code=person.region_code):
        groups = groups.filter(sensitive=False)
    return {"person": person, "revealed": revealed, "key_groups": groups}


@login_required
@never_cache
@require_POST
def person_reveal(request, person_id):
    person = access_person(request.user, person_id)
    try:
        revealed = do_reveal_person_pii(person, actor=request.user, reason="web")
    except ActionRefused as exc:
        return HttpResponse(str(exc), status=403)
    return render(request, "web/person_detail.html", _person_context(request, person, revealed))


@login_required
def case_detail(request, code):
    case = access_case(request.user, code)
    context = {
        "case": case,
        "state_label": STATE_LABELS.get(case.state, case.state),
        "deadline_status": deadline_status(case),
        "timeline": timeline(case),
        "reporters": case.reporters.all(),
        "assignments": case.assignments.select_related("department").order_by("-active", "id"),
        "supervisions": case.supervisions.order_by("issued_at"),
        "instructions": case.instructions.order_by("created"),
        "action_labels": ACTION_LABELS,
    }
    return render(request, "web/case_detail.html", context)


@login_required
def supervision_sheet(request, code, pk):
    case = access_case(request.user, code)
    supervision = get_object_or_404(case.supervisions, pk=pk)
    return render(request, "web/supervision_sheet.html", {"case": case, "sheet": supervision})


@login_required
def instruction_sheet(request, code, pk):
    case = access_case(request.user, code)
    instruction = get_object_or_404(case.instructions, pk=pk)
    return render(request, "web/instruction_sheet.html", {"case": case, "sheet": instruction})


@login_required
def case_attachment(request, code, pk):
    """A case's photo, for those who may see the case (media is not served publicly)."""
    case = access_case(request.user, code)
    attachment = get_object_or_404(case.attachments, pk=pk)
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404 from None
    return FileResponse(handle, content_type=attachment.content_type)
