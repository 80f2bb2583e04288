"""PostgreSQL: the notification outbox becomes a table partitioned by month of ``created``.

Its primary key becomes (id, created) (a partitioned table's keys must include the partition
key); rows, identity sequence, foreign keys, checks and index names are kept. Old months can
be detached and archived (``civicgrid partitions --archive``). Nothing happens on SQLite.
"""

from django.db import migrations

from civicgrid.core.partitions import convert_back, convert_to_monthly


def forwards(apps, schema_editor):
    convert_to_monthly(schema_editor, "cases_notification", "created")


def backwards(apps, schema_editor):
    convert_back(schema_editor, "cases_notification")


class Migration(migrations.Migration):
    dependencies = [("cases", "0005_kpi_indexes"), ("core", "0007_auditevent_monthly_partitions")]
    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
