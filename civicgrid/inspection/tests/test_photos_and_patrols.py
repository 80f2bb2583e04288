"""Photos on visits, comprehensive walks (全面走) and the coverage of houses by walks."""

from datetime import date, datetime

import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from civicgrid.cases.models import Attachment
from civicgrid.cases.tests.conftest import jpeg
from civicgrid.core.errors import ActionRefused
from civicgrid.core.models import AuditEvent
from civicgrid.inspection.actions import clean_track, do_record_patrol, do_record_visit
from civicgrid.inspection.models import Patrol, PatrolHouse, Visit, VisitPhoto
from civicgrid.inspection.selectors import coverage, patrols_visible_to
from civicgrid.people.models import House

from .conftest import SHANGHAI


def _exif_jpeg() -> bytes:
    """A phone photo carrying GPS and camera make in its EXIF."""
    import io

    image = Image.new("RGB", (80, 60), "green")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (30.0, 3.0, 0.0)}  # GPS
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def test_a_visit_keeps_its_photos_cleaned(world, at):
    person = world.resident("甲")
    at(2025, 10, 10, 10)
    visit = do_record_visit(
        person, actor=world.p.grid1, outcome="seen", photos=[_exif_jpeg(), jpeg("blue")]
    )
    photos = list(visit.photos.all())
    assert len(photos) == 2
    for photo in photos:
        assert photo.content_type == "image/jpeg" and photo.width and photo.height
        with photo.file.open("rb") as handle, Image.open(handle) as img:
            exif = img.getexif()
            assert 0x010F not in exif and 0x8825 not in exif  # no camera, no GPS
    event = AuditEvent.objects.get(action="inspection.visit.record")
    assert event.after["photos"] == 2


def test_a_bad_photo_refuses_the_whole_visit(world, at):
    person = world.resident("甲")
    with pytest.raises(ValidationError) as exc:
        do_record_visit(person, actor=world.p.grid1, outcome="seen", photos=[b"not a picture"])
    assert "photos" in exc.value.message_dict
    assert not Visit.objects.exists() and not VisitPhoto.objects.exists()
    with pytest.raises(ValidationError):
        do_record_visit(person, actor=world.p.grid1, outcome="seen", photos=[jpeg()] * 7)


def test_a_problem_found_carries_the_visits_photos_to_the_case(world, at):
    person = world.resident("甲")
    at(2025, 10, 10, 10)
    visit = do_record_visit(
        person,
        actor=world.p.grid1,
        outcome="seen",
        photos=[jpeg("red")],
        raise_case={"category": world.category, "description": "电线老化裸露"},
    )
    assert visit.photos.count() == 1
    case_photo = Attachment.objects.get(case=visit.case)
    assert case_photo.sha256 == visit.photos.get().sha256


def _houses(grid, n):
    return list(House.objects.filter(grid=grid).order_by("code")[:n])


def test_a_patrol_keeps_its_track_and_houses(world, at):
    now = at(2025, 10, 10, 11)
    houses = _houses(world.grid, 3)
    start = datetime(2025, 10, 10, 9, tzinfo=SHANGHAI)
    track = [
        [30.0, 121.0, "2025-10-10T09:00:00+08:00"],
        [30.001, 121.0, 1760058060000],  # the browser's epoch milliseconds
        [30.001, 121.001],
    ]
    patrol = do_record_patrol(
        world.grid, actor=world.p.grid1, started_at=start, track=track, houses=houses
    )
    patrol.refresh_from_db()
    assert patrol.ended_at == now and patrol.region_code == world.grid.code
    assert patrol.track[0] == [30.0, 121.0, "2025-10-10T09:00:00+08:00"]
    assert patrol.track[1][2].startswith("2025-10-10T09:01:00")
    assert patrol.track[2][2] is None
    assert patrol.length_m == pytest.approx(110.6 + 96.4, abs=1)
    assert patrol.track_geojson["coordinates"][0] == [121.0, 30.0]
    assert set(patrol.houses.all()) == set(houses)
    assert set(PatrolHouse.objects.values_list("day", flat=True)) == {date(2025, 10, 10)}
    event = AuditEvent.objects.get(action="inspection.patrol.record")
    assert event.after["houses"] == sorted(h.pk for h in houses)


def test_a_patrol_takes_a_geojson_line(world, at):
    at(2025, 10, 10, 11)
    line = {"type": "LineString", "coordinates": [[121.0, 30.0], [121.001, 30.0]]}
    patrol = do_record_patrol(
        world.grid,
        actor=world.p.grid1,
        started_at=datetime(2025, 10, 10, 9, tzinfo=SHANGHAI),
        track=line,
    )
    assert patrol.track == [[30.0, 121.0, None], [30.0, 121.001, None]]


@pytest.mark.parametrize(
    "track",
    [
        "nonsense",
        [[91, 0]],
        [["a", "b"]],
        [[30, 121, "yesterday"]],
        {"type": "Point", "coordinates": [1, 2]},
        [[30, 121, 0, 5]],
        [[True, 121]],
    ],
)
def test_a_bad_track_is_refused_with_its_field(world, at, track):
    at(2025, 10, 10, 11)
    with pytest.raises(ValidationError) as exc:
        do_record_patrol(
            world.grid,
            actor=world.p.grid1,
            started_at=datetime(2025, 10, 10, 9, tzinfo=SHANGHAI),
            track=track,
        )
    assert set(exc.value.message_dict) == {"track"}
    assert not Patrol.objects.exists()


