"""Thin views: registration, my points, leaderboards, members, reversal and the annual award."""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Sum
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from civicgrid.core.errors import ActionRefused
from civicgrid.core.scoping import scope_for
from civicgrid.web.exports import EXPORT_FORMATS, export_response
from civicgrid.web.forms import add_errors

from . import actions as A
from . import selectors as S
from .forms import (
    LeaderboardForm,
    MemberFilterForm,
    ProposeAwardForm,
    ReasonForm,
    RegisterForm,
)
from .models import Award, InvalidatedReport, Member, PointEntry

VERIFIED_FOR = 30 * 60  # seconds a proven number stays proven in the session
SESSION_KEY = "cogovernance_phone"


def _too_many(request, what: str, limit: int) -> bool:
    """A per-address hourly limit for anonymous writes."""
    from django.core.cache import cache

    key = f"civicgrid-cogov:{what}:{request.META.get('REMOTE_ADDR', '')}:{int(time.time() // 3600)}"
    cache.add(key, 0, timeout=3700)
    try:
        return cache.incr(key) > limit
    except ValueError:
        return False


# --------------------------------------------------------------------------- registration


def register(request):
    """流动网格员 registration: public; the number is proven by an SMS code, then the member is
    logged in and can report through the report page at once."""
    from civicgrid.people.actions import do_send_phone_code, do_verify_phone_code

    verified = request.session.get(SESSION_KEY)
    if verified and time.time() - verified.get("at", 0) > VERIFIED_FOR:
        verified = None
    context = {"verified": verified}
    if request.method != "POST":
        context["form"] = RegisterForm()
        return render(request, "cogovernance/register.html", context)
    if request.POST.get("step") == "send_code":
        keep = request.POST.copy()
        for secret in ("password", "password2", "csrfmiddlewaretoken"):
            keep.pop(secret, None)
        form = RegisterForm(initial=keep.dict())
        context["form"] = form
        if _too_many(request, "codes", 20):
            context["phone_error"] = _("Too many requests from this network; try again later.")
        else:
            try:
                do_send_phone_code(request.POST.get("phone", ""))
            except ValidationError as exc:
                context["phone_error"] = " ".join(exc.messages)
            else:
                messages.success(request, _("A code was sent to your phone."))
                context["sent"] = True
        return render(request, "cogovernance/register.html", context)
    form = RegisterForm(request.POST)
    context["form"] = form
    if not form.is_valid():
        return render(request, "cogovernance/register.html", context)
    data = form.cleaned_data
    try:
        if verified and verified.get("phone") == data["phone"].strip():
            phone = verified["phone"]
        else:
            phone = do_verify_phone_code(data["phone"], data["code"])
            request.session[SESSION_KEY] = {"phone": phone, "at": time.time()}
        if _too_many(request, "registrations", 10):
            raise ActionRefused(_("Too many requests from this network; try again later."))
        member = A.do_register_member(
            name=data["name"],
            phone=phone,
            kind=data["kind"],
            town=data["town"],
            grid=data["grid"],
            platform=data["platform"],
            username=data["username"],
            password=data["password"],
        )
    except ValidationError as exc:
        add_errors(form, exc)
        return render(request, "cogovernance/register.html", context)
    except ActionRefused as exc:
        form.add_error(None, str(exc))
        return render(request, "cogovernance/register.html", context)
    request.session.pop(SESSION_KEY, None)
    login(request, member.user, backend=settings.AUTHENTICATION_BACKENDS[0])
    messages.success(
        request,
        _("Welcome! You are registered as user %(username)s and can report problems now.")
        % {"username": member.user.get_username()},
    )
    return redirect("cogovernance_my_points")


# --------------------------------------------------------------------------- my points


def _ledger_rows(entries):
    for entry in entries:
        yield {
            "entry": entry,
            "label": S.event_label(entry),
            "code": entry.case.code,
        }


def _ledger_context(request, member) -> dict:
    year_start, year_end = A.year_bounds(timezone.localdate().year)
    entries = (
        PointEntry.objects.filter(member=member)
        .select_related("case", "action", "reverses")
        .order_by("-created", "-id")
    )
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    return {
        "member": member,
        "balance": S.balance(member),
        "year_points": S.balance(member, since=year_start, until=year_end),
        "page": page,
        "rows": list(_ledger_rows(page.object_list)),
    }


def _ledger_export(member, fmt):
    entries = (
        PointEntry.objects.filter(member=member)
        .select_related("case", "action", "reverses")
        .order_by("created", "id")
    )
    header = [
        _("recorded"),
        _("counts on"),
        _("points"),
        pgettext("points", "event"),
        _("case"),
        _("reason"),
    ]
    rows = (
        [e.created, e.effective, e.points, S.event_label(e), e.case.code, e.reason] for e in entries
    )
    return export_response(f"points-{member.pk}", header, rows, fmt)


