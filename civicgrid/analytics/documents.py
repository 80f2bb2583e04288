"""A report's tables as data, and the report as an Excel workbook (.xlsx) and a Word document
(.docx, with the charts drawn as PNG by ``charts.png``).

The page, the per-table CSV/.xlsx downloads, the workbook and the document all use
``report_tables`` so they show the same rows.
"""

import io
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.cases import workflow
from civicgrid.cases.models import Case

from . import charts as C

__all__ = ["Table", "kpi_text", "report_docx", "report_tables", "report_xlsx"]


@dataclass
class Table:
    key: str
    title: str
    header: list[str]
    rows: list[list] = field(default_factory=list)
    note: str = ""
    case_column: int | None = None  # a column holding case codes (linked on the page)


def _kpi_defs() -> dict:
    try:
        from civicgrid.analytics import kpis
    except ImportError:
        return {}
    return kpis.KPIS


def kpi_name(code: str, fallback: str = "") -> str:
    kpi = _kpi_defs().get(code)
    return str(getattr(kpi, "name", "") or fallback or code)


def kpi_text(value: dict | None, code: str = "") -> str:
    """A KPI value as shown: a percentage for a rate, else the number."""
    if not value or value.get("value") is None:
        return "—"
    number = value["value"]
    kpi = _kpi_defs().get(code)
    unit = str(getattr(kpi, "unit", "") or "")
    if unit == "%":  # rates are percentages (0–100)
        return f"{number:.1f}%"
    if float(number).is_integer():
        return f"{int(number):,}"
    return f"{number:,.1f}{(' ' + unit) if unit else ''}"


def _pct(value) -> str:
    return "—" if value is None else f"{value:+.1f}%"


def _channel(key):
    try:
        return str(Case.Channel(key).label)
    except ValueError:
        return key


def _state(state):
    return str(workflow.STATE_LABELS.get(state, state))


def _supervised(level):
    try:
        return str(Case.Supervised(level).label)
    except ValueError:
        return str(level)


def _case_rows(block: dict) -> list[list]:
    return [
        [
            r["code"],
            r["category"],
            r["place"],
            _state(r["state"]),
            _supervised(r.get("supervised", 0)),
            _("yes") if r.get("hard_case") else "",
            r["deadline"].replace("T", " ")[:16],
            _("overdue") if r.get("overdue") else "",
        ]
        for r in block.get("rows", [])
    ]


def _case_header():
    return [
        _("case"),
        _("category"),
        _("place"),
        _("state"),
        _("supervision"),
        _("hard case"),
        _("deadline"),
        _("overdue"),
    ]


def _league(key, title, block) -> Table:
    codes = [c for c in block.get("codes", []) if c != "accept_rate"]
    header = [_("name"), _("cases")] + [kpi_name(c) for c in codes]
    rows = [
        [r["name"], r.get("cases", "")] + [kpi_text(r.get(c), c) for c in codes]
        for r in block.get("rows", [])
    ]
    return Table(key, title, header, rows)


