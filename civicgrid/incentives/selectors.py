"""Every read of the incentives app a person sees, scoped by region code."""

from django.db.models import Count, Q, Sum
from django.http import Http404

from civicgrid.core.roles import ROLE_LEVEL
from civicgrid.core.scoping import restrict, scope_for
from civicgrid.incentives.models import Nomination, RewardEntry, TypicalCase

__all__ = [
    "access_nomination",
    "access_typical_case",
    "approval_towns",
    "county_codes",
    "library_visible_to",
    "my_entries",
    "nominations_visible_to",
    "queue_for",
    "review_towns",
    "town_names",
]


def _unit_codes(user, level: str) -> list[str]:
    return sorted(
        {
            g.prefix
            for g in scope_for(user).grants
            if "cases.handle" in g.permissions and ROLE_LEVEL.get(g.role) == level
        }
    )


def review_towns(user) -> list[str]:
    """The townships whose nominations ``user`` reviews (their command room)."""
    return _unit_codes(user, "town")


def county_codes(user) -> list[str]:
    """The counties whose nominations ``user`` approves (the county centre)."""
    return _unit_codes(user, "county")


approval_towns = county_codes


def nominations_visible_to(user):
    """Nominations of the places the user sees cases in — through places only: a
    department's staff are not in the reward chain and would otherwise read every
    nomination of their department's area (evidence, amounts, who was paid)."""
    return restrict(
        Nomination.objects.all(),
        user,
        "cases.view",
        region_field="region_code",
        department_grants=False,
    )


def queue_for(user, level: str):
    """Nominations waiting for ``user``: township review or county approval."""
    rows = Nomination.objects.select_related("case", "dispute", "tier", "nominated_by")
    if scope_for(user).superuser:
        codes = None
    else:
        codes = review_towns(user) if level == "review" else county_codes(user)
        if not codes:
            return Nomination.objects.none()
    state = Nomination.State.NOMINATED if level == "review" else Nomination.State.REVIEWED
    rows = rows.filter(state=state)
    if codes is not None:
        condition = Q()
        for code in codes:
            condition |= Q(town_code__startswith=code)
        rows = rows.filter(condition)
    return rows.order_by("nominated_at", "id")


def access_nomination(user, pk) -> Nomination:
    nomination = (
        nominations_visible_to(user)
        .select_related("case", "case__category", "dispute", "tier", "tier__scheme", "nominated_by")
        .filter(pk=pk)
        .first()
    )
    if nomination is None:
        raise Http404
    return nomination


def my_entries(user):
    return (
        RewardEntry.objects.filter(recipient=user)
        .select_related(
            "nomination",
            "nomination__case",
            "nomination__dispute",
            "nomination__tier",
            "reverses",
        )
        .order_by("-created", "-id")
    )


def my_totals(user) -> dict:
    totals = RewardEntry.objects.filter(recipient=user).aggregate(
        total=Sum("amount"),
        rewards=Count("id", filter=Q(kind=RewardEntry.Kind.AWARD)),
    )
    return {"total": totals["total"] or 0, "rewards": totals["rewards"]}


def library_visible_to(user):
    """Published typical cases of the counties ``user`` works in (an internal library)."""
    rows = TypicalCase.objects.filter(
        state=TypicalCase.State.PUBLISHED, nomination__state=Nomination.State.APPROVED
    )
    return restrict(rows, user, "cases.view", region_field="county_code", include_ancestors=True)


def drafts_visible_to(user):
    rows = TypicalCase.objects.filter(state=TypicalCase.State.DRAFT)
    return restrict(rows, user, "cases.handle", region_field="town_code")


def access_typical_case(user, pk) -> TypicalCase:
    published = library_visible_to(user).filter(pk=pk)
    typical = (
        (published | drafts_visible_to(user).filter(pk=pk))
        .select_related("category", "nomination")
        .first()
    )
    if typical is None:
        raise Http404
    return typical


def town_names() -> dict[str, str]:
    from civicgrid.regions.models import Region

    return dict(
        Region.objects.filter(level__in=[Region.Level.TOWN, Region.Level.VILLAGE]).values_list(
            "code", "name"
        )
    )
