from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from civicgrid.core.citus import make_plan


class Command(BaseCommand):
    help = (
        "Print the plan for distributing the database on Citus by county code, made from the "
        "live schema: the preparation DDL, the Citus calls and what blocks it today."
    )

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            raise CommandError("the Citus plan is made from a PostgreSQL schema (DATABASE_URL)")
        self.stdout.write(make_plan(connection).text(), ending="")
