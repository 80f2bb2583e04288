"""Reads of members, points and awards, always through the reader's scope.

* Members and their ledgers: township and county staff (``cases.supervise``) over their area;
  a member reads their own ledger.
* Leaderboards: staff who see cases read the members of their area; a member reads the
  boards of their county (names masked for everyone on a board).
* Awards: the county centre (and administrators).
"""

from datetime import datetime, time

from django.db.models import Q, QuerySet, Sum
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.core.scoping import restrict, scope_for
from civicgrid.people.pii import mask_name
from civicgrid.regions.models import Region

from .actions import MANAGE_PERMISSION, rank_members, selected, year_bounds
from .models import Award, AwardCandidate, Event, Member, PointEntry

__all__ = [
    "access_award",
    "access_member",
    "award_rows",
    "awards_visible_to",
    "balance",
    "leaderboard",
    "leaderboard_areas",
    "member_of",
    "members_visible_to",
    "period_bounds",
    "town_names",
]


def member_of(user) -> Member | None:
    if user is None or not user.is_authenticated:
        return None
    return Member.objects.filter(user=user).first()


def members_visible_to(user) -> QuerySet[Member]:
    return restrict(Member.objects.all(), user, MANAGE_PERMISSION, region_field="region_code")


def access_member(user, member_id) -> Member:
    member = members_visible_to(user).filter(pk=member_id).first()
    if member is None:
        raise Http404
    return member


def balance(member: Member, *, since=None, until=None) -> int:
    entries = PointEntry.objects.filter(member=member)
    if since is not None:
        entries = entries.filter(effective__gte=since)
    if until is not None:
        entries = entries.filter(effective__lt=until)
    return entries.aggregate(s=Sum("points"))["s"] or 0


def town_names() -> dict[str, str]:
    return dict(Region.objects.filter(level=Region.Level.TOWN).values_list("code", "name"))


# --------------------------------------------------------------------------- leaderboards

PERIODS = ("month", "quarter", "year")


def period_bounds(kind: str, year: int, number: int = 1) -> tuple[datetime, datetime]:
    """The local instants a month, quarter or year of ``year`` starts and ends."""
    zone = timezone.get_current_timezone()
    if kind == "year":
        return year_bounds(year)
    if kind == "quarter":
        if not 1 <= number <= 4:
            raise ValueError("quarter")
        first, months = 3 * (number - 1) + 1, 3
    elif kind == "month":
        if not 1 <= number <= 12:
            raise ValueError("month")
        first, months = number, 1
    else:
        raise ValueError(kind)
    start = datetime.combine(datetime(year, first, 1).date(), time.min, tzinfo=zone)
    last = first + months
    end_year, end_month = (year + 1, last - 12) if last > 12 else (year, last)
    end = datetime.combine(datetime(end_year, end_month, 1).date(), time.min, tzinfo=zone)
    return start, end


def _board_entries(user) -> QuerySet[PointEntry]:
    entries = PointEntry.objects.all()
    if scope_for(user).has("cases.view"):
        return restrict(entries, user, "cases.view", region_field="region_code")
    member = member_of(user)
    if member is not None and member.state == Member.State.ACTIVE:
        return entries.filter(region_code__startswith=member.town_code[:6])
    return entries.none()


def may_see_boards(user) -> bool:
    scope = scope_for(user)
    return scope.has("cases.view") or member_of(user) is not None


def leaderboard_areas(user) -> list[tuple[str, str]]:
    """(code, name) of the areas whose boards ``user`` may choose: counties, then townships."""
    if not may_see_boards(user):
        return []
    regions = Region.objects.filter(level__in=[Region.Level.COUNTY, Region.Level.TOWN])
    scope = scope_for(user)
    if scope.has("cases.view") and not scope.superuser:
        prefixes = scope.prefixes("cases.view")
        if "" not in prefixes:
            condition = Q()
            for prefix in prefixes:
                condition |= Q(code__startswith=prefix) | Q(code=prefix[:6]) | Q(code=prefix[:9])
            regions = regions.filter(condition)
    elif not scope.has("cases.view"):
        member = member_of(user)
        regions = regions.filter(code__startswith=member.town_code[:6])
    return list(regions.order_by("code").values_list("code", "name"))


def leaderboard(user, *, start, end, area: str = "") -> list[dict]:
    """The members of ``area`` ranked by their points from ``start`` to ``end`` (see
    ``actions.rank_members`` for the tie rule)."""
    entries = _board_entries(user).filter(effective__gte=start, effective__lt=end)
    if area:
        entries = entries.filter(region_code__startswith=area)
    ranking = rank_members(entries)
    members = Member.objects.in_bulk([r["member_id"] for r in ranking])
    towns = town_names()
    kinds = dict(Member.Kind.choices)
    rows = []
    for index, row in enumerate(ranking, start=1):
        member = members[row["member_id"]]
        rows.append(
            {
                "rank": index,
                "member": member,
                "name": mask_name(member.name),
                "kind": kinds.get(member.kind, member.kind),
                "platform": member.platform,
                "town": towns.get(member.town_code, member.town_code),
                "points": row["total"],
                "accepted": row["accepted"],
            }
        )
    return rows


# --------------------------------------------------------------------------- awards


def awards_visible_to(user) -> QuerySet[Award]:
    return restrict(Award.objects.all(), user, MANAGE_PERMISSION, region_field="county_code")


def access_award(user, award_id) -> Award:
    award = awards_visible_to(user).filter(pk=award_id).first()
    if award is None:
        raise Http404
    return award


def award_rows(award: Award, *, reserves: int = 20) -> dict:
    """The awardees, the next ``reserves`` in line and the excluded, for review and print."""
    chosen = list(selected(award).select_related("member"))
    chosen_ids = {c.pk for c in chosen}
    excluded = list(
        award.candidates.filter(excluded_at__isnull=False)
        .select_related("member", "excluded_by")
        .order_by("rank")
    )
    waiting = []
    if award.state == Award.State.PROPOSED:
        last = chosen[-1].rank if chosen else 0
        waiting = list(
            award.candidates.filter(excluded_at__isnull=True, rank__gt=last)
            .select_related("member")
            .order_by("rank")[:reserves]
        )
    towns = town_names()
    for candidate in [*chosen, *excluded, *waiting]:
        candidate.town_name = towns.get(candidate.member.town_code, candidate.member.town_code)
    return {
        "chosen": chosen,
        "waiting": [c for c in waiting if c.pk not in chosen_ids],
        "excluded": excluded,
    }


def candidate_for_certificate(award: Award, candidate_id) -> AwardCandidate:
    candidate = (
        award.candidates.filter(pk=candidate_id, final_rank__isnull=False)
        .select_related("member")
        .first()
    )
    if candidate is None:
        raise Http404
    return candidate


def event_label(entry: PointEntry) -> str:
    label = dict(Event.choices).get(entry.event, entry.event)
    if entry.reverses_id:
        return _("Reversal: %(event)s") % {"event": label}
    return str(label)
