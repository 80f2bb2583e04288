"""PostgreSQL: the audit trail becomes a table partitioned by month of ``created``.

Its primary key becomes (id, created) and the hash unique per (hash, created): a partitioned
table's unique keys must include the partition key. The rows, the identity sequence, the
index names and the append-only trigger are kept. Nothing happens on SQLite. See
``core.partitions`` and docs/scaling.md.
"""

from django.db import migrations

from civicgrid.core.partitions import convert_back, convert_to_monthly


def forwards(apps, schema_editor):
    convert_to_monthly(schema_editor, "core_auditevent", "created")


def backwards(apps, schema_editor):
    convert_back(schema_editor, "core_auditevent")


class Migration(migrations.Migration):
    dependencies = [("core", "0006_daily_job")]
    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
