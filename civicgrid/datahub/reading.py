"""Reading a department's file: CSV (UTF-8 with or without BOM, or GB18030) or .xlsx
(openpyxl read-only, streamed row by row). Rows come out as lists of cells numbered as the
file numbers them (the header is row 1)."""

import csv
import datetime
import io
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

__all__ = ["Table", "cell_text", "open_table"]

XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls


@dataclass
class Table:
    header: list[str]
    rows: Iterator[tuple[int, list]]  # (row number in the file, cells)
    total: int  # rows under the header (an estimate for CSV with quoted line breaks)
    format: str


def cell_text(value) -> str:
    """A cell as text: numbers without a trailing .0, dates in ISO form."""
    if value is None:
        return ""
    if isinstance(value, str):
        # NUL cannot be stored (PostgreSQL refuses it in text); it is never meant.
        return value.replace("\x00", "").strip() if "\x00" in value else value.strip()
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else str(value)
    return str(value)


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationError(_("The file is neither UTF-8 nor GB18030 text."))


def _csv_table(data: bytes) -> Table:
    text = _decode(data)
    # csv.Sniffer is fooled by Chinese text; accept commas, or tabs when the header has no comma.
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header, number = None, 0
    try:
        for cells in reader:
            number += 1
            if any(cell.strip() for cell in cells):
                header = [cell_text(cell).lstrip("\ufeff")[:100] for cell in cells]
                break
    except csv.Error as exc:
        raise ValidationError(_("The file is not a CSV table: %s") % exc) from None
    if header is None:
        raise ValidationError(_("The file is empty."))
    total = max(text.count("\n") - number + (0 if text.endswith("\n") else 1), 0)

    def rows():
        row = number
        try:
            for cells in reader:
                row += 1
                if any(cell.strip() for cell in cells):
                    yield row, cells
        except csv.Error as exc:
            raise ValidationError(
                _("Row %(row)d is not valid CSV: %(error)s") % {"row": row, "error": exc}
            ) from None

    return Table(header=header, rows=rows(), total=total, format="csv")


def _xlsx_table(data: bytes) -> Table:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = book.worksheets[0]
    except Exception as exc:  # a damaged zip or workbook: openpyxl raises many kinds
        raise ValidationError(_("The file is not a readable .xlsx workbook (%s).") % exc) from None
    stream = sheet.iter_rows(values_only=True)
    header, number = None, 0
    for cells in stream:
        number += 1
        if any(cell_text(c) for c in cells):
            header = [cell_text(c)[:100] for c in cells]
            break
    if header is None:
        book.close()
        raise ValidationError(_("The file is empty."))
    while header and not header[-1]:
        header.pop()
    total = max((sheet.max_row or number) - number, 0)

    def rows():
        row = number
        try:
            for cells in stream:
                row += 1
                if any(c is not None and c != "" for c in cells):
                    yield row, list(cells)
        finally:
            book.close()

    return Table(header=header, rows=rows(), total=total, format="xlsx")


def open_table(data: bytes, file_name: str = "") -> Table:
    """The file's header and an iterator over its rows; ValidationError if unreadable."""
    if not data:
        raise ValidationError(_("The file is empty."))
    if data.startswith(OLE_MAGIC) or file_name.lower().endswith(".xls"):
        raise ValidationError(_("Old .xls files cannot be read: save it as .xlsx or CSV."))
    if data.startswith(XLSX_MAGIC):
        return _xlsx_table(data)
    return _csv_table(data)
