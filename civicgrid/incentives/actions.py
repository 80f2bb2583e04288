"""Every write of the incentives app: scheme, nominations and their ledger, typical cases,
appraisal weights. Each action checks who may act, validates, writes in one transaction and
records an audit event.

Decisions (see the report of issue 10):

* Only a case that is **closed (verified) or archived** can be nominated: the outcome is then on
  record (the verification or the reporter's evaluation), which is the evidence the scheme asks
  for. Rejected, merged, filed and open cases cannot.
* Nominating: the case's handler (the owning unit, or the lead department of its dispatch) or
  the command room of the case's township, as the tier allows. Review: staff of that township's
  command room (someone other than the nominator). Approval and revocation: the county centre.
* The reward goes to the case's reporters who have an account (grid workers, liaisons,
  co-governance members …), split evenly in whole yuan (the remainder to the first reporter).
* A **dispute** (``mediation``) can be nominated too, once its outcome is proven: its agreement
  was performed in full (state "agreement performed", "followed up" or "closed" with a
  full-performance record); failed, terminated, withdrawn, referred or breached disputes cannot.
  The centre that handles it (``mediation.route`` over its place) nominates; the reward goes to
  the reporters of the case it came from, or else to whoever registered it if they are a grid
  worker, liaison or co-governance member. Its township is its region code's first nine digits;
  review, approval, ledger and revocation are the case's. A dispute and the case it came from
  are one report: only one of them can be rewarded.
* The township's yearly budget is checked at approval, against the ledger's net total of the
  year of approval; a township without a budget for the year cannot be paid. A revocation
  reverses the entries in their own budget year, which frees that budget.
"""

import re
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.cases import workflow as case_workflow
from civicgrid.cases.actions import acting_unit, is_owner
from civicgrid.cases.models import Case
from civicgrid.core.audit import record_event
from civicgrid.core.errors import ActionRefused
from civicgrid.core.roles import Role
from civicgrid.core.scoping import acts_for_unit, can
from civicgrid.incentives import workflow
from civicgrid.incentives.models import (
    AppraisalIndicator,
    Criterion,
    Nomination,
    NominationStep,
    Nominator,
    RewardEntry,
    RewardScheme,
    RewardTier,
    TownBudget,
    TypicalCase,
)
from civicgrid.mediation import workflow as dispute_workflow
from civicgrid.mediation.models import Dispute, Outcome, Performance
from civicgrid.people.models import RoleAssignment

__all__ = [
    "NOMINABLE_STATES",
    "do_approve_nomination",
    "do_nominate_case",
    "do_nominate_dispute",
    "is_proven_dispute",
    "do_publish_scheme",
    "do_publish_typical_case",
    "do_refuse_nomination",
    "do_review_nomination",
    "do_revoke_nomination",
    "do_set_indicator_weight",
    "do_set_town_budget",
    "do_write_typical_case",
    "find_personal_data",
    "is_county_staff",
    "is_town_staff",
    "may_nominate_as",
    "scheme_on",
]

NOMINABLE_STATES = frozenset({case_workflow.CLOSED, case_workflow.ARCHIVED})

# Phone numbers (mobile and landline with area code) and resident ID numbers (18 characters).
_PERSONAL_DATA = [
    re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)"),
    re.compile(r"(?<!\d)0\d{2,3}-\d{7,8}(?!\d)"),
    re.compile(r"(?<!\d)\d{17}[\dXx](?![\dXx])"),
]


def is_town_staff(user, town_code: str) -> bool:
    return acts_for_unit(user, "cases.handle", {"town"}, town_code)


def is_county_staff(user, county_code: str) -> bool:
    return acts_for_unit(user, "cases.handle", {"county"}, county_code)


def scheme_on(county_code: str, day: date) -> RewardScheme | None:
    """The version of the county's scheme in force on ``day``."""
    return (
        RewardScheme.objects.filter(county_code=county_code, valid_from__lte=day)
        .exclude(valid_to__lt=day)
        .order_by("-valid_from", "-id")
        .first()
    )


