"""The agreement document: generated from the .docx template, opened and read back."""

import io
from datetime import timedelta

import docx
import pytest
from django.utils import timezone

from civicgrid.mediation.actions import do_conclude_dispute, do_record_session, do_route_dispute
from civicgrid.mediation.documents import TEMPLATE_PATH, agreement_docx
from civicgrid.mediation.tests.conftest import ID_A

pytestmark = pytest.mark.django_db


def test_template_is_shipped_with_placeholders():
    text = "\n".join(p.text for p in docx.Document(str(TEMPLATE_PATH)).paragraphs)
    assert "人民调解协议书" in text and "{terms}" in text and "{parties}" in text


def test_agreement_text(med):
    dispute = med.register()
    do_route_dispute(dispute, actor=med.centre_user, route="studio", org=med.studio)
    do_record_session(
        dispute,
        actor=med.mediator_user,
        held_at=timezone.now() - timedelta(hours=2),
        place="调解室",
    )
    do_conclude_dispute(
        dispute,
        actor=med.mediator_user,
        outcome="agreement",
        terms="李四于2026年5月1日前支付张三人民币五万元\n婚后房屋归张三所有",
        amount="50000",
        perform_by=timezone.localdate() + timedelta(days=20),
    )
    dispute.refresh_from_db()
    document = docx.Document(io.BytesIO(agreement_docx(dispute)))
    paragraphs = [p.text for p in document.paragraphs]
    text = "\n".join(paragraphs)
    assert "人民调解协议书" in text
    assert f"编号（一案一码）：{dispute.code}" in paragraphs
    assert "调解组织：老娘舅婚姻家庭调解工作室" in paragraphs
    assert "1. 李四于2026年5月1日前支付张三人民币五万元" in paragraphs
    assert "2. 婚后房屋归张三所有" in paragraphs
    assert paragraphs.index("1. 李四于2026年5月1日前支付张三人民币五万元") + 1 == paragraphs.index(
        "2. 婚后房屋归张三所有"
    )
    assert "涉及金额：50,000.00 元" in text
    assert "调解员：王调解" in text
    assert "申请人：张三（自然人）" in text or "Applicant：张三" in text
    assert "330281********0019" in text and ID_A not in text  # masked
    assert "{" not in text


def test_built_in_template_when_the_file_is_missing(med, monkeypatch, tmp_path):
    from civicgrid.mediation import documents

    dispute = med.register()
    do_route_dispute(dispute, actor=med.centre_user, route="studio", org=med.studio)
    do_record_session(dispute, actor=med.mediator_user, held_at=timezone.now(), place="室")
    do_conclude_dispute(dispute, actor=med.mediator_user, outcome="agreement", terms="和解")
    monkeypatch.setattr(documents, "TEMPLATE_PATH", tmp_path / "missing.docx")
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(agreement_docx(dispute))).paragraphs)
    assert "1. 和解" in text and dispute.code in text
    assert not (tmp_path / "missing.docx").exists()
