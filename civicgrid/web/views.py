"""Thin views: parse input, call a selector or action, render."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count, Q
from django.http import (
    FileResponse,
    Http404,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_GET, require_POST

from civicgrid.cases.models import Case, Level
from civicgrid.cases.selectors import (
    QUEUES,
    access_case,
    deadline_status,
    filter_cases,
    possible_actions,
    queue,
    timeline,
)
from civicgrid.cases.workflow import ACTION_LABELS, STATE_LABELS, InvalidTransition
from civicgrid.core.errors import ActionRefused
from civicgrid.core.roles import Role
from civicgrid.core.scoping import can, scope_for
from civicgrid.people.actions import do_reveal_person_pii
from civicgrid.people.pii import mask_numbers_in_text
from civicgrid.people.selectors import access_person, people_visible_to
from civicgrid.regions.selectors import grids_visible_to, regions_visible_to
from civicgrid.web.case_actions import ACTION_FORMS, form_for, perform
from civicgrid.web.exports import EXPORT_FORMATS, export_response
from civicgrid.web.forms import (
    CaseFilterForm,
    GridFilterForm,
    JointOperationForm,
    JointResultForm,
    PeriodForm,
    ReportForm,
    ResidentReportForm,
    TrackForm,
    add_errors,
)
from civicgrid.web.pagination import capped_page
from civicgrid.web.workbench import benches_for, current_bench


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


@login_required
def inbox(request):
    """The in-app notifications of this person, their departments and their units."""
    from civicgrid.cases.selectors import inbox_for

    page = Paginator(inbox_for(request.user), 50).get_page(request.GET.get("page"))
    unread = sum(1 for n in page.object_list if n.recipient_id == request.user.pk and not n.read_at)
    return render(request, "web/inbox.html", {"page": page, "unread": unread})


@login_required
def inbox_export(request, fmt):
    from civicgrid.cases.selectors import inbox_for

    if fmt not in EXPORT_FORMATS:
        raise Http404
    header = [_("time"), _("message"), _("case code")]
    rows = (
        [n.created, n.subject, n.case.code if n.case_id else ""]
        for n in inbox_for(request.user)[:10_000].iterator(chunk_size=1000)
    )
    return export_response("inbox", header, rows, fmt)


@login_required
@require_POST
def inbox_read(request):
    from civicgrid.cases.actions import do_mark_inbox_read

    do_mark_inbox_read(request.user)
    return redirect("inbox")


@login_required
@require_POST
def log_out_everywhere(request):
    """End this person's other sessions (their phone, another computer); this one stays."""
    from civicgrid.core.auth import do_log_out_everywhere

    ended = do_log_out_everywhere(request.user, keep_session_key=request.session.session_key)
    messages.success(
        request,
        ngettext("%(n)d other session was ended.", "%(n)d other sessions were ended.", ended)
        % {"n": ended},
    )
    return redirect("profile")


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


@login_required
def grid_export(request, fmt="csv"):
    if fmt not in EXPORT_FORMATS:
        raise Http404
    grids, _form = _filtered_grids(request)
    header = [_("grid code"), _("name"), _("kind"), _("purpose"), _("village / community")]
    rows = (
        [
            g.code,
            g.name,
            g.get_kind_display(),
            g.get_purpose_display() if g.purpose else "",
            g.village.name,
        ]
        for g in grids.iterator(chunk_size=1000)
    )
    return export_response("grids", [str(h) for h in header], rows, fmt)


@login_required
def person_detail(request, person_id):
    person = access_person(request.user, person_id)
    return render(request, "web/person_detail.html", _person_context(request, person, None))


def _person_context(request, person, revealed) -> dict:
    """Sensitive key groups (community correction …) only for roles that see personal data."""
    groups = person.key_groups.all()
    if not can(request.user, "people.view_pii", region_code=person.region_code):
        groups = groups.filter(sensitive=False)
    from civicgrid.inspection.actions import may_record_visit

    return {
        "person": person,
        "revealed": revealed,
        "key_groups": groups,
        "may_visit": may_record_visit(request.user, person),
    }


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
        "time_left": _time_left_text(case),
        "sees_pii": can(request.user, "people.view_pii", region_code=case.region_code),
        "timeline": timeline(case),
        "reporters": case.reporters.all(),
        "assignments": case.assignments.select_related("department").order_by("-active", "id"),
        "supervisions": case.supervisions.order_by("issued_at"),
        "instructions": case.instructions.order_by("created"),
        "action_labels": ACTION_LABELS,
        "action_forms": _action_forms(request.user, case),
        "map_tiles": settings.MAP_TILE_URL,
        "map_attribution": settings.MAP_TILE_ATTRIBUTION,
        "more": _case_links(request.user, case),
    }
    return render(request, "web/case_detail.html", context)