def _name(user) -> str:
    return user.get_full_name() or user.get_username()


# --------------------------------------------------------------------------- the scheme


def do_publish_scheme(
    *, county_code: str, name: str, version: str, valid_from: date, tiers: list[dict], actor
) -> RewardScheme:
    """A new version of the scheme from ``valid_from``; the one in force ends the day before."""
    if not is_county_staff(actor, county_code):
        raise ActionRefused(_("Only the county centre sets the reward scheme."))
    errors = {}
    if not (name or "").strip():
        errors["name"] = _("Give the scheme a name.")
    if not (version or "").strip():
        errors["version"] = _("Say which version this is (for example 试行).")
    if not tiers:
        errors["tiers"] = _("A scheme needs at least one tier.")
    criteria = [t.get("criterion") for t in tiers]
    if len(set(criteria)) != len(criteria) or not set(criteria) <= set(Criterion.values):
        errors["tiers"] = _("Each tier needs its own criterion from the list.")
    for t in tiers:
        low, high = t.get("amount_min"), t.get("amount_max")
        if not isinstance(low, int) or not isinstance(high, int) or not 0 < low <= high:
            errors["tiers"] = _("A tier's amounts must be whole yuan, lowest not above highest.")
        if not t.get("nominators") or not set(t["nominators"]) <= set(Nominator.values):
            errors["tiers"] = _("Say who may nominate for each tier.")
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    with transaction.atomic():
        current = (
            RewardScheme.objects.select_for_update()
            .filter(county_code=county_code, valid_to__isnull=True)
            .order_by("-valid_from")
            .first()
        )
        if current is not None:
            if valid_from <= current.valid_from:
                raise ValidationError(
                    {
                        "valid_from": _(
                            "The new version must start after the current one (%(day)s)."
                        )
                        % {"day": current.valid_from}
                    }
                )
            current.valid_to = valid_from - timedelta(days=1)
            current.save(update_fields=["valid_to"])
        scheme = RewardScheme.objects.create(
            county_code=county_code,
            name=name.strip(),
            version=version.strip(),
            valid_from=valid_from,
            created=now,
            created_by=actor,
            replaces=current,
        )
        for t in tiers:
            RewardTier.objects.create(
                scheme=scheme,
                criterion=t["criterion"],
                name=t.get("name") or Criterion(t["criterion"]).label,
                description=t.get("description", ""),
                amount_min=t["amount_min"],
                amount_max=t["amount_max"],
                nominators=list(t["nominators"]),
            )
        record_event(
            "incentives.publish_scheme",
            actor=actor,
            target=scheme,
            scope_code=county_code,
            before={"replaces": current.pk if current else None},
            after={"version": scheme.version, "valid_from": valid_from, "tiers": tiers},
        )
    return scheme


def do_set_town_budget(*, town_code: str, year: int, amount: int, actor) -> TownBudget:
    if len(town_code) != 9 or not is_county_staff(actor, town_code[:6]):
        raise ActionRefused(_("Only the county centre sets the townships' budgets."))
    if not isinstance(amount, int) or amount < 0:
        raise ValidationError({"amount": _("The budget is a whole number of yuan, not negative.")})
    with transaction.atomic():
        budget = (
            TownBudget.objects.select_for_update().filter(town_code=town_code, year=year).first()
        )
        before = budget.amount if budget else None
        if budget is None:
            budget = TownBudget(town_code=town_code, year=year)
        budget.amount, budget.updated = amount, timezone.now()
        budget.save()
        record_event(
            "incentives.set_budget",
            actor=actor,
            target=budget,
            scope_code=town_code,
            before={"amount": before},
            after={"amount": amount, "year": year},
        )
    return budget


# --------------------------------------------------------------------------- nominations


