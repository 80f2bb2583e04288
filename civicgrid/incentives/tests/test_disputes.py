"""Disputes can be nominated too: a dispute whose agreement was performed in full, by the centre
that handles it, rewarding whoever brought it in; the same review → approval → ledger chain."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from civicgrid.core.errors import ActionRefused
from civicgrid.incentives import actions as A
from civicgrid.incentives.models import Nomination, RewardEntry
from civicgrid.mediation import actions as M
from civicgrid.mediation.models import MediationOrg
from civicgrid.people.actions import do_assign_role

pytestmark = pytest.mark.django_db

EVIDENCE = "调解化解了一起可能引发群体性事件的土地纠纷，协议已全部履行"


@pytest.fixture(autouse=True)
def english_pages(client):
    client.cookies["django_language"] = "en"


class Disputes:
    def __init__(self, rewards):
        self.rewards, self.world, self.p = rewards, rewards.world, rewards.p
        M.do_save_org(
            actor=self.p.admin,
            code="INC-CENTRE",
            name="梨洲街道矛调中心",
            kind=MediationOrg.Kind.CENTRE,
            region_code=self.world.grid.code[:9],
        )

    def register(self, *, actor=None, source_case=None):
        return M.do_register_dispute(
            actor=actor or self.p.lizhou,
            title="宅基地边界纠纷",
            description="两户因宅基地边界发生争执。",
            category="03",
            source="grid" if source_case else "reception",
            grid=self.world.grid,
            source_case=source_case,
            parties=[
                {"role": "applicant", "kind": "natural", "name": "张三"},
                {"role": "respondent", "kind": "natural", "name": "李四"},
            ],
        )

    def agreed(self, **kwargs):
        centre = self.p.lizhou
        dispute = self.register(**kwargs)
        M.do_route_dispute(dispute, actor=centre, route="centre")
        dispute.refresh_from_db()
        M.do_record_session(
            dispute,
            actor=centre,
            held_at=timezone.now() - timedelta(hours=1),
            place="调解室",
            attendees="张三、李四",
        )
        dispute.refresh_from_db()
        M.do_conclude_dispute(
            dispute,
            actor=centre,
            outcome="agreement",
            terms="重新确定边界并立界桩",
            perform_by=timezone.localdate() + timedelta(days=10),
        )
        dispute.refresh_from_db()
        return dispute

    def performed(self, *, close=False, **kwargs):
        centre = self.p.lizhou
        dispute = self.agreed(**kwargs)
        M.do_record_performance(dispute, actor=centre, kind="done")
        dispute.refresh_from_db()
        if close:
            M.do_follow_up(dispute, actor=centre, satisfaction="satisfied")
            dispute.refresh_from_db()
            M.do_close_dispute(dispute, actor=centre)
            dispute.refresh_from_db()
        return dispute

    def from_case(self, **kwargs):
        return self.performed(source_case=self.rewards.closed_case(), **kwargs)

    def nominate(self, dispute, *, actor=None, amount=500):
        return A.do_nominate_dispute(
            dispute,
            tier=self.rewards.tier("opinion"),
            amount=amount,
            evidence=EVIDENCE,
            actor=actor or self.p.lizhou,
        )


@pytest.fixture
def disputes(rewards):
    return Disputes(rewards)


def test_a_closed_dispute_from_a_case_is_nominated_and_pays_the_case_reporter(disputes):
    p = disputes.p
    dispute = disputes.from_case(close=True)
    assert dispute.state == "closed"
    n = disputes.nominate(dispute, amount=600)
    assert (n.dispute, n.case, n.state, n.nominated_as) == (dispute, None, "nominated", "centre")
    assert n.town_code == dispute.region_code[:9] and n.subject_code == dispute.code
    with pytest.raises(ActionRefused):  # four eyes: the nominator does not review
        A.do_review_nomination(n, actor=p.lizhou)
    reviewer = disputes.world.staff(
        "township_operator", username="lz-reviewer", region=disputes.world.grid.village.parent
    )
    n = A.do_review_nomination(n, actor=reviewer)
    n = A.do_approve_nomination(n, actor=p.county)
    entries = list(RewardEntry.objects.filter(nomination=n))
    assert [(e.recipient, e.amount, e.kind) for e in entries] == [(p.grid1, 600, "award")]
    assert A.budget_left(n.town_code, timezone.localdate().year) == 5000 - 600
    n = A.do_revoke_nomination(n, actor=p.county, reason="纠纷系虚报")
    assert RewardEntry.objects.filter(nomination=n).values_list("amount", flat=True).count() == 2
    assert A.budget_left(n.town_code, timezone.localdate().year) == 5000


def test_an_agreement_performed_but_not_yet_followed_up_counts(disputes):
    dispute = disputes.from_case()
    assert dispute.state == "performed"
    assert disputes.nominate(dispute).state == "nominated"


@pytest.mark.parametrize("how", ["registered", "agreed", "breached", "failed_and_closed"])
def test_an_open_or_unproven_dispute_is_refused(disputes, how):
    centre = disputes.p.lizhou
    case = disputes.rewards.closed_case()
    if how == "registered":
        dispute = disputes.register(source_case=case)
    elif how == "agreed":
        dispute = disputes.agreed(source_case=case)
    elif how == "breached":
        dispute = disputes.agreed(source_case=case)
        M.do_record_performance(dispute, actor=centre, kind="breach", note="未履行")
        dispute.refresh_from_db()
        M.do_follow_up(dispute, actor=centre, satisfaction="unsatisfied")
    else:
        dispute = disputes.register(source_case=case)
        M.do_conclude_dispute(dispute, actor=centre, outcome="withdrawn")
        dispute.refresh_from_db()
        M.do_close_dispute(dispute, actor=centre)
    dispute.refresh_from_db()
    with pytest.raises(ActionRefused, match="performed in full"):
        disputes.nominate(dispute)
    assert not Nomination.objects.filter(dispute=dispute).exists()


def test_no_double_reward(disputes):
    dispute = disputes.from_case()
    first = disputes.nominate(dispute)
    with pytest.raises(ActionRefused, match="already been nominated"):
        disputes.nominate(dispute)
    # the case the dispute came from cannot be rewarded a second time either way round
    with pytest.raises(ActionRefused, match="came from"):
        disputes.rewards.nominate(dispute.source_case)
    other = disputes.rewards.closed_case()
    disputes.rewards.nominate(other)
    second = disputes.performed(source_case=other)
    with pytest.raises(ActionRefused, match="came from"):
        disputes.nominate(second)
    # the database holds the rule too
    with pytest.raises(IntegrityError), transaction.atomic():
        Nomination.objects.create(
            dispute=dispute,
            tier=first.tier,
            state="nominated",
            evidence="x",
            amount=500,
            region_code=first.region_code,
            town_code=first.town_code,
            nominated_by=disputes.p.lizhou,
            nominated_as="centre",
            nominated_at=timezone.now(),
        )
    # a refused nomination frees the dispute again
    A.do_refuse_nomination(
        first,
        actor=disputes.world.staff(
            "township_operator", username="lz-rev2", region=disputes.world.grid.village.parent
        ),
        reason="证据不足",
    )
    assert disputes.nominate(dispute).state == "nominated"


def test_exactly_one_of_case_and_dispute(disputes):
    dispute = disputes.from_case()
    n = disputes.nominate(dispute)
    with pytest.raises(IntegrityError), transaction.atomic():
        Nomination.objects.filter(pk=n.pk).update(case=dispute.source_case)
    with pytest.raises(IntegrityError), transaction.atomic():
        Nomination.objects.filter(pk=n.pk).update(dispute=None)


def test_who_brought_it_in_decides_who_is_paid(disputes):
    world = disputes.world
    # registered at the window by township staff, not from a case: no one to reward
    walk_in = disputes.performed()
    with pytest.raises(ActionRefused, match="no one to reward"):
        disputes.nominate(walk_in)
    # registered by a village worker who is also a community liaison: they are rewarded
    village = world.village_user()
    do_assign_role(village.person, "liaison", grid=world.grid, actor=disputes.p.admin)
    brought = disputes.performed(actor=village)
    n = disputes.nominate(brought, amount=300)
    n = A.do_review_nomination(
        n,
        actor=world.staff(
            "township_operator", username="lz-rev3", region=world.grid.village.parent
        ),
    )
    n = A.do_approve_nomination(n, actor=disputes.p.county)
    assert list(n.entries.values_list("recipient", "amount", "channel")) == [
        (village.pk, 300, "liaison")
    ]


def test_scoping(disputes):
    p = disputes.p
    dispute = disputes.from_case()
    for outsider in (p.fengshan, p.grid1):
        with pytest.raises(ActionRefused, match="centre that handles"):
            disputes.nominate(dispute, actor=outsider)
    with pytest.raises(ValidationError):
        disputes.nominate(dispute, amount=5)
    n = disputes.nominate(dispute)
    with pytest.raises(ActionRefused):
        A.do_review_nomination(n, actor=p.fengshan)
    from civicgrid.incentives.selectors import nominations_visible_to

    assert nominations_visible_to(p.lizhou).filter(pk=n.pk).exists()
    assert not nominations_visible_to(p.fengshan).filter(pk=n.pk).exists()


def test_nominate_a_dispute_over_http(disputes, client):
    p = disputes.p
    dispute = disputes.from_case(close=True)
    url = reverse("incentives_nominate")
    data = {"code": dispute.code, "tier": disputes.rewards.tier("opinion").pk, "amount": 400}
    # another township's centre does not see it
    client.force_login(p.fengshan)
    hidden = client.post(url, {**data, "evidence": EVIDENCE})
    assert (
        hidden.status_code == 200 and "No case or dispute with this code" in hidden.content.decode()
    )
    client.force_login(p.lizhou)
    page = client.get(url, {"code": dispute.code})
    assert page.status_code == 200 and dispute.title in page.content.decode()
    bad = client.post(url, {**data, "amount": 5, "evidence": EVIDENCE})
    assert bad.status_code == 200 and "between 200 and 800" in bad.content.decode()
    done = client.post(url, {**data, "evidence": EVIDENCE})
    n = Nomination.objects.get(dispute=dispute)
    assert done.status_code == 302 and done["Location"] == reverse(
        "incentives_nomination", args=[n.pk]
    )
    again = client.post(url, {**data, "evidence": EVIDENCE})
    assert again.status_code == 200 and "already been nominated" in again.content.decode()
    detail = client.get(done["Location"]).content.decode()
    assert dispute.code in detail and reverse("mediation_detail", args=[dispute.code]) in detail
    listed = client.get(reverse("incentives_nominations")).content.decode()
    assert dispute.code in listed
    csv = client.get(reverse("incentives_nominations_export", args=["csv"]))
    assert dispute.code in b"".join(csv.streaming_content).decode()
    open_one = disputes.agreed(source_case=disputes.rewards.closed_case())
    refused = client.post(url, {**data, "code": open_one.code, "evidence": EVIDENCE})
    assert refused.status_code == 200 and "performed in full" in refused.content.decode()


def test_an_approved_dispute_is_written_up_and_its_pages_are_chinese(disputes, client):
    import re

    from .test_library import TEXT

    p, world = disputes.p, disputes.world
    dispute = disputes.from_case(close=True)
    n = disputes.nominate(dispute)
    reviewer = world.staff(
        "township_operator", username="lz-rev4", region=world.grid.village.parent
    )
    n = A.do_approve_nomination(A.do_review_nomination(n, actor=reviewer), actor=p.county)
    typical = A.do_publish_typical_case(
        A.do_write_typical_case(n, actor=p.lizhou, **TEXT), actor=p.county
    )
    assert typical.category is None and typical.region_code == dispute.region_code
    client.force_login(p.grid1)
    mine = client.get(reverse("incentives_my_rewards")).content.decode()
    assert dispute.code in mine
    export = client.get(reverse("incentives_my_rewards_export", args=["csv"]))
    assert dispute.code in b"".join(export.streaming_content).decode()
    client.force_login(p.county)
    client.cookies["django_language"] = "zh-hans"
    for name, args in [
        ("incentives_nomination", [n.pk]),
        ("incentives_nominations", []),
        ("incentives_nominate", []),
        ("incentives_typical_case", [typical.pk]),
    ]:
        response = client.get(reverse(name, args=args))
        assert response.status_code == 200, name
        main = response.content.decode().split('<main id="main">', 1)[1]
        text = re.sub(r"<[^>]+>", " ", main)
        data = {"county", "lizhou", "grid", "rev"}  # user names are data
        words = set(re.findall(r"[A-Za-z]{3,}", text)) - {"CSV", "Excel", "Word"} - data
        assert not words, (name, sorted(words))
