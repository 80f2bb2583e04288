"""Imports through the actions: mapping, checks per row, dry run, all or nothing, duplicates,
places, encodings, scope."""

import pytest
from django.core.exceptions import ValidationError

from civicgrid.core.errors import ActionRefused
from civicgrid.core.models import AuditEvent
from civicgrid.datahub import actions as A
from civicgrid.datahub.engine import credit_code_check_char, normalise_credit_code
from civicgrid.datahub.fields import suggest_mapping
from civicgrid.datahub.models import ExternalRecord, ImportFile, ImportRun
from civicgrid.datahub.tests.conftest import csv_bytes, id_number, xlsx_bytes
from civicgrid.people import pii
from civicgrid.people.models import House, KeyGroup, Organisation, Person, PersonKeyGroup, Place

HEADER = ["姓名", "公民身份号码", "联系电话", "地址", "纬度", "经度", "备注"]


def population_source(actor, name="公安人口库", **options):
    return A.do_save_source(
        actor=actor,
        name=name,
        target="population",
        columns=suggest_mapping("population", HEADER),
        **options,
    )


def run_file(actor, source, data, name="people.csv"):
    run = A.do_upload_file(actor=actor, source=source, file_name=name, data=data)
    return A.do_check_run(run, actor=actor)


def test_the_mapping_is_suggested_from_chinese_headers_and_saved_for_the_next_file(personas):
    mapping = suggest_mapping("population", HEADER)
    assert mapping == {
        "name": "姓名",
        "id_number": "公民身份号码",
        "phone": "联系电话",
        "address": "地址",
        "lat": "纬度",
        "lng": "经度",
    }
    assert suggest_mapping("organisations", ["单位名称", "统一社会信用代码", "地址"]) == {
        "name": "单位名称",
        "credit_code": "统一社会信用代码",
        "address": "地址",
    }
    source = population_source(personas.county, defaults={"address": "梨洲街道"})
    run = A.do_upload_file(
        actor=personas.county, source=source, file_name="a.csv", data=csv_bytes([HEADER])
    )
    assert run.mapping["columns"] == mapping
    assert run.mapping["defaults"] == {"address": "梨洲街道"}
    assert run.header == HEADER
    assert AuditEvent.objects.filter(
        action="datahub.source.save", target_id=str(source.pk)
    ).exists()


def test_a_mapping_must_cover_the_required_fields(personas):
    with pytest.raises(ValidationError) as error:
        A.do_save_source(
            actor=personas.county, name="x", target="population", columns={"name": "姓名"}
        )
    assert "columns" in error.value.message_dict


def test_problems_are_reported_per_row_and_field_and_the_dry_run_writes_nothing(personas, places):
    lat, lng = places["point"]
    good = id_number("19800101", 11)
    data = csv_bytes(
        [
            HEADER,
            ["张三", good, "13912345678", "", lat, lng, ""],
            ["李四", good[:-1] + ("0" if good[-1] != "0" else "1"), "", "", lat, lng, ""],
            ["", id_number("19900101", 12), "12345", "", lat, lng, ""],
            ["王五", id_number("19900202", 13), "", "", 10.0, 10.0, ""],
        ]
    )
    before = Person.objects.count()
    run = run_file(personas.county, population_source(personas.county), data)
    assert Person.objects.count() == before
    assert run.state == ImportRun.State.CHECKED
    assert (run.new, run.errors, run.rows_total) == (1, 3, 4)
    problems = {(p.row, p.field) for p in run.problems.all()}
    assert problems == {(3, "id_number"), (4, "name"), (4, "phone"), (5, "lat")}
    wrong_id = run.problems.get(row=3)
    assert "check digit" in wrong_id.message
    assert wrong_id.value.startswith("330281********")  # kept masked
    assert run.sample[0]["action"] == "new" and "张" in run.sample[0]["record"]