def may_nominate_as(actor, case: Case, tier: RewardTier | None = None) -> str | None:
    """The capacity in which ``actor`` may nominate ``case`` (handler / command room), or None."""
    allowed = set(tier.nominators) if tier else set(Nominator.values)
    if Nominator.HANDLER in allowed and (
        is_owner(actor, case) or acting_unit(case, "lead", actor) is not None
    ):
        return Nominator.HANDLER
    if Nominator.COMMAND_ROOM in allowed and is_town_staff(actor, case.region_code[:9]):
        return Nominator.COMMAND_ROOM
    return None


def _recipients(case: Case) -> list:
    """The reporters with an account, first reporter first, each once."""
    seen, result = set(), []
    for reporter in (
        case.reporters.filter(user__isnull=False).select_related("user").order_by("created", "id")
    ):
        if reporter.user_id not in seen:
            seen.add(reporter.user_id)
            result.append(reporter)
    return result


# Who brought a dispute in and may be rewarded for it when it did not come from a case.
REWARDABLE_ROLES = frozenset(
    {Role.GRID_WORKER, Role.GRID_WORKER_PART_TIME, Role.LIAISON, Role.CO_GOVERNANCE}
)


def _dispute_recipients(dispute) -> list[tuple]:
    """``(user, channel)`` of whoever brought the dispute in: the reporters of the case it came
    from, or else the person who registered it if they are a grid worker, liaison or
    co-governance member (window staff registering a visitor's dispute are not rewarded)."""
    if dispute.source_case_id:
        return [(r.user, r.channel) for r in _recipients(dispute.source_case)]
    user = dispute.registered_by
    if user is None:
        return []
    role = (
        RoleAssignment.objects.filter(person__user=user, active=True, role__in=REWARDABLE_ROLES)
        .order_by("id")
        .values_list("role", flat=True)
        .first()
    )
    return [(user, role)] if role else []


def recipients_of(nomination: Nomination) -> list[tuple]:
    """``(user, channel)`` of everyone the nomination's reward is split between."""
    if nomination.case_id:
        return [(r.user, r.channel) for r in _recipients(nomination.case)]
    return _dispute_recipients(nomination.dispute)


def _step(nomination, action, *, actor, from_state, text="", amount=None):
    NominationStep.objects.create(
        nomination=nomination,
        action=action,
        from_state=from_state,
        to_state=nomination.state,
        actor=actor,
        actor_name=_name(actor),
        text=text,
        amount=amount,
        created=timezone.now(),
    )
    record_event(
        f"incentives.{action}",
        actor=actor,
        target=nomination,
        target_repr=f"{nomination.subject_code} · {nomination.tier.name}",
        scope_code=nomination.region_code,
        before={"state": from_state},
        after={"state": nomination.state, "amount": nomination.amount, "text": text},
    )


def do_nominate_case(
    case: Case, *, tier: RewardTier, amount: int, evidence: str, actor
) -> Nomination:
    """Put a closed case forward for a reward with the evidence of its outcome."""
    if case.state not in NOMINABLE_STATES:
        raise ActionRefused(
            _("Only a closed or archived case can be nominated; case %(code)s is “%(state)s”.")
            % {
                "code": case.code,
                "state": case_workflow.STATE_LABELS.get(case.state, case.state),
            }
        )
    nominated_as = may_nominate_as(actor, case, tier)
    if nominated_as is None:
        raise ActionRefused(
            _("Only the case's handler or its township command room may nominate it.")
        )
    county_code = case.region_code[:6]
    errors = {}
    scheme = scheme_on(county_code, timezone.localdate())
    if scheme is None or tier.scheme_id != scheme.pk:
        errors["tier"] = _("Choose a tier of the scheme in force today.")
    if not isinstance(amount, int) or not tier.amount_min <= amount <= tier.amount_max:
        errors["amount"] = _("The amount must be between %(low)s and %(high)s yuan.") % {
            "low": tier.amount_min,
            "high": tier.amount_max,
        }
    if not (evidence or "").strip():
        errors["evidence"] = _("Describe the outcome that makes this report valuable.")
    if errors:
        raise ValidationError(errors)
    if not _recipients(case):
        raise ActionRefused(_("The case has no reporter with an account to reward."))

    try:
        with transaction.atomic():
            Case.objects.select_for_update().filter(pk=case.pk).first()
            if (
                Nomination.objects.filter(case=case)
                .exclude(state=Nomination.State.REFUSED)
                .exists()
            ):
                raise ActionRefused(
                    _("Case %(code)s has already been nominated or rewarded.") % {"code": case.code}
                )
            # The dispute path locks the same case row, so the two cannot both pass.
            if _live(Nomination.objects.filter(dispute__source_case=case)):
                raise ActionRefused(
                    _(
                        "A dispute that came from case %(code)s has already been nominated "
                        "or rewarded."
                    )
                    % {"code": case.code}
                )
            nomination = Nomination.objects.create(
                case=case,
                tier=tier,
                state=Nomination.State.NOMINATED,
                evidence=evidence.strip(),
                amount=amount,
                region_code=case.region_code,
                town_code=case.region_code[:9],
                nominated_by=actor,
                nominated_as=nominated_as,
                nominated_at=timezone.now(),
            )
            _step(nomination, "nominate", actor=actor, from_state="", text=evidence, amount=amount)
    except IntegrityError:
        raise ActionRefused(
            _("Case %(code)s has already been nominated or rewarded.") % {"code": case.code}
        ) from None
    return nomination


