"""Risk rules, routing clocks and the legal channels' statutory limits: data in one place.

Risk (风险研判): every rule that a dispute meets adds its points; the level is the band the
sum falls in. The rules are the ones the issue names — many parties, a large amount, threats,
repeated petitions — plus the scale the window recorded. Each rule says why it is there, and
the page shows the rules a dispute met.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicgrid.core.calendar import default_calendar

__all__ = [
    "DEFAULT_MEDIATION_MONTHS",
    "LEGAL_CLOCKS",
    "MAX_EXTENSION_DAYS",
    "RISK_BANDS",
    "RISK_RULES",
    "RiskRule",
    "assess_risk",
    "legal_deadline",
    "mediation_deadline",
    "period_end",
]


@dataclass(frozen=True)
class RiskRule:
    key: str
    label: object
    why: object
    points: int
    test: object  # callable(dispute-like) -> bool


def _amount(d) -> Decimal:
    return Decimal(str(d.amount or 0))


RISK_RULES: tuple[RiskRule, ...] = (
    RiskRule(
        "many_parties",
        _("10 or more people involved"),
        _("Disputes of many people can turn into a group incident (群体性事件)."),
        2,
        lambda d: 10 <= (d.people_involved or 0) < 30,
    ),
    RiskRule(
        "group",
        _("30 or more people involved"),
        _("A group this large needs the centre's leaders and a plan (重大群体性风险)."),
        4,
        lambda d: (d.people_involved or 0) >= 30,
    ),
    RiskRule(
        "large_amount",
        _("100,000 yuan or more at stake"),
        _("Large sums make parties less willing to compromise."),
        2,
        lambda d: Decimal("100000") <= _amount(d) < Decimal("1000000"),
    ),
    RiskRule(
        "very_large_amount",
        _("1,000,000 yuan or more at stake"),
        _("Sums this large (wage arrears of a whole site, compensation) are high risk alone."),
        4,
        lambda d: _amount(d) >= Decimal("1000000"),
    ),
    RiskRule(
        "threats",
        _("Threats of violence, self-harm or extreme acts"),
        _("A threat is high risk alone: 防止民转刑 (keep a civil dispute from becoming a crime)."),
        4,
        lambda d: bool(d.threats),
    ),
    RiskRule(
        "repeated_petitions",
        _("Petitioned twice or more already"),
        _("Repeated petitions show the dispute was not settled where it arose."),
        2,
        lambda d: 2 <= (d.petitions or 0) < 5,
    ),
    RiskRule(
        "persistent_petitions",
        _("Petitioned five times or more"),
        _("A persistent petitioner (重复访) needs the centre's coordinated handling."),
        4,
        lambda d: (d.petitions or 0) >= 5,
    ),
    RiskRule(
        "large_scale",
        _("Scale recorded as large or above"),
        _("The window's own judgement of the scale counts."),
        2,
        lambda d: d.scale in {"large", "major", "especially_major"},
    ),
)

# (lowest sum, level): the first band whose lowest sum the total reaches, from the top.
RISK_BANDS = ((4, "high"), (2, "medium"), (0, "low"))


def assess_risk(dispute) -> tuple[str, list[str]]:
    """(risk level, keys of the rules met) for anything with the dispute's fields."""
    met = [rule for rule in RISK_RULES if rule.test(dispute)]
    total = sum(rule.points for rule in met)
    level = next(name for floor, name in RISK_BANDS if total >= floor)
    return level, [rule.key for rule in met]


# --------------------------------------------------------------------------- clocks

# 司法部《人民调解工作若干规定》art. 33: a people's mediation is generally concluded within
# one month of acceptance.
DEFAULT_MEDIATION_MONTHS = 1
# An extension, agreed by the parties, adds at most this many calendar days in all.
MAX_EXTENSION_DAYS = 30

# The legal channels' own clocks, in calendar days from the day after the hand-off
# (cn-standards §4.4 and the laws named).
LEGAL_CLOCKS = {
    # 法院委派(诉前)调解: typically ≤30 days, extendable with the parties' consent.
    "court": (30, _("Pre-litigation mediation delegated by the court: 30 days")),
    # 公安机关治安调解: no statute; the people's-mediation month is used.
    "police": (30, _("Police–mediation link: one month, as people's mediation")),
    # 《信访工作条例》(2022): handled within 60 days of acceptance (+≤30 extension).
    "petition": (60, _("Petitions regulation (2022): handled within 60 days")),
    # 劳动争议调解仲裁法 art. 43: award within 45 days of acceptance (+≤15).
    "labour_arbitration": (45, _("Labour Dispute Mediation and Arbitration Law: 45 days")),
    # 行政复议法 (2023) art. 62: decided within 60 days of acceptance (+≤30).
    "administrative_review": (60, _("Administrative Reconsideration Law: 60 days")),
}


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for d in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, d))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def period_end(start: datetime, *, days: int = 0, months: int = 0) -> datetime:
    """The end of a period of calendar ``days``/``months`` started at ``start``.

    As the law counts (民法典 §§201–203): received outside working time counts from the next
    working moment; the day of receipt is not counted; a period in months ends on the
    corresponding day of the last month (the month's last day if it has none); a last day
    that is a holiday or weekend moves to the next working day; the period ends at the
    close of business. Computed on the working calendar (``core.calendar``).
    """
    calendar = default_calendar()
    received = timezone.localtime(calendar.next_working_moment(start)).date()
    last = _add_months(received, months) + timedelta(days=days)
    zone = timezone.localtime(calendar.next_working_moment(start)).tzinfo
    # 0 working days from the start of ``last`` = close of business on it, or on the next
    # working day when it is off.
    return calendar.add_working_days(datetime.combine(last, time.min, tzinfo=zone), 0)


def mediation_deadline(start: datetime, extension_days: int = 0) -> datetime:
    end = period_end(start, months=DEFAULT_MEDIATION_MONTHS)
    if extension_days:
        end = period_end(end - timedelta(microseconds=1), days=extension_days)
    return end


def legal_deadline(channel: str, start: datetime) -> datetime:
    return period_end(start, days=LEGAL_CLOCKS[channel][0])
