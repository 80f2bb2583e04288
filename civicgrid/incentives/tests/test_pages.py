"""The pages over HTTP: nominate, queues, decide, my rewards, library, appraisal, exports."""

import io

import docx
import pytest
from django.urls import reverse

from civicgrid.incentives import actions as A
from civicgrid.incentives.models import Nomination, RewardEntry

from .test_library import TEXT


@pytest.fixture(autouse=True)
def english_pages(client):
    """Messages are asserted in English; the language tests below switch the cookie."""
    client.cookies["django_language"] = "en"


def test_nominate_review_approve_over_http(rewards, client):
    p = rewards.p
    case = rewards.closed_case()
    client.force_login(p.grid1)
    url = reverse("incentives_nominate")
    page = client.get(url, {"code": case.code})
    assert page.status_code == 200 and case.code in page.content.decode()
    bad = client.post(
        url, {"code": case.code, "tier": rewards.tier().pk, "amount": 5, "evidence": "x"}
    )
    assert bad.status_code == 200 and "between 200 and 1000" in bad.content.decode()
    missing = client.post(
        url, {"code": "NOPE", "tier": rewards.tier().pk, "amount": 300, "evidence": "x"}
    )
    assert "No case or dispute with this code" in missing.content.decode()
    done = client.post(
        url, {"code": case.code, "tier": rewards.tier().pk, "amount": 300, "evidence": "消除隐患"}
    )
    n = Nomination.objects.get(case=case)
    assert done.status_code == 302 and done["Location"] == reverse(
        "incentives_nomination", args=[n.pk]
    )

    client.force_login(p.lizhou)
    queue = client.get(reverse("incentives_queue", args=["review"]))
    assert case.code in queue.content.decode()
    assert (
        case.code not in client.get(reverse("incentives_queue", args=["approval"])).content.decode()
    )
    detail = reverse("incentives_nomination", args=[n.pk])
    client.post(detail, {"do": "review", "version": n.version, "text": "属实"})
    n.refresh_from_db()
    assert n.state == "reviewed"

    client.force_login(p.county)
    assert case.code in client.get(reverse("incentives_queue", args=["approval"])).content.decode()
    client.post(detail, {"do": "approve", "amount": 99999, "version": n.version})
    n.refresh_from_db()
    assert n.state == "reviewed"  # the amount was out of range: refused with a message
    client.post(detail, {"do": "approve", "amount": 400, "version": n.version})
    n.refresh_from_db()
    assert n.state == "approved" and RewardEntry.objects.get(nomination=n).amount == 400

    client.force_login(p.grid1)
    mine = client.get(reverse("incentives_my_rewards"))
    assert case.code in mine.content.decode() and "400" in mine.content.decode()
    csv = client.get(reverse("incentives_my_rewards_export", args=["csv"]))
    assert case.code in b"".join(csv.streaming_content).decode()


def test_a_refusal_without_reason_is_shown_not_a_500(rewards, client):
    n = rewards.nominate()
    client.force_login(rewards.p.lizhou)
    response = client.post(
        reverse("incentives_nomination", args=[n.pk]), {"do": "refuse", "text": ""}, follow=True
    )
    assert response.status_code == 200 and "Say why" in response.content.decode()
    assert Nomination.objects.get(pk=n.pk).state == "nominated"
    assert (
        client.post(reverse("incentives_nomination", args=[n.pk]), {"do": "nonsense"}).status_code
        == 302
    )


def test_bad_ids_and_outsiders_get_404(rewards, client):
    n = rewards.nominate()
    client.force_login(rewards.p.outsider)
    assert client.get(reverse("incentives_nomination", args=[n.pk])).status_code == 404
    assert client.get(reverse("incentives_nomination", args=[999999])).status_code == 404
    assert client.get(reverse("incentives_queue", args=["nonsense"])).status_code == 404
    assert client.get(reverse("incentives_appraisal")).status_code == 404
    client.logout()
    assert client.get(reverse("incentives_library")).status_code == 302


