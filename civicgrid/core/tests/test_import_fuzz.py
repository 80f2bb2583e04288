"""Every import the project has, fed odd files by hypothesis (issue 12, items 5 and 6).

The imports: the data hub's uploads (CSV and .xlsx, mapping, dry run, all or nothing), a
campaign's targets CSV, the case taxonomy CSV (``import_categories``) and grid boundaries
GeoJSON (``import_grids``). Photo uploads of the forms are fuzzed by ``test_form_fuzz``; a
backup archive is not an import of outside data (``core.backup`` has its own round trip).

The files: wrong encodings (GB18030, UTF-16, Latin-1, invalid UTF-8, BOMs), huge cells, NUL
bytes, formula-injection cells, SQL / HTML / JS payloads, missing, extra and duplicated
columns, empty files, binary junk named .csv / .xlsx, truncated .xlsx zips, malformed GeoJSON
(self-intersecting rings, wrong types, huge coordinate arrays, NaN).

Each is driven through the real entry point — the page over HTTP where there is one (never a
5xx; a refusal shows a message), the action or the command otherwise (only ``ValidationError``,
``ActionRefused`` or ``CommandError``, never another exception) — and on any refusal the row
counts of the target tables are unchanged (all or nothing). Each example runs inside a
savepoint rolled back afterwards, so examples do not see each other's imports.

Examples are derandomised; raise ``CIVICGRID_FUZZ_EXAMPLES`` for a longer local hunt.
"""

import csv
import io
import json
import math
import os
import re

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicgrid.core.errors import ActionRefused

EXAMPLES = int(os.environ.get("CIVICGRID_FUZZ_EXAMPLES", "25"))

SETTINGS = dict(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)

HUGE = "x" * 200_000  # longer than the csv module's default field limit (131,072)
PAYLOADS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x01\x1f\x7f",
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example","x")',
    "+1+1",
    "-2+3",
    "@SUM(1+1)",
    "'; DROP TABLE people_person; --",
    "' OR '1'='1",
    "%_\\",
    "<script>window.__xss=1</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "{{ 7*7 }}{% debug %}",
    "💥" * 40,
    "\ufeff",
    "\ufffe\ud7ff",
    "a\r\nb",
    '"',
    '""""',
    "x" * 5000,
    HUGE,
    "NaN",
    "inf",
    "-1e309",
    "99999999999999999999999",
    "١٢٣٤",
    "²²",
    "0",
    "-1",
    "9999-12-31",
    "2025-02-30",
]
ENCODINGS = ["utf-8", "utf-8-sig", "gb18030", "utf-16", "utf-16-le", "latin-1", "cp1252"]
JUNK = [
    b"",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\x00" * 64,
    b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,  # an old .xls
    b"PK\x03\x04broken",
    b"PK\x05\x06" + b"\x00" * 18,  # an empty zip
    bytes(range(256)),
    b"\x80\x81\xfe\xff abc,def\n\xc3\x28,1\n",  # invalid UTF-8
]


@st.composite
def cells(draw, valid):
    """A cell: mostly one of the column's good values (so that rows get through the checks
    and reach the database), otherwise an odd one."""
    if valid and draw(st.integers(0, 3)):
        return draw(st.sampled_from(valid))
    return draw(st.one_of(st.sampled_from(PAYLOADS), st.text(max_size=30)))


@st.composite
def tables(draw, columns: dict[str, list]):
    """A header (the columns, with some missing, duplicated, renamed or added) and rows."""
    names = list(columns)
    header = [n for n in names if draw(st.integers(0, 15))]  # sometimes a column is missing
    if draw(st.booleans()):
        header = draw(st.permutations(header))
    if header and not draw(st.integers(0, 5)):
        header.append(draw(st.sampled_from(header)))  # a duplicated column
    if not draw(st.integers(0, 4)):
        header.append(draw(st.sampled_from(PAYLOADS)))  # an extra, odd column
    rows = []
    near_valid = draw(st.booleans())  # good rows with one odd cell each, or any cells
    for _ in range(draw(st.integers(0, 4))):
        if near_valid:
            row = [draw(st.sampled_from(columns.get(name) or PAYLOADS)) for name in header]
            if row and draw(st.booleans()):
                row[draw(st.integers(0, len(row) - 1))] = draw(st.sampled_from(PAYLOADS))
        else:
            row = [draw(cells(columns.get(name, []))) for name in header]
        shape = draw(st.integers(0, 9))
        if shape == 0 and row:
            row = row[:-1]  # a short row
        elif shape == 1:
            row.append(draw(cells([])))  # a long row
        rows.append(row)
    return [header, *rows]