def report_tables(report) -> list[Table]:
    c = report.content
    tables: list[Table] = []
    if report.kind == "daily":
        t = c.get("totals", {})
        tables.append(
            Table(
                "totals",
                _("The day in numbers"),
                [_("measure"), _("value")],
                [
                    [_("Reported"), t.get("intake")],
                    [_("Mean per day, previous 28 days"), t.get("intake_mean28")],
                    [_("Urgent"), t.get("urgent")],
                    [_("Closed"), t.get("closed")],
                    [_("Newly overdue"), t.get("newly_overdue")],
                    [_("Open at the end of the day"), t.get("open")],
                ],
            )
        )
        tables.append(
            Table(
                "channels",
                _("Intake by channel"),
                [_("channel"), _("cases")],
                [[_channel(r["key"]), r["count"]] for r in c.get("by_channel", [])],
            )
        )
        tables.append(
            Table(
                "categories",
                _("Intake by category"),
                [_("code"), _("category"), _("cases")],
                [
                    [r["code"], r["name"] or _("Unclassified"), r["count"]]
                    for r in c.get("by_category", [])
                ],
            )
        )
        tables.append(
            Table(
                "closures",
                _("Closures by category"),
                [_("code"), _("category"), _("cases")],
                [[r["code"], r["name"], r["count"]] for r in c.get("closed_by_category", [])],
            )
        )
        hot = c.get("hot_places", {})
        rule = hot.get("rule", {})
        tables.append(
            Table(
                "hot_places",
                _("Hot places"),
                [_("level"), _("code"), _("name"), _("cases"), _("mean per day"), _("threshold")],
                [
                    [
                        _("village") if r["level"] == "village" else _("grid"),
                        r["code"],
                        r["name"],
                        r["count"],
                        r["mean28"],
                        r["threshold"],
                    ]
                    for r in hot.get("rows", [])
                ],
                note=_(
                    "A place is hot when its count of the day reaches max(%(min)s, mean + "
                    "%(sigmas)s × √mean), the mean being its daily count over the previous "
                    "%(days)s days."
                )
                % {
                    "min": rule.get("min_count", 3),
                    "sigmas": rule.get("sigmas", 3),
                    "days": rule.get("baseline_days", 28),
                },
            )
        )
        tables.append(
            Table(
                "signals",
                _("Early-warning signals"),
                [
                    _("category"),
                    _("places"),
                    _("period"),
                    _("observed"),
                    _("expected"),
                    _("relative risk"),
                ],
                [
                    [
                        s.get("category", ""),
                        s.get("places", "")
                        if isinstance(s.get("places"), str)
                        else ", ".join(map(str, s.get("places") or [])),
                        s.get("period", ""),
                        s.get("observed"),
                        s.get("expected"),
                        s.get("relative_risk"),
                    ]
                    for s in c.get("signals", [])
                ],
            )
        )
        key = c.get("key_items", {})
        for name, title in (
            ("urgent", _("Urgent open cases")),
            ("red_card", _("Red-card supervised cases")),
            ("hard", _("Hard cases (提级攻坚)")),
            ("instructions", _("Cases with leader instructions, still open")),
            ("newly_overdue", _("Newly overdue cases")),
        ):
            block = key.get(name, {})
            note = ""
            if block.get("count", 0) > len(block.get("rows", [])):
                note = _("%(shown)s of %(count)s shown.") % {
                    "shown": len(block["rows"]),
                    "count": block["count"],
                }
            tables.append(Table(f"key_{name}", title, _case_header(), _case_rows(block), note, 0))
    elif report.kind == "weekly":
        t = c.get("totals", {})
        tables.append(
            Table(
                "totals",
                _("The week in numbers"),
                [_("measure"), _("value")],
                [
                    [_("Reported"), t.get("intake")],
                    [_("Reported the week before"), t.get("intake_previous_week")],
                    [_("Mean of the previous weeks"), t.get("intake_mean_previous")],
                    [_("Change against that mean"), _pct(t.get("change_vs_mean_pct"))],
                    [_("Closed"), t.get("closed")],
                    [_("Open at the end of the week"), t.get("open")],
                    [_("Of which overdue"), t.get("overdue_open")],
                ],
            )
        )
        tables.append(
            Table(
                "follow_ups_last_week",
                _("Last week's follow-up items"),
                [_("case"), _("topic"), _("state"), _("closed"), _("outcome")],
                [
                    [
                        f["case"],
                        f["topic"],
                        _state(f["state"]) if f["case"] else "",
                        _("closed") if f["closed"] else _("not closed"),
                        f.get("outcome", ""),
                    ]
                    for f in c.get("follow_ups_last_week", [])
                ],
                case_column=0,
            )
        )
        hh = c.get("hard_hot", {})
        tables.append(
            Table(
                "hard_hot",
                _("Hard, supervised and urgent cases"),
                _case_header(),
                _case_rows(hh),
                _("%(shown)s of %(count)s shown.")
                % {"shown": len(hh.get("rows", [])), "count": hh.get("count", 0)}
                if hh.get("count", 0) > len(hh.get("rows", []))
                else "",
                0,
            )
        )
        tables.append(
            Table(
                "category_trends",
                _("Categories against the previous weeks"),
                [
                    _("code"),
                    _("category"),
                    _("this week"),
                    _("mean of previous weeks"),
                    _("change"),
                ],
                [
                    [
                        r["code"],
                        r["name"] or _("Unclassified"),
                        r["count"],
                        r["mean_previous"],
                        _pct(r["change_pct"]),
                    ]
                    for r in c.get("category_trends", [])
                ],
            )
        )
        tables.append(
            Table(
                "rising",
                _("Rising categories"),
                [_("code"), _("category"), _("this week"), _("mean of previous weeks")],
                [
                    [r["code"], r["name"], r["count"], r["mean_previous"]]
                    for r in c.get("rising", [])
                ],
                _("At least 3 reports and 1.5 times the mean of the previous weeks."),
            )
        )
        tables.append(_league("departments", _("Departments"), c.get("departments", {})))
        tables.append(_league("places", _("Places"), c.get("places", {})))
        tables.append(_kpi_simple(c.get("kpis", {})))
    elif report.kind == "monthly":
        tables.append(kpi_table(c.get("kpi_table", [])))
        t = c.get("totals", {})
        tables.append(
            Table(
                "totals",
                _("The month in numbers"),
                [_("measure"), _("value")],
                [
                    [_("Reported"), t.get("intake")],
                    [_("Reported last month"), t.get("intake_last_month")],
                    [_("Reported in the same month last year"), t.get("intake_last_year")],
                    [_("Change against last month"), _pct(t.get("change_vs_last_month_pct"))],
                    [_("Change against last year"), _pct(t.get("change_vs_last_year_pct"))],
                    [_("Closed"), t.get("closed")],
                    [_("Open at the end of the month"), t.get("open")],
                ],
            )
        )
        heat = c.get("heat", {})
        tables.append(
            Table(
                "heat",
                _("Places × kinds of problem"),
                [_("place")] + [col["name"] for col in heat.get("columns", [])] + [_("total")],
                [[r["name"]] + r["values"] + [r["total"]] for r in heat.get("rows", [])],
            )
        )
        tables.append(
            _league("departments", _("Department league table"), c.get("departments", {}))
        )
        tables.append(_league("places", _("Places"), c.get("places", {})))
        theme = c.get("theme")
        if theme:
            name = theme["category"]["name"]
            tables.append(
                Table(
                    "theme_summary",
                    _("Theme: %(name)s") % {"name": name},
                    [_("measure"), _("value")],
                    [
                        [_("Reported this month"), theme["count"]],
                        [_("Reported last month"), theme["count_last_month"]],
                        [_("Reported in the same month last year"), theme["count_last_year"]],
                        [_("Change against last month"), _pct(theme["change_vs_last_month_pct"])],
                        [_("Closed"), theme["closed"]],
                        [_("Still open"), theme["open"]],
                        [_("Mean days to close"), theme["handling_days"]],
                        [_("Mean days to close last month"), theme["handling_days_last_month"]],
                        [_("First reported"), theme["first_seen"]],
                        [
                            _("New places this month"),
                            ", ".join(p["name"] for p in theme["new_places"]),
                        ],
                        [
                            _("Places without reports this month"),
                            ", ".join(p["name"] for p in theme["gone_places"]),
                        ],
                    ],
                )
            )
            tables.append(
                Table(
                    "theme_villages",
                    _("Theme: villages and communities"),
                    [_("code"), _("name"), _("cases")],
                    [[r["code"], r["name"], r["count"]] for r in theme["villages"]],
                )
            )
            tables.append(
                Table(
                    "theme_grids",
                    _("Theme: grids"),
                    [_("code"), _("name"), _("cases")],
                    [[r["code"], r["name"], r["count"]] for r in theme["grids"]],
                )
            )
            tables.append(
                Table(
                    "theme_departments",
                    _("Theme: lead departments"),
                    [_("department"), _("cases"), _("closed"), _("returned")],
                    [
                        [r["name"], r["count"], r["closed"], r["returned"]]
                        for r in theme["departments"]
                    ],
                )
            )
    return tables


