"""The default points rules, and the ledger refuses UPDATE in the database itself.

DELETE is not blocked by a trigger (test flushes need it); the model and its queryset refuse
both update and delete.
"""

from django.db import migrations

SQLITE_UP = """
CREATE TRIGGER cogovernance_pointentry_no_update BEFORE UPDATE ON cogovernance_pointentry
BEGIN SELECT RAISE(ABORT, 'points entries are append-only'); END;
"""
SQLITE_DOWN = "DROP TRIGGER IF EXISTS cogovernance_pointentry_no_update;"
PG_UP = """
CREATE OR REPLACE FUNCTION cogovernance_pointentry_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'points entries are append-only'; END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER cogovernance_pointentry_no_update BEFORE UPDATE ON cogovernance_pointentry
FOR EACH ROW EXECUTE FUNCTION cogovernance_pointentry_append_only();
"""
PG_DOWN = """
DROP TRIGGER IF EXISTS cogovernance_pointentry_no_update ON cogovernance_pointentry;
DROP FUNCTION IF EXISTS cogovernance_pointentry_append_only();
"""

# event, points, daily cap, monthly cap
DEFAULT_RULES = [
    ("accepted", 5, 20, 200),
    ("duplicate", 1, 3, 30),
    ("closed", 3, 15, 150),
]


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(SQLITE_UP)
    elif vendor == "postgresql":
        schema_editor.execute(PG_UP)
    PointRule = apps.get_model("cogovernance", "PointRule")
    for event, points, daily, monthly in DEFAULT_RULES:
        PointRule.objects.get_or_create(
            event=event, defaults={"points": points, "daily_cap": daily, "monthly_cap": monthly}
        )


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(SQLITE_DOWN)
    elif vendor == "postgresql":
        schema_editor.execute(PG_DOWN)


class Migration(migrations.Migration):
    dependencies = [("cogovernance", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
