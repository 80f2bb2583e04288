"""Pages about one person's data: who looked at it, a copy for them, its erasure."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from civicgrid.core.errors import ActionRefused
from civicgrid.core.scoping import can
from civicgrid.people import rights
from civicgrid.people.selectors import access_person, access_person_report, person_data_accesses
from civicgrid.web.exports import EXPORT_FORMATS, XLSX_TYPE, export_response
from civicgrid.web.forms import add_errors

_ACTION_LABELS = {
    "people.person.view_pii": gettext_lazy("Full ID and phone numbers shown"),
    "people.person.export_data": gettext_lazy("Copy of all personal data exported"),
    "mediation.party.view_pii": gettext_lazy("Numbers of a dispute party shown"),
}


def _rows(person):
    for event in person_data_accesses(person).iterator(chunk_size=500):
        after = event.after or {}
        yield {
            "event": event,
            "what": _ACTION_LABELS.get(event.action, event.action),
            "reason": after.get("reason", ""),
            "dispute": after.get("dispute", ""),
            "ip": after.get("ip", ""),
        }


@login_required
def person_access(request, person_id):
    """Who looked at this resident's data unmasked: every reveal and copy, from the trail."""
    person = access_person_report(request.user, person_id)
    page = Paginator(list(_rows(person)), 50).get_page(request.GET.get("page"))
    return render(request, "people/person_access.html", {"person": person, "page": page})


@login_required
def person_access_export(request, person_id, fmt):
    if fmt not in EXPORT_FORMATS:
        raise Http404
    person = access_person_report(request.user, person_id)
    header = [
        _("time"),
        _("user name"),
        _("what"),
        _("reason"),
        _("dispute"),
        _("address"),
        _("request id"),
        _("event"),
    ]
    rows = (
        [
            r["event"].created,
            r["event"].actor_name,
            str(r["what"]),
            r["reason"],
            r["dispute"],
            r["ip"],
            r["event"].request_id,
            r["event"].pk,
        ]
        for r in _rows(person)
    )
    return export_response(f"person-{person.pk}-accesses", header, rows, fmt)


class EraseForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("The request (date, reference, how it was checked)"),
        max_length=200,
    )
    confirm = forms.BooleanField(
        label=gettext_lazy("I understand that the personal data cannot be brought back."),
    )


def _rights_context(request, person, erase_form=None) -> dict:
    may_export = can(request.user, "people.change", region_code=person.region_code) and can(
        request.user, "people.view_pii", region_code=person.region_code
    )
    may_erase = can(request.user, "people.erase", region_code=person.region_code)
    return {
        "person": person,
        "may_export": may_export,
        "may_erase": may_erase,
        "obstacles": rights.erasure_obstacles(person) if may_erase else [],
        "erased": rights.is_erased(person),
        "form": erase_form or EraseForm(),
    }


def _access_rights(user, person_id):
    person = access_person(user, person_id)
    if not (
        can(user, "people.erase", region_code=person.region_code)
        or (
            can(user, "people.change", region_code=person.region_code)
            and can(user, "people.view_pii", region_code=person.region_code)
        )
    ):
        raise Http404
    return person


@login_required
@never_cache
def person_rights(request, person_id):
    """A resident's requests: a copy of their data, erasure."""
    person = _access_rights(request.user, person_id)
    return render(request, "people/person_rights.html", _rights_context(request, person))


@login_required
@never_cache
@require_POST
def person_rights_export(request, person_id, fmt):
    if fmt not in {"json", "xlsx"}:
        raise Http404
    person = _access_rights(request.user, person_id)
    try:
        data = rights.do_export_person_data(person, actor=request.user)
    except ActionRefused as exc:
        return HttpResponse(str(exc), status=403)
    name = f"person-{person.pk}-personal-data"
    if fmt == "json":
        response = HttpResponse(rights.export_json(data), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{name}.json"'
        return response
    return FileResponse(
        rights.export_workbook(data),
        as_attachment=True,
        filename=f"{name}.xlsx",
        content_type=XLSX_TYPE,
    )


@login_required
@never_cache
@require_POST
def person_erase(request, person_id):
    person = access_person(request.user, person_id, "people.erase")  # 404 for anyone else
    form = EraseForm(request.POST)
    if form.is_valid():
        try:
            rights.do_erase_person(person, actor=request.user, reason=form.cleaned_data["reason"])
        except ActionRefused as exc:
            return HttpResponse(str(exc), status=403)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, _("The person's personal data has been erased."))
            return redirect("person_rights", person_id=person.pk)
    person.refresh_from_db()
    context = _rights_context(request, person, erase_form=form)
    return render(request, "people/person_rights.html", context, status=400)
