"""Thin views: nominate, the review and approval queues, my rewards, the typical-case library
and the appraisal tables. Every write goes through ``actions``; every read through selectors."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from civicgrid.cases.models import Category
from civicgrid.cases.selectors import cases_visible_to
from civicgrid.core.errors import ActionRefused
from civicgrid.core.scoping import scope_for
from civicgrid.web.exports import EXPORT_FORMATS, export_response
from civicgrid.web.forms import add_errors

from . import actions as A
from . import appraisal as P
from . import selectors as S
from .documents import library_docx
from .forms import (
    BudgetForm,
    DecisionForm,
    LibraryFilterForm,
    NominationForm,
    PeriodForm,
    SchemeVersionForm,
    WriteUpForm,
)
from .models import AppraisalIndicator, Nomination, TownBudget, TypicalCase

QUEUES = {
    "review": gettext_lazy("Township review"),
    "approval": gettext_lazy("County approval"),
}


def _message(exc) -> str:
    return " ".join(getattr(exc, "messages", None) or [str(exc)])


# --------------------------------------------------------------------------- nominate


def _find_subject(user, code: str):
    """The case or (for an ``MD-`` code) the dispute with this code that ``user`` may see."""
    if not code:
        return None, None
    if code.upper().startswith("MD-"):
        from civicgrid.mediation.selectors import disputes_visible_to

        return None, disputes_visible_to(user).filter(code=code).first()
    return cases_visible_to(user).filter(code=code).first(), None


@login_required
def nominate(request):
    """Nominate a closed case or a dispute whose agreement was performed (found by its code)
    with the evidence of its outcome."""
    scheme = A.scheme_on(_county_of(request.user), timezone.localdate())
    tiers = scheme.tiers.all() if scheme else None
    data = request.POST if request.method == "POST" else None
    initial = {"code": request.GET.get("code", "")[:32]}
    form = NominationForm(data, tiers=tiers, initial=initial)
    code = (request.POST.get("code") or initial["code"]).strip()[:32]
    case, dispute = _find_subject(request.user, code)
    if request.method == "POST" and form.is_valid():
        if case is None and dispute is None:
            form.add_error("code", _("No case or dispute with this code is visible to you."))
        else:
            try:
                do = A.do_nominate_case if case is not None else A.do_nominate_dispute
                nomination = do(
                    case if case is not None else dispute,
                    tier=form.cleaned_data["tier"],
                    amount=form.cleaned_data["amount"],
                    evidence=form.cleaned_data["evidence"],
                    actor=request.user,
                )
            except ValidationError as exc:
                add_errors(form, exc)
            except ActionRefused as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request, _("Nominated; the township command room reviews it next.")
                )
                return redirect("incentives_nomination", pk=nomination.pk)
    context = {"form": form, "case": case, "dispute": dispute, "scheme": scheme, "code": code}
    return render(request, "incentives/nominate.html", context)


def _county_of(user) -> str:
    for grant in scope_for(user).grants:
        if len(grant.prefix) >= 6:
            return grant.prefix[:6]
    from civicgrid.regions.models import Region

    county = Region.objects.filter(level=Region.Level.COUNTY).order_by("code").first()
    return county.code if county else ""


# --------------------------------------------------------------------------- queues and detail


def _queue_rows(request, level):
    if level not in QUEUES:
        raise Http404
    return S.queue_for(request.user, level)


@login_required
def queue(request, level):
    rows = _queue_rows(request, level)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    towns = S.town_names()
    for n in page.object_list:
        n.town_name = towns.get(n.town_code, n.town_code)
    context = {"level": level, "title": QUEUES[level], "page": page, "queues": QUEUES}
    return render(request, "incentives/queue.html", context)


def _nomination_row(n, towns):
    return [
        n.subject_code,
        n.tier.get_criterion_display(),
        n.amount,
        towns.get(n.town_code, n.town_code),
        n.nominated_at,
        n.nominated_by.get_username(),
        n.get_state_display(),
    ]


NOMINATION_HEADER = [
    gettext_lazy("case"),
    gettext_lazy("criterion"),
    gettext_lazy("amount (yuan)"),
    gettext_lazy("township"),
    gettext_lazy("nominated"),
    gettext_lazy("nominated by"),
    gettext_lazy("state"),
]


@login_required
def queue_export(request, level, fmt):
    if fmt not in EXPORT_FORMATS:
        raise Http404
    rows, towns = _queue_rows(request, level), S.town_names()
    header = [str(h) for h in NOMINATION_HEADER]
    data = (_nomination_row(n, towns) for n in rows.iterator())
    return export_response(f"nominations-{level}", header, data, fmt)


def _all_rows(request):
    rows = S.nominations_visible_to(request.user).select_related(
        "case", "dispute", "tier", "nominated_by"
    )
    state = request.GET.get("state", "")
    if state in Nomination.State.values:
        rows = rows.filter(state=state)
    return rows.order_by("-nominated_at", "-id"), state


@login_required
def nomination_list(request):
    """Every nomination of the user's area, newest first, by state."""
    rows, state = _all_rows(request)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    towns = S.town_names()
    for n in page.object_list:
        n.town_name = towns.get(n.town_code, n.town_code)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "state": state,
        "states": Nomination.State.choices,
        "query": query.urlencode(),
    }
    return render(request, "incentives/nominations.html", context)