def _csv_text(rows) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xlsx(rows) -> bytes:
    """An .xlsx of the rows (characters a workbook cannot hold are left out)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append([NOT_XML.sub("", c) if isinstance(c, str) else c for c in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@st.composite
def files(draw, columns: dict[str, list], *, xlsx: bool = True):
    """(file name, bytes): a CSV in some encoding, an .xlsx, a truncated .xlsx or junk."""
    rows = draw(tables(columns))
    kinds = ["csv", "csv", "csv", "junk", "invalid-utf8"] + (
        ["xlsx", "xlsx", "cut"] if xlsx else []
    )
    kind = draw(st.sampled_from(kinds))
    if kind == "csv":
        encoding = draw(st.sampled_from(["utf-8", "utf-8", "gb18030", *ENCODINGS]))
        return "data.csv", _csv_text(rows).encode(encoding, errors="replace")
    if kind == "invalid-utf8":
        data = bytearray(_csv_text(rows).encode("utf-8"))
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(st.sampled_from([b"\xc3\x28", b"\xff", b"\xa0\xa1", b"\xed\xa0\x80"]))
        return "data.csv", bytes(data)
    if kind == "junk":
        name = draw(st.sampled_from(["data.csv", "book.xlsx", "old.xls", "noextension"]))
        return name, draw(st.sampled_from(JUNK))
    book = _xlsx(rows)
    if kind == "cut":
        book = book[: draw(st.integers(0, len(book) - 1))]
    return draw(st.sampled_from(["book.xlsx", "book.csv"])), book


class Rollback(Exception):
    pass


def in_savepoint(check):
    """Run one example inside a savepoint that is always rolled back."""
    try:
        with transaction.atomic():
            check()
            raise Rollback
    except Rollback:
        pass


def counts(*models) -> dict:
    return {m._meta.label: m.objects.count() for m in models}


# --------------------------------------------------------------------------- the data hub


def _point_in_lizhou():
    from civicgrid.regions import geo
    from civicgrid.regions.models import Grid

    grid = (
        Grid.objects.filter(code__startswith="330281001", kind=Grid.Kind.BASIC, active=True)
        .order_by("code")
        .first()
    )
    p = geo.geometry_from_geojson(grid.geometry).representative_point()
    return p.y, p.x


def _id_number(sequence: int) -> str:
    from civicgrid.people import pii

    first17 = f"33028119800101{sequence:03d}"
    return first17 + pii.id_check_digit(first17)


@pytest.mark.django_db
def test_odd_files_uploaded_to_the_data_hub_are_refused_whole(personas):
    from civicgrid.datahub import actions as A
    from civicgrid.datahub.models import ExternalRecord, ImportRun, Source
    from civicgrid.people.models import (
        House,
        KeyGroup,
        Organisation,
        Person,
        PersonKeyGroup,
        Place,
    )

    targets = (Person, House, Organisation, Place, KeyGroup, PersonKeyGroup, ExternalRecord)
    lat, lng = _point_in_lizhou()
    columns = {
        "姓名": ["张三", "李四"],
        "公民身份号码": [_id_number(n) for n in range(700, 705)],
        "联系电话": ["13912345678"],
        "地址": ["梨洲街道阳明路1号"],
        "纬度": [str(lat)],
        "经度": [str(lng)],
        "备注": ["fuzz"],
    }
    actor = personas.county
    client = Client(raise_request_exception=False)
    client.force_login(actor)
    seen = {"uploaded": 0, "imported": 0}

    @settings(**SETTINGS)
    @given(files(columns), st.sampled_from(["population", "organisations", "houses"]))
    def upload(file, target):
        name, data = file

        def check():
            before = counts(*targets, ImportRun, Source)
            unchanged = counts(*targets)
            response = client.post(
                "/datahub/upload/",
                {
                    "file": SimpleUploadedFile(name, data, "application/octet-stream"),
                    "source_name": "fuzz source",
                    "target": target,
                },
            )
            assert response.status_code < 500, (name, data[:80], response.status_code)
            if response.status_code != 302:
                assert response.status_code == 200
                assert b'class="errorlist' in response.content or b"error" in response.content
                assert counts(*targets, ImportRun, Source) == before
                return
            seen["uploaded"] += 1
            run = ImportRun.objects.get(pk=int(response["Location"].rstrip("/").split("/")[-2]))
            assert client.get(response["Location"]).status_code == 200
            try:
                run = A.do_map_run(
                    run, actor=actor, name="fuzz source", columns=run.mapping["columns"]
                )
            except ValidationError:
                assert counts(*targets) == unchanged
                return
            run = A.do_check_run(run, actor=actor)
            assert counts(*targets) == unchanged
            if run.state != ImportRun.State.CHECKED:
                assert run.state == ImportRun.State.FAILED and run.message
                return
            assert client.get(f"/datahub/runs/{run.pk}/").status_code == 200
            run = A.do_import_run(run, actor=actor)
            if run.state == ImportRun.State.IMPORTED:
                seen["imported"] += 1
            else:
                assert run.state == ImportRun.State.FAILED and run.message
                assert counts(*targets) == unchanged

        in_savepoint(check)

    upload()
    assert seen["uploaded"], seen


# --------------------------------------------------------------------------- campaign targets


@pytest.mark.django_db
def test_odd_target_files_for_a_campaign_are_refused_whole(personas):
    from civicgrid.campaigns.models import CampaignTarget
    from civicgrid.campaigns.tests.conftest import Campaigns

    world = Campaigns(personas)
    campaign = world.campaign()
    lat, lng = _point_in_lizhou()
    columns = {
        "type": ["车辆"],
        "object": ["白色轿车", "浙B12345"],
        "address": ["阳明路1号"],
        "grid_code": [world.grid.code, world.town_grid.code],
        "lat": [str(lat)],
        "lng": [str(lng)],
        "类型": ["车辆"],
        "网格编码": [world.grid.code],
    }
    client = Client(raise_request_exception=False)
    client.force_login(personas.county)
    url = f"/campaigns/{campaign.pk}/targets/import/"
    seen = {"added": 0, "refused": 0}

    @settings(**SETTINGS)
    @given(files(columns, xlsx=False))
    def upload(file):
        name, data = file

        def check():
            before = CampaignTarget.objects.count()
            response = client.post(url, {"file": SimpleUploadedFile(name, data, "text/csv")})
            assert response.status_code < 500, (data[:80], response.status_code)
            if response.status_code == 302:
                seen["added"] += 1
                return
            seen["refused"] += 1
            assert response.status_code == 200
            assert b'role="alert"' in response.content or b"errorlist" in response.content
            assert CampaignTarget.objects.count() == before

        in_savepoint(check)

    upload()
    assert seen["refused"], seen


# --------------------------------------------------------------------------- the taxonomy


def _shipped_rows():
    from civicgrid.cases.taxonomy import SHIPPED_CSV

    with open(SHIPPED_CSV, encoding="utf-8-sig") as handle:
        return list(csv.reader(handle))


TEXT_COLUMNS = {"name", "name_en", "acceptance_criteria", "closing_criteria", "sign_limit"}


@st.composite
def taxonomies(draw):
    """The shipped taxonomy's header and a few of its rows (plus a new leaf), cells mutated."""
    shipped = _shipped_rows()
    header, body = list(shipped[0]), shipped[1:]
    # A top-level category and the ones after it (its children come first in the file).
    first = draw(st.sampled_from([i for i, r in enumerate(body) if not r[1]]))
    rows = [list(r) for r in body[first : first + draw(st.integers(0, 3))]]
    if draw(st.booleans()):
        top = body[0]
        rows.append(
            [top[0] + "99" if i == 0 else top[0] if i == 1 else c for i, c in enumerate(top)]
        )
    text_columns = [i for i, c in enumerate(header) if c in TEXT_COLUMNS]
    for row in rows:
        for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2, 3]))):
            if not row:
                continue
            # Half the time only a free-text cell is odd, so the row passes the checks and
            # reaches the database.
            if draw(st.booleans()) and text_columns:
                at = draw(st.sampled_from(text_columns))
            else:
                at = draw(st.integers(0, len(row) - 1))
            if at < len(row):
                row[at] = draw(st.sampled_from(PAYLOADS))
        if not draw(st.integers(0, 4)):
            del row[draw(st.integers(0, max(len(row) - 1, 0))) :]  # a short row
    shape = draw(st.integers(0, 9))
    if shape == 0:
        header.remove(draw(st.sampled_from(header)))
    elif shape == 1:
        header.append(draw(st.sampled_from(header)))
    elif shape == 2:
        header.append(draw(st.sampled_from(PAYLOADS)))
    elif shape == 3:
        header = draw(st.permutations(header))
    return [header, *rows]