def _case_links(user, case) -> list[tuple[str, str]]:
    """Work on the case done elsewhere: a reward nomination, a member's points."""
    links = []
    if case.state in {"closed", "archived"} and can(
        user, "cases.handle", region_code=case.region_code
    ):
        links.append(
            (
                _("Nominate for a high-value reward"),
                reverse("incentives_nominate") + f"?code={case.code}",
            )
        )
    if case.channel == Case.Channel.CO_GOVERNANCE and can(
        user, "cases.supervise", region_code=case.region_code
    ):
        links.append(
            (_("Points of this report"), reverse("cogovernance_invalidate", args=[case.code]))
        )
    return links


def _time_left_text(case) -> str:
    """The countdown in working time: "2 working days 3.5 h left" or "overdue by …"."""
    from civicgrid.cases.selectors import time_left
    from civicgrid.core.calendar import default_calendar

    hours = time_left(case)
    if hours is None:
        return ""
    per_day = default_calendar().hours_per_day
    days, rest = divmod(abs(hours), per_day)
    span = _("%(days)d working days %(hours).1f h") % {"days": days, "hours": rest}
    if days == 0:
        span = _("%(hours).1f working hours") % {"hours": rest}
    if hours >= 0:
        return _("%(span)s left") % {"span": span}
    return _("overdue by %(span)s") % {"span": span}


def _action_forms(user, case):
    """A form for each action the person may take now (one evaluation form for its outcomes)."""
    forms, seen = [], set()
    for action in possible_actions(user, case):
        form_class = ACTION_FORMS.get(action)
        if form_class is None or form_class in seen:
            continue
        seen.add(form_class)
        forms.append(
            {
                "action": action,
                "label": ACTION_LABELS.get(action, action),
                "form": form_for(action, case, user),
            }
        )
    return forms


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


# --------------------------------------------------------------------------- workbenches


def _field_work(user, bench) -> list[dict]:
    """Counts of the work outside the case lists: visits due, campaign targets, summonses."""
    from datetime import timedelta

    from django.utils import timezone

    from civicgrid.campaigns.selectors import my_targets
    from civicgrid.inspection.selectors import due_visits_visible_to
    from civicgrid.oncall import workflow as oncall_workflow
    from civicgrid.oncall.selectors import summonses_for

    tiles = []
    if bench.key == "grid":
        today = timezone.localdate()
        week_end = today + timedelta(days=6 - today.weekday())
        due = due_visits_visible_to(user).filter(
            state="due", period_start__lte=today, due_date__lte=week_end
        )
        tiles.append(
            {
                "label": _("Visits due this week"),
                "count": due.count(),
                "url": reverse("visit_due_list") + "?when=week",
            }
        )
        tiles.append(
            {
                "label": _("Campaign targets to check"),
                "count": my_targets(user).filter(state="pending").count(),
                "url": reverse("campaign_my_targets"),
            }
        )
    if bench.key == "department":
        tiles.append(
            {
                "label": _("Open summonses"),
                "count": summonses_for(user).filter(state__in=oncall_workflow.OPEN_STATES).count(),
                "url": reverse("oncall_mine"),
            }
        )
    return tiles


BADGE_LIMIT = 999


def _badge(rows) -> int | str:
    """A workbench count, up to "999+": counting stops there (a county's "all cases" is a
    year's worth, and the number only says "many")."""
    n = rows.order_by()[: BADGE_LIMIT + 1].count()
    return f"{BADGE_LIMIT}+" if n > BADGE_LIMIT else n


@login_required
def workbench(request, key=None):
    """The person's workbench: the counts of their lists and their tasks."""
    benches = benches_for(request.user)
    if key is not None:
        bench = next((b for b in benches if b.key == key), None)
        if bench is None:
            raise Http404
        request.session["bench"] = bench.key
    else:
        bench = current_bench(request)
    if bench is None:
        return home(request)
    counts = [
        {"key": name, "label": QUEUES[name], "count": _badge(queue(request.user, name))}
        for name in bench.queues
    ]
    first = bench.queues[0]
    tasks = filter_cases(queue(request.user, first))[:20]
    context = {
        "bench": bench,
        "benches": benches,
        "counts": counts,
        "field_work": _field_work(request.user, bench),
        "first": first,
        "first_label": QUEUES[first],
        "cases": _case_rows(tasks),
        "grid_codes": [g.prefix for g in scope_for(request.user).grants if len(g.prefix) == 15]
        if bench.key == "grid"
        else [],
        "map_tiles": settings.MAP_TILE_URL,
        "map_attribution": settings.MAP_TILE_ATTRIBUTION,
    }
    return render(request, "web/workbench.html", context)


