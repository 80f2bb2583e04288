"""Typical cases: written up from approved rewards, no personal data, scoped, exported."""

import io

import docx
import pytest
from django.core.exceptions import ValidationError

from civicgrid.core.errors import ActionRefused
from civicgrid.incentives import actions as A
from civicgrid.incentives import selectors as S
from civicgrid.incentives.documents import library_docx

TEXT = {
    "title": "液化气罐违规存放隐患及时消除",
    "summary": "网格员在日常巡查中发现居民楼道堆放液化气罐。",
    "found": "某小区3幢楼道内存放液化气罐5只。",
    "handled": "网格当场劝导清理，社区联合消防站开展宣传。",
    "lessons": "日常巡查要关注楼道等公共部位。",
}


def test_only_approved_cases_are_written_up_by_township_or_county(rewards):
    p = rewards.p
    pending = rewards.nominate()
    with pytest.raises(ActionRefused, match="approved"):
        A.do_write_typical_case(pending, actor=p.lizhou, **TEXT)
    n = rewards.approved()
    for outsider in (p.grid1, p.fengshan, p.auditor):
        with pytest.raises(ActionRefused):
            A.do_write_typical_case(n, actor=outsider, **TEXT)
    typical = A.do_write_typical_case(n, actor=p.lizhou, **TEXT)
    assert typical.state == "draft" and typical.town_code == "330281001"
    with pytest.raises(ActionRefused):
        A.do_publish_typical_case(typical, actor=p.lizhou)
    typical = A.do_publish_typical_case(typical, actor=p.county)
    assert typical.state == "published"
    with pytest.raises(ActionRefused, match="already published"):
        A.do_write_typical_case(n, actor=p.lizhou, **TEXT)


@pytest.mark.parametrize(
    "leak",
    [
        "联系人电话13905741234",
        "身份证号330281199001011234",
        "身份证33028119900101123X号",
        "电话0574-62345678",
    ],
)
def test_personal_data_is_refused(rewards, leak):
    n = rewards.approved()
    with pytest.raises(ValidationError) as info:
        A.do_write_typical_case(
            n, actor=rewards.p.lizhou, **{**TEXT, "found": TEXT["found"] + leak}
        )
    assert "found" in info.value.message_dict
    assert "Remove personal data" in info.value.message_dict["found"][0]


def test_the_checker_leaves_ordinary_numbers_alone():
    assert A.find_personal_data("2025年3月共排查120户，涉及金额50000元") == []


def _published(rewards, title):
    n = rewards.approved()
    typical = A.do_write_typical_case(n, actor=rewards.p.lizhou, **{**TEXT, "title": title})
    return A.do_publish_typical_case(typical, actor=rewards.p.county)


def test_library_scoping_and_search_filters(rewards, world):
    p = rewards.p
    published = _published(rewards, "甲案例")
    draft = A.do_write_typical_case(rewards.approved(), actor=p.lizhou, **TEXT)
    for user in (p.grid1, p.grid2, p.fengshan, p.county, p.auditor, p.police):
        assert list(S.library_visible_to(user)) == [published], user
    assert not S.library_visible_to(p.outsider).exists()
    # Drafts: only the writers (the township, the county) see them.
    assert draft in S.drafts_visible_to(p.lizhou) and draft in S.drafts_visible_to(p.county)
    assert (
        not S.drafts_visible_to(p.fengshan).exists() and not S.drafts_visible_to(p.grid1).exists()
    )
    # Revoking the reward takes the case out of the library.
    A.do_revoke_nomination(published.nomination, actor=p.county, reason="举报不实")
    assert not S.library_visible_to(p.grid1).exists()


def test_docx_collection_holds_the_cases(rewards):
    first, second = _published(rewards, "甲案例"), _published(rewards, "乙案例")
    data = library_docx([first, second], title="典型案例汇编", town_names=S.town_names())
    text = "\n".join(par.text for par in docx.Document(io.BytesIO(data)).paragraphs)
    assert "典型案例汇编" in text and "1. 甲案例" in text and "2. 乙案例" in text
    assert TEXT["handled"] in text and "梨洲街道" in text
