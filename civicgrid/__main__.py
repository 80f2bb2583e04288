"""The ``civicgrid`` console command: Django's manage.py under the project's name.

``civicgrid demo`` sets up and serves the demo county; every other sub-command is a Django
management command (``civicgrid migrate``, ``civicgrid verify_audit``, ``civicgrid import_grids``
…).
"""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicgrid.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["civicgrid", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
