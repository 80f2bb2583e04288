"""The set-up every benchmark shares: Django on a throwaway database, removed afterwards."""

import os
import shutil
import tempfile
from contextlib import contextmanager


@contextmanager
def throwaway_database(database_url: str = ""):
    """Set Django up on a fresh database and yield the temporary var directory.

    Without ``database_url``: SQLite in a temporary directory, migrated. With a PostgreSQL URL:
    a database ``test_<name>_bench_<pid>`` next to the named one (through
    ``django.test.utils.setup_databases``), dropped at the end, so nothing real is touched.
    """
    workdir = tempfile.mkdtemp(prefix="civicgrid-bench-")
    os.environ["CIVICGRID_VAR_DIR"] = workdir
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicgrid.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    old = None
    try:
        if database_url:
            from django.test.utils import setup_databases

            test = connection.settings_dict.setdefault("TEST", {})
            test["NAME"] = f"test_{connection.settings_dict['NAME']}_bench_{os.getpid()}"
            old = setup_databases(verbosity=0, interactive=False)
        else:
            call_command("migrate", verbosity=0)
        yield workdir
    finally:
        if old is not None:
            from django.test.utils import teardown_databases

            connection.close()
            teardown_databases(old, verbosity=0)
        shutil.rmtree(workdir, ignore_errors=True)