def test_it_refuses_houses_of_another_grid_and_bad_times(world, at):
    at(2025, 10, 10, 11)
    with pytest.raises(ValidationError) as exc:
        do_record_patrol(
            world.grid,
            actor=world.p.grid1,
            started_at=datetime(2025, 10, 10, 12, tzinfo=SHANGHAI),
            ended_at=datetime(2025, 10, 10, 10, tzinfo=SHANGHAI),
            houses=_houses(world.other_grid, 1),
        )
    assert set(exc.value.message_dict) == {"ended_at", "houses"}
    with pytest.raises(ValidationError) as exc:
        do_record_patrol(
            world.grid,
            actor=world.p.grid1,
            started_at=datetime(2025, 8, 1, 9, tzinfo=SHANGHAI),
            ended_at=datetime(2025, 8, 1, 10, tzinfo=SHANGHAI),
        )
    assert set(exc.value.message_dict) == {"started_at"}


@pytest.mark.parametrize("who", ["grid2", "fengshan", "police", "auditor", "outsider"])
def test_only_the_grid_and_the_areas_above_record_walks(world, at, who):
    at(2025, 10, 10, 11)
    with pytest.raises(ActionRefused):
        do_record_patrol(
            world.grid,
            actor=getattr(world.p, who),
            started_at=datetime(2025, 10, 10, 9, tzinfo=SHANGHAI),
        )


def test_clean_track_rounds_and_keeps_order():
    assert clean_track([[30.123456789, 121.5, None]]) == [[30.1234568, 121.5, None]]
    assert clean_track(None) == []


@pytest.fixture
def walks(world, at):
    """Hand-computed: October 2025. grid1 (5 houses): a walk on the 3rd over H1, H2 and one on
    the 20th over H2, H3 → 3 of 5 covered; a walk on 30 September over H4 is outside the
    month. grid2 (5 houses): one walk on the 8th over H1 → 1 of 5. No other grid is walked."""
    at(2025, 10, 21, 18)
    g1, g2 = _houses(world.grid, 5), _houses(world.other_grid, 5)
    assert len(g1) == len(g2) == 5

    def walk(grid, actor, day, houses):
        do_record_patrol(
            grid,
            actor=actor,
            started_at=datetime(2025, *day, 9, tzinfo=SHANGHAI),
            ended_at=datetime(2025, *day, 11, tzinfo=SHANGHAI),
            houses=houses,
        )

    walk(world.grid, world.p.grid1, (10, 3), g1[0:2])
    walk(world.grid, world.p.grid1, (10, 20), g1[1:3])
    walk(world.grid, world.p.lizhou, (9, 30), g1[3:4])
    walk(world.other_grid, world.p.grid2, (10, 8), g2[0:1])


OCTOBER = {"start": date(2025, 10, 1), "end": date(2025, 10, 31)}


def test_coverage_per_grid_against_the_hand_computed_month(world, walks):
    rows = {r["key"]: r for r in coverage(world.p.county, by="grid", **OCTOBER)}
    assert rows[world.grid.code] == {
        "key": world.grid.code,
        "houses": 5,
        "covered": 3,
        "rate": pytest.approx(0.6),
    }
    assert (rows[world.other_grid.code]["covered"], rows[world.other_grid.code]["rate"]) == (
        1,
        pytest.approx(0.2),
    )
    others = [r for k, r in rows.items() if k not in {world.grid.code, world.other_grid.code}]
    assert others and all(r["covered"] == 0 and r["houses"] == 5 for r in others)
    september = {r["key"]: r for r in coverage(world.p.county, by="grid",
                 start=date(2025, 9, 1), end=date(2025, 9, 30))}  # fmt: skip
    assert september[world.grid.code]["covered"] == 1


def test_coverage_per_village_and_township(world, walks):
    towns = {r["key"]: r for r in coverage(world.p.county, by="township", **OCTOBER)}
    lizhou_houses = House.objects.filter(region_code__startswith="330281001").count()
    assert towns["330281001"] == {
        "key": "330281001",
        "houses": lizhou_houses,
        "covered": 3,
        "rate": pytest.approx(3 / lizhou_houses),
    }
    assert towns["330281002"]["covered"] == 1
    villages = {r["key"]: r for r in coverage(world.p.county, by="village", **OCTOBER)}
    assert villages[world.grid.code[:12]]["covered"] == 3


def test_coverage_and_patrols_are_scoped(world, walks):
    assert {r["key"] for r in coverage(world.p.lizhou, by="township", **OCTOBER)} == {"330281001"}
    assert coverage(world.p.outsider, by="grid", **OCTOBER) == []
    assert patrols_visible_to(world.p.grid1).count() == 3
    assert patrols_visible_to(world.p.grid2).count() == 1
    assert not patrols_visible_to(world.p.fengshan).filter(grid=world.grid).exists()
    with pytest.raises(ValueError):
        coverage(world.p.county, by="worker", **OCTOBER)