def _kpi_simple(values: dict) -> Table:
    return Table(
        "kpis",
        _("KPIs"),
        [_("KPI"), _("value"), _("numerator"), _("denominator")],
        [
            [kpi_name(code), kpi_text(v, code), v.get("numerator"), v.get("denominator")]
            for code, v in values.items()
        ],
    )


def kpi_table(rows: list[dict]) -> Table:
    return Table(
        "kpis",
        _("KPIs against last month, last year and the target"),
        [_("KPI"), _("this month"), _("last month"), _("same month last year"), _("target")],
        [
            [
                kpi_name(r["code"], r.get("name", "")),
                kpi_text(r.get("this"), r["code"]),
                kpi_text(r.get("last_month"), r["code"]),
                kpi_text(r.get("last_year"), r["code"]),
                "—" if r.get("target") is None else kpi_text({"value": r["target"]}, r["code"]),
            ]
            for r in rows
        ],
    )


def _safe(value):
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value


def generator_label(report) -> str:
    """Who made the report, in words: the scheduled job, or the person's name."""
    from .actions import COMMAND

    return _("the scheduled job") if report.generator == COMMAND else report.generator


def report_title(report) -> str:
    return f"{report.region_name} · {report.get_kind_display()} · {_period_label(report)}"


def _period_label(report) -> str:
    if report.period_start == report.period_end:
        return report.period_start.isoformat()
    if report.kind == "monthly":
        return report.period_start.strftime("%Y-%m")
    return f"{report.period_start.isoformat()} – {report.period_end.isoformat()}"