def _taxonomy_state():
    from civicgrid.cases.models import Category

    return list(Category.objects.order_by("code").values_list())


@pytest.mark.django_db
def test_odd_taxonomy_files_change_nothing_or_everything(personas, tmp_path):
    from civicgrid.cases.taxonomy import do_import_categories

    admin = personas.admin
    path = tmp_path / "categories.csv"
    seen = {"imported": 0, "refused": 0}

    @settings(**SETTINGS)
    @given(taxonomies(), st.sampled_from([*ENCODINGS, "junk", "action"]))
    def load(rows, encoding):
        def check():
            before = _taxonomy_state()
            text = _csv_text(rows)
            try:
                if encoding == "action":
                    do_import_categories(text, actor=admin)
                else:
                    data = (
                        JUNK[len(text) % len(JUNK)]
                        if encoding == "junk"
                        else text.encode(encoding, errors="replace")
                    )
                    path.write_bytes(data)
                    call_command(
                        "import_categories", str(path), "--as", admin.username, stdout=io.StringIO()
                    )
            except (ValidationError, ActionRefused, CommandError):
                seen["refused"] += 1
                assert _taxonomy_state() == before
            else:
                seen["imported"] += 1

        in_savepoint(check)

    load()
    assert seen["refused"], seen


# --------------------------------------------------------------------------- grid boundaries


