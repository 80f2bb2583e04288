"""Thin views of the data hub: upload → mapping → dry run → import → result, and the runs."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_POST

from civicgrid.core.errors import ActionRefused
from civicgrid.datahub import actions, workflow
from civicgrid.datahub.fields import fields_of, suggest_mapping
from civicgrid.datahub.forms import ImportForm, MappingForm, UploadForm
from civicgrid.datahub.models import ImportRun, Target
from civicgrid.datahub.selectors import (
    access_run,
    access_source,
    runs_visible_to,
    sources_visible_to,
)
from civicgrid.web.exports import EXPORT_FORMATS, export_response
from civicgrid.web.forms import add_errors

PAGE_SIZE = 30
# What a row does; the context keeps these words apart from "updated" (a time) elsewhere.
ACTION_LABELS = {
    "new": pgettext_lazy("import", "new"),
    "updated": pgettext_lazy("import", "updated"),
    "unchanged": pgettext_lazy("import", "unchanged"),
    "skipped": pgettext_lazy("import", "skipped"),
}


def _importer(request):
    if not actions.may_import(request.user):
        raise PermissionDenied
    return request.user


def _state(run: ImportRun) -> str:
    if workflow.is_interrupted(run, timezone.now()):
        return _("Interrupted: nothing was imported")
    return run.get_state_display()


@login_required
def index(request, form=None):
    user = _importer(request)
    sources = list(sources_visible_to(user))
    page = Paginator(runs_visible_to(user), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form or UploadForm(sources=sources),
        "sources": sources,
        "page": page,
        "runs": [(run, _state(run)) for run in page.object_list],
    }
    return render(request, "datahub/index.html", context)


@login_required
@require_POST
def upload(request):
    user = _importer(request)
    sources = list(sources_visible_to(user))
    form = UploadForm(request.POST, request.FILES, sources=sources)
    if form.is_valid():
        data = form.cleaned_data
        source = access_source(user, data["source"]) if data["source"] else None
        upload = data["file"]
        if upload.size > actions.MAX_FILE_BYTES:
            form.add_error("file", _("The file is larger than 100 MB."))
        else:
            try:
                run = actions.do_upload_file(
                    actor=user,
                    file_name=upload.name,
                    data=upload.read(),
                    source=source,
                    target=data["target"],
                    source_name=data["source_name"],
                )
            except ValidationError as exc:
                add_errors(form, exc)
            except ActionRefused as exc:
                form.add_error(None, str(exc))
            else:
                return redirect("datahub_mapping", pk=run.pk)
    return index(request, form=form)


def _mapping_initial(run: ImportRun) -> dict:
    saved = run.source
    mapping = actions.mapping_of(saved) if saved else run.mapping
    present = set(run.header)
    columns = {f: c for f, c in mapping["columns"].items() if c in present}
    for name, column in suggest_mapping(run.target, run.header).items():
        if name not in columns and column not in columns.values():
            columns[name] = column
    initial = {
        "name": saved.name if saved else run.mapping.get("source_name", ""),
        "on_duplicate": mapping["on_duplicate"],
        "datum": mapping["datum"],
    }
    initial.update({f"col_{name}": column for name, column in columns.items()})
    initial.update({f"def_{name}": value for name, value in mapping["defaults"].items()})
    return initial


@login_required
def mapping(request, pk):
    user = _importer(request)
    run = access_run(user, pk)
    mappable = {ImportRun.State.UPLOADED, ImportRun.State.CHECKED, ImportRun.State.FAILED}
    if run.state not in mappable and not workflow.is_interrupted(run, timezone.now()):
        return redirect("datahub_run", pk=run.pk)
    form = MappingForm(
        request.POST or None,
        target=run.target,
        header=run.header,
        initial=_mapping_initial(run),
    )
    if request.method == "POST" and form.is_valid():
        chosen = form.mapping()
        try:
            run = actions.do_map_run(run, actor=user, **chosen)
            run = actions.start_check(run, actor=user)
        except ValidationError as exc:
            add_errors(form, exc)
        except ActionRefused as exc:
            form.add_error(None, str(exc))
        else:
            if run.file_size <= actions.SYNC_MAX_BYTES:
                actions.perform_check(run, actor=user)
            else:
                actions.run_later(run, actor=user, mode="check")
            return redirect("datahub_run", pk=run.pk)
    context = {
        "run": run,
        "form": form,
        "target_label": Target(run.target).label,
        "saved": run.source is not None,
    }
    return render(request, "datahub/mapping.html", context)


@login_required
def run_detail(request, pk, import_form=None):
    user = _importer(request)
    run = access_run(user, pk)
    now = timezone.now()
    running = run.state in workflow.RUNNING and not workflow.is_interrupted(run, now)
    labels = {spec.name: spec.label for spec in fields_of(run.target)}
    counts = [
        *((key, label, getattr(run, key)) for key, label in ACTION_LABELS.items()),
        ("errors", _("rows with problems"), run.errors),
    ]
    sample = [
        {**row, "label": ACTION_LABELS.get(row["action"], row["action"])} for row in run.sample
    ]
    context = {
        "run": run,
        "state": _state(run),
        "running": running,
        "counts": counts,
        "sample": sample,
        "problems": [
            (p, labels.get(p.field, p.field)) for p in run.problems.order_by("row", "id")[:100]
        ],
        "import_form": import_form or ImportForm(initial={"skip_bad": run.skip_bad}),
        "may_import": run.state == ImportRun.State.CHECKED,
        "may_map": run.state in {ImportRun.State.CHECKED, ImportRun.State.FAILED}
        or workflow.is_interrupted(run, now),
        "may_cancel": run.state
        in {ImportRun.State.UPLOADED, ImportRun.State.CHECKED, ImportRun.State.FAILED}
        or workflow.is_interrupted(run, now),
    }
    return render(request, "datahub/run.html", context)


@login_required
@require_POST
def run_import(request, pk):
    user = _importer(request)
    run = access_run(user, pk)
    form = ImportForm(request.POST)
    if not form.is_valid():
        return run_detail(request, pk, import_form=form)
    try:
        run = actions.start_import(run, actor=user, skip_bad=form.cleaned_data["skip_bad"])
    except (ValidationError, ActionRefused) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        return redirect("datahub_run", pk=run.pk)
    if run.file_size <= actions.SYNC_MAX_BYTES:
        run = actions.perform_import(run, actor=user)
        if run.state == ImportRun.State.IMPORTED:
            messages.success(request, _("Imported."))
        else:
            messages.error(request, run.message)
    else:
        actions.run_later(run, actor=user, mode="import")
    return redirect("datahub_run", pk=run.pk)


@login_required
@require_POST
def run_cancel(request, pk):
    user = _importer(request)
    run = access_run(user, pk)
    try:
        actions.do_cancel_run(run, actor=user)
    except (ValidationError, ActionRefused) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    return redirect("datahub_run", pk=run.pk)


@login_required
def run_progress(request, pk):
    user = _importer(request)
    run = access_run(user, pk)
    now = timezone.now()
    return JsonResponse(
        {
            "state": run.state,
            "label": str(_state(run)),
            "running": run.state in workflow.RUNNING and not workflow.is_interrupted(run, now),
            "done": run.rows_done,
            "total": max(run.rows_total, run.rows_done),
        }
    )


@login_required
def problems_export(request, pk, fmt):
    if fmt not in EXPORT_FORMATS:
        raise Http404
    user = _importer(request)
    run = access_run(user, pk)
    header = [_("row"), _("field"), _("column"), _("value"), _("problem")]
    rows = (
        [p.row, p.field, p.column, p.value, p.message]
        for p in run.problems.order_by("row", "id").iterator()
    )
    return export_response(f"import-{run.pk}-problems", header, rows, fmt)


@login_required
def runs_export(request, fmt):
    if fmt not in EXPORT_FORMATS:
        raise Http404
    user = _importer(request)
    header = [
        _("number"),
        _("uploaded"),
        _("by"),
        _("source"),
        _("imports into"),
        _("file"),
        _("state"),
        _("rows"),
        *ACTION_LABELS.values(),
        _("rows with problems"),
        _("finished"),
    ]
    rows = (
        [
            run.pk,
            run.created,
            run.actor_name,
            run.source.name if run.source else run.mapping.get("source_name", ""),
            run.get_target_display(),
            run.file_name,
            _state(run),
            run.rows_total,
            run.new,
            run.updated,
            run.unchanged,
            run.skipped,
            run.errors,
            run.finished_at,
        ]
        for run in runs_visible_to(user)[:10000]
    )
    return export_response("import-runs", header, rows, fmt)


@login_required
def sources_export(request, fmt):
    if fmt not in EXPORT_FORMATS:
        raise Http404
    user = _importer(request)
    header = [
        _("source"),
        _("imports into"),
        _("column mapping"),
        _("default values"),
        _("a row matching an existing record"),
    ]
    rows = (
        [
            s.name,
            s.get_target_display(),
            "; ".join(f"{k} ← {v}" for k, v in s.columns.items()),
            "; ".join(f"{k} = {v}" for k, v in s.defaults.items()),
            s.get_on_duplicate_display(),
        ]
        for s in sources_visible_to(user)
    )
    return export_response("import-sources", header, rows, fmt)