def test_an_import_with_a_bad_row_writes_nothing_unless_bad_rows_are_skipped(personas, places):
    lat, lng = places["point"]
    data = csv_bytes(
        [
            HEADER,
            ["张三", id_number("19800101", 21), "13912345678", "", lat, lng, ""],
            ["李四", "330281", "", "", lat, lng, ""],
        ]
    )
    source = population_source(personas.county)
    before, events = Person.objects.count(), AuditEvent.objects.count()
    run = run_file(personas.county, source, data)
    run = A.do_import_run(run, actor=personas.county)
    assert run.state == ImportRun.State.FAILED
    assert Person.objects.count() == before
    assert AuditEvent.objects.filter(action="datahub.import").count() == 0
    assert run.problems.filter(row=3, field="id_number").exists()

    # Checked again, then imported with the bad row left out.
    run = A.do_check_run(run, actor=personas.county)
    run = A.do_import_run(run, actor=personas.county, skip_bad=True)
    assert run.state == ImportRun.State.IMPORTED
    assert (run.new, run.errors) == (1, 1)
    person = Person.objects.get(id_number_hash=pii.blind_index("id", id_number("19800101", 21)))
    assert person.grid == places["grid"] and person.region_code == places["grid"].code
    assert person.gender == "M" and str(person.birth_date) == "1980-01-01"
    assert pii.reveal(person.phone_cipher) == "13912345678"
    assert person.id_number_masked.endswith(id_number("19800101", 21)[-4:])
    event = AuditEvent.objects.get(action="datahub.import")
    assert event.after["new"] == 1 and event.after["errors"] == 1
    assert id_number("19800101", 21) not in str(event.after) and "张三" not in str(event.after)
    # The upload and the import; the dry runs and the failed try leave no event.
    assert AuditEvent.objects.count() == events + 2
    upload = AuditEvent.objects.get(action="datahub.upload")
    assert upload.after["file"] == run.file_name and "张三" not in str(upload.after)
    assert not ImportFile.objects.filter(run=run).exists()  # the file is not kept


def test_duplicates_update_or_skip_existing_records_and_rows_of_the_same_file(personas, places):
    lat, lng = places["point"]
    existing = Person.objects.filter(region_code__startswith="330281001", user=None).first()
    number = pii.reveal(existing.id_number_cipher)
    new_number = id_number("19850505", 31)
    data = csv_bytes(
        [
            HEADER,
            [existing.name, number, "13800000001", "", lat, lng, ""],
            ["赵六", new_number, "", "", lat, lng, ""],
            ["赵六", new_number, "13700000002", "", lat, lng, ""],
        ]
    )
    source = population_source(personas.county, on_duplicate="skip")
    run = run_file(personas.county, source, data)
    assert (run.new, run.updated, run.skipped) == (1, 0, 2)

    source = A.do_save_source(
        actor=personas.county,
        source=source,
        name=source.name,
        target="population",
        columns=source.columns,
        on_duplicate="update",
    )
    run = A.do_upload_file(actor=personas.county, source=source, file_name="p.csv", data=data)
    run = A.do_import_run(A.do_check_run(run, actor=personas.county), actor=personas.county)
    assert (run.new, run.updated, run.unchanged, run.errors) == (1, 2, 0, 0)
    existing.refresh_from_db()
    assert pii.reveal(existing.phone_cipher) == "13800000001"
    assert existing.region_code == places["grid"].code
    created = Person.objects.get(id_number_hash=pii.blind_index("id", new_number))
    assert pii.reveal(created.phone_cipher) == "13700000002"
    assert Person.objects.filter(id_number_hash=pii.blind_index("id", new_number)).count() == 1

    # The same file again changes nothing.
    run = A.do_upload_file(actor=personas.county, source=source, file_name="p.csv", data=data)
    run = A.do_check_run(run, actor=personas.county)
    assert (run.new, run.updated, run.unchanged) == (0, 0, 3)


def test_rows_find_their_grid_by_coordinates_and_by_address(personas, places):
    house, grid = places["house"], places["grid"]
    village = grid.village
    data = csv_bytes(
        [
            HEADER,
            ["甲", id_number("19700101", 41), "", f"余姚市梨洲街道{house.address}", "", "", ""],
            ["乙", id_number("19700101", 43), "", f"{village.name}不存在路1号", "", "", ""],
            ["丙", id_number("19700101", 45), "", "梨洲街道某路1号", "", "", ""],
            ["丁", id_number("19700101", 47), "", "火星基地1号", "", "", ""],
            ["戊", id_number("19700101", 49), "", "", *places["point"], ""],
        ]
    )
    source = population_source(personas.county)
    run = run_file(personas.county, source, data)
    assert run.problems.get().row == 5
    run = A.do_import_run(run, actor=personas.county, skip_bad=True)
    by_name = {p.name: p for p in Person.objects.filter(name__in=["甲", "乙", "丙", "戊"])}
    assert by_name["甲"].house == house and by_name["甲"].region_code == house.region_code
    assert by_name["乙"].region_code in {village.code} | {g.code for g in village.grids.all()}
    assert by_name["丙"].region_code == "330281001" and by_name["丙"].grid is None
    assert by_name["戊"].grid == grid


