"""Pages: postings per grid, the summon panel's posts, "my summons" and the statistics."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from civicgrid.cases.selectors import access_case
from civicgrid.core.errors import ActionRefused
from civicgrid.oncall import actions as A
from civicgrid.oncall import workflow
from civicgrid.oncall.forms import (
    EndPostingForm,
    FinishForm,
    PostingForm,
    ReasonForm,
    StatsForm,
    SummonForm,
)
from civicgrid.oncall.models import StaffPosting, Summons, SummonsPhoto
from civicgrid.oncall.selectors import (
    GROUPINGS,
    STAT_COLUMNS,
    active_postings,
    may_manage_postings,
    period_bounds,
    postings_visible_to,
    summons_statistics,
    summonses_for,
    summonses_visible_to,
)
from civicgrid.people.pii import mask_numbers_in_text
from civicgrid.regions.models import Grid
from civicgrid.web.exports import EXPORT_FORMATS, export_response

LIST_LIMIT = 300


def _errors(request, exc) -> None:
    for message in getattr(exc, "messages", None) or [str(exc)]:
        messages.error(request, message)


# --------------------------------------------------------------------------- postings


def _postings(request):
    """The postings the user sees, filtered by ?area= (a grid or region code) and ?all=1."""
    area = (request.GET.get("area") or "").strip()[:18]
    rows = postings_visible_to(request.user)
    if area:
        rows = rows.filter(region_code__startswith=area)
    show_all = request.GET.get("all") == "1"
    if not show_all:
        rows = rows.filter(pk__in=active_postings().values("pk"))
    return area, show_all, rows.order_by("region_code", "department__code", "kind", "id")


@login_required
def postings(request):
    area, show_all, rows = _postings(request)
    grid = Grid.objects.exclude(kind=Grid.Kind.MICRO).filter(code=area).first() if area else None
    form = None
    if grid is not None and may_manage_postings(request.user, grid.code):
        form = PostingForm(grid=grid)
    context = {
        "area": area,
        "show_all": show_all,
        "grid": grid,
        "rows": rows[:LIST_LIMIT],
        "count": rows.count(),
        "limit": LIST_LIMIT,
        "form": form,
        "end_form": EndPostingForm(),
        "query": request.GET.urlencode(),
        "manages": may_manage_postings(request.user),
    }
    return render(request, "oncall/postings.html", context)


@login_required
@require_POST
def posting_add(request, grid_code):
    grid = get_object_or_404(Grid.objects.exclude(kind=Grid.Kind.MICRO), code=grid_code)
    if not may_manage_postings(request.user, grid.code):
        raise Http404
    form = PostingForm(request.POST, grid=grid)
    back = f"{reverse('oncall_postings')}?area={grid.code}"
    if not form.is_valid():
        for field, errors in form.errors.items():
            for error in errors:
                messages.error(
                    request,
                    f"{form.fields[field].label}: {error}" if field in form.fields else error,
                )
        return redirect(back)
    data = form.cleaned_data
    role = data["staff"]
    try:
        A.do_post_staff(
            person=role.person,
            department=role.department,
            grid=grid,
            kind=data["kind"],
            starts_on=data["starts_on"],
            ends_on=data["ends_on"],
            note=data["note"],
            actor=request.user,
        )
    except (ValidationError, ActionRefused) as exc:
        _errors(request, exc)
    else:
        messages.success(request, _("The staff member is posted in the grid."))
    return redirect(back)


@login_required
@require_POST
def posting_end(request, pk):
    posting = get_object_or_404(postings_visible_to(request.user), pk=pk)
    form = EndPostingForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The date was not understood."))
    else:
        try:
            A.do_end_posting(posting, actor=request.user, ends_on=form.cleaned_data["ends_on"])
        except (ValidationError, ActionRefused) as exc:
            _errors(request, exc)
        else:
            messages.success(request, _("The posting is ended."))
    return redirect(f"{reverse('oncall_postings')}?area={posting.grid.code}")


@login_required
def postings_export(request, fmt):
    if fmt not in EXPORT_FORMATS:
        raise Http404
    _area, _all, rows = _postings(request)
    header = [
        _("Grid code"),
        _("Grid"),
        _("Department"),
        _("Staff member"),
        _("Kind"),
        _("From"),
        _("Until"),
        _("Note"),
    ]
    data = (
        [
            p.grid.code,
            p.grid.name,
            p.department.name,
            p.person.name,
            p.get_kind_display(),
            p.starts_on,
            p.ends_on,
            p.note,
        ]
        for p in rows.iterator()
    )
    return export_response("staff-postings", header, data, fmt)


# --------------------------------------------------------------------------- summons (room)


@login_required
@require_POST
def summon(request, code):
    case = access_case(request.user, code)
    back = reverse("case_detail", args=[case.code]) + "#oncall"
    form = SummonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose whom to summon."))
        return redirect(back)
    posting = StaffPosting.objects.filter(pk=form.cleaned_data["posting"]).first()
    if posting is None:
        raise Http404
    try:
        summons = A.do_summon(
            case, posting, actor=request.user, request=form.cleaned_data["request"]
        )
    except (ValidationError, ActionRefused) as exc:
        _errors(request, exc)
    else:
        messages.success(
            request, _("%(name)s is summoned and notified.") % {"name": summons.staff_name}
        )
    return redirect(back)


@login_required
@require_POST
def cancel(request, pk):
    summons = get_object_or_404(Summons, pk=pk)
    case = access_case(request.user, summons.case_id)
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        A.do_cancel_summons(summons, actor=request.user, reason=reason)
    except (ValidationError, ActionRefused) as exc:
        _errors(request, exc)
    else:
        messages.success(request, _("The summons is cancelled."))
    return redirect(reverse("case_detail", args=[case.code]) + "#oncall")


# --------------------------------------------------------------------------- my summons


@login_required
def mine(request):
    rows = summonses_for(request.user).prefetch_related("photos")
    open_rows = [s for s in rows.filter(state__in=workflow.OPEN_STATES).order_by("sent_at")]
    recent = list(rows.exclude(state__in=workflow.OPEN_STATES).order_by("-sent_at")[:30])
    context = {
        "open_rows": open_rows,
        "recent": recent,
        "reason_form": ReasonForm(),
        "finish_form": FinishForm(),
    }
    return render(request, "oncall/mine.html", context)


ANSWERS = {"accept", "decline", "arrive", "finish"}


@login_required
@require_POST
def answer(request, pk, action):
    if action not in ANSWERS:
        raise Http404
    summons = get_object_or_404(summonses_for(request.user), pk=pk)
    try:
        if action == "accept":
            A.do_accept_summons(summons, actor=request.user)
        elif action == "arrive":
            A.do_arrive_summons(summons, actor=request.user)
        elif action == "decline":
            form = ReasonForm(request.POST)
            reason = form.cleaned_data["reason"] if form.is_valid() else ""
            A.do_decline_summons(summons, actor=request.user, reason=reason)
        else:
            form = FinishForm(request.POST, request.FILES)
            if not form.is_valid():
                raise ValidationError([e for errors in form.errors.values() for e in errors])
            A.do_finish_summons(
                summons,
                actor=request.user,
                notes=form.cleaned_data["notes"],
                photos=form.cleaned_data["photos"],
            )
    except (ValidationError, ActionRefused) as exc:
        _errors(request, exc)
    else:
        messages.success(
            request, _("Recorded: %(step)s.") % {"step": workflow.ACTION_LABELS[action]}
        )
    return redirect(reverse("oncall_mine") + f"#s{summons.pk}")


@login_required
def photo(request, pk):
    item = get_object_or_404(SummonsPhoto.objects.select_related("summons"), pk=pk)
    if item.summons.staff_id != request.user.pk:
        access_case(request.user, item.summons.case_id)  # 404 unless the case is visible
    response = FileResponse(item.file.open("rb"), content_type=item.content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response


# --------------------------------------------------------------------------- statistics


@login_required
def stats(request):
    form = StatsForm(request.GET or None)
    start, end, by = form.period()
    rows = summons_statistics(request.user, start=start, end=end, by=by)
    context = {
        "form": form,
        "start": start,
        "end": end,
        "by_label": GROUPINGS[by],
        "columns": [GROUPINGS[by]] + [label for _field, label in STAT_COLUMNS[1:]],
        "rows": [[row[field] for field, _label in STAT_COLUMNS] for row in rows],
        "query": request.GET.urlencode(),
    }
    return render(request, "oncall/stats.html", context)


@login_required
def stats_export(request, fmt):
    if fmt not in EXPORT_FORMATS:
        raise Http404
    start, end, by = StatsForm(request.GET or None).period()
    rows = summons_statistics(request.user, start=start, end=end, by=by)
    header = [str(GROUPINGS[by])] + [str(label) for _f, label in STAT_COLUMNS[1:]]
    data = ([row[field] for field, _label in STAT_COLUMNS] for row in rows)
    return export_response(f"summons-{by}-{start}-{end}", header, data, fmt)


@login_required
def summonses_export(request, fmt):
    """Every summons of the period the user may see, one row each."""
    if fmt not in EXPORT_FORMATS:
        raise Http404
    start, end, _by = StatsForm(request.GET or None).period()
    low, high = period_bounds(start, end)
    rows = (
        summonses_visible_to(request.user)
        .filter(Q(sent_at__gte=low) & Q(sent_at__lt=high))
        .order_by("sent_at", "id")
    )
    header = [
        _("Case"),
        _("Grid"),
        _("Department"),
        _("Staff member"),
        _("State"),
        pgettext("summons", "Sent"),
        pgettext("summons", "Accepted"),
        pgettext("summons", "Declined"),
        pgettext("summons", "Arrived"),
        pgettext("summons", "Done"),
        _("Minutes to accept"),
        _("Minutes to arrive"),
        _("Reason"),
        _("Work record"),
    ]
    data = (
        [
            s.case.code,
            s.grid.name,
            s.department.name,
            s.staff_name,
            str(workflow.STATE_LABELS.get(s.state, s.state)),
            s.sent_at,
            s.accepted_at,
            s.declined_at,
            s.arrived_at,
            s.done_at,
            None if s.accepted_at is None else round(s.minutes_to("accepted_at"), 1),
            None if s.arrived_at is None else round(s.minutes_to("arrived_at"), 1),
            mask_numbers_in_text(s.reason),
            mask_numbers_in_text(s.work_notes),
        ]
        for s in rows.iterator(chunk_size=500)
    )
    return export_response(f"summonses-{start}-{end}", header, data, fmt)
