"""The typical-case collection (典型案例汇编) as a Word document."""

import io

from django.utils import timezone
from django.utils.translation import gettext as _

__all__ = ["library_docx"]


def library_docx(typical_cases, *, title: str, town_names: dict[str, str]) -> bytes:
    """One document: a title page line, then each case with its five parts."""
    import docx

    document = docx.Document()
    document.add_heading(title, level=0)
    document.add_paragraph(
        _("Compiled on %(day)s; %(n)s cases. Internal use only.")
        % {"day": timezone.localdate().isoformat(), "n": len(typical_cases)}
    )
    for number, typical in enumerate(typical_cases, start=1):
        document.add_heading(f"{number}. {typical.title}", level=1)
        facts = [
            typical.get_criterion_display(),
            town_names.get(typical.town_code, typical.town_code),
            str(typical.year),
        ]
        if typical.category_id:
            facts.insert(0, typical.category.name)
        document.add_paragraph(" · ".join(facts))
        for heading, text in (
            (_("Summary"), typical.summary),
            (_("What was found"), typical.found),
            (_("How it was handled"), typical.handled),
            (_("Lessons"), typical.lessons),
        ):
            document.add_heading(heading, level=2)
            for line in text.splitlines():
                if line.strip():
                    document.add_paragraph(line.strip())
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