def _case_rows(cases):
    rows = list(cases)
    for case in rows:
        case.state_label = STATE_LABELS.get(case.state, case.state)
        case.deadline_flag = deadline_status(case)
    return rows


def _list_cases(request):
    form = CaseFilterForm(request.GET)
    name = request.GET.get("queue") or "all"
    if name not in QUEUES:
        name = "all"
    cases = queue(request.user, name)
    if form.is_valid():
        data = form.cleaned_data
        cases = filter_cases(
            cases,
            state=[data["state"]] if data["state"] else (),
            category=data["category"] or None,
            region=data["region"] or None,
            overdue=True if data["overdue"] else None,
            q=data["q"] or None,
            ordering=data["ordering"] or "-created",
        )
    else:
        cases = filter_cases(cases)
    return name, form, cases


@login_required
def case_list(request):
    name, form, cases = _list_cases(request)
    # A year of a county's cases is not counted for the page numbers: "1,000+" (the exports
    # are complete).
    page = capped_page(cases, request.GET.get("page"))
    page.object_list = _case_rows(page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "form": form,
        "queue": name,
        "queue_label": QUEUES[name],
        "queues": QUEUES,
        "query": query.urlencode(),
        "bulk": {"intake": "accept", "dispatch": "dispatch_suggested"}.get(name),
        "next": request.get_full_path(),
    }
    if request.headers.get("HX-Request"):
        return render(request, "web/_case_table.html", context)
    return render(request, "web/case_list.html", context)


@login_required
def case_export(request, fmt):
    if fmt not in EXPORT_FORMATS:
        raise Http404
    name, _form, cases = _list_cases(request)
    header = [
        _("case code"),
        _("state"),
        _("category"),
        _("description"),
        _("region code"),
        _("grid"),
        _("owning level"),
        _("owning unit"),
        _("channel"),
        _("reported"),
        _("resolution deadline"),
        _("closed"),
        _("supervision"),
        _("escalation count"),
    ]
    levels, channels = dict(Level.choices), dict(Case.Channel.choices)
    supervision = dict(Case.Supervised.choices)

    def rows():
        for case in cases.iterator(chunk_size=1000):
            yield [
                case.code,
                STATE_LABELS.get(case.state, case.state),
                str(case.category) if case.category_id else "",
                mask_numbers_in_text(case.description),
                case.region_code,
                case.grid.code if case.grid_id else "",
                levels.get(case.level, case.level),
                case.unit_code,
                channels.get(case.channel, case.channel),
                case.created,
                case.resolve_deadline,
                case.closed_at,
                supervision.get(case.supervised, case.supervised),
                case.escalation_count,
            ]

    return export_response(f"cases-{name}", [str(h) for h in header], rows(), fmt)


@login_required
@require_POST
def case_act(request, code, action):
    """Take one action on a case from its page; refusals come back as messages."""
    case = access_case(request.user, code)
    if action not in ACTION_FORMS or action not in possible_actions(request.user, case):
        messages.error(request, _("This action is not possible for you on this case now."))
        return redirect("case_detail", code=case.code)
    form = form_for(action, case, request.user, request.POST, request.FILES)
    if form.is_valid():
        try:
            perform(form)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        except (ActionRefused, InvalidTransition) as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                _("Done: %(action)s.") % {"action": ACTION_LABELS.get(action, action)},
            )
            return redirect("case_detail", code=case.code)
    else:
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            for error in errors:
                messages.error(request, f"{label}: {error}" if label else error)
    return redirect(f"{reverse('case_detail', args=[case.code])}#act-{action}")


# --------------------------------------------------------------------------- reporting


def _report_channels(user) -> list[tuple[str, str]]:
    """The channels a person reports on: grid workers as grid workers, operators on a call."""
    from civicgrid.core.roles import ROLE_LEVEL

    labels = dict(Case.Channel.choices)
    levels = {ROLE_LEVEL.get(g.role) for g in scope_for(user).grants}
    roles = set(scope_for(user).roles)
    found = []
    if levels & {"grid", "micro_grid"}:
        found.append(Case.Channel.GRID_WORKER)
    if "co_governance" in roles or "mediator" in roles:
        found.append(Case.Channel.CO_GOVERNANCE)
    if levels & {"village", "town", "county", "global"}:
        found += [Case.Channel.HOTLINE_12345, Case.Channel.HOTLINE_12348]
    if levels & {"department", "department_grid"}:
        found.append(Case.Channel.DEPARTMENT)
    return [(c, labels[c]) for c in dict.fromkeys(found)] or [
        (Case.Channel.DEPARTMENT, labels[Case.Channel.DEPARTMENT])
    ]


