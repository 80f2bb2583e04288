"""The reward ledger refuses UPDATE in the database itself (as the co-governance points do).

DELETE is not blocked by a trigger (test flushes need it); the model and its queryset refuse
both update and delete.
"""

from django.db import migrations

SQLITE_UP = """
CREATE TRIGGER incentives_rewardentry_no_update BEFORE UPDATE ON incentives_rewardentry
BEGIN SELECT RAISE(ABORT, 'reward entries are append-only'); END;
"""
SQLITE_DOWN = "DROP TRIGGER IF EXISTS incentives_rewardentry_no_update;"
PG_UP = """
CREATE OR REPLACE FUNCTION incentives_rewardentry_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'reward entries are append-only'; END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER incentives_rewardentry_no_update BEFORE UPDATE ON incentives_rewardentry
FOR EACH ROW EXECUTE FUNCTION incentives_rewardentry_append_only();
"""
PG_DOWN = """
DROP TRIGGER IF EXISTS incentives_rewardentry_no_update ON incentives_rewardentry;
DROP FUNCTION IF EXISTS incentives_rewardentry_append_only();
"""


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(SQLITE_UP)
    elif vendor == "postgresql":
        schema_editor.execute(PG_UP)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(SQLITE_DOWN)
    elif vendor == "postgresql":
        schema_editor.execute(PG_DOWN)


class Migration(migrations.Migration):
    dependencies = [("incentives", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
