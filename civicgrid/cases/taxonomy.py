"""The case taxonomy as CSV: the shipped file, import (validated, all or nothing) and export."""

import csv
import io
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from civicgrid.cases.models import Category, Level
from civicgrid.core.audit import record_event
from civicgrid.core.errors import ActionRefused
from civicgrid.core.scoping import scope_for

__all__ = ["COLUMNS", "SHIPPED_CSV", "do_import_categories", "export_categories_csv"]

SHIPPED_CSV = Path(__file__).parent / "data" / "categories.csv"
COLUMNS = [
    "code",
    "parent_code",
    "name",
    "name_en",
    "default_level",
    "departments",
    "sign_limit",
    "resolve_limit_grid",
    "resolve_limit_village",
    "resolve_limit_town",
    "resolve_limit_county",
    "acceptance_criteria",
    "closing_criteria",
]
_LIMIT_COLUMNS = COLUMNS[6:11]


def _kinds():
    from civicgrid.people.models import Department

    return set(Department.Kind.values)


def _validate(rows: list[dict]) -> list[str]:
    from civicgrid.cases.actions import parse_limit

    problems, codes, kinds = [], set(), _kinds()

    def problem(number, code, message, **values):
        where = _("line %(line)s (%(code)s)") % {"line": number, "code": code or "?"}
        problems.append(f"{where}: {message % values if values else message}")

    for number, row in enumerate(rows, start=2):
        code = (row.get("code") or "").strip()
        if not code.isdigit() or len(code) not in {2, 4, 6}:
            problem(number, code, _("the code must have 2, 4 or 6 digits"))
        if code in codes:
            problem(number, code, _("the code is used twice"))
        codes.add(code)
        parent = (row.get("parent_code") or "").strip()
        if parent and (parent not in codes or not code.startswith(parent)):
            problem(
                number,
                code,
                _("parent %(parent)s must come first and begin the code"),
                parent=parent,
            )
        if not (row.get("name") or "").strip():
            problem(number, code, _("the name is empty"))
        for column in ("name", "name_en", *_LIMIT_COLUMNS):
            limit = Category._meta.get_field(column).max_length
            if len((row.get(column) or "").strip()) > limit:
                problem(
                    number,
                    code,
                    _("%(column)s is longer than %(limit)d characters"),
                    column=column,
                    limit=limit,
                )
        level = (row.get("default_level") or "").strip()
        if level and level not in Level.values:
            problem(number, code, _("unknown level %(level)s"), level=level)
        for kind in filter(None, (row.get("departments") or "").split(";")):
            if kind.strip() not in kinds:
                problem(number, code, _("unknown department kind %(kind)s"), kind=kind)
        for column in _LIMIT_COLUMNS:
            value = (row.get(column) or "").strip()
            if value:
                try:
                    parse_limit(value)
                except ValueError:
                    problem(
                        number,
                        code,
                        _("%(column)s %(value)s is not like 4h or 5d"),
                        column=column,
                        value=repr(value),
                    )
        if parent and level and not (row.get(f"resolve_limit_{level}") or "").strip():
            problem(
                number, code, _("no resolution limit for its default level %(level)s"), level=level
            )
    return problems


def do_import_categories(text: str, *, actor) -> dict[str, int]:
    """Create or update categories from CSV text; nothing changes if any row is bad."""
    if actor is not None and not scope_for(actor).has("cases.configure"):
        raise ActionRefused(_("You may not change the case taxonomy."))
    try:
        rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    except csv.Error as exc:  # e.g. a cell longer than the csv module's field limit
        raise ValidationError(_("The file is not a CSV table: %s") % exc) from None
    if "\x00" in text:  # no text column can hold it (PostgreSQL refuses it)
        raise ValidationError(_("The file is not a CSV table: %s") % "NUL (0x00)")
    missing = [c for c in COLUMNS if rows and c not in rows[0]]
    if not rows or missing:
        raise ValidationError(_("The file needs the columns: %s") % ", ".join(COLUMNS))
    problems = _validate(rows)
    if problems:
        raise ValidationError(problems)
    created = updated = 0
    with transaction.atomic():
        by_code = {c.code: c for c in Category.objects.all()}
        for row in rows:
            values = {
                "name": row["name"].strip(),
                "name_en": (row.get("name_en") or "").strip(),
                "default_level": (row.get("default_level") or "").strip(),
                "department_kinds": [
                    k.strip() for k in (row.get("departments") or "").split(";") if k.strip()
                ],
                "acceptance_criteria": (row.get("acceptance_criteria") or "").strip(),
                "closing_criteria": (row.get("closing_criteria") or "").strip(),
                "parent": by_code.get((row.get("parent_code") or "").strip()),
                **{c: (row.get(c) or "").strip() for c in _LIMIT_COLUMNS},
            }
            category = by_code.get(row["code"].strip())
            if category is None:
                category = Category.objects.create(code=row["code"].strip(), **values)
                by_code[category.code] = category
                created += 1
            else:
                for name, value in values.items():
                    setattr(category, name, value)
                category.save()
                updated += 1
        record_event(
            "cases.category.import",
            actor=actor,
            target_type="cases.category",
            target_repr=f"{len(rows)} rows",
            after={"created": created, "updated": updated},
        )
    return {"created": created, "updated": updated}


def export_categories_csv() -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for c in Category.objects.select_related("parent").order_by("code"):
        writer.writerow(
            [
                c.code,
                c.parent.code if c.parent else "",
                c.name,
                c.name_en,
                c.default_level,
                ";".join(c.department_kinds),
                c.sign_limit,
                c.resolve_limit_grid,
                c.resolve_limit_village,
                c.resolve_limit_town,
                c.resolve_limit_county,
                c.acceptance_criteria,
                c.closing_criteria,
            ]
        )
    return out.getvalue()