def _my_grids(user):
    from civicgrid.regions.models import Grid

    codes = [g.prefix for g in scope_for(user).grants if len(g.prefix) >= 15]
    grids = Grid.objects.filter(code__in=codes) if codes else Grid.objects.none()
    return grids_visible_to(user).exclude(kind="micro") if not codes else grids


@login_required
def report(request):
    """Report a problem. The page carries an idempotency key: a retried submission (a flaky
    connection, a double tap) returns the first case instead of making a second."""
    import uuid

    from civicgrid.cases.actions import do_report_case

    if not scope_for(request.user).has("cases.report"):
        raise Http404
    grids = _my_grids(request.user)
    channels = _report_channels(request.user)
    if request.method == "POST":
        form = ReportForm(request.POST, request.FILES, grids=grids, channels=channels)
        if form.is_valid():
            data = form.cleaned_data
            try:
                case = do_report_case(
                    actor=request.user,
                    channel=data["channel"],
                    description=data["description"],
                    category=data["category"],
                    lat=data["lat"],
                    lng=data["lng"],
                    grid=data["grid"] if data["lat"] is None else None,
                    address=data["address"],
                    photos=[data["photo"]] if data.get("photo") else [],
                    idempotency_key=data["idempotency_key"],
                    urgent=data["urgent"],
                )
            except ValidationError as exc:
                for field, errors in getattr(
                    exc, "message_dict", {"__all__": exc.messages}
                ).items():
                    form.add_error(field if field in form.fields else None, errors)
            except ActionRefused as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Reported as case %(code)s.") % {"code": case.code})
                return redirect("case_detail", code=case.code)
    else:
        initial = {"idempotency_key": uuid.uuid4().hex}
        if grids.count() == 1:
            initial["grid"] = grids.first().pk
        form = ReportForm(initial=initial, grids=grids, channels=channels)
    home = _home_region(request.user)
    context = {
        "form": form,
        "map_geojson": (
            reverse("api-1.0.0:grid_list") + f"?region={home}&page_size=200&geometry=true"
            if len(home) >= 9
            else ""
        ),
        "map_tiles": settings.MAP_TILE_URL,
        "map_attribution": settings.MAP_TILE_ATTRIBUTION,
    }
    return render(request, "web/report.html", context)


# --------------------------------------------------------------------------- residents

RESIDENT_VERIFIED_FOR = 30 * 60  # seconds a proven number stays proven in the session


def _client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "")


def _too_many(request, what: str, limit: int) -> bool:
    """A per-address hourly limit for anonymous writes (codes sent, reports made)."""
    import time

    from django.core.cache import cache

    key = f"civicgrid-web:{what}:{_client_ip(request)}:{int(time.time() // 3600)}"
    cache.add(key, 0, timeout=3700)
    try:
        return cache.incr(key) > limit
    except ValueError:
        return False


