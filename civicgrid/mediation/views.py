"""Thin views of the mediation pages: parse input, call a selector or an action, render."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from civicgrid.cases.models import Case
from civicgrid.core.scoping import scope_for
from civicgrid.mediation import workflow
from civicgrid.mediation.actions import do_register_dispute, may_act
from civicgrid.mediation.documents import agreement_docx
from civicgrid.mediation.forms import (
    ACTION_FORMS,
    DisputeFilterForm,
    RegisterForm,
    StatisticsForm,
    form_for,
)
from civicgrid.mediation.models import DISPUTE_CATEGORIES, Agreement
from civicgrid.mediation.rules import LEGAL_CLOCKS, RISK_RULES
from civicgrid.mediation.selectors import (
    STAT_GROUPS,
    access_dispute,
    disputes_visible_to,
    filter_disputes,
    referrals_by_channel,
    statistics,
)
from civicgrid.mediation.workflow import InvalidTransition
from civicgrid.regions.selectors import grids_visible_to
from civicgrid.web.exports import EXPORT_FORMATS, export_response
from civicgrid.web.forms import add_errors

_CATEGORY_LABELS = dict(DISPUTE_CATEGORIES)


def _filtered(request):
    form = DisputeFilterForm(request.GET)
    disputes = disputes_visible_to(request.user)
    if form.is_valid():
        d = form.cleaned_data
        disputes = filter_disputes(
            disputes,
            state=d["state"],
            category=d["category"],
            risk=d["risk"],
            overdue=d["overdue"],
            q=d["q"],
        )
    else:
        disputes = filter_disputes(disputes)
    return form, disputes


def _label_rows(rows):
    for dispute in rows:
        dispute.state_label = workflow.STATE_LABELS.get(dispute.state, dispute.state)
    return rows


@login_required
def dispute_list(request):
    form, disputes = _filtered(request)
    page = Paginator(disputes, 50).get_page(request.GET.get("page"))
    page.object_list = _label_rows(list(page.object_list))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "mediation/dispute_list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "can_register": scope_for(request.user).has("mediation.register"),
            "can_view": scope_for(request.user).has("mediation.view"),
            "has_activities": scope_for(request.user).has("mediation.mediate"),
            "overdue_count": filter_disputes(
                disputes_visible_to(request.user), overdue=True
            ).count(),
        },
    )


@login_required
def dispute_export(request, fmt):
    if fmt not in EXPORT_FORMATS:
        raise Http404
    _form, disputes = _filtered(request)
    header = [
        _("dispute code"),
        _("title"),
        _("category"),
        _("state"),
        _("source"),
        _("risk level"),
        _("region code"),
        _("route"),
        _("organisation"),
        _("registered"),
        _("time limit"),
        _("outcome"),
        _("concluded"),
    ]

    def rows():
        for d in disputes.iterator(chunk_size=1000):
            yield [
                d.code,
                d.title,
                str(_CATEGORY_LABELS.get(d.category, d.category)),
                str(workflow.STATE_LABELS.get(d.state, d.state)),
                d.get_source_display(),
                d.get_risk_level_display(),
                d.region_code,
                d.get_route_display(),
                d.org.name if d.org_id else "",
                d.created,
                d.deadline,
                d.get_outcome_display(),
                d.concluded_at,
            ]

    return export_response("disputes", [str(h) for h in header], rows(), fmt)


def _log_row(request):
    """The visitor or 12348 call entry a registration starts from (``?visit=`` / ``?call=``,
    or the form's hidden ``from_log``), if the user may see it; else 404."""
    from civicgrid.mediation.selectors import calls_visible_to, visitors_visible_to

    ref = request.POST.get("from_log") if request.method == "POST" else None
    if ref is None:
        for kind in ("visit", "call"):
            if request.GET.get(kind):
                ref = f"{kind}-{request.GET[kind]}"
    if not ref:
        return None
    kind, _sep, pk = ref.partition("-")
    rows = {"visit": visitors_visible_to, "call": calls_visible_to}.get(kind)
    if rows is None or not pk.isdigit():
        raise Http404
    row = rows(request.user).filter(pk=int(pk)).first()
    if row is None:
        raise Http404
    row.ref = ref
    return row


def _log_initial(row) -> dict:
    from civicgrid.mediation.actions import log_source
    from civicgrid.mediation.models import VisitorLog

    visit = isinstance(row, VisitorLog)
    text = row.about if visit else row.summary
    return {
        "title": text.strip().splitlines()[0][:100] if text.strip() else "",
        "description": text,
        "source": log_source(row),
        "applicant_name": row.name if visit else row.caller,
    }


@login_required
def dispute_register(request):
    """登记: the reception-hall window registers a dispute from any source, or from a visitor
    or 12348 call entry (prefilled; the entry is linked to the new dispute)."""
    from civicgrid.mediation.actions import do_register_dispute_from_log
    from civicgrid.people import pii
    from civicgrid.regions.models import Region

    if not scope_for(request.user).has("mediation.register"):
        raise PermissionDenied
    row = _log_row(request)
    if row is not None and (row.dispute_id or row.case_id):
        messages.error(
            request, _("This entry was already registered as a dispute or filed as a case.")
        )
        return redirect("mediation_visitors" if row.ref.startswith("visit") else "mediation_calls")
    grids = grids_visible_to(request.user, "mediation.register").order_by("code")
    form = RegisterForm(
        request.POST or None, grids=grids, initial=_log_initial(row) if row is not None else None
    )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        case = None
        if d["case_code"]:
            case = Case.objects.filter(code=d["case_code"].strip()).first()
            if case is None:
                form.add_error("case_code", _("No case has this code."))
        if not form.errors:
            parties = form.parties()
            region = None
            if row is not None:
                # The entry's phone number stays sealed: it is never sent to the page.
                if not parties[0]["phone"] and row.phone_cipher:
                    parties[0]["phone"] = pii.reveal(row.phone_cipher)
                if d["grid"] is None and d["lat"] is None:
                    region = Region.objects.filter(code=row.region_code).first()
            register = dict(
                title=d["title"],
                description=d["description"],
                category=d["category"],
                source=d["source"],
                parties=parties,
                amount=d["amount"],
                people_involved=d["people_involved"],
                scale=d["scale"],
                threats=d["threats"],
                petitions=d["petitions"],
                occurred_on=d["occurred_on"],
                address=d["address"],
                lat=d["lat"],
                lng=d["lng"],
                grid=d["grid"],
                region=region,
                source_case=case,
            )
            try:
                if row is None:
                    dispute = do_register_dispute(actor=request.user, **register)
                else:
                    dispute = do_register_dispute_from_log(row, actor=request.user, **register)
            except ValidationError as exc:
                add_errors(form, exc)
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request, _("Dispute %(code)s registered.") % {"code": dispute.code}
                )
                if dispute.related_open_id:
                    messages.warning(
                        request,
                        _("The same parties have an open dispute: %(code)s.")
                        % {"code": dispute.related_open.code},
                    )
                return redirect("mediation_detail", code=dispute.code)
    return render(
        request,
        "mediation/register.html",
        {"form": form, "log_row": row, "from_log": row.ref if row is not None else ""},
    )


