import json

from django.core.management.base import BaseCommand

from civicgrid.core.commands import actor_option, resolve_actor
from civicgrid.regions.selectors import grids_visible_to


class Command(BaseCommand):
    help = "Export the grids the user may see as a GeoJSON FeatureCollection."

    def add_arguments(self, parser):
        parser.add_argument("--region", default="", help="only grids under this code")
        parser.add_argument("--micro", action="store_true", help="include micro-grids")
        parser.add_argument("-o", "--output", default="-", help="file (default: stdout)")
        actor_option(parser)

    def handle(self, *args, region, micro, output, actor, **options):
        grids = grids_visible_to(resolve_actor(actor)).filter(code__startswith=region)
        if not micro:
            grids = grids.exclude(kind="micro")
        features = [
            {
                "type": "Feature",
                "properties": {
                    "code": g.code,
                    "name": g.name,
                    "kind": g.kind,
                    "purpose": g.purpose,
                    "village": g.village.code,
                },
                "geometry": g.geometry,
            }
            for g in grids.order_by("code").iterator(chunk_size=500)
        ]
        text = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
        if output == "-":
            self.stdout.write(text)
        else:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text)
            self.stderr.write(f"wrote {len(features)} grids to {output}")
