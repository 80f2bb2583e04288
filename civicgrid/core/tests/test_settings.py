import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from civicgrid.env import env_bool, env_int, parse_database_url


def _import_settings(**env):
    """Import the settings module in a fresh interpreter with extra environment variables."""
    return subprocess.run(
        [sys.executable, "-c", "import civicgrid.settings"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_it_names_the_variable_when_a_boolean_is_bad():
    result = _import_settings(CIVICGRID_DEBUG="maybe")
    assert result.returncode != 0
    assert "ImproperlyConfigured: CIVICGRID_DEBUG" in result.stderr


def test_it_names_the_variable_when_the_database_url_is_bad():
    result = _import_settings(DATABASE_URL="mysql://root@localhost/x")
    assert "ImproperlyConfigured: DATABASE_URL" in result.stderr


def test_it_refuses_production_without_secrets():
    result = _import_settings(CIVICGRID_ENV="production", CIVICGRID_SECRET_KEY="")
    assert "CIVICGRID_SECRET_KEY: required" in result.stderr


def test_it_parses_strict_values(monkeypatch):
    monkeypatch.setenv("X_FLAG", "Yes")
    assert env_bool("X_FLAG", False) is True
    monkeypatch.setenv("X_FLAG", "off")
    assert env_bool("X_FLAG", True) is False
    monkeypatch.setenv("X_NUM", "12a")
    with pytest.raises(ImproperlyConfigured, match="X_NUM"):
        env_int("X_NUM", 1)


def test_it_reads_postgres_and_sqlite_urls(tmp_path):
    pg = parse_database_url(
        "DATABASE_URL",
        "postgres://u:p%40ss@db.example:6543/civic",
        sqlite_default_path=tmp_path / "x.sqlite3",
    )
    assert (pg["ENGINE"], pg["NAME"], pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"]) == (
        "django.db.backends.postgresql",
        "civic",
        "u",
        "p@ss",
        "db.example",
        "6543",
    )
    default = parse_database_url("DATABASE_URL", "", sqlite_default_path=tmp_path / "x.sqlite3")
    assert default["ENGINE"] == "django.db.backends.sqlite3"
    assert "journal_mode=WAL" in default["OPTIONS"]["init_command"]
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        parse_database_url("DATABASE_URL", "postgres://host:notaport/db", sqlite_default_path="x")
