"""The appraisal's indicators with their default weights, so the county sees and edits them."""

from decimal import Decimal

from django.db import migrations

DEFAULT_WEIGHTS = [
    ("valid_reports", Decimal("1")),
    ("high_value", Decimal("10")),
    ("visits_on_time", Decimal("0.5")),
    ("self_closed", Decimal("2")),
    ("satisfied", Decimal("0.5")),
    ("overdue", Decimal("-3")),
]


def forwards(apps, schema_editor):
    AppraisalIndicator = apps.get_model("incentives", "AppraisalIndicator")
    for key, weight in DEFAULT_WEIGHTS:
        AppraisalIndicator.objects.get_or_create(key=key, defaults={"weight": weight})


class Migration(migrations.Migration):
    dependencies = [("incentives", "0002_ledger_append_only")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
