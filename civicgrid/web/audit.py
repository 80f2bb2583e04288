"""The audit trail for auditors: search, read one event, export, and the chain's last check."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from civicgrid.core.scoping import scope_for
from civicgrid.core.selectors import (
    audit_areas,
    audit_events_visible_to,
    filter_audit_events,
    latest_audit_check,
)
from civicgrid.people.pii import mask_numbers_in_text
from civicgrid.web.exports import EXPORT_FORMATS, export_response
from civicgrid.web.templatetags.civic import masked_name

EXPORT_LIMIT = 100_000
# Values kept sealed in snapshots: shown as a mark, never as cipher text or digests.
_SEALED_SUFFIXES = ("_cipher", "_hash", "_digest")


class AuditFilterForm(forms.Form):
    q = forms.CharField(
        label=gettext_lazy("Words, event or object id"), max_length=64, required=False
    )
    area = forms.ChoiceField(label=gettext_lazy("area"), required=False)
    actor = forms.CharField(label=gettext_lazy("user name"), max_length=150, required=False)
    region = forms.RegexField(
        label=gettext_lazy("region code"), regex=r"^\d{0,18}$", max_length=18, required=False
    )
    start = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].choices = [("", gettext_lazy("All areas"))] + [
            (a, _area_label(a)) for a in audit_areas()
        ]


def _area_label(label: str) -> str:
    """An app's own name (translated), e.g. cases → 事件办理."""
    from django.apps import apps

    try:
        return apps.get_app_config(label).verbose_name
    except LookupError:
        return label


def _require_auditor(user) -> None:
    if not scope_for(user).has("audit.view"):
        raise Http404  # as for any object outside one's scope: nothing to see here


def _events(request):
    form = AuditFilterForm(request.GET or None)
    events = audit_events_visible_to(request.user)
    if form.is_bound and form.is_valid():
        events = filter_audit_events(events, **form.cleaned_data)
    else:
        events = events.order_by("-id")
    return form, events


def _shown_repr(event) -> str:
    if event.target_type == "people.person":
        return masked_name(event.target_repr)
    return mask_numbers_in_text(event.target_repr)


def _shown_values(values):
    """Before/after as rows of (field, value) with sealed values and numbers masked."""
    if not isinstance(values, dict):
        return [("", mask_numbers_in_text(str(values)))] if values not in (None, "") else []
    rows = []
    for key in sorted(values):
        value = values[key]
        if key.endswith(_SEALED_SUFFIXES):
            value = _("(sealed)") if value else ""
        elif key in {"name", "full_name"} and isinstance(value, str):
            value = masked_name(value)
        else:
            value = mask_numbers_in_text(str(value))
        rows.append((key, value))
    return rows


@login_required
def audit_list(request):
    _require_auditor(request.user)
    form, events = _events(request)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    for event in page.object_list:
        event.shown_repr = _shown_repr(event)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "web/audit_list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "check": latest_audit_check(),
        },
    )


@login_required
def audit_detail(request, pk):
    _require_auditor(request.user)
    event = get_object_or_404(audit_events_visible_to(request.user), pk=pk)
    event.shown_repr = _shown_repr(event)
    return render(
        request,
        "web/audit_detail.html",
        {
            "event": event,
            "before": _shown_values(event.before),
            "after": _shown_values(event.after),
        },
    )


@login_required
def audit_export(request, fmt):
    if fmt not in EXPORT_FORMATS:
        raise Http404
    _require_auditor(request.user)
    _form, events = _events(request)
    header = [
        _("event"),
        _("time"),
        _("user name"),
        _("action"),
        _("object type"),
        _("object id"),
        _("object"),
        _("region code"),
        _("request id"),
        _("hash"),
    ]

    def rows():
        for event in events[:EXPORT_LIMIT].iterator(chunk_size=2000):
            yield [
                event.pk,
                event.created,
                event.actor_name,
                event.action,
                event.target_type,
                event.target_id,
                _shown_repr(event),
                event.scope_code,
                event.request_id,
                event.hash,
            ]

    return export_response("audit-trail", header, rows(), fmt)