@login_required
@require_POST
def log_to_case(request, kind, pk):
    """File a visitor or 12348 call entry as a grid case, in one step."""
    from civicgrid.mediation.actions import do_file_log_as_case
    from civicgrid.mediation.selectors import calls_visible_to, visitors_visible_to

    rows = {"visit": visitors_visible_to, "call": calls_visible_to}.get(kind)
    if rows is None:
        raise Http404
    row = rows(request.user).filter(pk=pk).first()
    if row is None:
        raise Http404
    back = "mediation_visitors" if kind == "visit" else "mediation_calls"
    try:
        case = do_file_log_as_case(row, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Filed as case %(code)s.") % {"code": case.code})
    return redirect(back)


def _action_forms(user, dispute):
    return [
        {
            "action": action,
            "label": workflow.ACTION_LABELS[action],
            "form": form_for(action, dispute, user),
        }
        for action in workflow.allowed_actions(dispute.state)
        if action in ACTION_FORMS and may_act(user, dispute, action)
    ]


@login_required
def dispute_detail(request, code):
    dispute = access_dispute(request.user, code)
    return _render_detail(request, dispute)


@login_required
@require_POST
def party_reveal(request, code, pk):
    """The full ID and phone numbers of one party, for those with personal-data rights over
    the dispute's place; the look is audited."""
    from civicgrid.core.errors import ActionRefused
    from civicgrid.mediation.actions import do_reveal_party_pii

    dispute = access_dispute(request.user, code)
    party = dispute.parties.filter(pk=pk).first()
    if party is None:
        raise Http404
    try:
        revealed = do_reveal_party_pii(party, actor=request.user, reason="web")
    except ActionRefused as exc:
        return HttpResponse(str(exc), status=403)
    return _render_detail(request, dispute, revealed={party.pk: revealed})


def _render_detail(request, dispute, revealed=None):
    from civicgrid.core.scoping import can

    revealed = revealed or {}
    sees_pii = can(request.user, "people.view_pii", region_code=dispute.region_code)
    parties = list(dispute.parties.all())
    for p in parties:
        p.revealed = revealed.get(p.pk)
        p.can_reveal = sees_pii and not p.revealed and bool(p.id_number_cipher or p.phone_cipher)
    rules = {r.key: r for r in RISK_RULES}
    handoffs = list(dispute.handoffs.all())
    for h in handoffs:
        h.clock = LEGAL_CLOCKS[h.channel][1]
    context = {
        "dispute": dispute,
        "state_label": workflow.STATE_LABELS.get(dispute.state, dispute.state),
        "category_label": _CATEGORY_LABELS.get(dispute.category, dispute.category),
        "parties": parties,
        "risk_rules": [rules[key] for key in dispute.risk_reasons if key in rules],
        "assignments": dispute.assignments.select_related("mediator"),
        "sessions": dispute.sessions.prefetch_related("mediators"),
        "agreement": Agreement.objects.filter(dispute=dispute).first(),
        "confirmation": getattr(dispute, "confirmation", None),
        "performances": dispute.performances.all(),
        "handoffs": handoffs,
        "follow_ups": dispute.follow_ups.all(),
        "timeline": [
            (e, workflow.ACTION_LABELS.get(e.action, e.action)) for e in dispute.events.all()
        ],
        "action_forms": _action_forms(request.user, dispute),
        "related_visible": (
            dispute.related_open_id
            and disputes_visible_to(request.user).filter(pk=dispute.related_open_id).exists()
        ),
        "nominate_url": _nominate_url(request.user, dispute),
    }
    return render(request, "mediation/dispute_detail.html", context)


def _nominate_url(user, dispute) -> str:
    """A proven outcome can be put up for a high-value reward (the incentives app)."""
    from django.urls import reverse

    from civicgrid.incentives.actions import is_proven_dispute, may_nominate_dispute

    if is_proven_dispute(dispute) and may_nominate_dispute(user, dispute):
        return reverse("incentives_nominate") + f"?code={dispute.code}"
    return ""


@login_required
@require_POST
def dispute_act(request, code, action):
    if action not in ACTION_FORMS:
        raise Http404
    dispute = access_dispute(request.user, code)
    form = form_for(action, dispute, request.user, request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            for error in errors:
                messages.error(request, f"{label}: {error}" if label else error)
        return redirect("mediation_detail", code=dispute.code)
    try:
        form.perform()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except (PermissionDenied, InvalidTransition) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, _("Done: %(action)s.") % {"action": workflow.ACTION_LABELS[action]}
        )
    return redirect("mediation_detail", code=dispute.code)


@login_required
def agreement_download(request, code):
    dispute = access_dispute(request.user, code)
    if not Agreement.objects.filter(dispute=dispute).exists():
        raise Http404
    response = HttpResponse(
        agreement_docx(dispute),
        content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )
    response["Content-Disposition"] = f'attachment; filename="agreement-{dispute.code}.docx"'
    return response


# --------------------------------------------------------------------------- statistics


def _stat_columns():
    return [
        ("label", _("name")),
        ("intake", _("intake")),
        ("concluded", _("concluded")),
        ("successful", _("agreements")),
        ("success_rate", _("success rate (%)")),
        ("mean_days", _("mean days to outcome")),
        ("performed", _("agreements performed")),
        ("confirmed", _("judicial confirmations")),
        ("referred", _("handed to legal channels")),
        ("on_time_rate", _("concluded on time (%)")),
        ("satisfaction_rate", _("satisfaction (%)")),
    ]


def _period(request):
    form = StatisticsForm(request.GET or None)
    today = timezone.localdate()
    start, end = today - timedelta(days=365), today
    if form.is_valid():
        start = form.cleaned_data["start"] or start
        end = form.cleaned_data["end"] or end
    zone = timezone.get_current_timezone()
    since = datetime.combine(start, time.min, tzinfo=zone)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
    return form, start, end, since, until


def _require_statistics(user) -> None:
    scope = scope_for(user)
    if not scope.has("mediation.view") and not scope.has("mediation.mediate"):
        raise PermissionDenied


@login_required
def statistics_page(request):
    """F6: intake, success rate, time to outcome, performance, confirmations, referrals."""
    _require_statistics(request.user)
    form, start, end, since, until = _period(request)
    columns = _stat_columns()
    titles = {
        "town": _("Per township"),
        "org": _("Per organisation"),
        "mediator": _("Per mediator"),
        "department": _("Per resident department"),
        "category": _("Per category"),
        "route": _("Per route"),
    }
    tables = [
        {
            "key": group,
            "title": titles[group],
            "columns": [label for _f, label in columns],
            "rows": [
                [row[f] for f, _l in columns]
                for row in statistics(request.user, since, until, group)
            ],
        }
        for group in STAT_GROUPS
    ]
    return render(
        request,
        "mediation/statistics.html",
        {
            "form": form,
            "start": start,
            "end": end,
            "query": request.GET.urlencode(),
            "tables": tables,
            "referrals": referrals_by_channel(request.user, since, until),
        },
    )


@login_required
def statistics_export(request, group, fmt):
    _require_statistics(request.user)  # as the page: refused, not an empty table
    if group not in STAT_GROUPS or fmt not in EXPORT_FORMATS:
        raise Http404
    _form, start, end, since, until = _period(request)
    columns = _stat_columns()
    rows = ([row[f] for f, _l in columns] for row in statistics(request.user, since, until, group))
    return export_response(
        f"mediation-{group}-{start}-{end}", [str(label) for _f, label in columns], rows, fmt
    )


# --------------------------------------------------------------------------- logs and registry


def _my_places(user, permission: str) -> list[str]:
    """The region codes ``user`` keeps logs for (their township or county centre)."""
    return sorted({p for p in scope_for(user).prefixes(permission) if p})


@login_required
def visitor_log(request):
    """来访登记: the reception hall's visitor log."""
    from civicgrid.mediation.actions import do_log_visit
    from civicgrid.mediation.forms import VisitForm
    from civicgrid.mediation.selectors import visitors_visible_to

    places = _my_places(request.user, "mediation.register")
    form = VisitForm(request.POST or None)
    if request.method == "POST":
        if not places:
            raise PermissionDenied
        if form.is_valid():
            d = form.cleaned_data
            dispute = None
            if d["dispute_code"]:
                dispute = disputes_visible_to(request.user).filter(code=d["dispute_code"]).first()
            try:
                do_log_visit(
                    actor=request.user,
                    region_code=places[0],
                    name=d["name"],
                    phone=d["phone"],
                    visitors=d["visitors"],
                    about=d["about"],
                    outcome=d["outcome"],
                    dispute=dispute,
                )
            except ValidationError as exc:
                add_errors(form, exc)
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Visit logged."))
                return redirect("mediation_visitors")
    rows = visitors_visible_to(request.user)
    if request.GET.get("export") in EXPORT_FORMATS:
        header = [
            _("time of visit"),
            _("name"),
            _("phone"),
            _("number of visitors"),
            _("what about"),
            _("visit outcome"),
            _("region code"),
        ]
        data = (
            [
                v.visited_at,
                v.name,
                v.phone_masked,
                v.visitors,
                v.about,
                v.get_outcome_display(),
                v.region_code,
            ]
            for v in rows.iterator(chunk_size=1000)
        )
        return export_response("visitors", [str(h) for h in header], data, request.GET["export"])
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "mediation/visitors.html",
        {"form": form if places else None, "page": page},
    )