def test_gb18030_csv_and_xlsx_files_are_read(personas, places):
    lat, lng = places["point"]
    rows = [HEADER, ["钱七", id_number("19660606", 51), "", "", lat, lng, "备注"]]
    source = population_source(personas.county)
    run = run_file(personas.county, source, csv_bytes(rows, encoding="gb18030"))
    assert (run.new, run.errors) == (1, 0)
    assert run.header == HEADER
    bom = "\ufeff".encode() + csv_bytes(rows)
    assert run_file(personas.county, source, bom).new == 1
    rows[1][1] = id_number("19660606", 53)
    run = run_file(personas.county, source, xlsx_bytes(rows), name="people.xlsx")
    assert (run.new, run.errors) == (1, 0)
    # An ID number Excel turned into a number is refused with a reason.
    rows[1][1] = float(id_number("19660606", 55)[:15])
    run = run_file(personas.county, source, xlsx_bytes(rows), name="people.xlsx")
    assert "Excel" in run.problems.get().message


def test_only_importers_import_and_rows_outside_their_area_are_refused(
    personas, places, monkeypatch
):
    for user in (personas.lizhou, personas.grid1, personas.police, personas.outsider):
        with pytest.raises(ActionRefused):
            population_source(user, name=f"x-{user.username}")
    source = population_source(personas.county)
    with pytest.raises(ActionRefused):
        A.do_upload_file(actor=personas.leader, source=source, file_name="a.csv", data=b"a,b\n")

    # A township importer (as a county could configure it) imports its own township only.
    from civicgrid.core import roles

    monkeypatch.setitem(
        roles.ROLE_PERMISSIONS,
        "township_operator",
        roles.ROLE_PERMISSIONS["township_operator"] | {"datahub.import"},
    )
    lizhou = personas.lizhou
    own = population_source(lizhou, name="梨洲人口")
    data = csv_bytes(
        [
            HEADER,
            ["甲", id_number("19700101", 61), "", "", *places["point"], ""],
            ["乙", id_number("19700101", 63), "", "", *places["other_town_point"], ""],
        ]
    )
    run = run_file(lizhou, own, data)
    assert (run.new, run.errors) == (1, 1)
    problem = run.problems.get()
    assert problem.row == 3 and "outside your area" in problem.message
    with pytest.raises(ActionRefused):
        A.do_check_run(run, actor=personas.fengshan)


def test_organisations_check_the_credit_code_and_match_existing_ones(personas, places):
    first17 = "91330281MA2ABCDE1"
    code = first17 + credit_code_check_char(first17)
    assert normalise_credit_code(code.lower()) == code
    with pytest.raises(ValidationError):
        normalise_credit_code(first17 + ("0" if code[-1] != "0" else "1"))
    grid = places["grid"]
    header = ["单位名称", "统一社会信用代码", "地址", "网格编码"]
    source = A.do_save_source(
        actor=personas.county,
        name="市场监管企业库",
        target="organisations",
        columns=suggest_mapping("organisations", header),
    )
    data = csv_bytes(
        [
            header,
            ["余姚市某某机械有限公司", code, "梨洲街道", grid.code],
            ["余姚市某某机械有限公司", code, "梨洲街道新址", grid.code],
            ["坏代码公司", first17 + "I", "", grid.code],
            ["无网格公司", "", "", ""],
        ]
    )
    run = run_file(personas.county, source, data)
    assert (run.new, run.updated, run.errors) == (1, 1, 2)
    run = A.do_import_run(run, actor=personas.county, skip_bad=True)
    org = Organisation.objects.get(credit_code=code)
    assert org.kind == "enterprise" and org.address == "梨洲街道新址" and org.grid == grid


