from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from civicgrid.web.assets import PACKAGES, AssetError, ensure_assets


class Command(BaseCommand):
    help = (
        "Install the pinned browser assets (htmx, ECharts, Leaflet) from the npm registry, "
        "or from CIVICGRID_ASSET_MIRROR, into the vendor static directory. Checks each "
        "tarball's sha512 before unpacking it; does nothing when they are installed already."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="download and unpack again even if installed"
        )
        parser.add_argument(
            "--save-to",
            metavar="DIR",
            help="also keep the verified tarballs in DIR, a mirror for offline machines",
        )

    def handle(self, *args, force, save_to, verbosity, **options):
        def progress(line):
            if verbosity > 0:
                self.stdout.write(line)

        try:
            result = ensure_assets(progress, force=force, save_to=save_to)
        except AssetError as exc:
            raise CommandError(str(exc)) from exc
        for package in PACKAGES:
            if package.name in result.present:
                progress(f"{package.name} {package.version}: already installed")
        progress(
            f"done: {len(result.installed)} installed, {len(result.present)} already present, "
            f"in {settings.VENDOR_STATIC_DIR} (served at /static/vendor/)"
        )