_CALL_STEPS = {"transfer", "extend", "reply", "satisfaction", "callback"}


@login_required
def call_log(request):
    """12348: calls answered at once or transferred (1 working day), replied (5, up to 15),
    unsatisfied callers called back (1)."""
    from civicgrid.mediation.actions import do_log_call
    from civicgrid.mediation.forms import CallForm, CallStepForm
    from civicgrid.mediation.selectors import calls_visible_to

    places = _my_places(request.user, "mediation.register")
    form = CallForm(request.POST or None)
    if request.method == "POST":
        if not places:
            raise PermissionDenied
        if form.is_valid():
            d = form.cleaned_data
            try:
                do_log_call(
                    actor=request.user,
                    region_code=places[0],
                    caller=d["caller"],
                    phone=d["phone"],
                    category=d["category"],
                    summary=d["summary"],
                    answer=d["answer"],
                )
            except ValidationError as exc:
                add_errors(form, exc)
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Call logged."))
                return redirect("mediation_calls")
    rows = calls_visible_to(request.user)
    if request.GET.get("export") in EXPORT_FORMATS:
        header = [
            _("received at"),
            _("category"),
            _("caller"),
            _("phone"),
            _("summary"),
            _("answer given"),
            _("transferred to"),
            _("reply due"),
            _("replied at"),
            _("satisfaction"),
            _("called back at"),
        ]
        data = (
            [
                c.received_at,
                c.get_category_display(),
                c.caller,
                c.phone_masked,
                c.summary,
                c.answer,
                c.transferred_to,
                c.reply_due,
                c.replied_at,
                c.get_satisfaction_display(),
                c.callback_at,
            ]
            for c in rows.iterator(chunk_size=1000)
        )
        return export_response("calls-12348", [str(h) for h in header], data, request.GET["export"])
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "mediation/calls.html",
        {"form": form if places else None, "page": page, "step_form": CallStepForm()},
    )