def test_houses_places_and_key_group_lists(personas, places):
    grid, house = places["grid"], places["house"]
    houses = A.do_save_source(
        actor=personas.county,
        name="住建房屋",
        target="houses",
        columns={"code": "房屋编码", "address": "地址", "kind": "用途", "grid_code": "网格"},
    )
    data = csv_bytes(
        [
            ["房屋编码", "地址", "用途", "网格"],
            [house.code, house.address, "出租", ""],
            ["", "梨洲街道新建小区1幢", "自住", grid.code],
        ]
    )
    run = A.do_import_run(run_file(personas.county, houses, data), actor=personas.county)
    assert (run.new, run.updated, run.errors) == (1, 1, 0)
    house.refresh_from_db()
    assert house.kind == "rented"
    assert House.objects.filter(address="梨洲街道新建小区1幢", grid=grid).count() == 1

    place_source = A.do_save_source(
        actor=personas.county,
        name="九小场所",
        target="places",
        columns={"name": "场所名称", "kind": "类型", "lat": "纬度", "lng": "经度"},
    )
    data = csv_bytes(
        [["场所名称", "类型", "纬度", "经度"], ["老街饭店", "九小场所", *places["point"]]]
    )
    run = A.do_import_run(run_file(personas.county, place_source, data), actor=personas.county)
    assert run.state == "imported", (run.message, list(run.problems.values()))
    assert run.new == 1, (run.sample, run.updated, run.unchanged, run.skipped)
    assert Place.objects.get(name="老街饭店").kind == "small_venue"

    person = Person.objects.filter(region_code__startswith="330281001", user=None).first()
    group = KeyGroup.objects.order_by("code").first()
    tags = A.do_save_source(
        actor=personas.county,
        name="重点人员名单",
        target="key_groups",
        columns={"id_number": "身份证号", "key_group": "类别", "since": "列管日期"},
    )
    data = csv_bytes(
        [
            ["身份证号", "类别", "列管日期"],
            [pii.reveal(person.id_number_cipher), group.name, "2025年3月1日"],
            [id_number("19010101", 71), group.name, ""],
        ]
    )
    PersonKeyGroup.objects.filter(person=person, key_group=group).delete()
    run = A.do_import_run(
        run_file(personas.county, tags, data), actor=personas.county, skip_bad=True
    )
    assert (run.new, run.errors) == (1, 1)
    assert "nobody" in run.problems.get().message
    tag = PersonKeyGroup.objects.get(person=person, key_group=group)
    assert str(tag.since) == "2025-03-01" and tag.region_code == person.region_code


def test_external_records_are_kept_once_per_source_number(personas, places):
    header = ["工单编号", "受理时间", "问题分类", "诉求内容", "地址", "纬度", "经度", "来电人"]
    source = A.do_save_source(
        actor=personas.county,
        name="12345热线",
        target="work_orders_12345",
        columns=suggest_mapping("work_orders_12345", header),
    )
    assert source.columns["external_id"] == "工单编号"
    lat, lng = places["point"]
    data = csv_bytes(
        [
            header,
            ["GD001", "2026-03-01 09:30", "噪音扰民", "夜间施工", "", lat, lng, "王先生"],
            ["GD002", "20260302", "占道经营", "", places["house"].address, "", "", ""],
            ["GD003", "昨天", "", "", "", lat, lng, ""],
        ]
    )
    run = A.do_import_run(
        run_file(personas.county, source, data), actor=personas.county, skip_bad=True
    )
    assert (run.new, run.errors) == (2, 1)
    assert run.problems.get().field == "occurred_at"
    record = ExternalRecord.objects.get(source=source, external_id="GD001")
    assert record.kind == "work_order_12345" and record.grid == places["grid"]
    assert record.raw["来电人"] == "王先生" and record.occurred_at.hour == 1  # 09:30 +08:00
    data = csv_bytes(
        [header, ["GD001", "2026-03-01 09:30", "噪音扰民", "已办结", "", lat, lng, ""]]
    )
    run = A.do_import_run(run_file(personas.county, source, data), actor=personas.county)
    assert (run.new, run.updated) == (0, 1)
    assert ExternalRecord.objects.filter(source=source).count() == 2


def test_unreadable_files_are_refused_at_upload(personas):
    source = population_source(personas.county)
    for data, name in (
        (b"", "a.csv"),
        (b"\xd0\xcf\x11\xe0....", "a.xls"),
        (b"\xff\xfe\x00", "a.csv"),
    ):
        with pytest.raises(ValidationError):
            A.do_upload_file(actor=personas.county, source=source, file_name=name, data=data)


def test_values_are_read_in_the_forms_departments_write_them():
    import datetime

    from civicgrid.datahub.engine import parse_choice, parse_date, parse_datetime

    for text in ("2024-05-31", "2024/5/31", "20240531", "2024年5月31日", "2024.05.31"):
        assert parse_date(text) == datetime.date(2024, 5, 31)
    moment = parse_datetime("2024年5月31日 14时30分")
    assert (moment.hour, moment.minute, str(moment.utcoffset())) == (14, 30, "8:00:00")
    assert parse_datetime("20240531143000").second == 0
    with pytest.raises(ValidationError):
        parse_date("2024-02-30")
    assert parse_choice("population", "gender", "男") == "M"
    assert parse_choice("places", "kind", "农贸市场") == "market"
    assert parse_choice("organisations", "kind", "个体工商户") == "shop"
    with pytest.raises(ValidationError):
        parse_choice("houses", "kind", "城堡")