def resident_report(request):
    """上报 for residents: no account; the mobile number is proven by an SMS code once per
    half hour. The report keeps the number (encrypted) so the outcome can be sent back."""
    import time
    import uuid

    from civicgrid.cases.actions import do_report_case
    from civicgrid.people.actions import do_send_phone_code, do_verify_phone_code

    verified = request.session.get("resident_phone")
    if verified and time.time() - verified.get("at", 0) > RESIDENT_VERIFIED_FOR:
        verified = None
    if request.method != "POST":
        form = ResidentReportForm(initial={"idempotency_key": uuid.uuid4().hex})
        return render(request, "web/resident_report.html", {"form": form, "verified": verified})
    form = ResidentReportForm(request.POST, request.FILES)
    step = request.POST.get("step", "report")
    if not form.is_valid():
        return render(request, "web/resident_report.html", {"form": form, "verified": verified})
    data = form.cleaned_data
    if step == "send_code":
        if _too_many(request, "codes", 20):
            form.add_error(None, _("Too many requests from this network; try again later."))
        else:
            try:
                do_send_phone_code(data["phone"])
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error("phone", message)
            else:
                messages.success(request, _("A code was sent to your phone."))
        return render(
            request, "web/resident_report.html", {"form": form, "verified": verified, "sent": True}
        )
    try:
        if verified and verified.get("phone") == data["phone"].strip():
            phone = verified["phone"]
        else:
            phone = do_verify_phone_code(data["phone"], data["code"])
            request.session["resident_phone"] = {"phone": phone, "at": time.time()}
        if _too_many(request, "reports", 30):
            raise ActionRefused(_("Too many requests from this network; try again later."))
        case = do_report_case(
            actor=None,
            channel=Case.Channel.RESIDENT,
            description=data["description"],
            lat=data["lat"],
            lng=data["lng"],
            address=data["address"],
            photos=[data["photo"]] if data.get("photo") else [],
            idempotency_key=f"resident:{phone}:{data['idempotency_key']}",
            reporter_name=data["name"],
            reporter_phone=phone,
        )
    except ValidationError as exc:
        add_errors(form, exc)
        return render(request, "web/resident_report.html", {"form": form, "verified": verified})
    except ActionRefused as exc:
        form.add_error(None, str(exc))
        return render(request, "web/resident_report.html", {"form": form, "verified": verified})
    return redirect("track_case", code=case.code)


def track(request):
    """Look a case up by its code (printed on the receipt and in the SMS)."""
    form = TrackForm(request.GET or None)
    if form.is_valid():
        return redirect("track_case", code=form.cleaned_data["code"].strip())
    return render(request, "web/track.html", {"form": form})


def track_case(request, code):
    """What anyone may know of a case: the published fields and steps, as Open311 shows."""
    from civicgrid.open311 import selectors as published

    case = published.public_cases().filter(code=code).first()
    if case is None:
        raise Http404
    notes = published.notes_by_case([case])[case.pk]
    steps = [
        {
            "created": row.created,
            "label": ACTION_LABELS.get(row.action, row.action),
            "text": published.public_text(row.action, row.text),
        }
        for row in notes
    ]
    context = {
        "case": case,
        "state_label": STATE_LABELS.get(case.state, case.state),
        "agency": published.agencies([case])[case.pk],
        "description": mask_numbers_in_text(case.description),
        "steps": steps,
    }
    return render(request, "web/track_case.html", context)


# --------------------------------------------------------------------------- cockpit and maps


def _home_region(user) -> str:
    """Where a person's report map starts: the one place all their grants share, else the county."""
    prefixes = [g.prefix for g in scope_for(user).grants if g.prefix]
    if scope_for(user).superuser or not prefixes:
        return ""
    shortest = min(prefixes, key=len)
    return shortest if all(p.startswith(shortest) for p in prefixes) else ""


COCKPIT_NUMBERS = {  # label, the case list that shows them (queue)
    "intake_today": (gettext_lazy("Reported today"), "all"),
    "intake_yesterday": (gettext_lazy("Reported yesterday"), "all"),
    "open": (gettext_lazy("Open"), "all"),
    "overdue": (gettext_lazy("Overdue"), "overdue"),
    "closed_today": (gettext_lazy("Closed today"), "all"),
    "urgent": (gettext_lazy("Urgent and open"), "all"),
    "supervised": (gettext_lazy("Supervised and open"), "supervised"),
}
COCKPIT_LEVELS = {
    "town": gettext_lazy("Townships"),
    "village": gettext_lazy("Villages"),
    "grid": gettext_lazy("Grids"),
}
COCKPIT_MEASURES = {
    "open": gettext_lazy("Open cases"),
    "overdue": gettext_lazy("Overdue cases"),
    "intake30": gettext_lazy("Reported in 30 days"),
}
COCKPIT_CHILD_TITLES = {
    "town": gettext_lazy("Townships"),
    "village": gettext_lazy("Villages and communities"),
    "grid": gettext_lazy("Grids"),
}


def _kpi_names() -> dict[str, str]:
    from civicgrid.analytics import cockpit as C

    kpis = C._kpis()
    if kpis is None:
        return {}
    return {code: C.kpi_label(code, d) for code, d in kpis.KPIS.items()}


def _cockpit_tables(request, place, mark=None) -> dict:
    """The cockpit's tables as header + rows (the page and the exports show the same), as of
    the last tick (``cockpit.per_tick``; ``mark`` from ``cockpit.tick_mark``)."""
    from django.utils.translation import get_language

    from civicgrid.analytics import cockpit as C

    key = ("tables", place.code, request.user.pk, get_language())
    return C.per_tick(mark, key, lambda: _cockpit_tables_now(request, place, mark))