def test_queue_exports(rewards, client):
    n = rewards.nominate()
    client.force_login(rewards.p.lizhou)
    csv = client.get(reverse("incentives_queue_export", args=["review", "csv"]))
    assert n.case.code in b"".join(csv.streaming_content).decode()
    xlsx = client.get(reverse("incentives_queue_export", args=["review", "xlsx"]))
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd")


def test_write_up_publish_search_and_word_export(rewards, client):
    p = rewards.p
    n = rewards.approved()
    client.force_login(p.lizhou)
    url = reverse("incentives_write_up", args=[n.pk])
    leak = client.post(url, {**TEXT, "summary": "联系电话13905741234"})
    assert "Remove personal data" in leak.content.decode()
    saved = client.post(url, TEXT)
    assert saved.status_code == 302
    typical = n.typical_case
    client.force_login(p.county)
    client.post(reverse("incentives_publish_typical_case", args=[typical.pk]))
    typical.refresh_from_db()
    assert typical.state == "published"
    client.force_login(p.grid2)
    library = reverse("incentives_library")
    found = client.get(library, {"q": "液化气", "town": "330281001", "year": typical.year})
    assert TEXT["title"] in found.content.decode()
    assert TEXT["title"] not in client.get(library, {"year": 2001}).content.decode()
    assert client.get(library, {"year": "abc"}).status_code == 200
    word = client.get(reverse("incentives_library_export", args=["docx"]), {"q": "液化气"})
    text = "\n".join(par.text for par in docx.Document(io.BytesIO(word.content)).paragraphs)
    assert TEXT["title"] in text and TEXT["lessons"] in text
    assert client.get(reverse("incentives_typical_case", args=[typical.pk])).status_code == 200
    client.force_login(p.outsider)
    assert client.get(reverse("incentives_typical_case", args=[typical.pk])).status_code == 404


def test_appraisal_pages_for_leaders_and_the_worker(rewards, client):
    p = rewards.p
    rewards.approved()
    client.force_login(p.lizhou)
    page = client.get(reverse("incentives_appraisal"))
    body = page.content.decode()
    from civicgrid.people.models import Person

    assert page.status_code == 200
    assert Person.objects.get(user=p.grid1).name in body
    assert Person.objects.get(user=p.grid2).name not in body  # another township's worker
    assert client.get(reverse("incentives_appraisal"), {"month": "13"}).status_code == 200
    for fmt in ("csv", "xlsx"):
        assert client.get(reverse("incentives_appraisal_export", args=[fmt])).status_code == 200
        assert (
            client.get(reverse("incentives_league_export", args=["town", fmt])).status_code == 200
        )
    assert client.get(reverse("incentives_appraisal_worker", args=[p.grid1.pk])).status_code == 200
    months = client.get(reverse("incentives_appraisal_worker_export", args=[p.grid1.pk, "csv"]))
    lines = b"".join(months.streaming_content).decode().strip().splitlines()
    assert len(lines) == 1 + 12 + 1  # header, twelve months, the year
    budgets = client.get(reverse("incentives_scheme_export", args=["csv"]))
    assert "梨洲街道" in b"".join(budgets.streaming_content).decode()
    assert client.get(reverse("incentives_appraisal_worker", args=[p.grid2.pk])).status_code == 404
    client.force_login(p.grid1)
    mine = client.get(reverse("incentives_appraisal_worker", args=[p.grid1.pk]), {"year": "x"})
    assert mine.status_code == 200
    assert client.get(reverse("incentives_appraisal_worker", args=[p.grid2.pk])).status_code == 404


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_pages_render_in_both_languages(rewards, client, language):
    p = rewards.p
    n = rewards.approved()
    A.do_publish_typical_case(A.do_write_typical_case(n, actor=p.lizhou, **TEXT), actor=p.county)
    client.force_login(p.county)
    client.cookies["django_language"] = language
    for name, args in [
        ("incentives_nominate", []),
        ("incentives_queue", ["review"]),
        ("incentives_queue", ["approval"]),
        ("incentives_nomination", [n.pk]),
        ("incentives_my_rewards", []),
        ("incentives_library", []),
        ("incentives_appraisal", []),
        ("incentives_scheme", []),
    ]:
        response = client.get(reverse(name, args=args))
        assert response.status_code == 200, name