@login_required
def nomination_list_export(request, fmt):
    if fmt not in EXPORT_FORMATS:
        raise Http404
    rows, _state = _all_rows(request)
    towns = S.town_names()
    header = [str(h) for h in NOMINATION_HEADER]
    data = (_nomination_row(n, towns) for n in rows.iterator())
    return export_response("nominations", header, data, fmt)


def _possible(user, n) -> list[str]:
    town = A.is_town_staff(user, n.town_code)
    county = A.is_county_staff(user, n.town_code[:6])
    if n.state == Nomination.State.NOMINATED and town:
        return ["review", "refuse"]
    if n.state == Nomination.State.REVIEWED and county:
        return ["approve", "refuse"]
    if n.state == Nomination.State.APPROVED and county:
        return ["revoke"]
    return []


@login_required
def nomination_detail(request, pk):
    n = S.access_nomination(request.user, pk)
    if request.method == "POST":
        form = DecisionForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("The form was not understood; try again."))
            return redirect("incentives_nomination", pk=n.pk)
        do, text = form.cleaned_data["do"], form.cleaned_data["text"] or ""
        version = form.cleaned_data["version"]
        try:
            if do == "review":
                A.do_review_nomination(n, actor=request.user, text=text, expected_version=version)
                messages.success(request, _("Reviewed; the county centre decides next."))
            elif do == "approve":
                A.do_approve_nomination(
                    n,
                    actor=request.user,
                    amount=form.cleaned_data["amount"],
                    text=text,
                    expected_version=version,
                )
                messages.success(request, _("Approved; the reward is recorded for the reporters."))
            elif do == "refuse":
                A.do_refuse_nomination(n, actor=request.user, reason=text, expected_version=version)
                messages.success(request, _("Refused."))
            else:
                A.do_revoke_nomination(n, actor=request.user, reason=text, expected_version=version)
                messages.success(request, _("Revoked; the reward entries are reversed."))
        except (ValidationError, ActionRefused) as exc:
            messages.error(request, _message(exc))
        return redirect("incentives_nomination", pk=n.pk)
    towns = S.town_names()
    typical = TypicalCase.objects.filter(nomination=n).first()
    context = {
        "n": n,
        "town_name": towns.get(n.town_code, n.town_code),
        "steps": n.steps.select_related("actor"),
        "entries": n.entries.order_by("created", "id"),
        "possible": _possible(request.user, n),
        "may_write_up": n.state == Nomination.State.APPROVED
        and A.may_write_up(request.user, n)
        and (typical is None or typical.state == TypicalCase.State.DRAFT),
        "typical": typical,
        "budget_left": A.budget_left(n.town_code, timezone.localdate().year),
    }
    return render(request, "incentives/nomination.html", context)


# --------------------------------------------------------------------------- my rewards


@login_required
def my_rewards(request):
    page = Paginator(S.my_entries(request.user), 50).get_page(request.GET.get("page"))
    context = {"page": page, **S.my_totals(request.user)}
    return render(request, "incentives/my_rewards.html", context)


