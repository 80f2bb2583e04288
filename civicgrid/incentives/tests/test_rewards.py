"""The scheme, the nomination → review → approval chain, the budget and the ledger."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.utils import timezone

from civicgrid.core.errors import ActionRefused
from civicgrid.core.models import AuditEvent
from civicgrid.incentives import actions as A
from civicgrid.incentives.models import LedgerIsAppendOnly, Nomination, RewardEntry, RewardScheme

from .conftest import LIZHOU, TIERS


def test_a_new_version_of_the_scheme_closes_the_old_one_and_keeps_it(rewards):
    old = rewards.scheme
    today = timezone.localdate()
    assert A.scheme_on("330281", today) == old
    new = A.do_publish_scheme(
        county_code="330281",
        name="“141”高价值信息奖励办法",
        version="2027版",
        valid_from=today + timedelta(days=10),
        tiers=TIERS[:2],
        actor=rewards.p.county,
    )
    old.refresh_from_db()
    assert old.valid_to == today + timedelta(days=9)
    assert new.replaces == old and old.tiers.count() == 4 and new.tiers.count() == 2
    assert A.scheme_on("330281", today) == old
    assert A.scheme_on("330281", today + timedelta(days=10)) == new
    with pytest.raises(ValidationError):  # not before the one in force
        A.do_publish_scheme(
            county_code="330281",
            name="x",
            version="y",
            valid_from=date(2021, 1, 1),
            tiers=TIERS,
            actor=rewards.p.county,
        )
    assert RewardScheme.objects.filter(county_code="330281").count() == 2


def test_only_the_county_sets_the_scheme_and_tiers_are_checked(rewards):
    for outsider in (rewards.p.lizhou, rewards.p.grid1, rewards.p.auditor):
        with pytest.raises(ActionRefused):
            A.do_publish_scheme(
                county_code="330281",
                name="x",
                version="y",
                valid_from=date(2030, 1, 1),
                tiers=TIERS,
                actor=outsider,
            )
    bad = [{"criterion": "hazard", "amount_min": 900, "amount_max": 100, "nominators": ["handler"]}]
    with pytest.raises(ValidationError, match="lowest"):
        A.do_publish_scheme(
            county_code="330281",
            name="x",
            version="y",
            valid_from=date(2030, 1, 1),
            tiers=bad,
            actor=rewards.p.county,
        )


def test_tier_rules_amount_range_evidence_and_who_may_nominate(rewards):
    case = rewards.closed_case()
    with pytest.raises(ValidationError) as info:
        A.do_nominate_case(
            case, tier=rewards.tier("hazard"), amount=5000, evidence=" ", actor=rewards.p.grid1
        )
    assert set(info.value.message_dict) == {"amount", "evidence"}
    # The 避免重大损失 tier is nominated by the command room only: grid1 (the handler) may not.
    with pytest.raises(ActionRefused):
        rewards.nominate(case, actor=rewards.p.grid1, criterion="loss", amount=600)
    n = rewards.nominate(case, actor=rewards.p.lizhou, criterion="loss", amount=600)
    assert n.nominated_as == "command_room" and n.state == "nominated"


def test_only_closed_cases_by_their_handler_or_command_room(rewards):
    with pytest.raises(ActionRefused, match="closed or archived"):
        rewards.nominate(rewards.open_case())
    case = rewards.closed_case()
    for outsider in (rewards.p.grid2, rewards.p.fengshan, rewards.p.police, rewards.p.auditor):
        with pytest.raises(ActionRefused):
            rewards.nominate(case, actor=outsider)
    assert rewards.nominate(case, actor=rewards.p.grid1).nominated_as == "handler"
    archived = rewards.closed_case(evaluate=True)
    assert archived.state == "archived"
    assert rewards.nominate(archived).state == "nominated"


def test_the_chain_with_permissions_and_the_ledger(rewards):
    p = rewards.p
    n = rewards.nominate()
    with pytest.raises(ActionRefused):  # the county cannot skip the township review
        A.do_approve_nomination(n, actor=p.county)
    for wrong in (p.fengshan, p.county, p.grid2):
        with pytest.raises(ActionRefused):
            A.do_review_nomination(n, actor=wrong)
    n = A.do_review_nomination(n, actor=p.lizhou, text="情况属实")
    assert n.state == "reviewed"
    for wrong in (p.lizhou, p.grid1, p.auditor):
        with pytest.raises(ActionRefused):
            A.do_approve_nomination(n, actor=wrong)
    with pytest.raises(ValidationError):
        A.do_approve_nomination(n, actor=p.county, amount=50)
    n = A.do_approve_nomination(n, actor=p.county, amount=800)
    assert n.state == "approved" and n.amount == 800
    entries = list(RewardEntry.objects.filter(nomination=n))
    assert [(e.recipient_id, e.amount, e.kind, e.town_code) for e in entries] == [
        (p.grid1.pk, 800, "award", LIZHOU)
    ]
    assert [s.action for s in n.steps.all()] == ["nominate", "review", "approve"]
    actions = AuditEvent.objects.filter(target_type="incentives.nomination", target_id=str(n.pk))
    assert sorted(actions.values_list("action", flat=True)) == [
        "incentives.approve",
        "incentives.nominate",
        "incentives.review",
    ]


def test_the_nominator_cannot_review_their_own_nomination(rewards):
    n = rewards.nominate(rewards.closed_case(), actor=rewards.p.lizhou)
    with pytest.raises(ActionRefused, match="other than the nominator"):
        A.do_review_nomination(n, actor=rewards.p.lizhou)


def test_refusals_need_a_reason_and_free_the_case(rewards):
    p = rewards.p
    case = rewards.closed_case()
    n = rewards.nominate(case)
    with pytest.raises(ValidationError):
        A.do_refuse_nomination(n, actor=p.lizhou, reason="  ")
    with pytest.raises(ActionRefused):
        A.do_refuse_nomination(n, actor=p.county, reason="not yet its turn")
    n = A.do_refuse_nomination(n, actor=p.lizhou, reason="后果不够重大")
    assert n.state == "refused" and n.refusal_reason == "后果不够重大"
    with pytest.raises(ActionRefused, match="not possible"):
        A.do_review_nomination(n, actor=p.lizhou)
    again = rewards.nominate(case, amount=300)
    again = A.do_review_nomination(again, actor=p.lizhou)
    again = A.do_refuse_nomination(again, actor=p.county, reason="证据不足")
    assert again.state == "refused" and not RewardEntry.objects.filter(nomination__case=case)


def test_one_case_cannot_be_rewarded_twice(rewards):
    case = rewards.closed_case()
    rewards.approved(case)
    with pytest.raises(ActionRefused, match="already"):
        rewards.nominate(case, actor=rewards.p.lizhou)
    assert Nomination.objects.filter(case=case).count() == 1


def test_budget_limit_per_township_and_year(rewards):
    p = rewards.p
    rewards.approved(amount=1000)
    rewards.approved(amount=1000)
    crime = rewards.nominate(amount=3000, criterion="crime")
    crime = A.do_review_nomination(crime, actor=p.lizhou)
    crime = A.do_approve_nomination(crime, actor=p.county)  # 5000 spent: exactly the budget
    last = A.do_review_nomination(rewards.nominate(amount=200), actor=p.lizhou)
    with pytest.raises(ActionRefused, match="0 yuan left"):
        A.do_approve_nomination(last, actor=p.county)
    assert Nomination.objects.get(pk=last.pk).state == "reviewed"
    # Revoking frees the budget of the year the reward counted in.
    A.do_revoke_nomination(crime, actor=p.county, reason="举报不实")
    assert A.do_approve_nomination(last, actor=p.county).state == "approved"
    year = timezone.localdate().year
    assert A.budget_left(LIZHOU, year) == 5000 - 2200


def test_no_budget_no_payment(rewards, at):
    at(timezone.localdate().year + 1, 2, 3, 10)
    n = A.do_review_nomination(rewards.nominate(), actor=rewards.p.lizhou)
    with pytest.raises(ActionRefused, match="no reward budget"):
        A.do_approve_nomination(n, actor=rewards.p.county)


def test_revocation_reverses_the_entries_and_deletes_nothing(rewards):
    p = rewards.p
    n = rewards.approved(amount=600)
    with pytest.raises(ValidationError):
        A.do_revoke_nomination(n, actor=p.county, reason="")
    with pytest.raises(ActionRefused):
        A.do_revoke_nomination(n, actor=p.lizhou, reason="举报不实")
    n = A.do_revoke_nomination(n, actor=p.county, reason="经核查，举报内容不实")
    assert n.state == "revoked"
    entries = list(RewardEntry.objects.filter(nomination=n).order_by("id"))
    assert [(e.kind, e.amount) for e in entries] == [("award", 600), ("reversal", -600)]
    assert entries[1].reverses == entries[0]
    assert RewardEntry.objects.filter(recipient=p.grid1).aggregate(t=Sum("amount"))["t"] == 0
    with pytest.raises(ActionRefused):  # revoked once
        A.do_revoke_nomination(n, actor=p.county, reason="again")
    with pytest.raises(LedgerIsAppendOnly):
        entries[0].delete()
    with pytest.raises(LedgerIsAppendOnly):
        RewardEntry.objects.filter(pk=entries[0].pk).update(amount=1)
    with pytest.raises(ActionRefused, match="already"):  # a false report is not nominated again
        rewards.nominate(n.case, actor=p.lizhou)


def test_several_reporters_share_the_reward(rewards, world):
    from civicgrid.cases import actions as CA

    p = rewards.p
    case = rewards.closed_case()
    liaison = world.staff("liaison", username="liaison-a", grid=world.grid)
    lat, lng = world.point()
    duplicate = CA.do_report_case(
        actor=liaison,
        channel="grid_worker",
        category=world.category,
        description="同一处隐患",
        lat=lat,
        lng=lng,
    )
    # the liaison reported it too: recorded as a second reporter of the case
    from civicgrid.cases.models import CaseReporter

    CaseReporter.objects.create(
        case=case,
        user=liaison,
        channel="grid_worker",
        original_case_code=duplicate.code,
        created=timezone.now(),
    )
    n = rewards.approved(case, amount=501)
    amounts = dict(RewardEntry.objects.filter(nomination=n).values_list("recipient_id", "amount"))
    assert amounts == {p.grid1.pk: 251, liaison.pk: 250}
