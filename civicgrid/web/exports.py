"""Every table can be downloaded as CSV or Excel (.xlsx) with the filters on screen.

Rows are streamed for CSV; .xlsx is written with openpyxl's write-only workbook (constant
memory per row) into a temporary file. Cells that look like formulas are written as text, so
an export cannot carry a spreadsheet formula injection.
"""

import csv
import tempfile
from collections.abc import Iterable, Sequence

from django.http import FileResponse, StreamingHttpResponse

__all__ = ["EXPORT_FORMATS", "export_response"]

EXPORT_FORMATS = ("csv", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    def write(self, value):
        return value


def _safe(value):
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def export_response(
    name: str, header: Sequence[str], rows: Iterable[Sequence], fmt: str, *, sheet: str = ""
):
    """A download of ``rows`` under ``header`` as ``name.csv`` or ``name.xlsx``."""
    if fmt == "xlsx":
        return _xlsx(name, header, rows, sheet or name)
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff" + writer.writerow([str(h) for h in header])
        for row in rows:
            yield writer.writerow([_safe(_plain(v)) for v in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


def _plain(value):
    if hasattr(value, "isoformat"):
        return (
            value.isoformat(sep=" ", timespec="minutes") if hasattr(value, "hour") else str(value)
        )
    return value


def _xlsx(name, header, rows, sheet):
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    ws = book.create_sheet(title=str(sheet)[:31])
    ws.append([str(h) for h in header])
    for row in rows:
        ws.append([_safe(_excel_value(v)) for v in row])
    handle = tempfile.TemporaryFile()
    book.save(handle)
    handle.seek(0)
    return FileResponse(handle, as_attachment=True, filename=f"{name}.xlsx", content_type=XLSX_TYPE)


def _excel_value(value):
    # Excel has no time zones: write local wall-clock time.
    if hasattr(value, "tzinfo") and getattr(value, "tzinfo", None) is not None:
        from django.utils import timezone

        return timezone.localtime(value).replace(tzinfo=None)
    if isinstance(value, (int, float, str)) or value is None:
        return value
    return str(value)
