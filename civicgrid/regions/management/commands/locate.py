from django.core.management.base import BaseCommand

from civicgrid.regions.selectors import locate_grid


class Command(BaseCommand):
    help = "Which grid (and micro-grid) holds a point? civicgrid locate 30.04 121.15 [--gcj02]"

    def add_arguments(self, parser):
        parser.add_argument("lat", type=float)
        parser.add_argument("lng", type=float)
        parser.add_argument("--gcj02", action="store_true", help="the point is GCJ-02 (Amap)")

    def handle(self, *args, lat, lng, gcj02, **options):
        grid, micro = locate_grid(lat, lng, datum="gcj02" if gcj02 else "wgs84")
        self.stdout.write(f"grid: {grid or '-'}\nmicro-grid: {micro or '-'}")