@login_required
def my_rewards_export(request, fmt):
    if fmt not in EXPORT_FORMATS:
        raise Http404
    header = [_("recorded"), _("case"), _("criterion"), _("kind"), _("amount (yuan)"), _("reason")]
    rows = (
        [
            e.created,
            e.nomination.subject_code,
            e.nomination.tier.get_criterion_display(),
            e.get_kind_display(),
            e.amount,
            e.reason,
        ]
        for e in S.my_entries(request.user).iterator()
    )
    return export_response("my-rewards", header, rows, fmt)


# --------------------------------------------------------------------------- the library


def _library(request):
    rows = S.library_visible_to(request.user).select_related("category")
    towns = S.town_names()
    town_codes = sorted(set(rows.values_list("town_code", flat=True)))
    category_ids = set(rows.values_list("category_id", flat=True))
    categories = [
        (str(c.pk), c.name) for c in Category.objects.filter(pk__in=category_ids).order_by("code")
    ]
    form = LibraryFilterForm(
        request.GET or None,
        towns=[(code, towns.get(code, code)) for code in town_codes],
        categories=categories,
    )
    if form.is_valid():
        data = form.cleaned_data
        if data["q"]:
            q = data["q"]
            rows = rows.filter(
                Q(title__icontains=q) | Q(summary__icontains=q) | Q(lessons__icontains=q)
            )
        if data["criterion"]:
            rows = rows.filter(criterion=data["criterion"])
        if data["category"]:
            rows = rows.filter(category_id=data["category"])
        if data["town"]:
            rows = rows.filter(town_code=data["town"])
        if data["year"]:
            rows = rows.filter(year=data["year"])
    elif request.GET:
        rows = rows.none()
    return form, rows.order_by("-year", "town_code", "id"), towns


@login_required
def library(request):
    form, rows, towns = _library(request)
    page = Paginator(rows, 30).get_page(request.GET.get("page"))
    for t in page.object_list:
        t.town_name = towns.get(t.town_code, t.town_code)
    query = request.GET.copy()
    query.pop("page", None)
    drafts = S.drafts_visible_to(request.user).order_by("-written_at")[:50]
    context = {"form": form, "page": page, "query": query.urlencode(), "drafts": drafts}
    return render(request, "incentives/library.html", context)


@login_required
def library_export(request, fmt):
    form, rows, towns = _library(request)
    if fmt == "docx":
        data = library_docx(
            list(rows.select_related("category")[:500]),
            title=_("Typical cases of high-value reports"),
            town_names=towns,
        )
        response = HttpResponse(
            data,
            content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        )
        response["Content-Disposition"] = 'attachment; filename="typical-cases.docx"'
        return response
    if fmt not in EXPORT_FORMATS:
        raise Http404
    header = [_("title"), _("criterion"), _("category"), _("township"), _("year"), _("summary")]
    data = (
        [
            t.title,
            t.get_criterion_display(),
            t.category.name if t.category_id else "",
            towns.get(t.town_code, t.town_code),
            t.year,
            t.summary,
        ]
        for t in rows.iterator()
    )
    return export_response("typical-cases", header, data, fmt)


@login_required
def typical_case(request, pk):
    typical = S.access_typical_case(request.user, pk)
    context = {
        "t": typical,
        "town_name": S.town_names().get(typical.town_code, typical.town_code),
        "may_publish": typical.state == TypicalCase.State.DRAFT
        and A.is_county_staff(request.user, typical.county_code),
    }
    return render(request, "incentives/typical_case.html", context)


@login_required
@require_POST
def publish_typical_case(request, pk):
    typical = S.access_typical_case(request.user, pk)
    try:
        A.do_publish_typical_case(typical, actor=request.user)
        messages.success(request, _("Published to the library."))
    except ActionRefused as exc:
        messages.error(request, str(exc))
    return redirect("incentives_typical_case", pk=typical.pk)


