"""backup → damage → restore, in a separate process on its own database: every table back."""

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

# A few rows in several tables, an audit trail and an uploaded file.
SEED = """
import django; django.setup()
from pathlib import Path
from django.conf import settings
from civicgrid.core.audit import record_event
for n in range(5):
    record_event("test.backup", target_type="x", target_id=str(n), after={"n": n, "名": "网格"})
photo = Path(settings.MEDIA_ROOT) / "cases" / "2026" / "p.jpg"
photo.parent.mkdir(parents=True, exist_ok=True)
photo.write_bytes(b"\\xff\\xd8 not really a jpeg")
"""

# What a bad day looks like: rows gone, a row changed, a file lost, a new table.
DAMAGE = """
import django; django.setup()
from pathlib import Path
from django.conf import settings
from django.db import connection
with connection.cursor() as c:
    c.execute("DELETE FROM core_auditevent WHERE id > 3")
    c.execute("UPDATE django_migrations SET name = 'x' WHERE id = 1")
    c.execute("CREATE TABLE stray (id integer)")
(Path(settings.MEDIA_ROOT) / "cases" / "2026" / "p.jpg").unlink()
"""

CHECK = """
import django; django.setup()
from pathlib import Path
from django.conf import settings
from django.db import connection
from civicgrid.core.audit import verify_chain
from civicgrid.core.models import AuditEvent
print(AuditEvent.objects.filter(action="test.backup").count(), len(list(verify_chain())),
      (Path(settings.MEDIA_ROOT) / "cases" / "2026" / "p.jpg").exists(),
      "stray" in connection.introspection.table_names())
"""


@pytest.fixture
def place(tmp_path):
    """The environment of a separate instance: its var dir, and its own PostgreSQL database."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["CIVICGRID_VAR_DIR"] = str(tmp_path / "var")
    url = os.environ.get("DATABASE_URL", "")
    created = None
    if url.startswith("postgres"):
        parts = urlsplit(url)
        created = f"cg_backup_{os.getpid()}"
        env["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{created}"))
        maintenance = {**env, "DATABASE_URL": urlunsplit(parts._replace(path="/postgres"))}
        _python(maintenance, _createdb(created, drop=True))  # left over from a killed run
        _python(maintenance, _createdb(created))
    yield env
    if created:
        _python(maintenance, _createdb(created, drop=True))


def _createdb(name: str, drop: bool = False) -> str:
    sql = f"DROP DATABASE IF EXISTS {name} WITH (FORCE)" if drop else f"CREATE DATABASE {name}"
    return (
        "import django; django.setup()\n"
        "from django.db import connection\n"
        "connection.ensure_connection(); connection.connection.autocommit = True\n"
        f"connection.cursor().execute({sql!r})\n"
    )


def _python(env, code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _civicgrid(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "civicgrid", *args], env=env, capture_output=True, text=True
    )


def test_a_backup_restores_every_table_and_file(place, tmp_path):
    assert _civicgrid(place, "migrate", "-v0").returncode == 0
    _python(place, SEED)
    archive = tmp_path / "b.tar.gz"
    made = _civicgrid(place, "backup", "--output", str(archive))
    assert made.returncode == 0, made.stderr
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("manifest.json"))
    assert "media/cases/2026/p.jpg" in names
    assert manifest["tables"]["core_auditevent"]["rows"] >= 5 and manifest["media_files"] == 1
    assert not any("secret" in n or "pii_key" in n for n in names)  # the keys stay out

    _python(place, DAMAGE)
    events, problems, photo, stray = _python(place, CHECK).split()
    assert (events, photo, stray) == ("3", "False", "True") and int(problems) > 0

    refused = _civicgrid(place, "restore", str(archive))
    assert refused.returncode != 0 and "--yes" in refused.stderr
    restored = _civicgrid(place, "restore", str(archive), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert "every table matches the backup; audit chain intact" in restored.stdout
    assert _python(place, CHECK).split() == ["5", "0", "True", "False"]


def test_a_tampered_backup_is_refused(place, tmp_path):
    assert _civicgrid(place, "migrate", "-v0").returncode == 0
    _python(place, SEED)
    archive = tmp_path / "b.tar.gz"
    assert _civicgrid(place, "backup", "--output", str(archive)).returncode == 0
    # Someone edits the manifest's idea of a table: the restore notices the difference.
    work = tmp_path / "x"
    with tarfile.open(archive) as tar:
        tar.extractall(work, filter="data")
    manifest = json.loads((work / "manifest.json").read_text())
    manifest["tables"]["core_auditevent"]["rows"] += 1
    (work / "manifest.json").write_text(json.dumps(manifest))
    forged = tmp_path / "forged.tar.gz"
    with tarfile.open(forged, "w:gz") as tar:
        for path in sorted(work.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=path.relative_to(work).as_posix())
    restored = _civicgrid(place, "restore", str(forged), "--yes")
    assert restored.returncode != 0 and "differ from the backup" in restored.stderr
    # A path escaping the restore directory is refused before anything is written.
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        tar.add(work / "manifest.json", arcname="../manifest.json")
    refused = _civicgrid(place, "restore", str(evil), "--yes")
    assert refused.returncode != 0 and "suspicious path" in refused.stderr
    assert Path(place["CIVICGRID_VAR_DIR"]).exists()