@login_required
@require_POST
def call_step(request, pk, step):
    from civicgrid.mediation import actions as A
    from civicgrid.mediation.forms import CallStepForm
    from civicgrid.mediation.selectors import calls_visible_to

    if step not in _CALL_STEPS:
        raise Http404
    call = calls_visible_to(request.user).filter(pk=pk).first()
    if call is None:
        raise Http404
    form = CallStepForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The form was not understood."))
        return redirect("mediation_calls")
    d = form.cleaned_data
    try:
        if step == "transfer":
            A.do_transfer_call(call, actor=request.user, to=d["text"])
        elif step == "extend":
            A.do_extend_call_reply(call, actor=request.user, days=d["days"] or 0, reason=d["text"])
        elif step == "reply":
            A.do_reply_call(call, actor=request.user, reply=d["text"])
        elif step == "satisfaction":
            A.do_record_call_satisfaction(call, actor=request.user, satisfaction=d["satisfaction"])
        else:
            A.do_callback_call(call, actor=request.user, note=d["text"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Saved."))
    return redirect("mediation_calls")


@login_required
def registry(request):
    """调解组织和调解员: kinds, areas, specialities, load (open disputes) and record."""
    from django.db.models import Count, Q

    from civicgrid.mediation.models import Activity, Mediator
    from civicgrid.mediation.selectors import orgs_configurable_by, orgs_visible_to

    if not scope_for(request.user).has("mediation.view"):
        raise PermissionDenied
    open_states = list(workflow.OPEN_STATES)
    orgs = orgs_visible_to(request.user).annotate(
        load=Count("disputes", filter=Q(disputes__state__in=open_states), distinct=True),
        handled=Count("disputes", filter=~Q(disputes__outcome=""), distinct=True),
        agreed=Count("disputes", filter=Q(disputes__outcome="agreement"), distinct=True),
        staff=Count("mediators", distinct=True),
    )
    mediators = (
        Mediator.objects.filter(org__in=orgs.values("pk"))
        .select_related("org")
        .annotate(
            load=Count(
                "assignments",
                filter=Q(assignments__active=True, assignments__dispute__state__in=open_states),
                distinct=True,
            ),
            record=Count(
                "assignments", filter=Q(assignments__dispute__outcome="agreement"), distinct=True
            ),
            activities_count=Count("activities", distinct=True),
        )
    )
    activity_counts = (
        Activity.objects.filter(org__in=orgs.values("pk"))
        .values("kind")
        .annotate(n=Count("id"), people=models_sum("people_reached"))
        .order_by("kind")
    )
    kinds = dict(Activity.Kind.choices)
    if request.GET.get("export") in EXPORT_FORMATS:
        header = [
            _("code"),
            _("name"),
            _("kind"),
            _("area served"),
            _("dispute categories"),
            _("capacity (open disputes)"),
            _("open disputes"),
            _("concluded"),
            _("agreements"),
            _("mediators"),
        ]
        data = (
            [
                o.code,
                o.name,
                o.get_kind_display(),
                o.region_code,
                " ".join(o.specialities),
                o.capacity,
                o.load,
                o.handled,
                o.agreed,
                o.staff,
            ]
            for o in orgs
        )
        return export_response(
            "mediation-orgs", [str(h) for h in header], data, request.GET["export"]
        )
    return render(
        request,
        "mediation/registry.html",
        {
            "can_configure": scope_for(request.user).has("mediation.configure"),
            "configurable": set(orgs_configurable_by(request.user).values_list("pk", flat=True)),
            "orgs": orgs[:500],
            "mediators": mediators[:500],
            "activities": [
                {"label": kinds.get(a["kind"], a["kind"]), "n": a["n"], "people": a["people"]}
                for a in activity_counts
            ],
        },
    )


def models_sum(field: str):
    from django.db.models import Sum

    return Sum(field)


# --------------------------------------------------------------------------- activities


@login_required
def activity_log(request):
    """Work that is not a dispute (help to people under community correction, publicity …):
    log one, list and export them; counted per kind on the registry page."""
    from civicgrid.mediation.actions import do_log_activity
    from civicgrid.mediation.forms import ActivityForm
    from civicgrid.mediation.models import Mediator
    from civicgrid.mediation.selectors import activities_visible_to, orgs_for_activities

    orgs = orgs_for_activities(request.user)
    own = Mediator.objects.filter(user=request.user, active=True).first()
    if scope_for(request.user).has("mediation.register"):
        mediators = Mediator.objects.filter(org__in=orgs.values("pk"), active=True)
    else:
        mediators = Mediator.objects.filter(user=request.user, active=True)
    can_log = orgs.exists()
    form = ActivityForm(
        request.POST or None,
        orgs=orgs,
        mediators=mediators,
        initial={"org": own.org_id, "mediator": own.pk} if own else None,
    )
    if request.method == "POST":
        if not can_log:
            raise PermissionDenied
        if form.is_valid():
            d = form.cleaned_data
            try:
                do_log_activity(
                    actor=request.user,
                    org=d["org"],
                    mediator=d["mediator"],
                    kind=d["kind"],
                    day=d["day"],
                    people_reached=d["people_reached"],
                    note=d["note"],
                )
            except ValidationError as exc:
                add_errors(form, exc)
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Activity logged."))
                return redirect("mediation_activities")
    rows = activities_visible_to(request.user)
    if request.GET.get("export") in EXPORT_FORMATS:
        header = [
            _("day"),
            _("kind"),
            _("organisation"),
            _("mediator"),
            _("people helped"),
            _("note"),
            _("region code"),
        ]
        data = (
            [
                a.day,
                a.get_kind_display(),
                a.org.name,
                a.mediator.name if a.mediator_id else "",
                a.people_reached,
                a.note,
                a.region_code,
            ]
            for a in rows.iterator(chunk_size=1000)
        )
        return export_response(
            "mediation-activities", [str(h) for h in header], data, request.GET["export"]
        )
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(
        request, "mediation/activities.html", {"form": form if can_log else None, "page": page}
    )


# --------------------------------------------------------------------------- registry forms


def _require_configure_somewhere(user):
    if not scope_for(user).has("mediation.configure"):
        raise PermissionDenied


@login_required
def org_edit(request, pk=None):
    """Add or change a mediation organisation (county configure permission)."""
    from civicgrid.mediation.actions import do_save_org
    from civicgrid.mediation.forms import OrgForm
    from civicgrid.mediation.selectors import orgs_configurable_by

    _require_configure_somewhere(request.user)
    org = None
    if pk is not None:
        org = orgs_configurable_by(request.user).filter(pk=pk).first()
        if org is None:
            raise Http404
    initial = None
    if org is not None:
        initial = {
            f: getattr(org, f)
            for f in ("code", "name", "kind", "region_code", "specialities", "capacity", "active")
        }
    form = OrgForm(request.POST or None, initial=initial, editing=org is not None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            do_save_org(
                actor=request.user,
                code=org.code if org else d["code"],
                name=d["name"],
                kind=d["kind"],
                region_code=d["region_code"].strip(),
                specialities=d["specialities"],
                capacity=d["capacity"],
                active=d["active"],
            )
        except ValidationError as exc:
            add_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Saved."))
            return redirect("mediation_registry")
    title = _("Change the organisation") if org else _("Add a mediation organisation")
    return render(request, "mediation/registry_form.html", {"form": form, "title": title})


@login_required
def mediator_edit(request, pk=None):
    """Add or change a mediator (county configure permission)."""
    from civicgrid.mediation.actions import do_save_mediator
    from civicgrid.mediation.forms import MediatorForm
    from civicgrid.mediation.models import Mediator
    from civicgrid.mediation.selectors import orgs_configurable_by

    _require_configure_somewhere(request.user)
    orgs = orgs_configurable_by(request.user)
    mediator = None
    if pk is not None:
        mediator = Mediator.objects.filter(pk=pk, org__in=orgs.values("pk")).first()
        if mediator is None:
            raise Http404
    initial = None
    if mediator is not None:
        initial = {
            "org": mediator.org_id,
            "name": mediator.name,
            "kind": mediator.kind,
            "region_code": mediator.region_code,
            "specialities": mediator.specialities,
            "username": mediator.user.get_username() if mediator.user_id else "",
            "active": mediator.active,
        }
    form = MediatorForm(request.POST or None, orgs=orgs.order_by("code"), initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            do_save_mediator(
                actor=request.user,
                org=d["org"],
                name=d["name"],
                kind=d["kind"],
                region_code=d["region_code"].strip(),
                specialities=d["specialities"],
                user=d["username"],
                active=d["active"],
                mediator=mediator,
            )
        except ValidationError as exc:
            add_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Saved."))
            return redirect("mediation_registry")
    title = _("Change the mediator") if mediator else _("Add a mediator")
    return render(request, "mediation/registry_form.html", {"form": form, "title": title})