def _live(nominations) -> bool:
    return nominations.exclude(state=Nomination.State.REFUSED).exists()


# A dispute's outcome is proven when its agreement has been performed in full: it is then
# "agreement performed", "followed up" or "closed" with a full-performance record. Disputes that
# failed, were terminated, withdrawn, handed to a legal channel or whose agreement was breached
# are not (a follow-up or closing alone proves nothing about the outcome).
PROVEN_DISPUTE_STATES = frozenset(
    {dispute_workflow.PERFORMED, dispute_workflow.FOLLOWED_UP, dispute_workflow.CLOSED}
)


def is_proven_dispute(dispute: Dispute) -> bool:
    return (
        dispute.state in PROVEN_DISPUTE_STATES
        and dispute.outcome == Outcome.AGREEMENT
        and Performance.objects.filter(dispute=dispute, kind=Performance.Kind.DONE).exists()
    )


def may_nominate_dispute(actor, dispute: Dispute) -> bool:
    """The centre that handles the dispute: ``mediation.route`` over its place."""
    return can(actor, "mediation.route", region_code=dispute.region_code)


def do_nominate_dispute(
    dispute: Dispute, *, tier: RewardTier, amount: int, evidence: str, actor
) -> Nomination:
    """Put a dispute whose agreement was performed forward for a reward (same chain as a case:
    township review, county approval, ledger). The centre nominates in the capacity of the
    dispute's handler and its township window at once, so any tier with nominators allows it."""
    if not is_proven_dispute(dispute):
        raise ActionRefused(
            _(
                "Only a dispute whose agreement was performed in full can be nominated; "
                "dispute %(code)s is “%(state)s”."
            )
            % {
                "code": dispute.code,
                "state": dispute_workflow.STATE_LABELS.get(dispute.state, dispute.state),
            }
        )
    if not may_nominate_dispute(actor, dispute):
        raise ActionRefused(_("Only the centre that handles the dispute may nominate it."))
    if len(dispute.region_code) < 9:
        raise ActionRefused(
            _("The dispute is not placed in a township; its reward has no budget to come from.")
        )
    errors = {}
    scheme = scheme_on(dispute.region_code[:6], timezone.localdate())
    if scheme is None or tier.scheme_id != scheme.pk or not tier.nominators:
        errors["tier"] = _("Choose a tier of the scheme in force today.")
    if not isinstance(amount, int) or not tier.amount_min <= amount <= tier.amount_max:
        errors["amount"] = _("The amount must be between %(low)s and %(high)s yuan.") % {
            "low": tier.amount_min,
            "high": tier.amount_max,
        }
    if not (evidence or "").strip():
        errors["evidence"] = _("Describe the outcome that makes this report valuable.")
    if errors:
        raise ValidationError(errors)
    if not _dispute_recipients(dispute):
        raise ActionRefused(
            _(
                "No grid worker, liaison or co-governance member with an account brought "
                "this dispute in; there is no one to reward."
            )
        )
    refused = _("Dispute %(code)s has already been nominated or rewarded.") % {"code": dispute.code}
    try:
        with transaction.atomic():
            if dispute.source_case_id:
                Case.objects.select_for_update().filter(pk=dispute.source_case_id).first()
            Dispute.objects.select_for_update().filter(pk=dispute.pk).first()
            if _live(Nomination.objects.filter(dispute=dispute)):
                raise ActionRefused(refused)
            if dispute.source_case_id and _live(
                Nomination.objects.filter(case_id=dispute.source_case_id)
            ):
                raise ActionRefused(
                    _("The case this dispute came from has already been nominated or rewarded.")
                )
            nomination = Nomination.objects.create(
                dispute=dispute,
                tier=tier,
                state=Nomination.State.NOMINATED,
                evidence=evidence.strip(),
                amount=amount,
                region_code=dispute.region_code,
                town_code=dispute.region_code[:9],
                nominated_by=actor,
                nominated_as=Nominator.CENTRE,
                nominated_at=timezone.now(),
            )
            _step(nomination, "nominate", actor=actor, from_state="", text=evidence, amount=amount)
    except IntegrityError:
        raise ActionRefused(refused) from None
    return nomination