@login_required
def my_points(request):
    """A member's balance and ledger, every entry with its cause."""
    member = S.member_of(request.user)
    if member is None:
        raise Http404
    return render(request, "cogovernance/my_points.html", _ledger_context(request, member))


@login_required
def my_points_export(request, fmt):
    member = S.member_of(request.user)
    if member is None or fmt not in EXPORT_FORMATS:
        raise Http404
    return _ledger_export(member, fmt)


@login_required
def member_detail(request, pk):
    """A member's ledger, for the township and county staff over the member's area."""
    member = S.access_member(request.user, pk)
    return render(request, "cogovernance/member.html", _ledger_context(request, member))


@login_required
def member_ledger_export(request, pk, fmt):
    member = S.access_member(request.user, pk)
    if fmt not in EXPORT_FORMATS:
        raise Http404
    return _ledger_export(member, fmt)


# --------------------------------------------------------------------------- leaderboards


def _board(request):
    areas = S.leaderboard_areas(request.user)
    if not areas:
        raise Http404
    form = LeaderboardForm(request.GET or None, areas=areas)
    period, year, number, area = form.choice()
    start, end = S.period_bounds(period, year, number)
    rows = S.leaderboard(request.user, start=start, end=end, area=area)
    if period == "year":
        label = _("Year %(year)s") % {"year": year}
    elif period == "quarter":
        label = _("Quarter %(number)s of %(year)s") % {"number": number, "year": year}
    else:
        label = _("%(year)s-%(month)02d") % {"year": year, "month": number}
    return form, rows, label, dict(areas).get(area, "")


@login_required
def leaderboard(request):
    form, rows, label, area_name = _board(request)
    page = Paginator(rows, 100).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "label": label,
        "area_name": area_name,
        "query": query.urlencode(),
        "me": S.member_of(request.user),
    }
    return render(request, "cogovernance/leaderboard.html", context)


@login_required
def leaderboard_export(request, fmt):
    if fmt not in EXPORT_FORMATS:
        raise Http404
    _form, rows, label, area_name = _board(request)
    header = [
        _("rank"),
        pgettext("person", "name"),
        _("kind"),
        _("platform"),
        _("township"),
        _("points"),
    ]
    header.append(_("accepted reports"))
    data = (
        [r["rank"], r["name"], r["kind"], r["platform"], r["town"], r["points"], r["accepted"]]
        for r in rows
    )
    return export_response("leaderboard", header, data, fmt)


# --------------------------------------------------------------------------- members (staff)


def _filtered_members(request):
    members = S.members_visible_to(request.user)
    form = MemberFilterForm(request.GET or None)
    if form.is_valid():
        data = form.cleaned_data
        if data["q"]:
            members = members.filter(name__icontains=data["q"]) | members.filter(
                platform__icontains=data["q"]
            )
        if data["kind"]:
            members = members.filter(kind=data["kind"])
        if data["state"]:
            members = members.filter(state=data["state"])
        if data["region"]:
            members = members.filter(region_code__startswith=data["region"])
    members = members.annotate(total=Sum("entries__points")).select_related("grid")
    return form, members.order_by("region_code", "id")


@login_required
def member_list(request):
    if not scope_for(request.user).has(A.MANAGE_PERMISSION):
        raise Http404
    form, members = _filtered_members(request)
    page = Paginator(members, 50).get_page(request.GET.get("page"))
    towns = S.town_names()
    for member in page.object_list:
        member.town_name = towns.get(member.town_code, member.town_code)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "reason_form": ReasonForm(),
    }
    return render(request, "cogovernance/members.html", context)


@login_required
def member_export(request, fmt):
    if fmt not in EXPORT_FORMATS or not scope_for(request.user).has(A.MANAGE_PERMISSION):
        raise Http404
    _form, members = _filtered_members(request)
    towns, kinds, states = S.town_names(), dict(Member.Kind.choices), dict(Member.State.choices)
    header = [
        _("number"),
        pgettext("person", "name"),
        _("phone"),
        _("kind"),
        _("platform"),
        _("township"),
        _("grid"),
        _("joined"),
        _("state"),
        _("points"),
    ]
    rows = (
        [
            m.pk,
            m.name,
            m.phone_masked,
            kinds.get(m.kind, m.kind),
            m.platform,
            towns.get(m.town_code, m.town_code),
            m.grid.name if m.grid else "",
            m.joined,
            states.get(m.state, m.state),
            m.total or 0,
        ]
        for m in members.iterator()
    )
    return export_response("cogovernance-members", header, rows, fmt)


@login_required
@require_POST
def member_state(request, pk):
    member = S.access_member(request.user, pk)
    form = ReasonForm(request.POST)
    reason = request.POST.get("reason", "")
    try:
        if request.POST.get("state") == Member.State.SUSPENDED:
            if not form.is_valid():
                raise ValidationError(_("Say why the member is suspended."))
            A.do_suspend_member(member, actor=request.user, reason=reason)
            messages.success(request, _("The member is suspended."))
        else:
            A.do_reactivate_member(member, actor=request.user, reason=reason)
            messages.success(request, _("The member is active again."))
    except (ValidationError, ActionRefused) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    return redirect(f"{reverse('cogovernance_members')}?{request.POST.get('query', '')}")


