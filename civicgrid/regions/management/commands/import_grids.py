import json

from django.core.management.base import BaseCommand, CommandError

from civicgrid.core.commands import actor_option, resolve_actor
from civicgrid.regions.actions import do_import_grids


class Command(BaseCommand):
    help = (
        "Import grid boundaries from a GeoJSON FeatureCollection (properties: code, name, kind, "
        "purpose). Problems are listed per feature; nothing is imported if any feature is bad "
        "unless --skip-bad."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="GeoJSON file (WGS-84)")
        parser.add_argument("--skip-bad", action="store_true", help="import the good features")
        actor_option(parser)

    def handle(self, *args, path, skip_bad, actor, **options):
        user = resolve_actor(actor)
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from None
        features = data.get("features") if isinstance(data, dict) else None
        if not isinstance(features, list):
            raise CommandError("the file is not a GeoJSON FeatureCollection")
        self.stderr.write(f"checking {len(features)} features …")
        result = do_import_grids(features, actor=user, skip_bad=skip_bad)
        for line in result.report.lines():
            self.stdout.write(line)
        if not result.applied:
            raise CommandError(
                f"nothing imported: {len(result.report.bad_feature_indexes)} bad feature(s); "
                "fix them or use --skip-bad"
            )
        self.stdout.write(
            f"created {len(result.created)}, updated {len(result.updated)}, "
            f"skipped {len(result.skipped)}"
        )