def _cockpit_tables_now(request, place, mark) -> dict:
    from civicgrid.analytics import cockpit as C

    now = timezone.now()
    names = _kpi_names()
    codes = C.league_codes()
    leagues = C.leagues(request.user, place, now, mark=mark)
    kpi_rows = C.kpi_panel(request.user, place, now, mark=mark)
    arrows = {"up": "↑", "down": "↓", "flat": "→", "": ""}
    met = {True: _("met"), False: _("not met"), None: "—"}
    place_header = str(COCKPIT_CHILD_TITLES.get(place.child_level or "", _("Place")))
    child_rows = C.children(place, now, mark=mark)
    return {
        "kpis": {
            "title": _("KPIs this month"),
            "header": [_("KPI"), _("This month"), _("Target"), _("Met"), _("Last month"), ""],
            "rows": [
                [r["name"], r["value"], r["target"], met[r["met"]], r["last"], arrows[r["trend"]]]
                for r in kpi_rows
            ],
            "raw": kpi_rows,
        },
        "places": {
            "title": _("League: %(places)s this month") % {"places": place_header},
            "header": [place_header, *[names.get(c, c) for c in codes]],
            "rows": [[r["name"], *[r[c] for c in codes]] for r in leagues["places"]],
            "keys": [r["key"] for r in leagues["places"]],
        },
        "departments": {
            "title": _("League: departments this month"),
            "header": [_("Department"), *[names.get(c, c) for c in codes]],
            "rows": [[r["name"], *[r[c] for c in codes]] for r in leagues["departments"]],
        },
        "children": {
            "title": place_header,
            "header": [place_header, _("Open"), _("Overdue"), _("Reported in 30 days")],
            "rows": [[r["name"], r["open"], r["overdue"], r["intake30"]] for r in child_rows],
            "keys": [r["code"] for r in child_rows],
        },
    }


@login_required
def cockpit_view(request):
    """驾驶舱 (D7): one place's numbers, KPIs, trends, leagues and map; drills down to cases."""
    from civicgrid.analytics import cockpit as C

    place = C.access_place(request.user, request.GET.get("region", ""))
    now = timezone.now()
    mark = C.tick_mark()  # the aggregates are kept from one tick to the next
    # the figures and the time they were computed, kept together: "as of" tells their age
    computed, numbers = C.per_tick(
        mark, ("numbers-at", place.code), lambda: (now, C.today_numbers(place, now, mark=mark))
    )
    case_list = reverse("case_list")
    tables = _cockpit_tables(request, place, mark)
    children_links = [f"{reverse('cockpit')}?region={c}" for c in tables["children"]["keys"]]
    levels = {k: v for k, v in COCKPIT_LEVELS.items() if C.LEVEL_LENGTH[k] >= len(place.code)}
    context = {
        "place": place,
        "numbers": [
            {
                "key": key,
                "label": label,
                "value": numbers[key],
                "url": f"{case_list}?queue={queue_name}&region={place.code}",
            }
            for key, (label, queue_name) in COCKPIT_NUMBERS.items()
        ],
        "tables": tables,
        "children_items": list(zip(children_links, tables["children"]["rows"], strict=True)),
        "newest": [
            {**row, "state_label": STATE_LABELS.get(row["state"], row["state"])}
            for row in (C.newest_open_cases(place) if place.level == "grid" else [])
        ],
        "case_list_url": f"{case_list}?queue=all&region={place.code}",
        "levels": levels,
        "measures": COCKPIT_MEASURES,
        "default_level": place.child_level or "grid",
        "export_formats": EXPORT_FORMATS,
        "updated": timezone.localtime(computed),
        "cockpit_data": {
            "trends": C.per_tick(
                mark, ("trends", place.code), lambda: C.trends(place, now, mark=mark)
            ),
            "series": {"intake": _("Reported"), "closed": _("Closed")},
            "map": reverse("cockpit_map"),
            "cases_url": case_list,
            "region": place.code,
            "tiles": settings.MAP_TILE_URL,
            "attribution": settings.MAP_TILE_ATTRIBUTION,
            "labels": {
                "cases": _("Open cases"),
                "signals": _("Early warnings"),
                "overdue": _("overdue"),
                "urgent": _("urgent"),
            },
        },
    }
    return render(request, "web/cockpit.html", context)