@login_required
def write_up(request, pk):
    n = S.access_nomination(request.user, pk)
    if not A.may_write_up(request.user, n):
        raise Http404
    existing = TypicalCase.objects.filter(nomination=n).first()
    initial = {}
    if existing:
        initial = {
            f: getattr(existing, f) for f in ("title", "summary", "found", "handled", "lessons")
        }
    form = WriteUpForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            typical = A.do_write_typical_case(n, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_errors(form, exc)
        except ActionRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Saved as a draft; the county centre publishes it."))
            return redirect("incentives_typical_case", pk=typical.pk)
    return render(request, "incentives/write_up.html", {"form": form, "n": n})


# --------------------------------------------------------------------------- appraisal


def _areas(user):
    towns = S.town_names()
    prefixes = P.leader_prefixes(user)
    if prefixes is None:
        codes = sorted(c for c in towns if len(c) == 9)
    else:
        codes = sorted(
            {
                c
                for c in towns
                if len(c) == 9 and any(c.startswith(p) or p.startswith(c) for p in prefixes)
            }
        )
    return [(c, towns[c]) for c in codes]


def _appraisal(request):
    form = PeriodForm(request.GET or None, areas=_areas(request.user))
    year, month, area = form.choice()
    workers = P.workers_visible_to(request.user, area=area)
    rows = P.scores(workers, *P.period_bounds(year, month))
    label = f"{year}-{month:02d}" if month else str(year)
    return form, rows, label, year, month


@login_required
def appraisal_table(request):
    form, rows, label, year, month = _appraisal(request)
    if not rows and P.leader_prefixes(request.user) == []:
        raise Http404
    towns = S.town_names()
    query = request.GET.urlencode()
    leagues = []
    for by, title in (("town", _("Townships")), ("village", _("Villages / communities"))):
        table = P.league(rows, by)
        for r in table:
            r["name"] = towns.get(r["code"], r["code"])
        leagues.append({"key": by, "title": title, "rows": table[:200]})
    page = Paginator(rows, 100).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "label": label,
        "keys": list(P.weights()),
        "labels": dict(AppraisalIndicator.Key.choices),
        "weights": P.weights(),
        "leagues": leagues,
        "query": query,
        "year": year,
    }
    return render(request, "incentives/appraisal.html", context)


def _indicator_header():
    labels = dict(AppraisalIndicator.Key.choices)
    return [str(labels[k]) for k in P.weights()]


@login_required
def appraisal_export(request, fmt):
    if fmt not in EXPORT_FORMATS:
        raise Http404
    _form, rows, label, _y, _m = _appraisal(request)
    keys = list(P.weights())
    header = [_("rank"), _("grid worker"), _("grid"), *_indicator_header(), _("score")]
    data = ([r.rank, r.name, r.grid_name, *[r.counts[k] for k in keys], r.score] for r in rows)
    return export_response(f"appraisal-{label}", header, data, fmt)


@login_required
def league_export(request, by, fmt):
    if by not in {"town", "village"} or fmt not in EXPORT_FORMATS:
        raise Http404
    _form, rows, label, _y, _m = _appraisal(request)
    towns = S.town_names()
    header = [_("rank"), _("area"), _("grid workers"), _("total score"), _("mean score")]
    data = (
        [r["rank"], towns.get(r["code"], r["code"]), r["workers"], r["total"], r["mean"]]
        for r in P.league(rows, by)
    )
    return export_response(f"appraisal-{by}-{label}", header, data, fmt)


def _worker_months(request, user_id):
    if not P.may_see_worker(request.user, user_id):
        raise Http404
    try:
        year = int(request.GET.get("year") or timezone.localdate().year)
    except ValueError:
        year = timezone.localdate().year
    if not 2000 <= year <= 2100:
        year = timezone.localdate().year
    from civicgrid.people.models import RoleAssignment

    role_rows = P._worker_rows().filter(person__user_id=user_id)
    if not role_rows.exists():
        raise Http404
    months = []
    for month in range(1, 13):
        found = P.scores(role_rows, *P.period_bounds(year, month))
        months.append((month, found[0] if found else None))
    total = P.scores(role_rows, *P.period_bounds(year))
    worker = (
        RoleAssignment.objects.filter(pk__in=role_rows.values("pk"))
        .select_related("person", "grid")
        .first()
    )
    return worker, year, months, (total[0] if total else None)