def _square(lng, lat, d=0.001):
    return [[lng, lat], [lng + d, lat], [lng + d, lat + d], [lng, lat + d], [lng, lat]]


def odd_geometries(lng, lat):
    nan, inf = float("nan"), float("inf")
    ring = _square(lng, lat)
    circle = [
        [
            lng + 0.001 * math.cos(2 * math.pi * i / 20_000),
            lat + 0.001 * math.sin(2 * math.pi * i / 20_000),
        ]
        for i in range(20_000)
    ]
    circle.append(circle[0])
    return st.sampled_from(
        [
            None,
            {},
            [],
            "Polygon",
            {"type": "Polygon"},
            {"type": "Polygon", "coordinates": "abc"},
            {"type": "Polygon", "coordinates": []},
            {"type": "Polygon", "coordinates": [[]]},
            {"type": "Polygon", "coordinates": [[[lng, lat]]]},
            {"type": "Polygon", "coordinates": [ring[:3]]},
            {"type": "Polygon", "coordinates": ring},  # one level short
            {"type": "Polygon", "coordinates": [[ring]]},  # one level deep
            {
                "type": "Polygon",
                "coordinates": [
                    [
                        [lng, lat],
                        [lng + 1e-3, lat + 1e-3],
                        [lng + 1e-3, lat],
                        [lng, lat + 1e-3],
                        [lng, lat],
                    ]
                ],
            },  # a bow tie
            {"type": "Polygon", "coordinates": [[[nan, nan], [nan, lat], [lng, nan], [nan, nan]]]},
            {"type": "Polygon", "coordinates": [[[inf, lat], [lng, inf], [lng, lat], [inf, lat]]]},
            {"type": "Polygon", "coordinates": [[[lng, lat, 1, 2, 3]] * 4]},
            {"type": "Polygon", "coordinates": [[["a", "b"], ["c", "d"], ["e", "f"], ["a", "b"]]]},
            {"type": "Polygon", "coordinates": [_square(500, 500)]},
            {"type": "Polygon", "coordinates": [circle]},
            {"type": "MultiPolygon", "coordinates": [[ring], [ring]]},  # overlapping parts
            {"type": "MultiPolygon", "coordinates": [ring]},
            {"type": "Point", "coordinates": [lng, lat]},
            {"type": "LineString", "coordinates": ring},
            {
                "type": "GeometryCollection",
                "geometries": [{"type": "Polygon", "coordinates": [ring]}],
            },
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}},
            {"type": "Polygon", "coordinates": [ring], "crs": {"type": "name"}},
            {"type": "Polygon", "coordinates": [_square(lng, lat, 0.02)]},  # over its neighbours
        ]
    )