def test_chinese_pages_show_no_english_words(rewards, client):
    import re

    p = rewards.p
    n = rewards.approved()
    A.do_publish_typical_case(A.do_write_typical_case(n, actor=p.lizhou, **TEXT), actor=p.county)
    client.force_login(p.county)
    client.cookies["django_language"] = "zh-hans"
    allowed = {"CSV", "Excel", "Word", "civicgrid", "county", "lizhou", "grid"}  # + usernames
    for name, args in [
        ("incentives_nominate", []),
        ("incentives_queue", ["approval"]),
        ("incentives_nomination", [n.pk]),
        ("incentives_nominations", []),
        ("incentives_library", []),
        ("incentives_typical_case", [n.typical_case.pk]),
        ("incentives_appraisal", []),
        ("incentives_appraisal_worker", [p.grid1.pk]),
        ("incentives_scheme", []),
    ]:
        html = client.get(reverse(name, args=args)).content.decode()
        main = html.split('<main id="main">', 1)[1]
        text = re.sub(r"<[^>]+>", " ", main)
        words = set(re.findall(r"[A-Za-z]{3,}", text)) - allowed
        assert not words, (name, sorted(words))


def test_the_county_changes_a_weight_in_the_admin(rewards, client):
    from civicgrid.incentives.models import AppraisalIndicator

    row = AppraisalIndicator.objects.get(key="high_value")
    url = reverse("admin:incentives_appraisalindicator_change", args=[row.pk])
    client.force_login(rewards.p.admin)
    response = client.post(url, {"weight": "12.5", "active": "on"})
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.weight == 12.5
    entries = client.get(reverse("admin:incentives_rewardentry_changelist"))
    assert entries.status_code == 200


def test_the_nominations_list_is_scoped_filtered_and_exported(rewards, client):
    p = rewards.p
    n = rewards.approved()
    url = reverse("incentives_nominations")
    client.force_login(p.lizhou)
    assert n.case.code in client.get(url).content.decode()
    assert n.case.code in client.get(url, {"state": "approved"}).content.decode()
    assert n.case.code not in client.get(url, {"state": "refused"}).content.decode()
    assert client.get(url, {"state": "nonsense", "page": "x"}).status_code == 200
    csv = client.get(reverse("incentives_nominations_export", args=["csv"]), {"state": "approved"})
    assert n.case.code in b"".join(csv.streaming_content).decode()
    client.force_login(p.fengshan)
    assert n.case.code not in client.get(url).content.decode()


def test_main_pages_use_a_bounded_number_of_queries(rewards, client, django_assert_max_num_queries):
    p = rewards.p
    for _ in range(3):
        n = rewards.approved()
        A.do_publish_typical_case(
            A.do_write_typical_case(n, actor=p.lizhou, **TEXT), actor=p.county
        )
    rewards.nominate()
    client.force_login(p.county)
    for name, args, most in [
        ("incentives_appraisal", [], 25),  # aggregate queries, not one per worker
        ("incentives_library", [], 20),
        ("incentives_nominations", [], 15),
        ("incentives_queue", ["review"], 15),
    ]:
        with django_assert_max_num_queries(most):
            assert client.get(reverse(name, args=args)).status_code == 200


def test_the_county_sets_a_budget_on_the_scheme_page(rewards, client):
    from civicgrid.incentives.models import TownBudget

    url = reverse("incentives_scheme")
    client.force_login(rewards.p.lizhou)
    assert (
        client.post(url, {"town_code": "330281001", "year": 2031, "amount": 9}).status_code == 404
    )
    client.force_login(rewards.p.county)
    bad = client.post(url, {"town_code": "330281001", "year": 2031, "amount": -5})
    assert bad.status_code == 200 and not TownBudget.objects.filter(year=2031).exists()
    done = client.post(url, {"town_code": "330281001", "year": 2031, "amount": 30000})
    assert done.status_code == 302
    assert TownBudget.objects.get(town_code="330281001", year=2031).amount == 30000
