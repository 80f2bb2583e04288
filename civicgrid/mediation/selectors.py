"""Every read of the mediation app, scoped by ``core.scoping``.

Who sees a dispute: those holding ``mediation.view`` over its place (the centre, village and
township staff, leaders, auditors); a mediator only the disputes they are (or were)
assigned to; department staff the disputes routed to their department.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db.models import Q, QuerySet
from django.http import Http404

from civicgrid.core.scoping import departments_of, restrict, scope_for
from civicgrid.mediation import workflow
from civicgrid.mediation.models import (
    DISPUTE_CATEGORIES,
    Activity,
    CallLog,
    Dispute,
    DisputeMediator,
    JudicialConfirmation,
    LegalChannel,
    LegalHandoff,
    MediationOrg,
    Mediator,
    Performance,
    Route,
    VisitorLog,
)
from civicgrid.regions.models import Region

__all__ = [
    "STAT_GROUPS",
    "access_dispute",
    "activities_visible_to",
    "orgs_configurable_by",
    "orgs_for_activities",
    "calls_visible_to",
    "disputes_visible_to",
    "filter_disputes",
    "orgs_visible_to",
    "referrals_by_channel",
    "statistics",
    "visitors_visible_to",
]


def disputes_visible_to(user) -> QuerySet[Dispute]:
    scope = scope_for(user)
    if scope.superuser:
        return Dispute.objects.all()
    by_area = restrict(Dispute.objects.all(), user, "mediation.view", region_field="region_code")
    condition = Q(pk__in=by_area.values("pk"))
    if scope.has("mediation.mediate"):
        condition |= Q(
            pk__in=DisputeMediator.objects.filter(mediator__user=user).values("dispute_id")
        )
        departments = departments_of(user, "mediation.mediate")
        if departments:
            condition |= Q(department_id__in=departments)
    return Dispute.objects.filter(condition)


def access_dispute(user, code: str) -> Dispute:
    dispute = disputes_visible_to(user).filter(code=code).first()
    if dispute is None:
        raise Http404
    return dispute


def filter_disputes(
    disputes: QuerySet[Dispute],
    *,
    state: str = "",
    category: str = "",
    risk: str = "",
    overdue: bool = False,
    q: str = "",
) -> QuerySet[Dispute]:
    if state:
        disputes = disputes.filter(state=state)
    if category:
        disputes = disputes.filter(category=category)
    if risk:
        disputes = disputes.filter(risk_level=risk)
    if overdue:
        from django.utils import timezone

        disputes = disputes.filter(state__in=workflow.CLOCK_STATES, deadline__lt=timezone.now())
    if q:
        disputes = disputes.filter(Q(code__icontains=q) | Q(title__icontains=q))
    return disputes.select_related("org", "department").order_by("-created", "-id")


def orgs_visible_to(user) -> QuerySet[MediationOrg]:
    return restrict(
        MediationOrg.objects.all(),
        user,
        "mediation.view",
        region_field="region_code",
        include_ancestors=True,
    )


def activities_visible_to(user) -> QuerySet[Activity]:
    """Activities of the user's area, and a mediator's own."""
    by_area = restrict(Activity.objects.all(), user, "mediation.view", region_field="region_code")
    condition = Q(pk__in=by_area.values("pk"))
    if getattr(user, "is_authenticated", False):
        condition |= Q(mediator__user=user)
    return Activity.objects.filter(condition).select_related("org", "mediator")


def orgs_for_activities(user) -> QuerySet[MediationOrg]:
    """The organisations the user may log an activity for: those of the places where they
    register, and their own as a mediator."""
    by_area = restrict(
        MediationOrg.objects.filter(active=True),
        user,
        "mediation.register",
        region_field="region_code",
    )
    condition = Q(pk__in=by_area.values("pk"))
    if getattr(user, "is_authenticated", False):
        condition |= Q(mediators__user=user)
    return MediationOrg.objects.filter(condition).distinct().order_by("code")


def orgs_configurable_by(user) -> QuerySet[MediationOrg]:
    return restrict(
        MediationOrg.objects.all(), user, "mediation.configure", region_field="region_code"
    )


def visitors_visible_to(user) -> QuerySet[VisitorLog]:
    return restrict(
        VisitorLog.objects.select_related("dispute", "case"),
        user,
        "mediation.view",
        region_field="region_code",
    )


def calls_visible_to(user) -> QuerySet[CallLog]:
    return restrict(
        CallLog.objects.select_related("dispute", "case"),
        user,
        "mediation.view",
        region_field="region_code",
    )


# --------------------------------------------------------------------------- statistics

# How statistics rows are grouped (F6): per level (township), organisation, mediator (the
# lead mediator), resident department (disputes routed to it), category, route.
STAT_GROUPS = ("town", "org", "mediator", "department", "category", "route")

STAT_COLUMNS = (
    "intake",
    "concluded",
    "successful",
    "success_rate",
    "mean_days",
    "performed",
    "confirmed",
    "referred",
    "on_time_rate",
    "satisfaction_rate",
)


def _group_labels(group: str, keys) -> dict:
    keys = [k for k in keys if k]
    if group == "town":
        return dict(Region.objects.filter(code__in=keys).values_list("code", "name"))
    if group == "org":
        return dict(MediationOrg.objects.filter(pk__in=keys).values_list("pk", "name"))
    if group == "mediator":
        return dict(Mediator.objects.filter(pk__in=keys).values_list("pk", "name"))
    if group == "department":
        from civicgrid.people.models import Department

        return dict(Department.objects.filter(pk__in=keys).values_list("pk", "name"))
    if group == "category":
        return {code: str(label) for code, label in DISPUTE_CATEGORIES}
    return {code: str(label) for code, label in Route.choices}


def statistics(user, since: datetime, until: datetime, group: str = "town") -> list[dict]:
    """Figures of the disputes registered in [since, until) that ``user`` sees, by ``group``.

    * intake — disputes registered;
    * concluded — of them, those with an outcome (agreement, failed, terminated, withdrawn);
    * successful — outcome agreement;
    * success rate (调解成功率) = successful / concluded, in per cent (None when nothing
      concluded): disputes still in mediation are not counted against anyone;
    * mean days — calendar days from registration to the outcome, over the concluded;
    * performed — agreements recorded as fully performed;
    * confirmed — agreements confirmed by a court (司法确认);
    * referred — disputes handed to a legal channel;
    * on-time rate = concluded within the mediation time limit (one month on the working
      calendar plus any extension) / concluded, in per cent;
    * satisfaction rate = (satisfied + basically satisfied) / followed up, in per cent.

    Grouped by department, only disputes routed to a resident department count: this is how
    the departments are evaluated (their referrals handled on time, the parties' satisfaction).
    """
    if group not in STAT_GROUPS:
        raise ValueError(group)
    disputes = disputes_visible_to(user).filter(created__gte=since, created__lt=until)
    rows = list(
        disputes.values(
            "pk",
            "region_code",
            "org_id",
            "department_id",
            "category",
            "route",
            "outcome",
            "created",
            "concluded_at",
            "extension_days",
            "satisfaction",
        )
    )
    ids = [r["pk"] for r in rows]
    performed = set(
        Performance.objects.filter(dispute_id__in=ids, kind=Performance.Kind.DONE).values_list(
            "dispute_id", flat=True
        )
    )
    confirmed = set(
        JudicialConfirmation.objects.filter(
            dispute_id__in=ids, result=JudicialConfirmation.Result.CONFIRMED
        ).values_list("dispute_id", flat=True)
    )
    referred = set(
        LegalHandoff.objects.filter(dispute_id__in=ids).values_list("dispute_id", flat=True)
    )
    lead = {}
    if group == "mediator":
        for dispute_id, mediator_id in (
            DisputeMediator.objects.filter(dispute_id__in=ids, lead=True)
            .order_by("created", "id")
            .values_list("dispute_id", "mediator_id")
        ):
            lead[dispute_id] = mediator_id  # the latest lead wins
    key_of = {
        "town": lambda r: r["region_code"][:9],
        "org": lambda r: r["org_id"],
        "mediator": lambda r: lead.get(r["pk"]),
        "department": lambda r: r["department_id"],
        "category": lambda r: r["category"],
        "route": lambda r: r["route"],
    }[group]
    if group == "department":
        rows = [r for r in rows if r["department_id"]]
    from civicgrid.mediation.rules import mediation_deadline

    counters = ("intake", "concluded", "successful", "performed", "confirmed", "referred")
    extra = ("days", "on_time", "rated", "satisfied")
    acc: dict = defaultdict(lambda: dict.fromkeys(counters + extra, 0))
    for r in rows:
        a = acc[key_of(r)]
        a["intake"] += 1
        if r["outcome"]:
            a["concluded"] += 1
            a["days"] += (r["concluded_at"] - r["created"]).total_seconds() / 86400
            a["on_time"] += r["concluded_at"] <= mediation_deadline(
                r["created"], r["extension_days"]
            )
            if r["outcome"] == "agreement":
                a["successful"] += 1
        if r["satisfaction"]:
            a["rated"] += 1
            a["satisfied"] += r["satisfaction"] in {"satisfied", "basically_satisfied"}
        a["performed"] += r["pk"] in performed
        a["confirmed"] += r["pk"] in confirmed
        a["referred"] += r["pk"] in referred
    labels = _group_labels(group, acc.keys())
    result = []
    for key, a in acc.items():
        concluded = a["concluded"]
        result.append(
            {
                "key": key or "",
                "label": labels.get(key, key) if key else "—",
                "intake": a["intake"],
                "concluded": concluded,
                "successful": a["successful"],
                "success_rate": round(100 * a["successful"] / concluded, 1) if concluded else None,
                "mean_days": round(a["days"] / concluded, 1) if concluded else None,
                "performed": a["performed"],
                "confirmed": a["confirmed"],
                "referred": a["referred"],
                "on_time_rate": round(100 * a["on_time"] / concluded, 1) if concluded else None,
                "satisfaction_rate": (
                    round(100 * a["satisfied"] / a["rated"], 1) if a["rated"] else None
                ),
            }
        )
    result.sort(key=lambda row: (-row["intake"], str(row["key"])))
    return result


def referrals_by_channel(user, since: datetime, until: datetime) -> list[dict]:
    """Hand-offs made in [since, until) per legal channel, with how many came back resolved."""
    handoffs = LegalHandoff.objects.filter(
        dispute__in=disputes_visible_to(user), created__gte=since, created__lt=until
    )
    counts = defaultdict(lambda: {"handoffs": 0, "resolved": 0, "pending": 0})
    for channel, resolved, result_at in handoffs.values_list("channel", "resolved", "result_at"):
        c = counts[channel]
        c["handoffs"] += 1
        c["resolved"] += bool(resolved)
        c["pending"] += result_at is None
    return [
        {"channel": channel, "label": str(label), **counts[channel]}
        for channel, label in LegalChannel.choices
        if channel in counts
    ]
