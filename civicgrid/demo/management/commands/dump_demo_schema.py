"""``civicgrid dump_demo_schema``: write the migrated schema the demo's first start runs
(``civicgrid/demo/data/schema.sqlite.sql``, see ``civicgrid.demo.schema``). Run it after
adding a migration; ``demo.tests.test_schema`` says when it is due."""

from django.core.management.base import BaseCommand

from civicgrid.demo import schema


class Command(BaseCommand):
    help = "Write the SQL of a newly migrated SQLite database, which the demo's first start runs."

    def handle(self, *args, **options):
        self.stderr.write("migrating a new SQLite database …")
        text = schema.dump()
        schema.SNAPSHOT.write_text(text, encoding="utf-8")
        self.stdout.write(f"{schema.SNAPSHOT}: {len(text.splitlines()):,} lines")
