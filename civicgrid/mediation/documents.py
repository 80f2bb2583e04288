"""The 人民调解协议书 (.docx) generated from a template with the agreement's terms.

The template (``docx/agreement_template.docx``, made by ``make_template``) is an ordinary Word
document; a paragraph holding ``{placeholder}`` is filled in. ``{parties}`` and ``{terms}``
become one paragraph per party or term. Party ID and phone numbers are printed masked: the
signed paper copy carries the full numbers, written by hand at the signing.
"""

from __future__ import annotations

import copy
import io
from pathlib import Path

from django.utils import timezone

__all__ = ["TEMPLATE_PATH", "agreement_docx", "make_template"]

TEMPLATE_PATH = Path(__file__).parent / "docx" / "agreement_template.docx"

_TEMPLATE_LINES = [
    ("Title", "人民调解协议书"),
    (None, "编号（一案一码）：{code}"),
    (None, "调解组织：{org}"),
    ("Heading 2", "当事人"),
    (None, "{parties}"),
    ("Heading 2", "纠纷主要事实、争议事项"),
    (None, "{facts}"),
    ("Heading 2", "经调解，自愿达成如下协议"),
    (None, "{terms}"),
    (None, "涉及金额：{amount} 元；履行期限：{perform_by}。"),
    (
        None,
        "本协议经双方当事人签名（盖章）、人民调解员签名并加盖调解组织印章后生效。"
        "双方当事人可以自本协议生效之日起三十日内共同向人民法院申请司法确认。",
    ),
    (None, "调解员：{mediators}"),
    (None, "当事人（签名）：________________    ________________"),
    (None, "签订日期：{signed_on}"),
]


def _template_document():
    import docx

    document = docx.Document()
    for style, text in _TEMPLATE_LINES:
        if style == "Title":
            document.add_heading(text, level=0)
        elif style:
            document.add_heading(text, level=2)
        else:
            document.add_paragraph(text)
    return document


def make_template(path: Path = TEMPLATE_PATH) -> Path:
    """Write the shipped template (run once; the file is kept in the repository)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _template_document().save(str(path))
    return path


def _set_text(paragraph, text: str) -> None:
    runs = paragraph.runs
    if not runs:
        paragraph.add_run(text)
        return
    runs[0].text = text
    for run in runs[1:]:
        run.text = ""


def _fill_lines(paragraph, lines: list[str]) -> None:
    """Replace a block placeholder's paragraph by one paragraph per line."""
    lines = lines or ["—"]
    _set_text(paragraph, lines[0])
    anchor = paragraph._p
    for line in lines[1:]:
        new = copy.deepcopy(paragraph._p)
        anchor.addnext(new)
        anchor = new
        from docx.text.paragraph import Paragraph

        _set_text(Paragraph(new, paragraph._parent), line)


def _party_line(party) -> str:
    bits = [f"{party.get_role_display()}：{party.name}（{party.get_kind_display()}）"]
    if party.id_number_masked:
        bits.append(f"身份证号 {party.id_number_masked}")
    if party.credit_code:
        bits.append(f"统一社会信用代码 {party.credit_code}")
    if party.phone_masked:
        bits.append(f"电话 {party.phone_masked}")
    if party.address:
        bits.append(f"住址 {party.address}")
    return "，".join(bits)


def agreement_docx(dispute) -> bytes:
    """The agreement of ``dispute`` as a .docx file's bytes."""
    import docx

    agreement = dispute.agreement
    # The shipped file; the same template built in memory if an install left it out.
    document = docx.Document(str(TEMPLATE_PATH)) if TEMPLATE_PATH.exists() else _template_document()
    mediators = sorted(
        {a.mediator.name for a in dispute.assignments.select_related("mediator")}
        | {m.name for s in dispute.sessions.all() for m in s.mediators.all()}
    )
    values = {
        "{code}": dispute.code,
        "{org}": dispute.org.name if dispute.org_id else (dispute.get_route_display() or "—"),
        "{facts}": dispute.description,
        "{amount}": f"{agreement.amount:,.2f}",
        "{perform_by}": agreement.perform_by.isoformat()
        if agreement.perform_by
        else "签订时即履行",
        "{mediators}": "、".join(mediators) or "—",
        "{signed_on}": agreement.signed_on.isoformat(),
    }
    blocks = {
        "{parties}": [_party_line(p) for p in dispute.parties.all()],
        "{terms}": [f"{i}. {term}" for i, term in enumerate(agreement.terms, start=1)],
    }
    for paragraph in list(document.paragraphs):
        text = paragraph.text
        if text.strip() in blocks:
            _fill_lines(paragraph, blocks[text.strip()])
            continue
        if "{" in text:
            for key, value in values.items():
                text = text.replace(key, value)
            _set_text(paragraph, text)
    document.core_properties.title = f"人民调解协议书 {dispute.code}"
    document.core_properties.created = timezone.now()
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