@login_required
def appraisal_worker(request, user_id):
    worker, year, months, total = _worker_months(request, user_id)
    context = {
        "worker": worker,
        "year": year,
        "months": months,
        "total": total,
        "keys": list(P.weights()),
        "labels": dict(AppraisalIndicator.Key.choices),
        "weights": P.weights(),
    }
    return render(request, "incentives/appraisal_worker.html", context)


@login_required
def appraisal_worker_export(request, user_id, fmt):
    if fmt not in EXPORT_FORMATS:
        raise Http404
    worker, year, months, total = _worker_months(request, user_id)
    keys = list(P.weights())
    header = [_("month"), *_indicator_header(), _("score")]
    rows = [[f"{year}-{m:02d}", *[r.counts[k] for k in keys], r.score] for m, r in months if r]
    if total:
        rows.append([str(year), *[total.counts[k] for k in keys], total.score])
    return export_response(f"appraisal-{worker.person.pk}-{year}", header, rows, fmt)


# --------------------------------------------------------------------------- the scheme


def _budgets(request):
    county = _county_of(request.user)
    if not county or not scope_for(request.user).has("cases.view"):
        raise Http404
    year = timezone.localdate().year
    towns = S.town_names()
    budgets = []
    for b in TownBudget.objects.filter(town_code__startswith=county, year=year).order_by(
        "town_code"
    ):
        spent = b.amount - (A.budget_left(b.town_code, year) or 0)
        budgets.append(
            {"name": towns.get(b.town_code, b.town_code), "amount": b.amount, "spent": spent}
        )
    return county, year, budgets


@login_required
def scheme_export(request, fmt):
    if fmt not in EXPORT_FORMATS:
        raise Http404
    _county, year, budgets = _budgets(request)
    header = [_("township"), _("year"), _("budget (yuan)"), _("paid out (yuan)")]
    rows = ([b["name"], year, b["amount"], b["spent"]] for b in budgets)
    return export_response(f"reward-budgets-{year}", header, rows, fmt)


@login_required
def scheme(request):
    from civicgrid.incentives.models import RewardScheme

    county, year, budgets = _budgets(request)
    may_set = A.is_county_staff(request.user, county)
    towns = [(c, n) for c, n in S.town_names().items() if len(c) == 9 and c.startswith(county)]
    form = BudgetForm(request.POST or None, towns=sorted(towns), initial={"year": year})
    if request.method == "POST":
        if not may_set:
            raise Http404
        if form.is_valid():
            try:
                A.do_set_town_budget(actor=request.user, **form.cleaned_data)
            except (ValidationError, ActionRefused) as exc:
                messages.error(request, _message(exc))
            else:
                messages.success(request, _("The budget is set."))
                return redirect("incentives_scheme")
    context = {
        "schemes": RewardScheme.objects.filter(county_code=county).prefetch_related("tiers"),
        "current": A.scheme_on(county, timezone.localdate()),
        "budgets": budgets,
        "year": year,
        "form": form if may_set else None,
        "may_publish": may_set,
    }
    return render(request, "incentives/scheme.html", context)


@login_required
def scheme_publish(request):
    """A new version of the scheme (the county centre), prefilled from the one in force.
    Anyone else sees the refusal as a form error; the action decides."""
    county = _county_of(request.user)
    if not county or not scope_for(request.user).has("cases.view"):
        raise Http404
    today = timezone.localdate()
    current = A.scheme_on(county, today)
    may_publish = A.is_county_staff(request.user, county)
    initial = SchemeVersionForm.initial_from(current)
    initial["valid_from"] = today + timedelta(days=1)
    form = SchemeVersionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        kept = {t.criterion: t for t in current.tiers.all()} if current else {}
        tiers = []
        for tier in data["tiers"]:
            old = kept.get(tier["criterion"])
            if old is not None:
                tier = {**tier, "name": old.name, "description": old.description}
            tiers.append(tier)
        try:
            A.do_publish_scheme(
                county_code=county,
                name=data["name"],
                version=data["version"],
                valid_from=data["valid_from"],
                tiers=tiers,
                actor=request.user,
            )
        except ValidationError as exc:
            add_errors(form, exc)
        except ActionRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("The new version of the scheme is published."))
            return redirect("incentives_scheme")
    context = {"form": form, "current": current, "may_publish": may_publish}
    return render(request, "incentives/scheme_publish.html", context)