@login_required
@gzip_page
def cockpit_map(request):
    """The cockpit's map as GeoJSON: the units of a level inside a place with the chosen measure
    (``value``), the newest open cases (``cases``) and the early-warning signals (``signals``).

    Compressed for browsers that accept it: the county's 1,497 grid outlines are several MB of
    coordinates (about a tenth of that compressed). Nothing a visitor typed is echoed in it."""
    from civicgrid.analytics import cockpit as C

    place = C.access_place(request.user, request.GET.get("region", ""))
    level = request.GET.get("level") or place.child_level or "grid"
    measure = request.GET.get("measure") or "open"
    if (
        level not in COCKPIT_LEVELS
        or C.LEVEL_LENGTH[level] < len(place.code)
        or measure not in COCKPIT_MEASURES
    ):
        return HttpResponseBadRequest(_("Unknown level or measure."))
    cockpit_url = reverse("cockpit")
    features = [
        {
            "type": "Feature",
            "id": unit["code"],
            "geometry": unit["geometry"],
            "properties": {
                "code": unit["code"],
                "name": unit["name"],
                "value": unit[measure],
                "open": unit["open"],
                "overdue": unit["overdue"],
                "intake30": unit["intake30"],
                "url": f"{cockpit_url}?region={unit['code']}",
            },
        }
        for unit in C.map_units(place, level)
    ]
    body = {
        "type": "FeatureCollection",
        "features": features,
        "level": level,
        "measure": measure,
        "cases": C.case_points(request.user, place) if request.GET.get("cases", "1") != "0" else [],
        "signals": C.signals(request.user, place),
    }
    return JsonResponse(body)


@login_required
def cockpit_export(request, table, fmt):
    """One of the cockpit's tables (kpis, places, departments, children) as CSV or .xlsx."""
    from civicgrid.analytics import cockpit as C

    if fmt not in EXPORT_FORMATS:
        raise Http404
    place = C.access_place(request.user, request.GET.get("region", ""))
    tables = _cockpit_tables(request, place, C.tick_mark())
    if table not in tables:
        raise Http404
    chosen = tables[table]
    day = timezone.localdate().isoformat()
    return export_response(
        f"cockpit-{table}-{place.code}-{day}",
        [str(h) for h in chosen["header"]],
        chosen["rows"],
        fmt,
        sheet=table,
    )


LEAGUE_COLUMNS = {
    "towns": [
        ("name", gettext_lazy("Township")),
        ("cases", gettext_lazy("Cases")),
        ("closed", gettext_lazy("Closed")),
        ("closed_rate", gettext_lazy("Closure rate %")),
        ("on_time_rate", gettext_lazy("On-time closure rate %")),
        ("overdue_open", gettext_lazy("Open and overdue")),
        ("rework_rate", gettext_lazy("Rework rate %")),
        ("satisfaction_rate", gettext_lazy("Satisfaction rate %")),
    ],
    "departments": [
        ("name", gettext_lazy("Department")),
        ("dispatched", gettext_lazy("Dispatched")),
        ("sign_rate", gettext_lazy("Signed on time %")),
        ("returns", gettext_lazy("Return requests")),
        ("returned", gettext_lazy("Returns approved")),
        ("on_time_rate", gettext_lazy("On-time closure rate %")),
        ("overdue_open", gettext_lazy("Open and overdue")),
    ],
}


def _league(request):
    from datetime import datetime, time, timedelta

    from django.utils import timezone

    from civicgrid.cases.selectors import league_tables

    form = PeriodForm(request.GET or None)
    today = timezone.localdate()
    start, end = today - timedelta(days=30), today
    if form.is_valid():
        start = form.cleaned_data["start"] or start
        end = form.cleaned_data["end"] or end
    zone = timezone.get_current_timezone()
    since = datetime.combine(start, time.min, tzinfo=zone)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
    return form, start, end, league_tables(request.user, since, until)


@login_required
def league(request):
    """Township and department league tables (按期办结率, 签收及时率, 满意率 …)."""
    form, start, end, tables = _league(request)
    query = request.GET.urlencode()
    context = {
        "form": form,
        "start": start,
        "end": end,
        "query": query,
        "tables": [
            {
                "key": key,
                "title": title,
                "columns": [label for _field, label in LEAGUE_COLUMNS[key]],
                "rows": [
                    [row[field] for field, _label in LEAGUE_COLUMNS[key]] for row in tables[key]
                ],
            }
            for key, title in [("towns", _("Townships")), ("departments", _("Departments"))]
        ],
    }
    return render(request, "web/league.html", context)