def _lock(nomination: Nomination, expected_version) -> Nomination:
    locked = (
        Nomination.objects.select_for_update(of=("self",))
        .select_related("case", "dispute", "tier")
        .get(pk=nomination.pk)
    )
    if expected_version is not None and locked.version != expected_version:
        raise ActionRefused(_("Someone else acted on this nomination a moment ago; reload it."))
    return locked


def _check(nomination: Nomination, action: str, actor) -> str:
    next_state, who = workflow.next_step(nomination.state, action)
    if who == "town" and not is_town_staff(actor, nomination.town_code):
        raise ActionRefused(_("Only the command room of the case's township reviews it."))
    if who == "county" and not is_county_staff(actor, nomination.town_code[:6]):
        raise ActionRefused(_("Only the county centre decides on rewards."))
    return next_state


def do_review_nomination(nomination: Nomination, *, actor, text: str = "", expected_version=None):
    """审核: the township confirms the facts and passes the nomination to the county."""
    with transaction.atomic():
        nomination = _lock(nomination, expected_version)
        from_state = nomination.state
        next_state = _check(nomination, "review", actor)
        if nomination.nominated_by_id == actor.pk:
            raise ActionRefused(_("Someone other than the nominator must review it."))
        nomination.state = next_state
        nomination.reviewed_by, nomination.reviewed_at = actor, timezone.now()
        nomination.version += 1
        nomination.save(update_fields=["state", "reviewed_by", "reviewed_at", "version"])
        _step(nomination, "review", actor=actor, from_state=from_state, text=text)
    return nomination


def _spent(town_code: str, year: int) -> int:
    return (
        RewardEntry.objects.filter(town_code=town_code, year=year).aggregate(total=Sum("amount"))[
            "total"
        ]
        or 0
    )


def budget_left(town_code: str, year: int) -> int | None:
    budget = TownBudget.objects.filter(town_code=town_code, year=year).first()
    return None if budget is None else budget.amount - _spent(town_code, year)