@st.composite
def features(draw, grids):
    grid = draw(st.sampled_from(grids))
    lng, lat = (
        grid.geometry["coordinates"][0][0][:2]
        if grid.geometry["type"] == "Polygon"
        else (grid.geometry["coordinates"][0][0][0][:2])
    )
    out = []
    for _ in range(draw(st.integers(0, 3))):
        properties = {
            "code": draw(
                st.one_of(
                    st.just(grid.code),
                    st.just(grid.code[:12] + "999"),
                    st.sampled_from([int(grid.code), True, 1.5, None, [], {}, *PAYLOADS]),
                )
            ),
            "name": draw(st.one_of(st.just("格"), st.sampled_from([*PAYLOADS, 5, [], {}]))),
        }
        if draw(st.booleans()):
            properties["kind"] = draw(
                st.sampled_from(["basic", "dedicated", "micro", *PAYLOADS[:5]])
            )
            properties["purpose"] = draw(st.sampled_from(["", "school", *PAYLOADS[:5]]))
        geometry = draw(st.one_of(st.just(grid.geometry), odd_geometries(lng, lat)))
        feature = {"type": "Feature", "properties": properties, "geometry": geometry}
        shape = draw(st.integers(0, 12))
        if shape == 0:
            feature = draw(st.sampled_from([1, "x", None, [], True]))
        elif shape == 1:
            feature["properties"] = draw(st.sampled_from([None, [], "x", 3]))
        elif shape == 2:
            feature["type"] = draw(st.sampled_from(["Polygon", "", None, 1]))
        out.append(feature)
    return out


def _grid_state():
    from civicgrid.regions.models import Grid

    return list(
        Grid.objects.order_by("code").values_list("code", "name", "kind", "purpose", "geometry")
    )