def report_xlsx(report) -> bytes:
    """One sheet per table, titled; cells that look like formulas are written as text."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    used = set()
    for table in report_tables(report):
        name = table.title[:31].translate(str.maketrans("[]:*?/\\", "       ")).strip() or table.key
        while name in used:
            name = (name[:28] + f"~{len(used)}")[:31]
        used.add(name)
        sheet = book.create_sheet(name)
        sheet.append([report_title(report)])
        sheet.append([table.title])
        sheet["A1"].font = Font(bold=True)
        sheet.append([str(h) for h in table.header])
        for row in table.rows:
            sheet.append([_safe(v) for v in row])
        if table.note:
            sheet.append([])
            sheet.append([table.note])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def report_docx(report) -> bytes:
    """The report as a Word document: title, analyst's notes, charts, then every table."""
    import docx
    from docx.shared import Cm, Pt

    document = docx.Document()
    style = document.styles["Normal"]
    style.font.size = Pt(10.5)
    font = C.cjk_font()
    if font:
        from docx.oxml.ns import qn

        style.font.name = font
        style.element.rPr.rFonts.set(qn("w:eastAsia"), font)
    document.add_heading(report_title(report), level=0)
    document.add_paragraph(
        _("Generated %(when)s by %(who)s (revision %(rev)s). Internal use only.")
        % {
            "when": timezone.localtime(report.generated_at).strftime("%Y-%m-%d %H:%M"),
            "who": generator_label(report),
            "rev": report.revision,
        }
    )
    if report.notes:
        document.add_heading(_("Analyst's notes"), level=1)
        for line in report.notes.splitlines():
            if line.strip():
                document.add_paragraph(line.strip())
    chart_list = C.report_charts(report)
    if chart_list:
        document.add_heading(_("Charts"), level=1)
        for chart in chart_list:
            document.add_picture(io.BytesIO(C.png(chart)), width=Cm(16))
    for table in report_tables(report):
        document.add_heading(table.title, level=1)
        if not table.rows:
            document.add_paragraph(_("Nothing here."))
            continue
        grid = document.add_table(rows=1, cols=len(table.header))
        grid.style = "Table Grid"
        for cell, text in zip(grid.rows[0].cells, table.header, strict=True):
            cell.text = str(text)
            for run in cell.paragraphs[0].runs:
                run.bold = True
        for row in table.rows:
            cells = grid.add_row().cells
            for cell, value in zip(cells, row, strict=False):
                cell.text = "" if value is None else str(value)
        if table.note:
            document.add_paragraph(table.note).runs[0].italic = True
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