def do_approve_nomination(
    nomination: Nomination,
    *,
    actor,
    amount: int | None = None,
    text: str = "",
    expected_version=None,
):
    """审批: the county approves; the reward is recorded for the reporters in the ledger."""
    with transaction.atomic():
        nomination = _lock(nomination, expected_version)
        from_state = nomination.state
        next_state = _check(nomination, "approve", actor)
        tier = nomination.tier
        amount = nomination.amount if amount is None else amount
        if not isinstance(amount, int) or not tier.amount_min <= amount <= tier.amount_max:
            raise ValidationError(
                {
                    "amount": _("The amount must be between %(low)s and %(high)s yuan.")
                    % {"low": tier.amount_min, "high": tier.amount_max}
                }
            )
        now = timezone.now()
        year = timezone.localdate().year
        budget = (
            TownBudget.objects.select_for_update()
            .filter(town_code=nomination.town_code, year=year)
            .first()
        )
        if budget is None:
            raise ActionRefused(
                _("The township has no reward budget for %(year)s; the county sets it first.")
                % {"year": year}
            )
        left = budget.amount - _spent(nomination.town_code, year)
        if amount > left:
            raise ActionRefused(
                _(
                    "The township's budget for %(year)s has %(left)s yuan left; "
                    "this reward of %(amount)s yuan does not fit."
                )
                % {"year": year, "left": left, "amount": amount}
            )
        recipients = recipients_of(nomination)
        if not recipients:
            raise ActionRefused(_("No one with an account brought this in; no one to reward."))
        share, rest = divmod(amount, len(recipients))
        for index, (user, channel) in enumerate(recipients):
            RewardEntry.objects.create(
                nomination=nomination,
                kind=RewardEntry.Kind.AWARD,
                recipient=user,
                recipient_name=_name(user),
                channel=channel or "",
                amount=share + (rest if index == 0 else 0),
                town_code=nomination.town_code,
                year=year,
                created=now,
            )
        nomination.state, nomination.amount = next_state, amount
        nomination.decided_by, nomination.decided_at = actor, now
        nomination.version += 1
        nomination.save(update_fields=["state", "amount", "decided_by", "decided_at", "version"])
        _step(nomination, "approve", actor=actor, from_state=from_state, text=text, amount=amount)
    return nomination


def do_refuse_nomination(nomination: Nomination, *, actor, reason: str, expected_version=None):
    """The township (at review) or the county (at approval) refuses, saying why."""
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Say why the nomination is refused.")})
    with transaction.atomic():
        nomination = _lock(nomination, expected_version)
        from_state = nomination.state
        nomination.state = _check(nomination, "refuse", actor)
        nomination.refusal_reason = reason.strip()
        nomination.decided_by, nomination.decided_at = actor, timezone.now()
        nomination.version += 1
        nomination.save(
            update_fields=["state", "refusal_reason", "decided_by", "decided_at", "version"]
        )
        _step(nomination, "refuse", actor=actor, from_state=from_state, text=reason.strip())
    return nomination


def do_revoke_nomination(nomination: Nomination, *, actor, reason: str, expected_version=None):
    """The report proved false: every reward entry is reversed by a new entry, none deleted."""
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Say why the reward is revoked.")})
    with transaction.atomic():
        nomination = _lock(nomination, expected_version)
        from_state = nomination.state
        nomination.state = _check(nomination, "revoke", actor)
        now = timezone.now()
        for entry in nomination.entries.filter(
            kind=RewardEntry.Kind.AWARD, reversed_by__isnull=True
        ):
            RewardEntry.objects.create(
                nomination=nomination,
                kind=RewardEntry.Kind.REVERSAL,
                recipient_id=entry.recipient_id,
                recipient_name=entry.recipient_name,
                channel=entry.channel,
                amount=-entry.amount,
                town_code=entry.town_code,
                year=entry.year,
                reverses=entry,
                reason=reason.strip(),
                created=now,
            )
        nomination.refusal_reason = reason.strip()
        nomination.version += 1
        nomination.save(update_fields=["state", "refusal_reason", "version"])
        _step(nomination, "revoke", actor=actor, from_state=from_state, text=reason.strip())
    return nomination


# --------------------------------------------------------------------------- typical cases


def find_personal_data(text: str) -> list[str]:
    """Phone and ID numbers found in ``text`` (what the write-up must not contain)."""
    return [m.group(0) for pattern in _PERSONAL_DATA for m in pattern.finditer(text or "")]


_WRITE_UP_FIELDS = ("title", "summary", "found", "handled", "lessons")


def may_write_up(actor, nomination: Nomination) -> bool:
    return is_town_staff(actor, nomination.town_code) or is_county_staff(
        actor, nomination.town_code[:6]
    )


