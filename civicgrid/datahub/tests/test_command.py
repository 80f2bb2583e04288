"""The import_data command: a progress bar, counts, the error report, all or nothing."""

import csv
import io

import pytest
from django.core.management import CommandError, call_command

from civicgrid.datahub.models import ImportFile, ImportRun, Source
from civicgrid.datahub.tests.conftest import csv_bytes, id_number
from civicgrid.people import pii
from civicgrid.people.models import Person

HEADER = ["姓名", "公民身份号码", "联系电话", "纬度", "经度"]


def test_it_creates_the_source_checks_and_imports_with_a_progress_bar(personas, places, tmp_path):
    lat, lng = places["point"]
    path = tmp_path / "人口.csv"
    path.write_bytes(
        csv_bytes(
            [
                HEADER,
                ["甲", id_number("19600101", 801), "13900000001", lat, lng],
                ["乙", id_number("19600101", 803), "", lat, lng],
                ["丙", "330281196001010000", "", lat, lng],
            ]
        )
    )
    errors = tmp_path / "errors.csv"
    out, err = io.StringIO(), io.StringIO()
    before = Person.objects.count()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command(
            "import_data",
            str(path),
            "--source",
            "公安",
            "--target",
            "population",
            "--as",
            "county",
            "--errors",
            str(errors),
            stdout=out,
            stderr=err,
        )
    assert Person.objects.count() == before
    assert "3/3 rows" in err.getvalue() and "rows/s" in err.getvalue()
    assert Source.objects.get(name="公安").columns["id_number"] == "公民身份号码"
    rows = list(csv.reader(io.StringIO(errors.read_text(encoding="utf-8-sig"))))
    assert rows[1][:2] == ["4", "id_number"]

    out = io.StringIO()
    call_command(
        "import_data",
        str(path),
        "--source",
        "公安",
        "--skip-bad",
        "--as",
        "county",
        stdout=out,
        stderr=io.StringIO(),
    )
    assert "import: 3 rows: 2 new" in out.getvalue()
    assert Person.objects.count() == before + 2
    run = ImportRun.objects.filter(state="imported").get()
    assert not ImportFile.objects.filter(run=run).exists()


def test_a_dry_run_writes_nothing_and_the_kept_file_is_sealed(personas, places, tmp_path):
    number = id_number("19600101", 811)
    path = tmp_path / "p.csv"
    path.write_bytes(csv_bytes([HEADER, ["甲", number, "", *places["point"]]]))
    out = io.StringIO()
    before = Person.objects.count()
    call_command(
        "import_data",
        str(path),
        "--source",
        "s",
        "--target",
        "population",
        "--dry-run",
        "--as",
        "county",
        stdout=out,
        stderr=io.StringIO(),
    )
    assert "dry run: 1 rows: 1 new" in out.getvalue()
    assert Person.objects.count() == before
    assert ImportRun.objects.get().state == "cancelled"
    run = ImportRun.objects.get()
    ImportRun.objects.filter(pk=run.pk).update(state="uploaded")
    from civicgrid.datahub.actions import do_upload_file

    kept = do_upload_file(
        actor=personas.county, source=run.source, file_name="p.csv", data=path.read_bytes()
    )
    content = bytes(ImportFile.objects.get(run=kept).content)
    assert number.encode() not in content and pii.blind_index("id", number).encode() not in content


def test_it_acts_as_a_user_who_may_import(personas, tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(csv_bytes([HEADER]))
    with pytest.raises(CommandError, match="not allowed"):
        call_command(
            "import_data",
            str(path),
            "--source",
            "s",
            "--target",
            "population",
            "--as",
            "lizhou",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