# --------------------------------------------------------------------------- invalid reports


@login_required
def invalidate(request, code):
    """Find a report invalid after the fact: every points entry it caused is reversed."""
    from civicgrid.cases.models import Case

    case = Case.objects.filter(code=code).first()
    if case is None or not A.manages(request.user, case.region_code):
        raise Http404
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            reversals = A.do_invalidate_report(
                case, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            add_errors(form, exc)
        except ActionRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                _("The report is marked invalid; %(n)s points entries were reversed.")
                % {"n": len(reversals)},
            )
            return redirect("cogovernance_invalidate", code=case.code)
    entries = (
        PointEntry.objects.filter(case__in=[case, *case.merged_cases.all()])
        .select_related("member", "case", "reverses")
        .order_by("created", "id")
    )
    context = {
        "case": case,
        "form": form,
        "rows": list(_ledger_rows(entries)),
        "invalidated": InvalidatedReport.objects.filter(case=case).select_related("actor").first(),
    }
    return render(request, "cogovernance/invalidate.html", context)


# --------------------------------------------------------------------------- the award


def _county_code(user) -> str:
    from civicgrid.regions.models import Region

    codes = [g.prefix for g in scope_for(user).grants if len(g.prefix) == 6 or g.prefix == ""]
    county = Region.objects.filter(level=Region.Level.COUNTY).order_by("code")
    if codes and "" not in codes:
        county = county.filter(code__in=codes)
    first = county.first()
    return first.code if first else ""


@login_required
def award_list(request):
    county = _county_code(request.user)
    if not county or not A.is_county_staff(request.user, county):
        raise Http404
    form = ProposeAwardForm(
        request.POST or None, initial={"year": timezone.localdate().year - 1, "size": 100}
    )
    if request.method == "POST" and form.is_valid():
        try:
            award = A.do_propose_award(
                county_code=county,
                year=form.cleaned_data["year"],
                size=form.cleaned_data["size"],
                actor=request.user,
            )
        except ValidationError as exc:
            add_errors(form, exc)
        except ActionRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("The proposal is ready for review."))
            return redirect("cogovernance_award", pk=award.pk)
    context = {"form": form, "awards": S.awards_visible_to(request.user)}
    return render(request, "cogovernance/awards.html", context)


@login_required
def award_detail(request, pk):
    award = S.access_award(request.user, pk)
    if request.method == "POST":
        try:
            if request.POST.get("do") == "confirm":
                A.do_confirm_award(award, actor=request.user)
                messages.success(request, _("The award list is confirmed."))
            else:
                candidate = award.candidates.filter(pk=request.POST.get("candidate") or 0).first()
                if candidate is None:
                    raise Http404
                A.do_exclude_candidate(
                    candidate, actor=request.user, reason=request.POST.get("reason", "")
                )
                messages.success(request, _("Excluded; the next in rank moves up."))
        except (ValidationError, ActionRefused) as exc:
            messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        return redirect("cogovernance_award", pk=award.pk)
    context = {"award": award, **S.award_rows(award), "reason_form": ReasonForm()}
    return render(request, "cogovernance/award.html", context)


@login_required
def award_export(request, pk, fmt):
    award = S.access_award(request.user, pk)
    if fmt not in EXPORT_FORMATS:
        raise Http404
    rows = S.award_rows(award, reserves=0)["chosen"]
    header = [
        _("award number"),
        _("rank in the ledger"),
        pgettext("person", "name"),
        _("phone"),
        _("township"),
        _("points"),
        _("accepted reports"),
    ]
    data = (
        [
            c.final_rank or index,
            c.rank,
            c.member.name,
            c.member.phone_masked,
            c.town_name,
            c.points,
            c.accepted,
        ]
        for index, c in enumerate(rows, start=1)
    )
    return export_response(f"award-{award.year}", header, data, fmt)


@login_required
def award_print(request, pk):
    award = S.access_award(request.user, pk)
    context = {"award": award, **S.award_rows(award, reserves=0)}
    return render(request, "cogovernance/award_print.html", context)


@login_required
def certificates(request, pk, candidate_id=None):
    award = S.access_award(request.user, pk)
    if award.state != Award.State.CONFIRMED:
        raise Http404
    if candidate_id is not None:
        chosen = [S.candidate_for_certificate(award, candidate_id)]
    else:
        chosen = S.award_rows(award, reserves=0)["chosen"]
    towns = S.town_names()
    for candidate in chosen:
        candidate.town_name = towns.get(candidate.member.town_code, candidate.member.town_code)
    return render(request, "cogovernance/certificates.html", {"award": award, "chosen": chosen})