def do_write_typical_case(nomination: Nomination, *, actor, **text) -> TypicalCase:
    """Write (or rewrite, while a draft) the typical case of an approved nomination."""
    if nomination.state != Nomination.State.APPROVED:
        raise ActionRefused(_("Only an approved high-value case can be written up."))
    if not may_write_up(actor, nomination):
        raise ActionRefused(_("Only the township or the county centre writes up typical cases."))
    values = {f: (text.get(f) or "").strip() for f in _WRITE_UP_FIELDS}
    errors = {}
    for field, value in values.items():
        if not value:
            errors[field] = _("This part of the write-up is needed.")
        elif find_personal_data(value):
            errors[field] = _(
                "Remove personal data: phone or ID numbers are not allowed in a typical case."
            )
    if len(values["title"]) > 120:
        errors["title"] = _("Keep the title under 120 characters.")
    if errors:
        raise ValidationError(errors)
    case = nomination.case
    with transaction.atomic():
        existing = TypicalCase.objects.select_for_update().filter(nomination=nomination).first()
        if existing is not None and existing.state == TypicalCase.State.PUBLISHED:
            raise ActionRefused(_("This typical case is already published."))
        typical = existing or TypicalCase(
            nomination=nomination,
            state=TypicalCase.State.DRAFT,
            category_id=case.category_id if case is not None else None,
            criterion=nomination.tier.criterion,
            region_code=nomination.region_code,
            town_code=nomination.town_code,
            county_code=nomination.town_code[:6],
            year=timezone.localtime(nomination.decided_at).year,
        )
        for field, value in values.items():
            setattr(typical, field, value)
        typical.written_by, typical.written_at = actor, timezone.now()
        typical.save()
        record_event(
            "incentives.write_typical_case",
            actor=actor,
            target=typical,
            scope_code=typical.region_code,
            after=values,
        )
    return typical


def do_publish_typical_case(typical: TypicalCase, *, actor) -> TypicalCase:
    if not is_county_staff(actor, typical.county_code):
        raise ActionRefused(_("Only the county centre publishes to the library."))
    with transaction.atomic():
        typical = TypicalCase.objects.select_for_update().get(pk=typical.pk)
        if typical.state == TypicalCase.State.PUBLISHED:
            raise ActionRefused(_("This typical case is already published."))
        if typical.nomination.state != Nomination.State.APPROVED:
            raise ActionRefused(_("The reward was revoked; the case cannot be published."))
        typical.state = TypicalCase.State.PUBLISHED
        typical.published_by, typical.published_at = actor, timezone.now()
        typical.save(update_fields=["state", "published_by", "published_at"])
        record_event(
            "incentives.publish_typical_case",
            actor=actor,
            target=typical,
            scope_code=typical.region_code,
            after={"state": typical.state},
        )
    return typical


# --------------------------------------------------------------------------- appraisal


def do_set_indicator_weight(key: str, *, weight, active: bool = True, actor) -> AppraisalIndicator:
    from decimal import Decimal, InvalidOperation

    from civicgrid.core.scoping import scope_for

    if not scope_for(actor).has("cases.configure"):
        raise ActionRefused(_("Only the county centre changes the appraisal weights."))
    if key not in AppraisalIndicator.Key.values:
        raise ValidationError({"key": _("Unknown indicator.")})
    try:
        weight = Decimal(str(weight)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ValidationError({"weight": _("The weight is a number.")}) from None
    if abs(weight) >= 10000:
        raise ValidationError({"weight": _("The weight is too large.")})
    with transaction.atomic():
        row = AppraisalIndicator.objects.select_for_update().filter(key=key).first()
        before = {"weight": row.weight, "active": row.active} if row else None
        if row is None:
            row = AppraisalIndicator(key=key)
        row.weight, row.active = weight, active
        row.save()
        record_event(
            "incentives.set_indicator",
            actor=actor,
            target=row,
            before=before,
            after={"weight": weight, "active": active},
        )
    return row
