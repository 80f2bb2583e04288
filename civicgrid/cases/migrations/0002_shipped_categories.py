"""Load the shipped taxonomy (cases/data/categories.csv); later edits happen in the admin or
by `civicgrid import_categories`."""

from django.db import migrations


def forwards(apps, schema_editor):
    from civicgrid.cases.taxonomy import SHIPPED_CSV, _validate

    import csv

    Category = apps.get_model("cases", "Category")
    rows = list(csv.DictReader(SHIPPED_CSV.open(encoding="utf-8-sig")))
    problems = _validate(rows)
    if problems:
        raise ValueError("shipped categories.csv is invalid: " + "; ".join(problems[:5]))
    by_code = {}
    limits = ["sign_limit", "resolve_limit_grid", "resolve_limit_village", "resolve_limit_town",
              "resolve_limit_county"]
    for row in rows:
        by_code[row["code"]] = Category.objects.create(
            code=row["code"], parent=by_code.get(row["parent_code"]), name=row["name"],
            name_en=row["name_en"], default_level=row["default_level"],
            department_kinds=[k for k in row["departments"].split(";") if k],
            acceptance_criteria=row["acceptance_criteria"],
            closing_criteria=row["closing_criteria"], **{c: row[c] for c in limits},
        )


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial"), ("people", "0002_key_groups")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