@login_required
def league_export(request, table, fmt):
    if table not in LEAGUE_COLUMNS or fmt not in EXPORT_FORMATS:
        raise Http404
    _form, start, end, tables = _league(request)
    columns = LEAGUE_COLUMNS[table]
    rows = ([row[field] for field, _label in columns] for row in tables[table])
    return export_response(
        f"league-{table}-{start}-{end}", [str(label) for _f, label in columns], rows, fmt
    )


# --------------------------------------------------------------------------- joint operations


def _my_towns(user) -> list[str]:
    from civicgrid.core.roles import ROLE_LEVEL

    return sorted(
        {
            g.prefix
            for g in scope_for(user).grants
            if ROLE_LEVEL.get(g.role) == "town" and "cases.handle" in g.permissions
        }
    )


@login_required
def operations(request):
    """联合执法: the township command room plans operations and records their results."""
    from civicgrid.cases.actions import do_plan_joint_operation
    from civicgrid.cases.selectors import joint_operations_visible_to

    towns = _my_towns(request.user)
    form = None
    if towns:
        form = JointOperationForm(request.POST or None, town_code=towns[0])
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                linked = [access_case(request.user, code) for code in data["cases"]]
                do_plan_joint_operation(
                    actor=request.user,
                    town_code=towns[0],
                    title=data["title"],
                    planned_for=data["planned_for"],
                    place=data["place"],
                    departments=list(data["departments"]),
                    cases=linked,
                )
            except Http404:
                form.add_error("cases", _("A case code was not found in your area."))
            except ValidationError as exc:
                add_errors(form, exc)
            except ActionRefused as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("The joint operation is planned."))
                return redirect("operations")
    rows = joint_operations_visible_to(request.user).order_by("-planned_for", "-id")[:100]
    context = {"form": form, "operations": rows, "result_form": JointResultForm()}
    return render(request, "web/operations.html", context)


@login_required
@require_POST
def operation_result(request, pk):
    from civicgrid.cases.actions import do_record_joint_operation_result
    from civicgrid.cases.selectors import joint_operations_visible_to

    operation = get_object_or_404(joint_operations_visible_to(request.user), pk=pk)
    form = JointResultForm(request.POST)
    if form.is_valid():
        try:
            do_record_joint_operation_result(
                operation, actor=request.user, results=form.cleaned_data["results"]
            )
        except (ValidationError, ActionRefused) as exc:
            for message in getattr(exc, "messages", [str(exc)]):
                messages.error(request, message)
        else:
            messages.success(request, _("The results are recorded."))
    else:
        messages.error(request, _("Record what the operation achieved."))
    return redirect("operations")


BULK_LIMIT = 100


@login_required
@require_POST
def case_bulk(request):
    """Bulk actions on a queue's selected cases: dispatch to the suggested departments (the
    dispatch board's one click), or accept as classified. Each case goes through its action
    on its own; refusals are reported per case and do not stop the others."""
    from civicgrid.cases.actions import do_accept_case, do_dispatch_case
    from civicgrid.cases.selectors import suggested_departments

    operation = request.POST.get("operation")
    codes = request.POST.getlist("case")[:BULK_LIMIT]
    back = request.POST.get("next") or reverse("case_list")
    if not back.startswith("/") or back.startswith("//"):
        back = reverse("case_list")
    if operation not in {"dispatch_suggested", "accept"} or not codes:
        messages.error(request, _("Choose cases and an action."))
        return redirect(back)
    done, refused = [], []
    for code in codes:
        try:
            case = access_case(request.user, code)
            if operation == "accept":
                do_accept_case(case, actor=request.user)
            else:
                suggested = suggested_departments(case)
                if not suggested:
                    raise ValidationError(_("No department is suggested for this category."))
                do_dispatch_case(
                    case, actor=request.user, lead=suggested[0], assisting=suggested[1:]
                )
            done.append(code)
        except Http404:
            refused.append(f"{code}: {_('Not found.')}")
        except (ValidationError, ActionRefused, InvalidTransition) as exc:
            text = "; ".join(getattr(exc, "messages", [])) or str(exc)
            refused.append(f"{code}: {text}")
    if done:
        messages.success(request, _("Done for %(n)d cases.") % {"n": len(done)})
    for line in refused:
        messages.error(request, line)
    return redirect(back)


@login_required
def case_grid(request, code):
    """The case's grid as GeoJSON, for whoever may see the case (its map)."""
    case = access_case(request.user, code)
    if case.grid is None or not case.grid.geometry:
        raise Http404
    grid = case.grid
    return JsonResponse(
        {
            "type": "Feature",
            "id": grid.code,
            "geometry": grid.geometry,
            "properties": {"code": grid.code, "name": grid.name},
        }
    )
