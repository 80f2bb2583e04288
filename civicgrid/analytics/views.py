"""Thin views of the reports under ``/reports/``: the list, a report (tables and charts), its
downloads (.docx, .xlsx, each table as CSV/.xlsx) and the analyst's forms. Reads through
``selectors``, writes through ``actions``; a report outside the user's scope is a 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from civicgrid.cases.selectors import cases_visible_to
from civicgrid.core.errors import ActionRefused
from civicgrid.core.scoping import scope_for
from civicgrid.regions.models import Region
from civicgrid.web.exports import EXPORT_FORMATS, export_response

from . import actions as A
from . import charts as C
from . import selectors as S
from .documents import generator_label, report_docx, report_tables, report_title, report_xlsx
from .forms import CloseFollowUpForm, FollowUpForm, NotesForm, ReportFilterForm, ThemeForm
from .models import FollowUp, Report

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _require_view(user):
    if not scope_for(user).has("analytics.view"):
        raise PermissionDenied


def _message(exc) -> str:
    return " ".join(getattr(exc, "messages", None) or [str(exc)])


def _filtered(request):
    visible = S.reports_visible_to(request.user)
    codes = visible.values_list("region_code", flat=True).distinct()
    regions = list(
        Region.objects.filter(code__in=codes).order_by("level", "code").values_list("code", "name")
    )
    form = ReportFilterForm(request.GET or None, regions=regions)
    reports = visible
    if form.is_valid():
        if form.cleaned_data["kind"]:
            reports = reports.filter(kind=form.cleaned_data["kind"])
        if form.cleaned_data["region"]:
            reports = reports.filter(region_code=form.cleaned_data["region"])
        if form.cleaned_data["month"]:
            year, month = form.cleaned_data["month"]
            reports = reports.filter(period_start__year=year, period_start__month=month)
    return form, reports.order_by("-period_start", "kind", "region_code")


@login_required
def report_list(request):
    _require_view(request.user)
    form, reports = _filtered(request)
    page = Paginator(
        reports.only(
            "id", "kind", "period_start", "period_end", "region_name", "generated_at", "revision"
        ),
        50,
    ).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "analytics/report_list.html",
        {"form": form, "page": page, "query": query.urlencode()},
    )


@login_required
def report_list_export(request, fmt):
    _require_view(request.user)
    if fmt not in EXPORT_FORMATS:
        raise Http404
    _form, reports = _filtered(request)
    rows = (
        [
            r.get_kind_display(),
            r.region_name,
            r.period_start,
            r.period_end,
            r.generated_at,
            r.revision,
        ]
        for r in reports.iterator()
    )
    header = [_("kind"), _("area"), _("from"), _("to"), _("generated"), _("revision")]
    return export_response("reports", header, rows, fmt, sheet=_("Reports"))


def _report(request, pk) -> Report:
    _require_view(request.user)
    report = S.report_for(request.user, pk)
    if report is None:
        raise Http404
    return report


@login_required
def report_detail(request, pk):
    report = _report(request, pk)
    analyse = S.may_analyse(request.user, report)
    tables = report_tables(report)
    context = {
        "report": report,
        "title": report_title(report),
        "generator": generator_label(report),
        "tables": tables,
        "charts": C.report_charts(report),
        "content": report.content,
        "may_analyse": analyse,
        "entries": report.entries.order_by("-created", "-id")[:50],
        "follow_ups": S.follow_ups_of(report) if report.kind == Report.Kind.WEEKLY else [],
    }
    if analyse:
        context["notes_form"] = NotesForm(initial={"notes": report.notes})
        if report.kind == Report.Kind.MONTHLY:
            context["theme_form"] = ThemeForm(initial={"theme": report.theme_category_id})
        if report.kind == Report.Kind.WEEKLY:
            context["follow_up_form"] = FollowUpForm()
            context["close_form"] = CloseFollowUpForm()
    return render(request, "analytics/report_detail.html", context)


def _filename(report, ext):
    return f"report-{report.kind}-{report.region_code}-{report.period_start.isoformat()}.{ext}"


@login_required
def report_download(request, pk, fmt):
    report = _report(request, pk)
    if fmt == "docx":
        body, content_type = report_docx(report), DOCX_TYPE
    elif fmt == "xlsx":
        body, content_type = report_xlsx(report), XLSX_TYPE
    else:
        raise Http404
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{_filename(report, fmt)}"'
    return response


@login_required
def table_export(request, pk, key, fmt):
    report = _report(request, pk)
    if fmt not in EXPORT_FORMATS:
        raise Http404
    for table in report_tables(report):
        if table.key == key:
            name = f"report-{report.kind}-{report.region_code}-{report.period_start}-{key}"
            return export_response(name, table.header, table.rows, fmt, sheet=table.title)
    raise Http404


def _back(report):
    return redirect("analytics_report", report.pk)


def _apply(request, report, form, action):
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return _back(report)
    try:
        action(form.cleaned_data)
    except ActionRefused as exc:
        raise PermissionDenied(str(exc)) from exc
    except ValidationError as exc:
        messages.error(request, _message(exc))
    else:
        messages.success(request, _("Saved."))
    return _back(report)


def _analysed(request, pk) -> Report:
    report = _report(request, pk)
    if not S.may_analyse(request.user, report):
        raise PermissionDenied
    return report


@login_required
@require_POST
def set_theme(request, pk):
    report = _analysed(request, pk)
    return _apply(
        request,
        report,
        ThemeForm(request.POST),
        lambda d: A.do_set_theme(report, d["theme"], actor=request.user),
    )


@login_required
@require_POST
def write_notes(request, pk):
    report = _analysed(request, pk)
    return _apply(
        request,
        report,
        NotesForm(request.POST),
        lambda d: A.do_write_notes(report, d["notes"], actor=request.user),
    )


@login_required
@require_POST
def mark_follow_up(request, pk):
    report = _analysed(request, pk)

    def act(data):
        case = None
        if data["case"]:
            case = cases_visible_to(request.user).filter(code=data["case"].strip()).first()
            if case is None:
                raise ValidationError({"case": _("No such case in your area.")})
        A.do_mark_follow_up(report, case=case, topic=data["topic"], actor=request.user)

    return _apply(request, report, FollowUpForm(request.POST), act)


@login_required
@require_POST
def close_follow_up(request, pk, item):
    report = _analysed(request, pk)
    follow_up = get_object_or_404(FollowUp, pk=item, report=report)
    return _apply(
        request,
        report,
        CloseFollowUpForm(request.POST),
        lambda d: A.do_close_follow_up(follow_up, outcome=d["outcome"], actor=request.user),
    )


@login_required
@require_POST
def regenerate(request, pk):
    report = _analysed(request, pk)
    region = get_object_or_404(Region, code=report.region_code)
    try:
        A.do_generate_report(
            kind=report.kind,
            day=report.period_start,
            region=region,
            actor=request.user,
            regenerate=True,
        )
    except ActionRefused as exc:
        raise PermissionDenied(str(exc)) from exc
    except ValidationError as exc:
        messages.error(request, _message(exc))
    else:
        messages.success(request, _("The report was computed again."))
    return _back(report)


@login_required
def latest(request, kind):
    """The newest report of ``kind`` the user may see (a bookmarkable address)."""
    if kind not in Report.Kind.values:
        raise Http404
    _require_view(request.user)
    report = (
        S.reports_visible_to(request.user)
        .filter(kind=kind)
        .order_by("-period_start", "region_code")
        .first()
    )
    if report is None:
        raise Http404
    return redirect("analytics_report", report.pk)


__all__ = [
    "close_follow_up",
    "latest",
    "mark_follow_up",
    "regenerate",
    "report_detail",
    "report_download",
    "report_list",
    "report_list_export",
    "set_theme",
    "table_export",
    "write_notes",
]
