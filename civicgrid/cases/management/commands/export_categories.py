from django.core.management.base import BaseCommand

from civicgrid.cases.taxonomy import export_categories_csv


class Command(BaseCommand):
    help = "Write the case taxonomy as CSV (the import format)."

    def add_arguments(self, parser):
        parser.add_argument("-o", "--output", default="-")

    def handle(self, *args, output, **options):
        text = export_categories_csv()
        if output == "-":
            self.stdout.write(text, ending="")
        else:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text)