@pytest.mark.django_db
def test_odd_grid_files_change_nothing_unless_imported(personas, tmp_path):
    from civicgrid.regions.actions import do_import_grids
    from civicgrid.regions.models import Grid

    actor = personas.county
    grids = list(
        Grid.objects.filter(code__startswith="330281001", kind=Grid.Kind.BASIC, active=True)
        .exclude(geometry=None)
        .order_by("code")[:3]
    )
    path = tmp_path / "grids.geojson"
    seen = {"imported": 0, "refused": 0}

    @settings(**SETTINGS)
    @given(
        features(grids),
        st.booleans(),
        st.sampled_from(["action", "command", "command", "wrapper", "encoding", "junk"]),
    )
    def load(found, skip_bad, how):
        def check():
            before = _grid_state()
            try:
                if how == "action":
                    result = do_import_grids(found, actor=actor, skip_bad=skip_bad)
                    if not result.applied:
                        raise ValidationError("not applied")
                    # All or nothing: without skip_bad, nothing is left out of an import.
                    assert skip_bad or not result.skipped, result.report.lines()
                else:
                    collection = {"type": "FeatureCollection", "features": found}
                    text = json.dumps(collection, ensure_ascii=False)  # NaN stays NaN
                    if how == "wrapper":
                        text = json.dumps(
                            [collection, {"features": {"a": 1}}, "x", None][len(found) % 4]
                        )
                    data = text.encode("utf-8")
                    if how == "encoding":
                        data = text.encode(["utf-16", "gb18030", "utf-8-sig"][len(found) % 3])
                    elif how == "junk":
                        data = JUNK[len(found) % len(JUNK)] + data[: len(data) // 2]
                    path.write_bytes(data)
                    args = ["--skip-bad"] if skip_bad else []
                    call_command(
                        "import_grids",
                        str(path),
                        *args,
                        "--as",
                        actor.username,
                        stdout=io.StringIO(),
                        stderr=io.StringIO(),
                    )
            except (ValidationError, ActionRefused, CommandError):
                seen["refused"] += 1
                assert _grid_state() == before
            else:
                seen["imported"] += 1

        in_savepoint(check)

    load()
    assert seen["refused"], seen


# --------------------------------------------------------------------------- found by the fuzz


@pytest.mark.django_db
def test_the_odd_cells_the_fuzz_found_are_refused_with_a_message(personas, tmp_path):
    """Each of these once made a 500 or an unexpected exception (most on PostgreSQL only)."""
    from civicgrid.campaigns.models import CampaignTarget
    from civicgrid.campaigns.tests.conftest import Campaigns
    from civicgrid.cases.taxonomy import COLUMNS, do_import_categories
    from civicgrid.regions.actions import do_import_grids
    from civicgrid.regions.models import Grid

    header = ",".join(COLUMNS)
    for body in [
        "98,,市\x00容,,,,,,,,,,",  # NUL
        "98,," + "x" * 61 + ",,,,,,,,,,",  # longer than the name column
        "98,,市容,,,,123456789d,,,,,,",  # longer than the limit column
        "98,,市容",  # a short row
        "98,," + HUGE + ",,,,,,,,,,",  # over the csv module's field limit
    ]:
        before = _taxonomy_state()
        try:
            do_import_categories(f"{header}\n{body}\n", actor=personas.admin)
        except ValidationError:
            assert _taxonomy_state() == before
        else:
            assert body == "98,,市容", body  # a short row without departments is fine

    world = Campaigns(personas)
    campaign = world.campaign()
    client = Client(raise_request_exception=False)
    client.force_login(personas.county)
    for row in [f"车辆,a\x00b,{world.grid.code}", "车辆,a,\x00"]:
        data = f"type,object,grid_code\n{row}\n".encode()
        before = CampaignTarget.objects.count()
        response = client.post(
            f"/campaigns/{campaign.pk}/targets/import/",
            {"file": SimpleUploadedFile("t.csv", data, "text/csv")},
        )
        assert response.status_code == 200 and b"NUL" in response.content
        assert CampaignTarget.objects.count() == before

    grid = (
        Grid.objects.filter(code__startswith="330281001", kind=Grid.Kind.BASIC, active=True)
        .exclude(geometry=None)
        .order_by("code")
        .first()
    )
    for properties in [{"name": "a\x00b"}, {"name": "x" * 101}, {"kind": "nonsense"}]:
        feature = {
            "type": "Feature",
            "properties": {"code": grid.code, **properties},
            "geometry": grid.geometry,
        }
        before = _grid_state()
        for skip_bad in (False, True):
            result = do_import_grids([feature, 1], actor=personas.county, skip_bad=skip_bad)
            assert grid.code in [p.feature_code for p in result.report.problems]
            assert _grid_state() == before
