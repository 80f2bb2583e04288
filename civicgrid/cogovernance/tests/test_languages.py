"""The co-governance pages in Chinese show no English words except data."""

from datetime import datetime

from django.test import Client
from django.urls import reverse

from civicgrid.cases.tests.conftest import SHANGHAI
from civicgrid.cogovernance.actions import do_confirm_award, do_propose_award
from civicgrid.cogovernance.models import PointEntry
from civicgrid.web.tests.test_languages import english_words


def _content(html: str) -> str:
    """The page's own part: the shell around <main> (menu, footer) is web's and tested there."""
    start, end = html.find("<main"), html.rfind("</main>")
    return html[start:end] if start != -1 and end != -1 else html


def _chinese(user=None):
    client = Client()
    if user is not None:
        client.force_login(user)
    client.cookies["django_language"] = "zh-hans"
    return client


def test_pages_in_chinese_have_no_english_words(cg):
    member = cg.member(name="吴骑手")
    case = cg.accept(cg.report(member))
    PointEntry.objects.create(
        member=member,
        points=12,
        event="accepted",
        case=cg.report(member, text="另一处"),
        region_code=member.region_code,
        effective=datetime(2025, 5, 1, tzinfo=SHANGHAI),
        created=datetime(2025, 5, 1, tzinfo=SHANGHAI),
    )
    county = cg.world.p.county
    proposed = do_propose_award(county_code="330281", year=2025, actor=county)
    data = {member.user.username, "lizhou", "county"}
    pages = {
        None: [reverse("cogovernance_register")],
        member.user: [reverse("cogovernance_my_points"), reverse("cogovernance_leaderboard")],
        cg.lizhou: [
            reverse("cogovernance_members"),
            reverse("cogovernance_member", args=[member.pk]),
            reverse("cogovernance_leaderboard") + "?period=year&year=2025",
            reverse("cogovernance_invalidate", args=[case.code]),
        ],
        county: [
            reverse("cogovernance_awards"),
            reverse("cogovernance_award", args=[proposed.pk]),
            reverse("cogovernance_award_print", args=[proposed.pk]),
        ],
    }
    found = {}
    for user, urls in pages.items():
        client = _chinese(user)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            words = english_words(_content(response.content.decode()), data)
            if words:
                found[url] = sorted(words)
    do_confirm_award(proposed, actor=county)
    certificates = _chinese(county).get(reverse("cogovernance_certificates", args=[proposed.pk]))
    words = english_words(_content(certificates.content.decode()), data)
    if words:
        found["certificates"] = sorted(words)
    assert found == {}
    mine = _chinese(member.user).get(reverse("cogovernance_my_points")).content.decode()
    assert "我的积分" in mine and "有效上报被受理" in mine
    # member words, not the case workflow's (缓办 is a case being suspended)
    members = _chinese(cg.lizhou).get(reverse("cogovernance_members")).content.decode()
    assert "暂停" in members and "缓办" not in _content(members)
