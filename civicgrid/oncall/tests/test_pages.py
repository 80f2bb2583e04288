"""The pages over HTTP: postings, the case panel, my summons, statistics and exports."""

from django.core.files.uploadedfile import SimpleUploadedFile
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse

from civicgrid.cases.models import CaseAction
from civicgrid.oncall import actions as A
from civicgrid.oncall.models import StaffPosting, Summons
from civicgrid.oncall.tests.conftest import jpeg
from civicgrid.people.models import RoleAssignment


def _panel(user, case):
    request = RequestFactory().get("/")
    request.user = user
    return Template("{% load oncall %}{% oncall_panel case %}").render(
        Context({"request": request, "case": case, "csrf_token": "x"})
    )


def test_pages_need_a_login(client):
    for name in ("oncall_postings", "oncall_mine", "oncall_stats"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and "login" in response["Location"]


def test_the_township_posts_and_ends_staff_through_the_postings_page(oncall, world, login):
    staff = oncall.staff("oc-police")
    client = login(oncall.room)
    page = client.get(reverse("oncall_postings"), {"area": world.grid.code})
    assert page.status_code == 200 and "oc-police" in page.content.decode()  # offered in the form
    role = RoleAssignment.objects.get(person__user=staff, role="dept_on_call")
    response = client.post(
        reverse("oncall_posting_add", args=[world.grid.code]),
        {"staff": role.pk, "kind": "on_call", "note": "夜间值守"},
    )
    assert response.status_code == 302
    posting = StaffPosting.objects.get(person__user=staff)
    assert posting.kind == "on_call" and posting.note == "夜间值守"
    listing = client.get(reverse("oncall_postings"), {"area": world.grid.code}).content.decode()
    assert "夜间值守" in listing
    # A bad form is a message, not a 500; a micro-grid or unknown grid is a 404.
    assert (
        client.post(
            reverse("oncall_posting_add", args=[world.grid.code]), {"staff": "x"}
        ).status_code
        == 302
    )
    assert client.post(reverse("oncall_posting_add", args=["999"]), {}).status_code == 404
    # Exports.
    csv = client.get(reverse("oncall_postings_export", args=["csv"]), {"area": world.grid.code})
    assert csv.status_code == 200 and "夜间值守" in b"".join(csv.streaming_content).decode(
        "utf-8-sig"
    )
    xlsx = client.get(reverse("oncall_postings_export", args=["xlsx"]))
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd.openxml")
    assert client.get(reverse("oncall_postings_export", args=["pdf"])).status_code == 404
    # Another township cannot end it (it does not even see it).
    other = login(world.p.fengshan)
    assert other.post(reverse("oncall_posting_end", args=[posting.pk])).status_code == 404
    client = login(oncall.room)
    client.post(reverse("oncall_posting_end", args=[posting.pk]), {})
    posting.refresh_from_db()
    assert posting.ends_on is not None


def test_the_room_summons_from_the_case_panel_and_the_staff_answer_on_my_summons(
    oncall, world, login
):
    staff = oncall.staff("oc-police")
    posting = oncall.post(staff)
    case = oncall.case()
    html = _panel(oncall.room, case)
    assert "oc-police" in html and reverse("oncall_summon", args=[case.code]) in html
    # Someone who does not own the case sees no summon form.
    assert reverse("oncall_summon", args=[case.code]) not in _panel(world.p.county, case)

    client = login(oncall.room)
    response = client.post(
        reverse("oncall_summon", args=[case.code]), {"posting": posting.pk, "request": "协助劝离"}
    )
    assert response.status_code == 302 and response["Location"].endswith("#oncall")
    summons = Summons.objects.get(case=case)
    assert summons.request == "协助劝离"
    assert (
        client.post(reverse("oncall_summon", args=[case.code]), {"posting": 999999}).status_code
        == 404
    )
    assert (
        client.post(reverse("oncall_summon", args=["nope"]), {"posting": posting.pk}).status_code
        == 404
    )
    # Bad input is a message: summoning the same department again is refused.
    client.post(reverse("oncall_summon", args=[case.code]), {"posting": posting.pk})
    assert Summons.objects.filter(case=case).count() == 1

    staff_client = login(staff)
    mine = staff_client.get(reverse("oncall_mine"))
    assert mine.status_code == 200 and case.code in mine.content.decode()
    assert "139****1234" in mine.content.decode() and "13905741234" not in mine.content.decode()
    url = lambda action: reverse("oncall_answer", args=[summons.pk, action])  # noqa: E731
    assert staff_client.post(url("dance")).status_code == 404
    staff_client.post(url("accept"))
    staff_client.post(url("arrive"))
    photo = SimpleUploadedFile("after.jpg", jpeg(), content_type="image/jpeg")
    staff_client.post(url("finish"), {"notes": "已劝离", "photos": [photo]})
    summons.refresh_from_db()
    assert summons.state == "done" and summons.photos.count() == 1
    assert list(
        CaseAction.objects.filter(case=case, action__startswith="summon").values_list(
            "action", flat=True
        )
    ) == ["summon", "summon_arrived", "summon_done"]
    # The photo is shown to the staff member and those who see the case, nobody else.
    photo_url = reverse("oncall_photo", args=[summons.photos.get().pk])
    assert staff_client.get(photo_url).status_code == 200
    assert login(world.p.fengshan).get(photo_url).status_code == 404
    assert login(oncall.room).get(photo_url).status_code == 200
    # Another person cannot answer someone else's summons.
    assert login(world.p.grid1).post(url("accept")).status_code == 404
    # The panel now shows the work record.
    assert "已劝离" in _panel(oncall.room, case)


def test_a_decline_and_a_cancel_over_http(oncall, login):
    staff = oncall.staff("oc-police")
    case = oncall.case()
    summons = A.do_summon(case, oncall.post(staff), actor=oncall.room)
    client = login(staff)
    client.post(reverse("oncall_answer", args=[summons.pk, "decline"]), {"reason": ""})
    assert Summons.objects.get(pk=summons.pk).state == "sent"  # a reason is required
    client.post(reverse("oncall_answer", args=[summons.pk, "decline"]), {"reason": "休假"})
    assert Summons.objects.get(pk=summons.pk).state == "declined"
    other = oncall.staff("oc-police-2")
    second = A.do_summon(case, oncall.post(other), actor=oncall.room)
    assert login(other).post(reverse("oncall_cancel", args=[second.pk])).status_code == 404
    login(oncall.room).post(reverse("oncall_cancel", args=[second.pk]), {"reason": "已解决"})
    assert Summons.objects.get(pk=second.pk).state == "cancelled"


def test_statistics_page_and_exports(oncall, world, login):
    staff = oncall.staff("oc-police")
    summons = A.do_summon(oncall.case(), oncall.post(staff), actor=oncall.room)
    A.do_accept_summons(summons, actor=staff)
    client = login(oncall.room)
    page = client.get(reverse("oncall_stats"), {"by": "town"})
    assert page.status_code == 200 and "梨洲街道" in page.content.decode()
    assert client.get(reverse("oncall_stats"), {"start": "garbage", "by": "x"}).status_code == 200
    csv = client.get(reverse("oncall_stats_export", args=["csv"]), {"by": "department"})
    text = b"".join(csv.streaming_content).decode("utf-8-sig")
    assert "梨洲派出所,1,1,0" in text
    xlsx = client.get(reverse("oncall_stats_export", args=["xlsx"]))
    assert xlsx.status_code == 200
    every = client.get(reverse("oncall_summonses_export", args=["csv"]))
    text = b"".join(every.streaming_content).decode("utf-8-sig")
    assert summons.case.code in text and "oc-police" in text
    # Another township's export has none of it.
    other = login(world.p.fengshan).get(reverse("oncall_summonses_export", args=["csv"]))
    assert summons.case.code not in b"".join(other.streaming_content).decode("utf-8-sig")


def test_pages_in_chinese(oncall, world, login):
    from django.utils import translation

    staff = oncall.staff("oc-police")
    case = oncall.case()
    A.do_summon(case, oncall.post(staff), actor=oncall.room)
    client = login(oncall.room)
    pages = {
        reverse("oncall_postings") + f"?area={world.grid.code}": ["部门力量下沉网格", "随叫随驻"],
        reverse("oncall_stats") + "?by=town": ["呼叫统计", "接单率", "梨洲街道"],
    }
    for url, words in pages.items():
        html = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
        for word in words:
            assert word in html, (url, word)
        for english in ("Department staff", "Summons statistics", "Acceptance rate", "Export"):
            assert english not in html, (url, english)
    mine = login(staff).get(reverse("oncall_mine"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "我的呼叫" in mine and "接单" in mine and "Accept" not in mine
    with translation.override("zh-hans"):
        panel = _panel(oncall.room, case)
        assert "随叫随驻部门力量" in panel and "已呼叫，待应答" in panel and "Summon" not in panel
        from civicgrid.cases.workflow import ACTION_LABELS

        assert str(ACTION_LABELS["summon_done"]) == "部门人员处置完成"
